"""Drift statistics: metrics of bootstrap resamples, spreads across groups, and their intervals.

A spread (max - min of a metric across cohorts or slices) is always at least zero, so on small
groups plain noise produces one. Each group's validation predictions are resampled with
replacement, every metric is recomputed on every resample, and the spread of each resample
gives an interval; drift is called only when the whole interval lies beyond the bound.

Resampling is vectorised: a resample is a row of counts (how often each validation row was
drawn), so a chunk of resamples is one count matrix ``W`` and every confusion count and ECE bin
sum is one matrix product with ``W``. ROC AUC is the Mann-Whitney statistic with the counts as
weights, evaluated on the scores sorted once. Nothing loops over rows or resamples in Python.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np

from nethical_runner.metrics.classification import Confidence, classification_metrics

METRICS = ("accuracy", "precision", "recall", "f1", "auc", "ece")
LOWER_IS_BETTER = frozenset({"ece"})
RESAMPLES = 2000
PERCENTILE_METHOD = "linear"
_CHUNK_CELLS = 1 << 20  # count-matrix cells held at once (each chunk allocates a few of them)

UNDEFINED = "undefined (validation rows of a single class)"

Status = Literal["ok", "within_noise", "drift"]


@dataclass(frozen=True)
class Predictions:
    """One group's validation labels and positive-class probabilities, with the cohort's
    metric conventions (decision threshold, ECE bins and confidence)."""

    y: np.ndarray
    p: np.ndarray
    threshold: float = 0.5
    ece_bins: int = 15
    ece_confidence: Confidence = "positive"

    @property
    def size(self) -> int:
        return int(self.y.size)


def point_metrics(data: Predictions) -> dict[str, float | None]:
    """Every metric of :data:`METRICS` on ``data`` itself, exactly as the gate computes them."""
    computed = classification_metrics(
        data.y,
        data.p,
        threshold=data.threshold,
        ece_bins=data.ece_bins,
        ece_confidence=data.ece_confidence,
    )
    return {m: None if computed[m] is None else float(computed[m]) for m in METRICS}


def resampled_metrics(
    data: Predictions, resamples: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Every metric of :data:`METRICS` on ``resamples`` bootstrap resamples of ``data``.

    Definitions match
    :func:`nethical_runner.metrics.classification.classification_metrics` (precision,
    recall and F1 are 0 when undefined); AUC is NaN on a resample holding a single class.
    """
    n = data.size
    if n == 0:
        raise ValueError("cannot resample an empty group")
    y = data.y.astype(bool)
    p = data.p.astype(np.float64)
    predicted = p >= data.threshold
    columns = [predicted == y, predicted & y, predicted & ~y, ~predicted & y]
    if data.ece_confidence == "top_label":
        conf, hit = np.maximum(p, 1.0 - p), (predicted == y).astype(np.float64)
    else:
        conf, hit = p, y.astype(np.float64)
    bins = np.minimum((conf * data.ece_bins).astype(np.int64), data.ece_bins - 1)
    onehot = np.zeros((n, data.ece_bins))
    onehot[np.arange(n), bins] = 1.0
    design = np.column_stack([*columns, onehot * hit[:, None], onehot * conf[:, None]])
    ranking = _Ranking.of(p, y)

    per_chunk = max(1, _CHUNK_CELLS // n)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in METRICS}
    for start in range(0, resamples, per_chunk):
        rows = min(per_chunk, resamples - start)
        counts = _counts(rng, rows, n)
        sums = counts @ design
        correct, tp, fp, fn = sums[:, 0], sums[:, 1], sums[:, 2], sums[:, 3]
        precision = _ratio(tp, tp + fp)
        recall = _ratio(tp, tp + fn)
        bins_hit = sums[:, 4 : 4 + data.ece_bins]
        bins_conf = sums[:, 4 + data.ece_bins :]
        parts["accuracy"].append(correct / n)
        parts["precision"].append(precision)
        parts["recall"].append(recall)
        parts["f1"].append(_ratio(2 * precision * recall, precision + recall))
        parts["auc"].append(ranking.auc(counts))
        parts["ece"].append(np.abs(bins_hit - bins_conf).sum(axis=1) / n)
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def _counts(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """``rows`` bootstrap resamples of ``n`` items as counts: row r, column i says how often
    item i was drawn in resample r."""
    drawn = rng.integers(0, n, size=(rows, n)) + (np.arange(rows) * n)[:, None]
    return np.bincount(drawn.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, 0 where the denominator is 0 (scikit-learn's
    ``zero_division=0``)."""
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, 0.0)


@dataclass(frozen=True)
class _Ranking:
    """Scores sorted once, with the tie group of every position, for weighted AUCs."""

    order: np.ndarray
    positive: np.ndarray  # label of each sorted position, as 0.0/1.0
    group_start: np.ndarray  # first sorted position of each position's tie group
    group_end: np.ndarray  # last sorted position of each position's tie group

    @classmethod
    def of(cls, p: np.ndarray, y: np.ndarray) -> _Ranking:
        order = np.argsort(p, kind="stable")
        ranked = p[order]
        new_group = np.r_[True, ranked[1:] != ranked[:-1]]
        starts = np.flatnonzero(new_group)
        ends = np.r_[starts[1:] - 1, ranked.size - 1]
        group = np.cumsum(new_group) - 1
        return cls(order, y[order].astype(np.float64), starts[group], ends[group])

    def auc(self, counts: np.ndarray) -> np.ndarray:
        """P(score of a positive > score of a negative) + half the ties, each row of
        ``counts`` weighting the items; NaN for rows without both classes."""
        weights = counts[:, self.order]
        positives = weights * self.positive
        negatives = weights - positives
        through = np.cumsum(negatives, axis=1)  # negatives at or before each position
        before = through - negatives  # strictly before each position
        below = before[:, self.group_start]  # negatives scored lower than the tie group
        tied = through[:, self.group_end] - below  # negatives inside the tie group
        pairs = positives.sum(axis=1) * negatives.sum(axis=1)
        wins = (positives * (below + 0.5 * tied)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(pairs > 0, wins / np.where(pairs > 0, pairs, 1.0), np.nan)


@dataclass(frozen=True)
class SpreadStats:
    """max - min of one metric across groups, with the worst and best group."""

    spread: float
    worst: str
    best: str
    interval: tuple[float, float] | None


def spread(
    values: Mapping[str, float],
    draws: Mapping[str, np.ndarray] | None,
    metric: str,
    confidence: float,
) -> SpreadStats:
    """Point spread of ``values`` (two or more groups) and, from each group's resampled values
    in ``draws``, a percentile-bootstrap interval of the spread. Resamples in which any group's
    metric is undefined (AUC on one class) are left out; without enough left, no interval."""
    if len(values) < 2:
        raise ValueError("a spread needs two groups")
    ordered = sorted(values, key=lambda label: (values[label], label))
    low, high = ordered[0], ordered[-1]
    worst, best = (high, low) if metric in LOWER_IS_BETTER else (low, high)
    interval = None
    if draws is not None:
        matrix = np.vstack([draws[label] for label in values])
        usable = matrix[:, np.all(np.isfinite(matrix), axis=0)]
        if usable.shape[1] >= matrix.shape[1] // 2:
            interval = percentile_interval(usable.max(axis=0) - usable.min(axis=0), confidence)
    return SpreadStats(values[high] - values[low], worst, best, interval)


def summarise_draws(
    draws: Mapping[str, np.ndarray], confidence: float
) -> tuple[dict[str, tuple[float, float] | None], dict[str, float | None]]:
    """Per metric, the percentile interval and the standard error of resampled values. A
    metric undefined on more than half of the resamples (AUC of a rare class) gets neither."""
    intervals: dict[str, tuple[float, float] | None] = {}
    errors: dict[str, float | None] = {}
    for metric, values in draws.items():
        finite = values[np.isfinite(values)]
        usable = finite.size > 1 and finite.size >= values.size // 2
        intervals[metric] = percentile_interval(finite, confidence) if usable else None
        errors[metric] = float(np.std(finite, ddof=1)) if usable else None
    return intervals, errors


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(samples, [tail, 100.0 - tail], method=PERCENTILE_METHOD)
    return float(low), float(high)


def worsening(metric: str, before: float, after: float) -> float:
    """How much worse ``after`` is than ``before``: a fall, or a rise for lower-is-better."""
    return after - before if metric in LOWER_IS_BETTER else before - after


def difference_interval(
    change: float, errors: Sequence[float | None], confidence: float
) -> tuple[float, float] | None:
    """Normal-approximation interval of a difference of two independent estimates with the
    given standard errors (None when either is unknown)."""
    if any(error is None for error in errors):
        return None
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    half = z * math.sqrt(sum(float(e) ** 2 for e in errors if e is not None))
    return change - half, change + half


def judge(value: float, limit: float, interval: tuple[float, float] | None) -> Status:
    """``ok`` within the bound; beyond it, ``drift`` only when the whole interval is beyond it
    too (or there is no interval), otherwise ``within_noise``."""
    if value <= limit:
        return "ok"
    if interval is not None and interval[0] <= limit:
        return "within_noise"
    return "drift"
