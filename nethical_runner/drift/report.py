"""The drift report: the old script's JSON structure, the numbers behind it, and recommendations.

Every field of the old script's report is kept (``report_id``, ``start_time``, ``end_time``,
``generated_at``, ``cohorts`` with ``action_count``, ``violation_stats``, ``avg_risk_score``
and ``risk_distribution``, ``drift_metrics`` with ``has_drift`` and ``message``, and
``recommendations``) so that anything reading the old script's files reads these. Added: each
cohort's metrics with intervals, each metric's spread with its worst and best cohort and a
bootstrap interval, the comparison with the previous run, slices, and the policy applied.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import asdict
from typing import Any

from nethical_runner import __version__
from nethical_runner._files import atomic_write_json
from nethical_runner._names import drift_report_id
from nethical_runner._words import cohort_named, counted
from nethical_runner.drift.comparison import Comparison, Drop
from nethical_runner.drift.result import DriftFailure, DriftResult, Group
from nethical_runner.drift.slices import describe
from nethical_runner.drift.stats import METRICS, PERCENTILE_METHOD
from nethical_runner.drift.text import drop_text, spread_text
from nethical_runner.spec.config import MetricBounds

# Risk is 1 - accuracy, as in the old script; a cohort's one action falls in one band.
RISK_BANDS = (("low", 0.3), ("normal", 0.7), ("high", float("inf")))
NO_DRIFT = "No significant ethical drift detected across cohorts"  # the old script's wording


def report_id(result: DriftResult) -> str:
    return drift_report_id(result.spec_name, result.run_id)


def write_report(result: DriftResult) -> DriftResult:
    """Write ``drift_<spec>@<run>.json`` into the drift folder; return ``result`` with its
    path. The name carries the run id, so no run or worker overwrites another's report."""
    path = result.folder / f"{report_id(result)}.json"
    atomic_write_json(path, report(result))
    return dataclasses.replace(result, report_path=path)


def report(result: DriftResult) -> dict[str, Any]:
    config = result.config
    checks = {(c.kind, c.metric, c.cohort_id): f"drift[{c.name}]" for c in result.checks}
    return {
        "report_id": report_id(result),
        "start_time": result.started,
        "end_time": result.finished,
        "generated_at": result.finished,
        "cohorts": {g.label: _cohort(g) for g in result.groups},
        "drift_metrics": {
            "has_drift": result.has_drift,
            "message": message(result),
            "drifting": result.drifting,
            "metrics": {
                metric: _comparison(c, "cohort", checks.get(("spread", metric, None)))
                for metric, c in result.comparisons.items()
            },
            "vs_previous": {
                "baseline": config.baseline,
                "without_baseline": list(result.without_baseline),
                "passed_over": {c: list(r) for c, r in result.baselines.passed_over.items() if r},
                "accepted": result.baselines.record(result.run_id)["accepted"],
                "metrics": {
                    metric: [_drop(d, checks.get(("vs_previous", metric, None))) for d in drops]
                    for metric, drops in result.drops.items()
                },
            },
            "slices": {
                cohort: {
                    metric: _comparison(c, "slice", checks.get(("slices", metric, cohort)))
                    for metric, c in comparisons.items()
                }
                for cohort, comparisons in result.slice_comparisons.items()
            },
        },
        "slices": {
            cohort: {
                item.config.id: {
                    "where": item.config.where.model_dump(by_alias=True, exclude_none=True),
                    "description": describe(item.config.where),
                    "samples": item.samples,
                    "judged": item.judged,
                    "metrics": dict(item.metrics),
                    "intervals": {k: list(v) if v else None for k, v in item.intervals.items()},
                    "error": item.error,
                }
                for item in found
            }
            for cohort, found in result.slices.items()
        },
        "recommendations": recommendations(result),
        "failed_cohorts": dict(result.failed),
        "policy": {
            "max_spread": _bounds(config.max_spread),
            "max_spread_defaults_applied": config.max_spread is None,
            "max_drop": _bounds(config.max_drop),
            "max_slice_spread": _bounds(config.max_slice_spread),
            "min_samples": config.min_samples,
            "confidence": config.confidence,
            "group": config.group,
        },
        "checks": [
            {
                "check": f"drift[{c.name}]",
                "cohort": c.cohort_id,
                "limit": c.limit,
                "declared": c.declared,
            }
            for c in result.checks
        ],
        "bootstrap": {
            "method": "percentile bootstrap: each cohort's (and slice's) validation "
            "predictions resampled with replacement and every metric recomputed; cohorts of "
            "earlier runs drawn from a normal distribution with their recorded standard error",
            "confidence": config.confidence,
            "resamples": result.resamples,
            "seed": result.bootstrap_seed,
            "percentile_method": PERCENTILE_METHOD,
        },
        "risk_bands": {"low": "risk < 0.3", "normal": "0.3 <= risk < 0.7", "high": "risk >= 0.7"},
        "history": {
            "folder": str(result.folder),
            "record": str(result.history_path) if result.history_path else None,
            "unreadable": list(result.history_unreadable),
            "baseline_eligible": result.baselines.eligible,
            "failed_checks": list(result.baselines.failed_checks),
        },
        "spec": result.spec_name,
        "run_id": result.run_id,
        "nethical_runner_version": __version__,
    }


