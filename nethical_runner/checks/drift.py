"""``drift[accuracy]`` (spread across cohorts), ``drift[accuracy.vs_previous]`` (against the
previous run) and ``drift[slice.accuracy]`` (spread across one cohort's slices)."""

from __future__ import annotations

from nethical_runner.checks.check import Check, TrainingFailed
from nethical_runner.checks.outcome import Decision, Outcome
from nethical_runner.drift import DriftCheck, DriftFailure, declared_checks
from nethical_runner.run.results import SpecResult
from nethical_runner.spec.loader import Spec


def drift_checks(spec: Spec) -> list[Check]:
    checks = []
    for declared in declared_checks(spec):

        def evaluate(result: SpecResult, d: DriftCheck = declared) -> Outcome:
            if result.drift is None:
                raise TrainingFailed(f"spec {result.spec.name} was trained without drift tracking")
            verdict = result.drift.verdict(d)
            if isinstance(result.drift, DriftFailure):
                return Outcome.could_not_judge(verdict.message)
            if verdict.skipped:
                return Outcome(Decision.SKIP, verdict.message, properties=verdict.properties)
            return Outcome.of_verdict(verdict, result.drift.config.on_inconclusive)

        checks.append(Check("drift", declared.name, declared.cohort_id, declared.key, evaluate))
    return checks
