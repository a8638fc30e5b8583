"""Regression checks against a baseline run: ``--nethical-baseline results.json``.

A gate says "good enough"; a baseline says "no worse than main". The baseline is the
``results.json`` of an earlier run (typically the main branch's CI), matched by spec name and
cohort id. Each metric bounded in a spec's ``regression`` section becomes one
``regression[<metric>]`` item per cohort. A cohort the baseline does not have (new in this
change, or renamed) passes with a warning that says so: there is nothing to compare, and
failing would block every pull request that adds a cohort.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nethical_runner.checks.baseline import Baseline
from nethical_runner.checks.check import Check, cohort_result, fallback_warning
from nethical_runner.checks.outcome import Outcome
from nethical_runner.run.results import SpecResult
from nethical_runner.spec.loader import Spec
from nethical_runner.spec.regression import HIGHER_IS_BETTER, LOWER_IS_BETTER, RegressionConfig

TOLERANCE = 1e-12  # so that 0.90 -> 0.89 against a 0.01 bound is not failed by rounding
BOUND_SECTIONS = ("max_drop", "rel_max_drop", "max_rise", "rel_max_rise")


@dataclass(frozen=True)
class Bound:
    section: str  # max_drop | rel_max_drop | max_rise | rel_max_rise
    metric: str
    value: float

    @property
    def relative(self) -> bool:
        return self.section.startswith("rel_")

    @property
    def rise(self) -> bool:
        return self.section.endswith("rise")

    def allowed(self, before: float) -> float:
        """The largest change allowed from ``before``, in the metric's units."""
        return self.value * abs(before) if self.relative else self.value

    def describe(self, before: float) -> str:
        if self.relative:
            return f"{self.section}.{self.metric} {self.value:g} x {before:.4g}"
        return f"{self.section}.{self.metric} {self.value:g}"


def bounds_of(config: RegressionConfig) -> dict[str, list[Bound]]:
    """Declared bounds grouped by metric, metrics in the order of the spec format."""
    grouped: dict[str, list[Bound]] = {}
    for metric in (*HIGHER_IS_BETTER, *LOWER_IS_BETTER):
        for section in BOUND_SECTIONS:
            value = getattr(getattr(config, section), metric, None)
            if value is not None:
                grouped.setdefault(metric, []).append(Bound(section, metric, value))
    return grouped


def regression_checks(spec: Spec, baseline: Baseline | None) -> list[Check]:
    """``regression[<metric>]`` per cohort; none without a baseline or a regression section."""
    if baseline is None:
        return []
    checks = []
    for cohort in spec.cohorts:
        config = cohort.config.regression
        if config is None:
            continue
        for metric, bounds in bounds_of(config).items():

            def evaluate(
                result: SpecResult, cohort_id: str = cohort.id, found: list[Bound] = bounds
            ) -> Outcome:
                return judge(spec, cohort_id, found, result, baseline)

            first = bounds[0]
            key = ("regression", first.section, metric)
            checks.append(Check("regression", metric, cohort.id, key, evaluate))
    return checks


def judge(
    spec: Spec, cohort_id: str, bounds: list[Bound], result: SpecResult, baseline: Baseline
) -> Outcome:
    """Compare the cohort's metric with the baseline's under every bound on it."""
    trained = cohort_result(result, cohort_id)
    metric = bounds[0].metric
    current = trained.metrics.get(metric)
    properties: dict[str, Any] = {
        "metric": metric,
        "value": current,
        "data_source": trained.dataset.label,
        "baseline_file": str(baseline.path),
    }
    context = f"cohort {cohort_id}, {trained.dataset.label} data; baseline {baseline.path}"
    past = baseline.cohort(spec.name, cohort_id)
    if past is None or not past.trained or past.metrics.get(metric) is None:
        why = "has no trained cohort" if past is None or not past.trained else f"has no {metric}"
        message = (
            f"regression {metric}: the baseline {why} {spec.name}/{cohort_id}; nothing to "
            f"compare ({context})"
        )
        return Outcome.of(True, message, warning=message, properties=properties)
    before = float(past.metrics[metric])  # type: ignore[arg-type]
    properties["baseline"] = before
    if current is None:
        message = f"regression {metric}: {metric} is undefined on this validation data ({context})"
        return Outcome.of(False, message, properties=properties)
    rise = bounds[0].rise
    change = (current - before) if rise else (before - current)
    allowed = min(bound.allowed(before) for bound in bounds)
    passed = change <= allowed + TOLERANCE
    limit = before + allowed if rise else before - allowed
    properties.update(threshold=limit, allowed_change=allowed)
    word = "rise" if rise else "drop"
    relation = "<=" if passed else ">"
    strictest = min(bounds, key=lambda bound: bound.allowed(before))
    message = (
        f"regression {strictest.describe(before)}: {metric} {before:.4g} -> {current:.4g}, "
        f"{word} {change:.4g} {relation} {allowed:.4g} allowed ({context})"
    )
    warnings = [w for w in (fallback_warning(trained, message),) if w]
    if past.data_source is not None and past.data_source != trained.dataset.label:
        warnings.append(
            f"baseline {spec.name}/{cohort_id} was trained on {past.data_source} data, this run "
            f"on {trained.dataset.label} data: {message}"
        )
    return Outcome.of(passed, message, "; ".join(warnings) or None, properties)
