"""Measure a run's drift once all cohorts of a spec have trained, then report and record it.

The old script built a fresh reporter in every run that only ever saw its own cohort, so its reports
always said "Insufficient cohorts" and could never find drift. Here everything there is to
compare is compared:

- the cohorts of this run, plus (with ``drift.group``) the latest recorded result of every
  other cohort of the group in the drift folder, which is how successive command-line runs
  with different cohort ids accumulate;
- each cohort against the same cohort in the latest earlier run of the spec that may be a
  baseline (its drift checks passed, or it was accepted as the new baseline with a reason);
- each cohort's model on every evaluation slice of its validation rows.

The report is written and the run recorded before any check's item reports, so a failing check
never loses its report. The checks are judged first all the same: whether the record may be a
later run's baseline depends on them, and the record is written last, so that a run whose
drift tracking failed half way leaves no record to compare with.
"""

from __future__ import annotations

import traceback
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nethical_runner._words import cohort_named
from nethical_runner.drift.baseline import BaselineState
from nethical_runner.drift.comparison import Comparison, Drop
from nethical_runner.drift.declared import bounds_of, declared_checks, spread_limits
from nethical_runner.drift.history import Recorded, read_history, record_path, write_record
from nethical_runner.drift.inputs import CohortEvaluation
from nethical_runner.drift.multiplicity import control_false_discoveries, error_rate_note
from nethical_runner.drift.report import write_report
from nethical_runner.drift.result import DriftFailure, DriftResult, Group, SliceResult, Violation
from nethical_runner.drift.slices import evaluate_slices
from nethical_runner.drift.stats import (
    METRICS,
    RESAMPLES,
    UNDEFINED,
    Predictions,
    judge,
    normal_p_value,
    resampled_metrics,
    summarise_draws,
    worsening,
)
from nethical_runner.metrics.intervals import difference_interval
from nethical_runner.spec.config import DriftConfig

if TYPE_CHECKING:
    from nethical_runner.spec import Spec
    from nethical_runner.spec.config import MetricsConfig

SEVERE_ECE = 0.15  # the old script's severity rule: high above this ECE...
SEVERE_ACCURACY = 0.70  # ...or below this accuracy, medium otherwise

Draws = dict[str, np.ndarray]


def tracks_drift(spec: Spec) -> bool:
    """Whether a run of ``spec`` measures drift: it declares a drift section or slices."""
    return spec.drift is not None or bool(spec.slices)


def track_drift(
    spec: Spec,
    trained: Mapping[str, CohortEvaluation],
    failed: Mapping[str, str],
    *,
    run_id: str,
    session: str,
    folder: Path,
    started: datetime,
    accept_baseline: str | None = None,
) -> DriftResult | DriftFailure | None:
    """Measure, record and report the drift of one run of ``spec`` (None when it declares
    none). Never raises: a problem becomes a :class:`DriftFailure`, which fails the drift
    checks and leaves every other check of the spec alone. ``accept_baseline``, a reason,
    makes this run the next run's baseline whatever its comparison with the last says."""
    if not tracks_drift(spec):
        return None
    try:
        result = with_failed_checks(
            measure_drift(
                spec,
                trained,
                failed,
                run_id=run_id,
                session=session,
                folder=folder,
                started=started,
                accept_baseline=accept_baseline,
            )
        )
        result = write_report(replace(result, history_path=record_path(folder, spec.name, run_id)))
        write_record(
            folder,
            spec=spec.name,
            spec_sha256=spec.sha256,
            run_id=run_id,
            session=session,
            group=result.config.group,
            recorded_at=result.finished,
            cohorts={g.cohort: g.record() for g in result.this_run},
            baseline=result.baselines.record(run_id),
        )
        return result
    except Exception as error:  # shown on every drift check, with the traceback kept
        return DriftFailure(f"{type(error).__name__}: {error}", traceback.format_exc())


