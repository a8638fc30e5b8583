"""The one outcome type every check ends in.

pytest items, the command line's exit codes, ``results.json``, ``summary.md`` and GitHub
annotations all read an :class:`Outcome`; none of them re-derives a verdict from metrics, so a
spec fails the same checks on every front end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Decision(str, Enum):
    """What a check decided. ``skip`` means there was nothing to judge yet (no earlier run to
    compare with); its message says why."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    message: str
    warning: str | None = None  # a pass that a reviewer should still read (fallback data...)
    properties: Mapping[str, Any] = field(default_factory=dict)
    # The check could not be judged at all (its cohort did not train, drift tracking or the
    # audit append failed; ``message`` says which): it fails, and the run is in error.
    unjudged: bool = False

    @classmethod
    def of(
        cls,
        passed: bool,
        message: str,
        warning: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> Outcome:
        return cls(Decision.PASS if passed else Decision.FAIL, message, warning, properties or {})

    @classmethod
    def could_not_judge(cls, reason: str) -> Outcome:
        """A check whose inputs do not exist: it fails, and says why."""
        return cls(Decision.FAIL, reason, unjudged=True)

    @property
    def passed(self) -> bool:
        return self.decision is Decision.PASS

    @property
    def failed(self) -> bool:
        return self.decision is Decision.FAIL

    @property
    def skipped(self) -> bool:
        return self.decision is Decision.SKIP
