"""The one outcome type every check ends in.

pytest items, the command line's exit codes, ``results.json``, ``summary.md`` and GitHub
annotations all read an :class:`Outcome`; none of them re-derives a verdict from metrics, so a
spec fails the same checks on every front end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, Protocol

from nethical_runner.metrics.intervals import Interval


class Decision(str, Enum):
    """What a check decided on its evidence. ``inconclusive``: the interval straddles the
    threshold, so the rows cannot tell; ``skip``: there was nothing to judge yet (no earlier
    run to compare with). Their messages say why."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    SKIP = "skip"


class DomainVerdict(Protocol):
    """What the SLA and drift domains conclude about one target, in their own terms."""

    @property
    def passed(self) -> bool: ...
    @property
    def message(self) -> str: ...
    @property
    def warning(self) -> str | None: ...
    @property
    def properties(self) -> Mapping[str, Any]: ...
    @property
    def inconclusive(self) -> bool: ...
    @property
    def interval(self) -> Interval | None: ...


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    message: str
    warning: str | None = None  # a pass that a reviewer should still read (fallback data...)
    properties: Mapping[str, Any] = field(default_factory=dict)
    # The check could not be judged at all (its cohort did not train, drift tracking or the
    # audit append failed; ``message`` says which): it fails, and the run is in error.
    unjudged: bool = False
    interval: Interval | None = None  # the interval the decision (or its noise warning) read
    inconclusive_fails: bool = False  # on_inconclusive: fail

    @classmethod
    def of(
        cls,
        passed: bool,
        message: str,
        warning: str | None = None,
        properties: Mapping[str, Any] | None = None,
        interval: Interval | None = None,
    ) -> Outcome:
        decision = Decision.PASS if passed else Decision.FAIL
        return cls(decision, message, warning, properties or {}, interval=interval)

    @classmethod
    def decided(
        cls,
        decision: Decision | str,
        message: str,
        *,
        on_inconclusive: Literal["fail", "warn"],
        warning: str | None = None,
        properties: Mapping[str, Any] | None = None,
        interval: Interval | None = None,
    ) -> Outcome:
        """An outcome from a three-way decision: an inconclusive one fails or passes with
        its message as the warning, as ``on_inconclusive`` says."""
        decision = Decision(decision)
        fails = on_inconclusive == "fail"
        if decision is Decision.INCONCLUSIVE and not fails:
            warning = message if warning is None else f"{message}; {warning}"
        return cls(
            decision,
            message,
            warning,
            properties or {},
            interval=interval,
            inconclusive_fails=fails,
        )

    @classmethod
    def of_verdict(
        cls, verdict: DomainVerdict, on_inconclusive: Literal["fail", "warn"]
    ) -> Outcome:
        """A domain's verdict as an outcome: inconclusive by that name, else pass or fail."""
        if verdict.inconclusive:
            return cls.decided(
                Decision.INCONCLUSIVE,
                verdict.message,
                on_inconclusive=on_inconclusive,
                properties=verdict.properties,
                interval=verdict.interval,
            )
        return cls.of(
            verdict.passed, verdict.message, verdict.warning, verdict.properties, verdict.interval
        )

    @classmethod
    def could_not_judge(cls, reason: str) -> Outcome:
        """A check whose inputs do not exist: it fails, and says why."""
        return cls(Decision.FAIL, reason, unjudged=True)

    @property
    def passed(self) -> bool:
        """The item passes: a pass, or an inconclusive decision that only warns."""
        inconclusive = self.decision is Decision.INCONCLUSIVE
        return self.decision is Decision.PASS or (inconclusive and not self.inconclusive_fails)

    @property
    def failed(self) -> bool:
        inconclusive = self.decision is Decision.INCONCLUSIVE
        return self.decision is Decision.FAIL or (inconclusive and self.inconclusive_fails)

    @property
    def skipped(self) -> bool:
        return self.decision is Decision.SKIP

    @property
    def item_outcome(self) -> str:
        """pytest's word for what the item does: ``passed``, ``failed`` or ``skipped``."""
        if self.skipped:
            return "skipped"
        return "failed" if self.failed else "passed"
