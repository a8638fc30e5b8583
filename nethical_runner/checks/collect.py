"""Checks: every threshold of a spec as one named, located, evaluable unit.

The pytest plugin turns each :class:`Check` into one test item and the CLI prints the same
outcomes, so "what is checked" is decided in one place. A concern (gate, SLA, drift, audit)
contributes its checks through a function that takes a spec and returns them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nethical_runner.audit.trail import AuditTrail
from nethical_runner.drift import declared_checks
from nethical_runner.metrics.gate import judge, thresholds
from nethical_runner.run.pipeline import CohortFailure, CohortResult, SpecResult
from nethical_runner.sla.measure import declared_targets
from nethical_runner.spec import Spec
from nethical_runner.spec.yaml_source import KeyPath


@dataclass(frozen=True)
class Outcome:
    passed: bool
    message: str
    warning: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False  # nothing to judge yet (e.g. no earlier run); ``message`` says why


@dataclass(frozen=True)
class Check:
    """One threshold: ``gate[accuracy]`` of cohort ``alpha``, written at ``key`` in the spec."""

    kind: str
    name: str
    cohort_id: str | None  # None for checks across cohorts
    key: KeyPath
    evaluate: Callable[[SpecResult], Outcome]

    @property
    def label(self) -> str:
        return f"{self.kind}[{self.name}]"


class TrainingFailed(Exception):
    """The cohort a check needs could not be trained."""


def cohort_result(result: SpecResult, cohort_id: str) -> CohortResult:
    found = result.cohorts[cohort_id]
    if isinstance(found, CohortFailure):
        raise TrainingFailed(f"cohort {cohort_id} could not be trained: {found.reason}")
    return found


def fallback_warning(trained: CohortResult, message: str) -> str | None:
    """A pass on synthetic rows that stood in for the declared data is never a plain pass."""
    if trained.dataset.fallback_reason is None:
        return None
    return f"passed on synthetic fallback data, not the declared data: {message}"


def gate_checks(spec: Spec) -> list[Check]:
    checks = []
    for cohort in spec.cohorts:
        declared = "gate" in spec.document.data
        for threshold in thresholds(cohort.config.gate):

            def evaluate(result: SpecResult, cohort_id: str = cohort.id, t=threshold) -> Outcome:
                trained = cohort_result(result, cohort_id)
                verdict = judge(t, trained.metrics)
                message = f"gate {t.key}: {verdict.describe()} ({trained.context()})"
                return Outcome(
                    verdict.passed,
                    message,
                    warning=fallback_warning(trained, message),
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


def sla_checks(spec: Spec) -> list[Check]:
    """``sla[p95]``, ``sla[stage.training]``... for each cohort whose config has an sla section;
    a seed-default target points at the ``sla`` section itself."""
    checks = []
    for cohort in spec.cohorts:
        if cohort.config.sla is None:
            continue
        for target in declared_targets(cohort.config.sla):

            def evaluate(
                result: SpecResult, cohort_id: str = cohort.id, name=target.name
            ) -> Outcome:
                measured = cohort_result(result, cohort_id).sla
                if measured is None:
                    raise TrainingFailed(f"cohort {cohort_id} was trained without SLA timing")
                verdict = measured.verdict(name)
                return Outcome(verdict.passed, verdict.message, verdict.warning, verdict.properties)

            key = target.key if target.declared else ("sla",)
            checks.append(Check("sla", target.name, cohort.id, key, evaluate))
    return checks


def audit_checks(spec: Spec) -> list[Check]:
    """``audit[verify]`` once per spec with ``audit.enabled``: after the spec trained, its
    audit log verifies and holds this run's events."""
    if not spec.cohorts[0].config.audit.enabled:
        return []

    def evaluate(result: SpecResult) -> Outcome:
        if result.audit is None:
            return Outcome(False, "audit is enabled but this run recorded no audit log")
        verdict = AuditTrail(result.audit).judge()
        return Outcome(verdict.passed, verdict.message, properties=verdict.properties)

    return [Check("audit", "verify", None, ("audit", "enabled"), evaluate)]


def drift_checks(spec: Spec) -> list[Check]:
    """``drift[accuracy]`` (spread across cohorts), ``drift[accuracy.vs_previous]`` (against
    the previous run), and per cohort ``drift[slice.accuracy]`` (spread across its slices)."""
    checks = []
    for declared in declared_checks(spec):

        def evaluate(result: SpecResult, d=declared) -> Outcome:
            if result.drift is None:
                raise TrainingFailed(f"spec {result.spec.name} was trained without drift tracking")
            verdict = result.drift.verdict(d)
            return Outcome(
                verdict.passed, verdict.message, verdict.warning, verdict.properties,
                skipped=verdict.skipped,
            )  # fmt: skip

        checks.append(Check("drift", declared.name, declared.cohort_id, declared.key, evaluate))
    return checks


CHECK_PROVIDERS: tuple[Callable[[Spec], list[Check]], ...] = (
    gate_checks,
    sla_checks,
    drift_checks,
    audit_checks,
)


def collect_checks(spec: Spec) -> list[Check]:
    """Every check of ``spec``, cohort by cohort in declared order, then cross-cohort checks."""
    checks = [check for provider in CHECK_PROVIDERS for check in provider(spec)]
    order = {cohort.id: index for index, cohort in enumerate(spec.cohorts)}
    return sorted(checks, key=lambda c: order.get(c.cohort_id or "", len(order)))
