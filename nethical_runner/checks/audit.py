"""``audit[verify]``: after the spec trained, its audit log verifies and holds this run's
events, committed by this run's tree head."""

from __future__ import annotations

from nethical_runner.audit.trail import AuditTrail
from nethical_runner.checks.check import Check
from nethical_runner.checks.outcome import Outcome
from nethical_runner.run.results import SpecResult
from nethical_runner.spec.loader import Spec


def audit_checks(spec: Spec) -> list[Check]:
    """Once per spec with ``audit.enabled`` (cohorts cannot override ``audit``)."""
    if not spec.cohorts[0].config.audit.enabled:
        return []

    def evaluate(result: SpecResult) -> Outcome:
        if result.audit is None:
            return Outcome.could_not_judge("audit is enabled but this run recorded no audit log")
        verdict = AuditTrail(result.audit).judge()
        if not verdict.passed and result.audit.error:
            # the run's events could not be appended (a damaged log is refused, a full disk
            # fails the write): the check fails, and the run is in error
            return Outcome.could_not_judge(verdict.message)
        return Outcome.of(verdict.passed, verdict.message, properties=verdict.properties)

    return [Check("audit", "verify", None, ("audit", "enabled"), evaluate)]
