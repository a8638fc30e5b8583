"""``regression[<metric>]``: how far a metric may move against a reference model.

A gate says "good enough"; a regression bound says "no worse than what we have". The reference
is either

- a **baseline** run (``--nethical-baseline results.json``, typically the main branch's CI),
  matched by spec name and cohort id: two runs, possibly on different rows, so the change is
  judged on an unpaired normal-approximation interval from both runs' intervals; or
- the **champion** (``regression: {against: champion}``), the model currently promoted for the
  same spec and cohort, predicting this run's validation rows: the change is paired, row by
  row, with a paired stratified bootstrap interval and McNemar's exact test for accuracy.

With ``confidence`` the bound is decided on the interval of the worsening (pass, fail or
inconclusive); without it on the point change, warning when its 95% interval straddles the
bound. A cohort the baseline does not have passes with a warning (failing would block every
pull request that adds a cohort); a cohort without a champion yet is skipped with the reason,
and so is every cohort when the baseline is allowed to be missing and does not exist yet.
ECE is compared on its debiased value, as the gate decides it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from nethical_runner._words import cohort_named
from nethical_runner.checks.baseline import Baseline
from nethical_runner.checks.check import Check, TrainingFailed, cohort_result, fallback_warning
from nethical_runner.checks.outcome import Decision, Outcome
from nethical_runner.metrics.decide import (
    NOISE_LEVEL,
    Judgement,
    judge_interval,
    judge_point,
    noise_note,
    shown_against,
    threshold_text,
)
from nethical_runner.metrics.gate import DECIDED_ON, decided_value
from nethical_runner.metrics.intervals import Interval, difference_interval
from nethical_runner.metrics.paired import PairedDifference, paired_differences
from nethical_runner.run.results import CohortResult, SpecResult
from nethical_runner.spec.loader import Spec
from nethical_runner.spec.regression import (
    BOUND_SECTIONS,
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    RegressionConfig,
)

TOLERANCE = 1e-12  # so that 0.90 -> 0.89 against a 0.01 bound is not failed by rounding
UNPAIRED = "normal-approximation-unpaired"


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
            return f"{self.section}.{self.metric} {threshold_text(self.value)} x {before:.4g}"
        return f"{self.section}.{self.metric} {threshold_text(self.value)}"


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
    """``regression[<metric>]`` per cohort with a regression section; against a baseline
    only when one is given."""
    checks = []
    for cohort in spec.cohorts:
        config = cohort.config.regression
        if config is None or (config.against == "baseline" and baseline is None):
            continue
        for metric, bounds in bounds_of(config).items():

            def evaluate(
                result: SpecResult,
                cohort_id: str = cohort.id,
                found: list[Bound] = bounds,
                config: RegressionConfig = config,
            ) -> Outcome:
                trained = cohort_result(result, cohort_id)
                if config.against == "champion":
                    return against_champion(spec, trained, found, config)
                assert baseline is not None
                return against_baseline(spec, trained, found, config, baseline)

            key = ("regression", bounds[0].section, metric)
            checks.append(Check("regression", metric, cohort.id, key, evaluate))
    return checks


@dataclass(frozen=True)
class Change:
    """The metric of the reference and of this run, and how much worse this run is."""

    before: float
    after: float
    worsening: float  # a drop for higher-is-better metrics, a rise for ece and brier
    interval: Interval | None  # of the worsening
    reference: str  # "the baseline ..." or "the champion ..."
    evidence: str = ""  # what else the comparison reports (McNemar's test)


def against_baseline(
    spec: Spec,
    trained: CohortResult,
    bounds: list[Bound],
    config: RegressionConfig,
    baseline: Baseline,
) -> Outcome:
    metric = bounds[0].metric
    if baseline.missing is not None:
        return Outcome(Decision.SKIP, f"regression {metric}: {baseline.missing}")
    context = (
        f"{cohort_named(trained.cohort_id)}, {trained.dataset.label} data; baseline {baseline.path}"
    )
    properties: dict[str, Any] = {
        "metric": metric,
        "value": decided_value(metric, trained.metrics),
        "data_source": trained.dataset.label,
        "baseline_file": str(baseline.path),
    }
    past = baseline.cohort(spec.name, trained.cohort_id)
    before = None if past is None or not past.trained else decided_value(metric, past.metrics)
    if past is None or not past.trained or before is None:
        why = "has no trained cohort" if past is None or not past.trained else f"has no {metric}"
        message = (
            f"regression {metric}: the baseline {why} {spec.name}/{trained.cohort_id}; nothing "
            f"to compare ({context})"
        )
        return Outcome.of(True, message, warning=message, properties=properties)
    after = decided_value(metric, trained.metrics)
    if after is None:
        message = f"regression {metric}: {metric} is undefined on this validation data ({context})"
        return Outcome.of(False, message, properties={**properties, "baseline": before})
    level = config.confidence or NOISE_LEVEL
    worsening = _worsening(bounds[0], before, after)
    interval = _unpaired(
        worsening, past.intervals.get(metric), trained.intervals.get(metric), level
    )
    change = Change(before, after, worsening, interval, "the baseline")
    warnings = []
    if past.data_source is not None and past.data_source != trained.dataset.label:
        warnings.append(
            f"baseline {spec.name}/{trained.cohort_id} was trained on {past.data_source} data, "
            f"this run on {trained.dataset.label} data"
        )
    return _judged(trained, bounds, config, change, context, properties, warnings)


def against_champion(
    spec: Spec, trained: CohortResult, bounds: list[Bound], config: RegressionConfig
) -> Outcome:
    metric = bounds[0].metric
    champion = trained.champion
    if champion is None:
        raise TrainingFailed(f"{cohort_named(trained.cohort_id)} was trained without its champion")
    if champion.missing is not None:
        return Outcome(Decision.SKIP, f"regression {metric}: {champion.missing}")
    if champion.error is not None or champion.probabilities is None:
        return Outcome.of(False, f"regression {metric}: champion unusable: {champion.error}")
    metrics_config = spec.cohort(trained.cohort_id).config.metrics
    level = config.confidence or NOISE_LEVEL
    paired = paired_differences(
        trained.split.y_val,
        trained.validation_probabilities,
        champion.probabilities,
        metrics=[metric],
        level=level,
        threshold=metrics_config.decision_threshold,
        ece_bins=metrics_config.ece_bins,
        ece_confidence=metrics_config.ece_confidence,
        seed=zlib.crc32(f"{spec.name}\0{trained.cohort_id}\0champion".encode()),
    )
    context = f"{cohort_named(trained.cohort_id)}, {trained.dataset.label} data"
    reference = f"the champion (run {champion.run_id}, {champion.model_path})"
    properties: dict[str, Any] = {
        "metric": metric,
        "data_source": trained.dataset.label,
        "champion_file": str(champion.model_path),
    }
    found = paired.get(metric)
    if found is None:
        message = f"regression {metric}: {metric} is undefined on this validation data ({context})"
        return Outcome.of(False, message, properties=properties)
    change = _paired_change(bounds[0], found, reference)
    properties["value"] = found.candidate
    return _judged(trained, bounds, config, change, context, properties, [])


def _judged(
    trained: CohortResult,
    bounds: list[Bound],
    config: RegressionConfig,
    change: Change,
    context: str,
    properties: dict[str, Any],
    warnings: list[str],
) -> Outcome:
    """The decision on the strictest bound, with the message every front end shows."""
    metric = bounds[0].metric
    allowed = min(bound.allowed(change.before) for bound in bounds)
    strictest = min(bounds, key=lambda bound: bound.allowed(change.before))
    decision: Judgement
    if config.confidence is not None and change.interval is not None:
        decision = judge_interval(change.interval, allowed + TOLERANCE, "max")
    else:
        decision = judge_point(change.worsening, allowed + TOLERANCE, "max")
        if change.interval is not None and (
            judge_interval(change.interval, allowed + TOLERANCE, "max") == "inconclusive"
        ):
            noise = noise_note(change.worsening, allowed, change.interval)
            warnings.append(f"regression {strictest.describe(change.before)}: {noise}")
    rise = bounds[0].rise
    limit = change.before + allowed if rise else change.before - allowed
    word = "rise" if rise else "drop"
    relation = "<=" if change.worsening <= allowed + TOLERANCE else ">"  # the point change
    name = f"{metric} (debiased)" if metric in DECIDED_ON else metric
    # an absolute bound as the spec wrote it; a relative one is a product, shown rounded
    allowed_text = f"{allowed:.4g}" if strictest.relative else threshold_text(allowed)
    message = (
        f"regression {strictest.describe(change.before)} against {change.reference}: {name} "
        f"{change.before:.4g} -> {change.after:.4g}, {word} "
        f"{shown_against(change.worsening, float(allowed_text))} {relation} {allowed_text} allowed"
    )
    if change.interval is not None:
        message += f"; {word} {change.interval.describe()}"
        if config.confidence is not None:
            message += f" ({decision})"
    message += f"{change.evidence} ({context})"
    properties.update(baseline=change.before, threshold=limit, allowed_change=allowed)
    fallback = fallback_warning(trained, message)
    notes = [note for note in (fallback, *warnings) if note]
    return Outcome.decided(
        decision,
        message,
        on_inconclusive=config.on_inconclusive,
        warning="; ".join(notes) or None,
        properties=properties,
        interval=change.interval,
    )


def _worsening(bound: Bound, before: float, after: float) -> float:
    return after - before if bound.rise else before - after


def _unpaired(
    worsening: float, before: Interval | None, after: Interval | None, level: float
) -> Interval | None:
    """Normal-approximation interval of the worsening between two independent runs, each
    run's standard error read back from its own interval. None without this run's interval;
    a baseline without one counts as exact."""
    if after is None:
        return None
    errors = [found.standard_error() for found in (before, after) if found is not None]
    bounds = difference_interval(worsening, errors, level)
    assert bounds is not None  # every error is known
    return Interval(*bounds, level, UNPAIRED, after.rows)


def _paired_change(bound: Bound, found: PairedDifference, reference: str) -> Change:
    """The worsening and its interval from the candidate-minus-champion difference."""
    diff = found.interval
    if bound.rise:
        interval = diff
        worsening = found.difference
    else:
        # 0.0 - x rather than -x, so that no difference reads as -0
        interval = Interval(0.0 - diff.high, 0.0 - diff.low, diff.level, diff.method, diff.rows)
        worsening = 0.0 - found.difference
    evidence = ""
    if found.mcnemar is not None:
        test = found.mcnemar
        evidence = (
            f"; McNemar exact p={test.p_value:.3g} (only the candidate right on "
            f"{test.candidate_only} rows, only the champion on {test.champion_only})"
        )
    return Change(found.champion, found.candidate, worsening, interval, reference, evidence)
