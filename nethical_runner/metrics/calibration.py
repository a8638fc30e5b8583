"""Calibration binning: the one place that decides which bin a prediction falls in.

The gated ECE, the reliability diagram and the bootstrap resamples of drift checks all bin
through here, so they cannot drift apart: ``n_bins`` equal-width bins, each ``[lo, hi)`` and the
last ``[lo, 1]``, on p(class 1) (``positive``) or on ``max(p, 1 - p)`` against whether the
prediction at 0.5 is right (``top_label``), the convention of torchmetrics' and netcal's binary
ECE. A bin table is the triple (rows, summed confidence, summed hits) per bin, plus the summed
confidence * (1 - confidence) that the debiased ECE needs; leading axes hold bootstrap
resamples, so one table stands for many resamples at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nethical_runner.metrics.calibration_error import shrink

Confidence = Literal["positive", "top_label"]
_LEFT_OUT_BLOCK = 65_536  # rows whose leave-one-out tables are built at once


@dataclass(frozen=True)
class CalibrationBins:
    """Per-bin totals along the last axis (earlier axes: one table per resample).

    Totals rather than means, because totals of resamples are one matrix product with the
    resample counts, and ECE needs only the totals.
    """

    counts: NDArray[np.float64]  # rows in each bin, weighted by how often each was drawn
    confidence_sums: NDArray[np.float64]
    hit_sums: NDArray[np.float64]
    # sum of confidence * (1 - confidence): the hit variance the model itself predicts
    variance_sums: NDArray[np.float64] | None = None

    @property
    def n_bins(self) -> int:
        return int(self.counts.shape[-1])

    @property
    def mean_confidence(self) -> NDArray[np.float64]:
        """Mean confidence of each bin, NaN where the bin is empty."""
        return _mean(self.confidence_sums, self.counts)

    @property
    def observed(self) -> NDArray[np.float64]:
        """Observed frequency (``positive``) or accuracy (``top_label``), NaN where empty."""
        return _mean(self.hit_sums, self.counts)

    def ece(self) -> NDArray[np.float64]:
        """Sum over bins of (n_b / n) * |observed - mean confidence|, one value per table.

        Written as |hit sum - confidence sum| / n, the same quantity without dividing by bin
        counts, so empty bins need no special case.
        """
        difference = np.abs(self.hit_sums - self.confidence_sums).sum(axis=-1)
        return np.asarray(difference / self.counts.sum(axis=-1), dtype=np.float64)

    def debiased_ece(self) -> NDArray[np.float64]:
        """The ECE corrected for its small-sample bias, one value per table (see
        :mod:`nethical_runner.metrics.calibration_error`). Needs ``variance_sums``."""
        return shrink(
            self.counts, self.hit_sums, self.confidence_sums, _present(self.variance_sums)
        ).estimate


@dataclass(frozen=True)
class BinnedConfidences:
    """Every row's bin, confidence and hit, computed once; summed once for the gate and the
    diagram, or once per resample for the bootstrap."""

    n_bins: int
    index: NDArray[np.int64]
    confidence: NDArray[np.float64]
    hit: NDArray[np.float64]

    @property
    def size(self) -> int:
        return int(self.index.size)

    @property
    def variance(self) -> NDArray[np.float64]:
        """Each row's confidence * (1 - confidence): its hit's variance if the model is right."""
        return self.confidence * (1.0 - self.confidence)

    def totals(self) -> CalibrationBins:
        """The bin table with every row counted once."""
        return CalibrationBins(
            np.bincount(self.index, minlength=self.n_bins).astype(np.float64),
            _weighted_bincount(self.index, self.confidence, self.n_bins),
            _weighted_bincount(self.index, self.hit, self.n_bins),
            _weighted_bincount(self.index, self.variance, self.n_bins),
        )

    def leave_one_out_ece(self, debiased: bool) -> NDArray[np.float64]:
        """Row i: the ECE (plain or debiased) of every row but row i, for the jackknife.

        Leaving row i out changes its own bin's totals only: the plain ECE recomputes that
        bin, O(rows); the debiased one also re-estimates its shrinkage, so it evaluates one
        table per row, O(rows x bins), never a refit over the rows.
        """
        table = self.totals()
        b = self.index
        if debiased:  # one table per row, built a block of rows at a time: memory stays bounded
            estimates = []
            for start in range(0, self.size, _LEFT_OUT_BLOCK):
                rows = slice(start, start + _LEFT_OUT_BLOCK)
                drop = np.zeros((b[rows].size, self.n_bins))
                drop[np.arange(drop.shape[0]), b[rows]] = 1.0
                estimates.append(
                    shrink(
                        table.counts - drop,
                        table.hit_sums - drop * self.hit[rows, None],
                        table.confidence_sums - drop * self.confidence[rows, None],
                        _present(table.variance_sums) - drop * self.variance[rows, None],
                    ).estimate
                )
            return np.concatenate(estimates)
        full = np.abs(table.hit_sums - table.confidence_sums)
        without = np.abs(
            table.hit_sums[b] - self.hit - (table.confidence_sums[b] - self.confidence)
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            return (full.sum() - full[b] + without) / (self.size - 1.0)

    def weighted_totals(self, weights: NDArray[np.float64]) -> CalibrationBins:
        """Bin tables of resamples: row r of ``weights`` says how often each row was drawn in
        resample r. Each bin's rows are gathered and summed with one matrix product, so no
        (rows x bins) matrix is ever built: at 2,000,000 validation rows that would be 240 MB
        a column group."""
        shape = (weights.shape[0], self.n_bins)
        counts, hits, confidences, variances = (np.zeros(shape) for _ in range(4))
        for b, (rows, columns) in enumerate(self._bin_columns):
            drawn = weights[:, rows]
            counts[:, b] = drawn.sum(axis=1)
            hits[:, b], confidences[:, b], variances[:, b] = (drawn @ columns).T
        return CalibrationBins(counts, confidences, hits, variances)

    @cached_property
    def _bin_columns(self) -> list[tuple[NDArray[np.intp], NDArray[np.float64]]]:
        """Each bin's rows, and their hit, confidence and variance as three columns."""
        order = np.argsort(self.index, kind="stable")
        ends = np.cumsum(np.bincount(self.index, minlength=self.n_bins))
        columns = np.column_stack([self.hit, self.confidence, self.variance])
        return [(rows, columns[rows]) for rows in np.split(order, ends[:-1])]