def measure_drift(
    spec: Spec,
    trained: Mapping[str, CohortEvaluation],
    failed: Mapping[str, str],
    *,
    run_id: str,
    session: str,
    folder: Path,
    started: datetime,
    accept_baseline: str | None = None,
) -> DriftResult:
    """Everything a :class:`DriftResult` holds, without writing anything.

    ``trained`` and ``failed`` are this run's cohorts by id; ``folder`` holds the history;
    records of the same ``session`` (one pytest-xdist run) are never a baseline, nor are those
    of runs that failed their drift checks.
    """
    config = spec.drift or DriftConfig()
    seed = zlib.crc32(spec.name.encode())
    history = read_history(folder, None if config.group else [spec.name])
    members = []
    if config.group:
        members = history.group_members(config.group, [(spec.name, c.id) for c in spec.cohorts])
    ours = [c.id for c in spec.cohorts if c.id in trained]
    labels = _labels([(spec.name, c) for c in ours] + [(m.spec, m.cohort) for m in members])

    draws: dict[str, Draws] = {}
    slices: dict[str, tuple[SliceResult, ...]] = {}
    slice_comparisons: dict[str, dict[str, Comparison]] = {}
    for cohort_id in ours:
        cohort = trained[cohort_id]
        predictions = _predictions(cohort, spec.cohort(cohort_id).config.metrics)
        draws[labels[(spec.name, cohort_id)]] = resampled_metrics(
            predictions, RESAMPLES, _rng(seed, "cohort", cohort_id)
        )
        slices[cohort_id], slice_comparisons[cohort_id] = evaluate_slices(
            spec.slices,
            cohort.feature_names,
            cohort.rows,
            predictions,
            min_samples=config.min_samples,
            limits=bounds_of(config.max_slice_spread),
            confidence=config.confidence,
            rng_for=partial(_rng, seed, "slice", cohort_id),
        )
    finished = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    groups = []
    for cohort_id in ours:
        label = labels[(spec.name, cohort_id)]
        intervals, errors = summarise_draws(draws[label], config.confidence)
        groups.append(
            _trained_group(label, run_id, finished, trained[cohort_id], intervals, errors)
        )
    for member in members:
        group = _recorded_group(labels[(member.spec, member.cohort)], member)
        groups.append(group)
        draws[group.label] = _normal_draws(
            group, _rng(seed, "recorded", member.spec, member.cohort)
        )

    limits, _ = spread_limits(config)
    comparisons = {
        metric: Comparison.of(
            metric,
            {g.label: g.metrics[metric] for g in groups},
            {g.label: g.samples for g in groups},
            {g.label: UNDEFINED for g in groups if g.metrics[metric] is None},
            draws,
            limits.get(metric),
            config.confidence,
        )
        for metric in METRICS
    }
    baselines = {c: history.baseline(spec.name, c, session) for c in ours}
    passed_over = {c: history.passed_over(spec.name, c, session) for c in ours}
    ours_by_id = {g.cohort: g for g in groups if g.this_run}
    drops = {
        metric: tuple(
            _drop(ours_by_id[c], metric, baseline, config)
            for c, baseline in baselines.items()
            if baseline is not None
        )
        for metric in METRICS
    }
    earliest = [started.isoformat(timespec="microseconds"), *(m.recorded_at for m in members)]
    measured = DriftResult(
        spec_name=spec.name,
        run_id=run_id,
        config=config,
        folder=folder,
        started=min(earliest),
        finished=finished,
        groups=tuple(groups),
        failed=dict(failed),
        comparisons=comparisons,
        drops=drops,
        without_baseline=tuple(c for c, b in baselines.items() if b is None),
        slices=slices,
        slice_comparisons=slice_comparisons,
        checks=tuple(declared_checks(spec)),
        bootstrap_seed=seed,
        resamples=RESAMPLES,
        history_unreadable=history.unreadable,
        baselines=BaselineState(accept_baseline, passed_over),
    )
    controlled = control_false_discoveries(measured)
    return replace(controlled, error_rate=error_rate_note(controlled))


def with_failed_checks(result: DriftResult) -> DriftResult:
    """``result`` knowing which of its drift checks fail, as each check's item will judge them:
    a run with any is not a baseline for later runs (unless it accepts itself as one)."""
    failed = [
        f"drift[{c.name}]" + (f" ({cohort_named(c.cohort_id)})" if c.cohort_id else "")
        for c in result.checks
        if not result.verdict(c).passed
    ]
    return replace(result, baselines=replace(result.baselines, failed_checks=tuple(failed)))


def gate_violations(trained: CohortEvaluation) -> tuple[Violation, ...]:
    """One violation per missed gate threshold, typed as the old script typed promotion failures
    (``calibration_error``, ``low_accuracy``); the old script's severity applies to all of them."""
    metrics = trained.metrics
    severe = metrics["ece"] > SEVERE_ECE or metrics["accuracy"] < SEVERE_ACCURACY
    return tuple(
        Violation(
            _violation_type(missed.metric),
            "high" if severe else "medium",
            missed.metric,
            missed.actual,
            missed.threshold,
            missed.key,
        )
        for missed in trained.missed
    )


