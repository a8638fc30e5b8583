"""Confidence intervals of validation metrics, for checks that decide on more than a point value.

A gate that compares a point metric with its threshold fails good models and passes bad ones
by plain sampling noise, most of all on a few hundred validation rows. Each metric here gets an
interval that names its method and level, so that a check can ask whether the whole interval
clears the threshold:

- accuracy, precision and recall are proportions of whole rows: Wilson score intervals over
  their own denominators (all rows, predicted positives, actual positives), which keep their
  coverage near the nominal level down to small counts, unlike the normal approximation;
- F1, ROC AUC and Brier score are not proportions: BCa intervals of a bootstrap that
  resamples positives and negatives separately (the class counts of the validation rows stay
  fixed, so no resample lacks a class);
- the debiased ECE: consistency resampling of the recalibrated model
  (:mod:`nethical_runner.metrics.calibration_error`), which carries the estimator's own bias.

Every resampling is seeded, so a seed gives the same interval on every run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri

from nethical_runner.metrics.bootstrap import bca_interval, stratified_bootstrap
from nethical_runner.metrics.calibration import Confidence, bin_confidences
from nethical_runner.metrics.calibration_error import METHOD as CONSISTENCY
from nethical_runner.metrics.calibration_error import consistency_interval
from nethical_runner.metrics.resampled import (
    COUNTED,
    SMOOTH,
    Strata,
    WeightedMetrics,
    check_metrics,
)

WILSON: Final = "wilson"
BCA: Final = "bca-stratified-bootstrap"
ECE_STREAM: Final = 0xECE  # the ECE's resamples draw from their own stream of the seed
CHUNK_CELLS: Final = 1 << 20  # count-matrix cells held at once (each chunk allocates a few)


@dataclass(frozen=True)
class Interval:
    """``low``-``high``: a ``level`` confidence interval by ``method`` over ``rows`` rows."""

    low: float
    high: float
    level: float
    method: str
    rows: int

    def record(self) -> dict[str, float | int | str]:
        """The interval as results.json holds it: plain Python numbers, which JSON and
        pytest-xdist's serialiser both accept."""
        return {
            "low": float(self.low),
            "high": float(self.high),
            "level": float(self.level),
            "method": self.method,
            "rows": int(self.rows),
        }

    def describe(self) -> str:
        """E.g. ``95% wilson interval 0.812 to 0.8613 over 200 rows`` (4 significant digits)."""
        return (
            f"{self.level * 100:.4g}% {self.method} interval "
            f"{self.low:.4g} to {self.high:.4g} over {self.rows} rows"
        )

    def standard_error(self) -> float:
        """The standard error a normal interval of this width and level would have: what a
        comparison with an estimate from other rows combines it with."""
        return (self.high - self.low) / (2.0 * float(ndtri(0.5 + 0.5 * self.level)))

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def wilson_interval(successes: int, trials: int, level: float) -> Interval:
    """Wilson score interval of ``successes`` in ``trials`` (Wilson 1927; Newcombe 1998), as
    ``scipy.stats.binomtest(...).proportion_ci(method="wilson")`` gives it. Without trials
    nothing is known: [0, 1]."""
    check_level(level)
    if not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    low, high = wilson_bounds(np.array([successes]), np.array([trials]), level)
    return Interval(float(low[0]), float(high[0]), level, WILSON, trials)


