"""Evaluation slices: which validation rows a slice selects, and how a model does on each.

A slice names a feature column; the column is looked up in the cohort's loaded data, since a
CSV without a ``features`` list (or synthetic rows standing in for unavailable data) only shows
its columns once read. A column that is not there is an error naming it and the columns that
are, reported on the slice rather than failing the cohort's training.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from nethical_runner.drift.comparison import Comparison
from nethical_runner.drift.result import SliceResult
from nethical_runner.drift.stats import (
    METRICS,
    RESAMPLES,
    UNDEFINED,
    Predictions,
    point_metrics,
    resampled_metrics,
    summarise_draws,
)
from nethical_runner.spec.config import SliceConfig, SliceWhere


class SliceError(ValueError):
    """A slice's column is not a feature of the data it is applied to."""


def slice_rows(where: SliceWhere, feature_names: Sequence[str], X: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``X`` (columns ``feature_names``) the condition selects."""
    if where.column not in feature_names:
        raise SliceError(
            f"{where.column!r} is not a feature of the data (features: {', '.join(feature_names)})"
        )
    values = X[:, list(feature_names).index(where.column)]
    if where.equals is not None:
        return values == where.equals
    if where.in_ is not None:
        return np.isin(values, np.asarray(where.in_, dtype=np.float64))
    assert where.between is not None  # the section validates exactly one condition
    low, high = where.between
    return (values >= low) & (values <= high)


def describe(where: SliceWhere) -> str:
    """``severity_max between 0.5 and 1``, ``agent_count == 3``, ``x0 in {1, 2}``."""
    if where.equals is not None:
        return f"{where.column} == {where.equals:g}"
    if where.in_ is not None:
        return f"{where.column} in {{{', '.join(f'{v:g}' for v in where.in_)}}}"
    assert where.between is not None
    return f"{where.column} between {where.between[0]:g} and {where.between[1]:g}"


def evaluate_slices(
    slices: Sequence[SliceConfig],
    feature_names: Sequence[str],
    X: np.ndarray,
    predictions: Predictions,
    *,
    min_samples: int,
    limits: Mapping[str, float],
    confidence: float,
    rng_for: Callable[[str], np.random.Generator],
) -> tuple[tuple[SliceResult, ...], dict[str, Comparison]]:
    """Each slice's metrics on one cohort's validation predictions, and each metric's spread
    across the slices with at least ``min_samples`` rows (smaller ones are reported only).

    ``rng_for(slice_id)`` gives each slice its own resampling generator.
    """
    found: list[SliceResult] = []
    draws: dict[str, dict[str, np.ndarray]] = {}
    for declared in slices:
        try:
            rows = slice_rows(declared.where, feature_names, X)
        except SliceError as error:
            found.append(SliceResult(declared, 0, False, dict.fromkeys(METRICS), {}, str(error)))
            continue
        part = replace(predictions, y=predictions.y[rows], p=predictions.p[rows])
        judged = part.size >= min_samples
        metrics: dict[str, float | None] = dict.fromkeys(METRICS)
        intervals: dict[str, tuple[float, float] | None] = dict.fromkeys(METRICS)
        if part.size:
            metrics = point_metrics(part)
        if judged:
            draws[declared.id] = resampled_metrics(part, RESAMPLES, rng_for(declared.id))
            intervals = summarise_draws(draws[declared.id], confidence)[0]
        found.append(SliceResult(declared, part.size, judged, metrics, intervals))
    comparisons = {}
    for metric in METRICS:
        not_judged = {
            item.config.id: why for item in found if (why := _unjudged(item, metric, min_samples))
        }
        comparisons[metric] = Comparison.of(
            metric,
            {item.config.id: item.metrics[metric] for item in found},
            {item.config.id: item.samples for item in found},
            not_judged,
            draws,
            limits.get(metric),
            confidence,
        )
    return tuple(found), comparisons


def _unjudged(item: SliceResult, metric: str, min_samples: int) -> str | None:
    """Why a slice is reported and not compared on ``metric``, or None when it is compared."""
    if item.error:
        return item.error
    if not item.judged:
        return f"{item.samples} rows < min_samples {min_samples}"
    if item.metrics[metric] is None:
        return UNDEFINED
    return None
