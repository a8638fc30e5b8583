"""Validation metrics of weighted rows: on count rows (bootstrap resamples) and with each row
left out (jackknife), both without refitting anything row by row.

A resample is a row of counts, so every confusion count, squared error and ECE bin total of a
chunk of resamples is one matrix product of the count matrix with a design matrix built once;
ROC AUC is the Mann-Whitney statistic with the counts as weights on scores sorted once. The
jackknife values (which BCa intervals need for their acceleration) are written in closed form:
leaving row i out subtracts row i's own terms from the totals, so all n of them cost O(n) for
the sums and O(n log n) for AUC, never O(n^2).

Rows are held positives first, then negatives (:class:`Strata`), the layout
:func:`nethical_runner.metrics.bootstrap.stratified_counts` resamples with the class counts
fixed. Definitions match :func:`nethical_runner.metrics.classification.classification_metrics`
(precision, recall and F1 are 0 when undefined), except that ``ece`` is the debiased ECE of
:meth:`nethical_runner.metrics.calibration.CalibrationBins.debiased_ece`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nethical_runner.metrics.calibration import Confidence, bin_confidences

COUNTED = ("accuracy", "precision", "recall")  # proportions of whole rows
SMOOTH = ("f1", "auc", "brier", "ece")
METRICS = COUNTED + SMOOTH


@dataclass(frozen=True)
class Strata:
    """Validation labels in resampling order: positives first, then negatives (each in their
    original order); ``sizes`` holds the non-empty strata's sizes."""

    order: NDArray[np.intp]  # original row of each position
    y: NDArray[np.bool_]
    sizes: tuple[int, ...]

    @classmethod
    def of(cls, y_true: ArrayLike) -> Strata:
        labels = np.asarray(y_true).astype(np.int64).ravel()
        if labels.size == 0:
            raise ValueError("metrics of an empty sample are undefined")
        if not np.isin(labels, (0, 1)).all():
            raise ValueError("labels must be 0 or 1")
        positive = np.flatnonzero(labels == 1)
        negative = np.flatnonzero(labels == 0)
        order = np.concatenate([positive, negative])
        sizes = tuple(s for s in (positive.size, negative.size) if s)
        return cls(order, labels[order] == 1, sizes)

    @property
    def size(self) -> int:
        return int(self.y.size)

    @property
    def both_classes(self) -> bool:
        return len(self.sizes) == 2

    def split(self, values: NDArray[np.float64]) -> list[NDArray[np.float64]]:
        """Per-position values cut into one array per stratum (the jackknife's samples)."""
        return np.split(values, np.cumsum(self.sizes)[:-1])


def check_metrics(metrics: Iterable[str]) -> tuple[str, ...]:
    """The requested metrics in a fixed order, refusing names this module does not know."""
    asked = set(metrics)
    unknown = sorted(asked - set(METRICS))
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {', '.join(METRICS)}")
    return tuple(m for m in METRICS if m in asked)


