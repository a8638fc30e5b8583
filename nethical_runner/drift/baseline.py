"""Which runs may be a later run's baseline, and what this run knows about it.

A run that fails a drift check is recorded, but never becomes a baseline: otherwise rerunning
an unchanged failing job would compare it with its own failure and pass. Moving the baseline
on anyway (a change made on purpose) is an explicit act, an accepted baseline with a reason,
which the history, the report and the audit log all keep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHOWN_RUNS = 3  # runs passed over that a message lists by id before it counts the rest


@dataclass(frozen=True)
class BaselineState:
    """This run's side of the baseline: whether it accepts itself as the new baseline, which
    later records each cohort's baseline lookup passed over, and whether it is a baseline."""

    accepted: str | None = None  # the reason, when this run is accepted as the new baseline
    passed_over: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # cohort -> runs
    failed_checks: tuple[str, ...] = ()  # this run's drift checks that failed, as drift[...]

    @property
    def eligible(self) -> bool:
        """Whether later runs may compare with this one."""
        return self.accepted is not None or not self.failed_checks

    def record(self, run_id: str) -> dict[str, Any]:
        """The fields the history keeps of it, next to the cohorts (absent in older records,
        which count as eligible)."""
        accepted = None if self.accepted is None else {"reason": self.accepted, "run_id": run_id}
        return {
            "baseline_eligible": self.eligible,
            "failed_checks": list(self.failed_checks),
            "accepted": accepted,
        }

    def acceptance(self, baseline_runs: Sequence[str]) -> str:
        """What a ``vs_previous`` check says when it is skipped because this run is accepted:
        ``new baseline accepted (reason: R); not compared with run X``."""
        runs = list(dict.fromkeys(baseline_runs))
        compared = "there was no earlier run to compare with"
        if runs:
            compared = f"not compared with run{'s' if len(runs) > 1 else ''} {', '.join(runs)}"
        return f"new baseline accepted (reason: {self.accepted}); {compared}"

    def no_baseline_yet(self, spec: str, cohorts: Sequence[str], folder: Path) -> str:
        """Why a ``vs_previous`` check is skipped when none of ``cohorts`` has a baseline:
        naming the earlier runs passed over, and whether this run will be one."""
        passed = list(dict.fromkeys(r for c in cohorts for r in self.passed_over.get(c, ())))
        where = f"is recorded in {folder}"
        if passed:
            where = f"that passed its drift checks is recorded in {folder} ({failed_runs(passed)})"
        this = "this run is recorded as the baseline for the next"
        if not self.eligible:
            failed = ", ".join(self.failed_checks)
            this = f"this run failed {failed} and is not recorded as a baseline either"
        return f"no baseline yet: no earlier run of spec {spec} with these cohorts {where}; {this}"

    def note(self, cohort: str) -> str:
        """`` (the later run Y failed its drift checks and is not a baseline)`` after the run a
        cohort was compared with, or nothing when its latest record was the baseline."""
        runs = self.passed_over.get(cohort, ())
        return f" (the later {failed_runs(runs)})" if runs else ""


def failed_runs(runs: Sequence[str]) -> str:
    """``run X failed its drift checks and is not a baseline``, or ``runs X, Y, Z and 4 more
    failed their ...``: run ids latest first, without flooding a message."""
    if len(runs) == 1:
        return f"run {runs[0]} failed its drift checks and is not a baseline"
    shown = ", ".join(runs[:SHOWN_RUNS])
    if len(runs) > SHOWN_RUNS:
        shown += f" and {len(runs) - SHOWN_RUNS} more"
    return f"runs {shown} failed their drift checks and are not baselines"


def accepted_reason(reason: str | None) -> str | None:
    """``reason`` without surrounding blanks; ValueError for an empty one, since accepting a
    new baseline without saying why would make the act as silent as the bug it replaces."""
    if reason is None:
        return None
    if not reason.strip():
        raise ValueError("a new baseline needs a reason: say why this run replaces the last")
    return reason.strip()