def bin_confidences(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    n_bins: int = 15,
    confidence: Confidence = "positive",
) -> BinnedConfidences:
    """Bin binary predictions by their calibration confidence.

    ``positive``: confidence is p(class 1) and a row's hit is its label, so bins compare
    p(class 1) with the observed frequency. ``top_label``: confidence is max(p, 1 - p) and a hit
    is a correct prediction at p >= 0.5. An empty input is an error: there is nothing to bin.
    """
    labels = np.asarray(y_true, dtype=np.float64).ravel()
    probabilities = np.asarray(y_prob, dtype=np.float64).ravel()
    if labels.shape != probabilities.shape:
        raise ValueError(f"y_true has {labels.size} values but y_prob has {probabilities.size}")
    if labels.size == 0:
        raise ValueError("expected calibration error of an empty sample is undefined")
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    if np.any((probabilities < 0) | (probabilities > 1)) or not np.all(np.isfinite(probabilities)):
        raise ValueError("probabilities must be finite and within [0, 1]")
    if confidence == "positive":
        conf, hit = probabilities, labels
    elif confidence == "top_label":
        predicted = (probabilities >= 0.5).astype(np.float64)
        conf = np.maximum(probabilities, 1.0 - probabilities)
        hit = (predicted == labels).astype(np.float64)
    else:
        raise ValueError(f"confidence must be 'positive' or 'top_label', got {confidence!r}")
    # floor(conf * n_bins) puts each value in [lo, hi); clipping folds conf == 1 into the last bin.
    index = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    return BinnedConfidences(n_bins, index, conf, hit)


def _present(sums: NDArray[np.float64] | None) -> NDArray[np.float64]:
    if sums is None:
        raise ValueError("the debiased ECE needs the bins' variance sums")
    return sums


def _weighted_bincount(
    index: NDArray[np.int64], weights: NDArray[np.float64], n_bins: int
) -> NDArray[np.float64]:
    # numpy's stubs type a weighted bincount as integer; it is float64, so this copies nothing.
    return np.bincount(index, weights=weights, minlength=n_bins).astype(np.float64, copy=False)


def _mean(sums: NDArray[np.float64], counts: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)