def _bounds(bounds: MetricBounds | None) -> dict[str, float] | None:
    return None if bounds is None else bounds.model_dump(exclude_none=True)


def _cohort(group: Group) -> dict[str, Any]:
    """The old script's cohort profile, one action (the validation of the cohort's model) each."""
    accuracy = group.metrics["accuracy"]
    risk = None if accuracy is None else 1.0 - accuracy
    bands = dict.fromkeys((name for name, _ in RISK_BANDS), 0)
    if risk is not None:
        bands[next(name for name, upper in RISK_BANDS if risk < upper)] = 1
    return {
        "cohort_id": group.cohort,
        "spec": group.spec,
        "run_id": group.run_id,
        "source": "this run" if group.this_run else "earlier run",
        "recorded_at": group.recorded_at,
        "action_count": 1,
        "violation_stats": {
            "total_count": len(group.violations),
            "by_type": dict(Counter(v.type for v in group.violations)),
            "by_severity": dict(Counter(v.severity for v in group.violations)),
        },
        "avg_risk_score": risk,
        "risk_distribution": bands,
        "violations": [asdict(v) for v in group.violations],
        "metrics": dict(group.metrics),
        "intervals": {k: list(v) if v else None for k, v in group.intervals.items()},
        "standard_errors": dict(group.standard_errors),
        "samples": group.samples,
        "model_type": group.model_type,
        "data_source": group.data_source,
        "promoted": group.promoted,
    }


def _comparison(comparison: Comparison, noun: str, check: str | None) -> dict[str, Any]:
    stats = comparison.stats
    return {
        "values": dict(comparison.values),
        "samples": dict(comparison.samples),
        "spread": stats.spread if stats else None,
        f"worst_{noun}": stats.worst if stats else None,
        f"best_{noun}": stats.best if stats else None,
        "interval": list(stats.interval) if stats and stats.interval else None,
        "limit": comparison.limit,
        "status": comparison.status or ("reported" if stats else "insufficient"),
        "not_judged": dict(comparison.not_judged),
        "check": check,
    }


def _drop(drop: Drop, check: str | None) -> dict[str, Any]:
    return {
        "cohort": drop.cohort,
        "baseline_run": drop.baseline_run,
        "before": drop.before,
        "after": drop.after,
        "worsening": drop.change,
        "interval": list(drop.interval) if drop.interval else None,
        "limit": drop.limit,
        "status": drop.status or "reported",
        "check": check,
    }


def message(result: DriftResult) -> str:
    """One sentence for ``drift_metrics.message``."""
    parts = []
    if len(result.groups) < 2:
        only = ", ".join(g.label for g in result.groups) or "none trained"
        parts.append(f"Insufficient cohorts for drift analysis (only {only})")
    if result.drifting:
        parts.append(f"Drift detected: {'; '.join(result.drifting)}")
    elif len(result.groups) >= 2:
        parts.append(f"No drift beyond the bounds across {counted(len(result.groups), 'cohort')}")
    noise = [m for m, c in result.comparisons.items() if c.status == "inconclusive"]
    if noise:
        parts.append(f"{', '.join(noise)} above the bound within bootstrap noise (inconclusive)")
    return "; ".join(parts)


