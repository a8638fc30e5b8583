"""``gate[<metric>]``: the promotion gate's thresholds, one check each.

The pipeline decides promotion from the same verdicts (:mod:`nethical_runner.metrics.gate`),
so a check reads the verdict the run stored instead of judging the metrics a second time.
"""

from __future__ import annotations

from nethical_runner.checks.check import Check, cohort_result, fallback_warning
from nethical_runner.checks.outcome import Outcome
from nethical_runner.metrics.gate import Threshold, thresholds
from nethical_runner.run.results import SpecResult
from nethical_runner.spec.config import GateConfig
from nethical_runner.spec.loader import Spec


def gate_checks(spec: Spec) -> list[Check]:
    checks = []
    declared = "gate" in spec.document.data
    for cohort in spec.cohorts:
        for threshold in thresholds(cohort.config.gate):

            def evaluate(
                result: SpecResult,
                cohort_id: str = cohort.id,
                t: Threshold = threshold,
                gate: GateConfig = cohort.config.gate,
            ) -> Outcome:
                trained = cohort_result(result, cohort_id)
                verdict = next(v for v in trained.verdicts if v.threshold.key == t.key)
                message = f"gate {t.key}: {verdict.describe()} ({trained.context()})"
                noise = verdict.noise and f"gate {t.key}: {verdict.noise}"
                warnings = [noise, fallback_warning(trained, message)]
                return Outcome.decided(
                    verdict.decision,
                    message,
                    on_inconclusive=gate.on_inconclusive,
                    warning="; ".join(w for w in warnings if w) or None,
                    interval=verdict.interval,
                    properties={
                        "metric": t.metric,
                        "value": verdict.actual,
                        "threshold": t.value,
                        "data_source": trained.dataset.label,
                    },
                )

            key = ("gate", threshold.key) if declared else ()
            checks.append(Check("gate", threshold.metric, cohort.id, key, evaluate))
    return checks
