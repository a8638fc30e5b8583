"""``sla[p95]``, ``sla[stage.training]``...: latency targets, one check each."""

from __future__ import annotations

from nethical_runner._words import cohort_named
from nethical_runner.checks.check import Check, TrainingFailed, cohort_result
from nethical_runner.checks.outcome import Outcome
from nethical_runner.run.results import SpecResult
from nethical_runner.sla.measure import declared_targets
from nethical_runner.spec.loader import Spec


def sla_checks(spec: Spec) -> list[Check]:
    """A check per target for each cohort whose config has an sla section; a default target
    (the old script's) points at the ``sla`` section itself."""
    checks = []
    for cohort in spec.cohorts:
        if cohort.config.sla is None:
            continue
        for target in declared_targets(cohort.config.sla):

            def evaluate(
                result: SpecResult, cohort_id: str = cohort.id, name: str = target.name
            ) -> Outcome:
                measured = cohort_result(result, cohort_id).sla
                if measured is None:
                    raise TrainingFailed(
                        f"{cohort_named(cohort_id)} was trained without SLA timing"
                    )
                verdict = measured.verdict(name)
                return Outcome.of_verdict(verdict, measured.config.on_inconclusive)

            key = target.key if target.declared else ("sla",)
            checks.append(Check("sla", target.name, cohort.id, key, evaluate))
    return checks
