"""Every check of a spec, in one deterministic order, and the judging of all of them.

A concern contributes its checks through a function that takes a spec and returns them; the
pytest plugin turns each check into one item and the command line judges the same list, so
"what is checked" and "how it is judged" are decided here once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nethical_runner.checks.audit import audit_checks
from nethical_runner.checks.baseline import Baseline
from nethical_runner.checks.check import Check
from nethical_runner.checks.drift import drift_checks
from nethical_runner.checks.gate import gate_checks
from nethical_runner.checks.outcome import Outcome
from nethical_runner.checks.regression import regression_checks
from nethical_runner.checks.sla import sla_checks
from nethical_runner.run.results import SpecResult
from nethical_runner.spec.loader import Spec

CHECK_PROVIDERS: tuple[Callable[[Spec], list[Check]], ...] = (
    gate_checks,
    sla_checks,
    drift_checks,
    audit_checks,
)


def collect_checks(spec: Spec, baseline: Baseline | None = None) -> list[Check]:
    """Every check of ``spec``, cohort by cohort in declared order, then cross-cohort checks;
    ``regression[...]`` checks only with a baseline to compare with."""
    checks = [check for provider in CHECK_PROVIDERS for check in provider(spec)]
    checks += regression_checks(spec, baseline)
    order = {cohort.id: index for index, cohort in enumerate(spec.cohorts)}
    return sorted(checks, key=lambda c: order.get(c.cohort_id or "", len(order)))


@dataclass(frozen=True)
class Judged:
    """A check and the outcome it reached on one run."""

    check: Check
    outcome: Outcome


def judge_all(result: SpecResult, checks: list[Check]) -> list[Judged]:
    return [Judged(check, check.judge(result)) for check in checks]