def recommendations(result: DriftResult) -> list[str]:
    """What to look at, each naming the cohort (or slice) and the metric."""
    level = result.config.confidence
    found = []
    for metric, comparison in result.comparisons.items():
        if comparison.stats is not None and comparison.status in ("drift", "inconclusive"):
            found.append(_spread_advice(metric, comparison, "cohort", level))
    for drops in result.drops.values():
        for drop in drops:
            if drop.status == "drift":
                found.append(
                    f"{drop.metric}: {drop_text(drop, level)}, worse by more than max_drop "
                    f"{drop.limit:g}; compare {cohort_named(drop.cohort)}'s training, data and "
                    "model between the two runs"
                )
    for cohort, comparisons in result.slice_comparisons.items():
        for metric, comparison in comparisons.items():
            if comparison.stats is not None and comparison.status in ("drift", "inconclusive"):
                found.append(
                    f"{cohort_named(cohort)}: " + _spread_advice(metric, comparison, "slice", level)
                )
    for cohort, slices in result.slices.items():
        for item in slices:
            if item.error:
                found.append(f"{cohort_named(cohort)}, slice {item.config.id}: {item.error}")
            elif not item.judged:
                found.append(
                    f"{cohort_named(cohort)}, slice {item.config.id} "
                    f"({describe(item.config.where)}): "
                    f"{item.samples} validation rows < min_samples {result.config.min_samples}, "
                    "so it is reported and not judged; widen it or lower drift.min_samples"
                )
    for group in result.groups:
        for violation in group.violations:
            value = "undefined" if violation.value is None else f"{violation.value:.4g}"
            found.append(
                f"{cohort_named(group.label)}: {violation.type} ({violation.severity}): "
                f"{violation.metric} {value} misses gate {violation.gate_key} "
                f"{violation.threshold:g}; it was not promoted"
            )
    for cohort, reason in result.failed.items():
        found.append(
            f"{cohort_named(cohort)} could not be trained, so its drift is unknown: {reason}"
        )
    if len(result.groups) < 2:
        found.append(
            "Compare at least two cohorts: declare cohorts in the spec, or train again into this "
            "drift folder with another cohort id (drift.group, --cohort-id)"
        )
    return found or [NO_DRIFT]


def _baseline_lines(result: DriftResult) -> list[str]:
    """Whether later runs compare with this one, when that is news."""
    state = result.baselines
    if state.accepted is not None:
        return [f"  new baseline accepted (reason: {state.accepted}); later runs compare with it"]
    if not state.eligible:
        failed = ", ".join(state.failed_checks)
        return [f"  not a baseline for later runs: {failed} failed in this run"]
    return []


def _spread_advice(metric: str, comparison: Comparison, noun: str, level: float) -> str:
    stats = comparison.stats
    assert stats is not None
    worst, best = comparison.values[stats.worst], comparison.values[stats.best]
    assert worst is not None and best is not None
    text = (
        f"{metric}: {noun} {stats.worst} ({worst:.4g}) trails {noun} {stats.best} "
        f"({best:.4g}) by {stats.spread:.4g}, beyond {comparison.limit:g}"
    )
    if comparison.status == "inconclusive" and stats.interval is not None:
        return (
            f"{text}, but the {level * 100:g}% interval of the spread reaches down to "
            f"{stats.interval[0]:.4g}: evaluate on more validation rows before acting"
        )
    return f"{text}; review what {noun} {stats.worst} changes against {noun} {stats.best}"


def summary_lines(result: DriftResult | DriftFailure) -> list[str]:
    """A few indented lines for the command line."""
    if isinstance(result, DriftFailure):
        return [f"  drift tracking failed: {result.reason}"]
    lines = [f"  Drift Report ID: {report_id(result)}"]
    cohorts = ", ".join(
        f"{g.label} ({'this run' if g.this_run else 'run ' + g.run_id})" for g in result.groups
    )
    lines.append(f"  drift cohorts: {cohorts}")
    unbounded = []
    for metric in METRICS:
        comparison = result.comparisons[metric]
        if comparison.stats is None:
            continue
        if comparison.limit is None:
            unbounded.append(f"{metric} {comparison.stats.spread:.4g}")
            continue
        text = spread_text(comparison, comparison.limit, "cohorts", result.config.confidence)
        lines.append(f"    {text} [{comparison.status}]")
    if unbounded:
        lines.append(f"    other spreads (no bound): {', '.join(unbounded)}")
    for drops in result.drops.values():
        for drop in drops:
            if drop.limit is not None:
                text = drop_text(drop, result.config.confidence)
                lines.append(f"    {drop.metric}: {text} [{drop.status or 'reported'}]")
    lines.append(f"  has_drift: {str(result.has_drift).lower()} ({message(result)})")
    lines += _baseline_lines(result)
    lines += [f"    - {text}" for text in recommendations(result)]
    if result.report_path is not None:
        lines.append(f"  drift report saved to {result.report_path}")
    return lines