def wilson_bounds(
    successes: NDArray[np.int64], trials: NDArray[np.int64], level: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Elementwise Wilson bounds: (2k + z^2 -/+ z sqrt(4k(n - k)/n + z^2)) / (2(n + z^2)),
    exactly 0 at k = 0 and 1 at k = n; [0, 1] where n = 0."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    z = float(ndtri(0.5 + 0.5 * level))
    some = n > 0
    safe = np.where(some, n, 1.0)
    share = k / safe
    denominator = 2.0 * (safe + z**2)
    center = (2.0 * safe * share + z**2) / denominator
    half = z / denominator * np.sqrt(4.0 * safe * share * (1.0 - share) + z**2)
    low = np.where(some & (k > 0), center - half, 0.0)
    high = np.where(some & (k < n), center + half, 1.0)
    return low, high


def metric_intervals(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    metrics: Iterable[str],
    level: float,
    threshold: float = 0.5,
    ece_bins: int = 15,
    ece_confidence: Confidence = "positive",
    seed: int,
    resamples: int = 2000,
) -> dict[str, Interval]:
    """Intervals of the asked ``metrics`` (accuracy, precision, recall, f1, auc, brier, ece).

    Accuracy, precision and recall: Wilson. F1, AUC and Brier: BCa of one seeded
    label-stratified bootstrap of ``resamples`` resamples, run only when one of them is asked.
    ``ece``: the debiased ECE's consistency-resampling interval.
    AUC of single-class rows is undefined and gets no entry.
    """
    asked = check_metrics(metrics)
    check_level(level)
    strata = Strata.of(y_true)
    model = WeightedMetrics(
        strata,
        y_prob,
        tuple(m for m in asked if m in SMOOTH and m != "ece"),
        threshold=threshold,
        ece_bins=ece_bins,
        ece_confidence=ece_confidence,
    )
    correct, tp, fp, fn = model.confusion()
    proportions = {
        "accuracy": (correct, strata.size),
        "precision": (tp, tp + fp),
        "recall": (tp, tp + fn),
    }
    intervals = {m: wilson_interval(*proportions[m], level) for m in asked if m in COUNTED}
    if model.metrics:
        intervals |= bca_intervals(
            model.values,
            model.point(),
            model.leave_one_out(),
            strata,
            level=level,
            seed=seed,
            resamples=resamples,
            method=BCA,
        )
    if "ece" in asked:
        table = bin_confidences(y_true, y_prob, ece_bins, ece_confidence).totals()
        assert table.variance_sums is not None  # totals() always sums them
        low, high = consistency_interval(
            table.counts,
            table.hit_sums,
            table.confidence_sums,
            table.variance_sums,
            level=level,
            rng=np.random.default_rng([seed, ECE_STREAM]),
            resamples=resamples,
        )
        intervals["ece"] = Interval(low, high, level, CONSISTENCY, strata.size)
    return {m: intervals[m] for m in asked if m in intervals}


def bca_intervals(
    values: Callable[[NDArray[np.float64]], dict[str, NDArray[np.float64]]],
    point: dict[str, float],
    leave_one_out: dict[str, NDArray[np.float64]],
    strata: Strata,
    *,
    level: float,
    seed: int,
    resamples: int,
    method: str,
) -> dict[str, Interval]:
    """BCa intervals of every statistic ``values`` computes from count rows, on a seeded
    label-stratified bootstrap of ``strata``; ``point`` and ``leave_one_out`` hold each
    statistic on the rows themselves and with each row left out."""
    if resamples < 2:
        raise ValueError(f"resamples must be at least 2, got {resamples}")
    rng = np.random.default_rng(seed)
    draws = stratified_bootstrap(
        values,
        rng,
        strata.sizes,
        resamples,
        CHUNK_CELLS,
    )
    intervals = {}
    for metric, resampled in draws.items():
        jackknife = strata.split(leave_one_out[metric])
        low, high = bca_interval(point[metric], resampled, jackknife, level)
        intervals[metric] = Interval(low, high, level, method, strata.size)
    return intervals


def rows_to_decide(value: float, threshold: float, interval: Interval) -> int | None:
    """Roughly how many validation rows would make ``interval`` exclude ``threshold``,
    supposing its half-width shrinks as 1/sqrt(rows) around ``value``:
    rows * (half-width / |value - threshold|)^2, rounded up. None when ``value`` equals the
    threshold (no number of rows separates them) or the interval has no rows to scale."""
    if value == threshold or interval.rows == 0:
        return None
    half_width = (interval.high - interval.low) / 2.0
    needed = interval.rows * (half_width / abs(value - threshold)) ** 2
    return math.ceil(round(needed, 9))


def check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, got {level}")


def difference_interval(
    change: float, errors: Sequence[float | None], level: float
) -> tuple[float, float] | None:
    """Normal-approximation interval of a difference of independent estimates with the given
    standard errors (None when any is unknown): drift against the previous run and regression
    against a baseline both compare runs on their own rows this way."""
    if any(error is None for error in errors):
        return None
    half = float(ndtri(0.5 + 0.5 * level)) * math.sqrt(sum(float(e) ** 2 for e in errors if e))
    return change - half, change + half