def _violation_type(metric: str) -> str:
    if metric == "ece":
        return "calibration_error"
    return "high_brier" if metric == "brier" else f"low_{metric}"


def _labels(identities: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Cohort ids as labels, or ``spec/cohort`` where two specs of a group share an id."""
    counts = Counter(cohort for _, cohort in identities)
    return {(s, c): c if counts[c] == 1 else f"{s}/{c}" for s, c in identities}


def _rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator per purpose, so that adding a cohort or a slice leaves the others' draws."""
    return np.random.default_rng([seed, *(zlib.crc32(part.encode()) for part in parts)])


def _predictions(cohort: CohortEvaluation, metrics: MetricsConfig) -> Predictions:
    """The cohort's validation labels and probabilities, with its metric conventions."""
    return Predictions(
        np.asarray(cohort.labels),
        np.asarray(cohort.probabilities, dtype=np.float64),
        metrics.decision_threshold,
        metrics.ece_bins,
        metrics.ece_confidence,
    )


def _plain(value: Any) -> float | None:
    return None if value is None else float(value)


def _trained_group(
    label: str,
    run_id: str,
    finished: str,
    cohort: CohortEvaluation,
    intervals: Mapping[str, tuple[float, float] | None],
    errors: Mapping[str, float | None],
) -> Group:
    """A cohort of this run, with the intervals and standard errors of its resamples."""
    return Group(
        label=label,
        spec=cohort.spec_name,
        cohort=cohort.cohort_id,
        run_id=run_id,
        recorded_at=finished,
        this_run=True,
        samples=cohort.samples,
        metrics={m: _plain(cohort.metrics[m]) for m in METRICS},
        intervals=intervals,
        standard_errors=errors,
        model_type=cohort.model_type,
        data_source=cohort.data_label,
        fallback=cohort.fallback,
        promoted=cohort.promoted,
        violations=gate_violations(cohort),
    )


def _recorded_group(label: str, record: Recorded) -> Group:
    """A cohort as an earlier run recorded it."""
    entry = record.entry
    intervals = entry.get("intervals") or {}
    return Group(
        label=label,
        spec=record.spec,
        cohort=record.cohort,
        run_id=record.run_id,
        recorded_at=record.recorded_at,
        this_run=False,
        samples=int(entry["samples"]),
        metrics={m: _plain(entry["metrics"].get(m)) for m in METRICS},
        intervals={m: (v[0], v[1]) if (v := intervals.get(m)) else None for m in METRICS},
        standard_errors={m: _plain(entry["standard_errors"].get(m)) for m in METRICS},
        model_type=str(entry["model_type"]),
        data_source=str(entry["data_source"]),
        fallback=bool(entry.get("fallback", False)),
        promoted=entry.get("promoted"),
        violations=tuple(Violation(**v) for v in entry.get("violations", [])),
    )


def _normal_draws(group: Group, rng: np.random.Generator) -> Draws:
    """Resampled values of a recorded cohort, whose predictions are not kept: a normal
    distribution around its recorded value with its recorded bootstrap standard error."""
    draws = {}
    for metric in METRICS:
        value, error = group.metrics[metric], group.standard_errors[metric]
        noise = (error or 0.0) * rng.standard_normal(RESAMPLES)
        draws[metric] = np.full(RESAMPLES, np.nan) if value is None else value + noise
    return draws


def _drop(now: Group, metric: str, baseline: Recorded, config: DriftConfig) -> Drop:
    """``now`` against its baseline, with a normal-approximation interval of the change from
    both runs' bootstrap standard errors."""
    before = _plain(baseline.entry["metrics"].get(metric))
    after = now.metrics[metric]
    limit = bounds_of(config.max_drop).get(metric)
    if before is None or after is None:
        return Drop(now.cohort, metric, baseline.run_id, before, after, None, None, limit, None)
    change = worsening(metric, before, after)
    errors = [_plain(baseline.entry["standard_errors"].get(metric)), now.standard_errors[metric]]
    interval = difference_interval(change, errors, config.confidence)
    status = p_value = None
    if limit is not None:
        status = judge(change, limit, interval)
        p_value = normal_p_value(change, limit, interval, config.confidence)
    return Drop(
        now.cohort, metric, baseline.run_id, before, after, change, interval, limit, status, p_value
    )