class WeightedMetrics:
    """One model's metrics on the rows of ``strata``, under count rows or left out one by one.

    The design matrix's columns: correct, tp, fp, fn, squared error; the calibration bins'
    sums come from :meth:`~nethical_runner.metrics.calibration.BinnedConfidences.weighted_totals`.
    """

    def __init__(
        self,
        strata: Strata,
        y_prob: ArrayLike,
        metrics: tuple[str, ...],
        *,
        threshold: float,
        ece_bins: int,
        ece_confidence: Confidence,
    ) -> None:
        p = np.asarray(y_prob, dtype=np.float64).ravel()
        if p.size != strata.size:
            raise ValueError(f"y_true has {strata.size} values but y_prob has {p.size}")
        p = p[strata.order]
        y = strata.y
        self.metrics = tuple(m for m in metrics if m != "auc" or strata.both_classes)
        self.size = strata.size
        self.binned = bin_confidences(y, p, ece_bins, ece_confidence)
        predicted = p >= threshold
        self.design = np.column_stack(
            [predicted == y, predicted & y, predicted & ~y, ~predicted & y, (p - y) ** 2]
        ).astype(np.float64)
        self.ranking = Ranking.of(p, y) if "auc" in self.metrics else None

    @property
    def correct(self) -> NDArray[np.bool_]:
        """Whether each row (in strata order) is predicted right at the threshold."""
        return self.design[:, 0] == 1.0

    def confusion(self) -> tuple[int, int, int, int]:
        """Correct predictions, true positives, false positives and false negatives."""
        correct, tp, fp, fn = (round(float(v)) for v in self.design[:, :4].sum(axis=0))
        return correct, tp, fp, fn

    def values(self, counts: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
        """Every metric under each row of ``counts`` (how often each row was drawn)."""
        sums = counts @ self.design
        n = counts.sum(axis=1)
        correct, tp, fp, fn, squared = sums.T
        table = self.binned.weighted_totals(counts)
        formulas = {
            "accuracy": lambda: correct / n,
            "precision": lambda: ratio(tp, tp + fp),
            "recall": lambda: ratio(tp, tp + fn),
            "f1": lambda: ratio(2.0 * tp, 2.0 * tp + fp + fn),
            "brier": lambda: squared / n,
            "ece": table.debiased_ece,
            "auc": lambda: self._ranking().auc(counts),
        }
        return {m: formulas[m]() for m in self.metrics}

    def point(self) -> dict[str, float]:
        """Every metric with each row counted once."""
        return {m: float(v[0]) for m, v in self.values(np.ones((1, self.size))).items()}

    def leave_one_out(self) -> dict[str, NDArray[np.float64]]:
        """Position i: every metric on all rows but row i (NaN where undefined, e.g. AUC
        without the only positive)."""
        correct, tp, fp, fn, squared = self.design[:, :5].T
        total = self.design[:, :5].sum(axis=0)
        rest = self.size - 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            formulas = {
                "accuracy": lambda: (total[0] - correct) / rest,
                "precision": lambda: ratio(total[1] - tp, total[1] + total[2] - tp - fp),
                "recall": lambda: ratio(total[1] - tp, total[1] + total[3] - tp - fn),
                "f1": lambda: ratio(
                    2.0 * (total[1] - tp),
                    2.0 * total[1] + total[2] + total[3] - 2.0 * tp - fp - fn,
                ),
                "brier": lambda: (total[4] - squared) / rest,
                "ece": lambda: self.binned.leave_one_out_ece(debiased=True),
                "auc": lambda: self._ranking().leave_one_out(),
            }
            return {m: formulas[m]() for m in self.metrics}

    def _ranking(self) -> Ranking:
        if self.ranking is None:
            raise ValueError("ROC AUC is undefined on a single class")
        return self.ranking


def ratio(numerator: NDArray[np.float64], denominator: NDArray[np.float64]) -> NDArray[np.float64]:
    """``numerator / denominator``, 0 where the denominator is 0 (scikit-learn's
    ``zero_division=0``)."""
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, 0.0)


@dataclass(frozen=True)
class Ranking:
    """Scores sorted once, with the tie group of every position, for weighted AUCs."""

    order: NDArray[np.intp]
    positive: NDArray[np.float64]  # label of each sorted position, as 0.0/1.0
    group_start: NDArray[np.intp]  # first sorted position of each position's tie group
    group_end: NDArray[np.intp]  # last sorted position of each position's tie group

    @classmethod
    def of(cls, p: NDArray[np.float64], y: NDArray[np.bool_]) -> Ranking:
        order = np.argsort(p, kind="stable")
        ranked = p[order]
        new_group = np.r_[True, ranked[1:] != ranked[:-1]]
        starts = np.flatnonzero(new_group)
        ends = np.r_[starts[1:] - 1, ranked.size - 1]
        group = np.cumsum(new_group) - 1
        return cls(order, y[order].astype(np.float64), starts[group], ends[group])

    def _opponents(self, weights: NDArray[np.float64], of_class: float) -> NDArray[np.float64]:
        """Per sorted position (and row of ``weights``): the weight of ``of_class`` items
        scored lower than it, plus half of those tied with it."""
        members = weights * (self.positive if of_class else 1.0 - self.positive)
        through = np.cumsum(members, axis=-1)
        below = (through - members)[..., self.group_start]
        tied = through[..., self.group_end] - below
        return below + 0.5 * tied

    def auc(self, counts: NDArray[np.float64]) -> NDArray[np.float64]:
        """P(score of a positive > score of a negative) + half the ties, each row of
        ``counts`` weighting the items; NaN for rows without both classes."""
        weights = counts[:, self.order]
        positives = weights * self.positive
        negatives = weights - positives
        pairs = positives.sum(axis=1) * negatives.sum(axis=1)
        wins = (positives * self._opponents(weights, 0.0)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(pairs > 0, wins / np.where(pairs > 0, pairs, 1.0), np.nan)

    def leave_one_out(self) -> NDArray[np.float64]:
        """Item i: the AUC of all items but i. A positive takes away the pairs it wins (the
        negatives below it, ties half), a negative those it loses (the positives above it)."""
        ones = np.ones(self.positive.size)
        positives = float(self.positive.sum())
        negatives = self.positive.size - positives
        wins = self._opponents(ones, 0.0)  # for a positive: negatives below, ties half
        total = float((self.positive * wins).sum())
        # for a negative: positives above it, ties half = all positives - those below - half tied
        losses = positives - self._opponents(ones, 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            sorted_values = np.where(
                self.positive == 1.0,
                (total - wins) / ((positives - 1.0) * negatives),
                (total - losses) / (positives * (negatives - 1.0)),
            )
        values = np.empty_like(sorted_values)
        values[self.order] = sorted_values
        return values
