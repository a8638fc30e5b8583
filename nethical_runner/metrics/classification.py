"""Classification metrics by their textbook definitions.

All metrics are computed from the positive-class probability on held-out data. The expected
calibration error follows the convention of torchmetrics' and netcal's binary ECE, not the
``|accuracy - precision|`` of the script this project replaces.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nethical_runner.metrics.calibration import Confidence, bin_confidences


def expected_calibration_error(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    n_bins: int = 15,
    confidence: Confidence = "positive",
) -> float:
    """Binary ECE over ``n_bins`` equal-width bins, binned by
    :func:`nethical_runner.metrics.calibration.bin_confidences` (whose docstring gives the
    ``positive`` and ``top_label`` conventions). Empty bins contribute nothing."""
    return float(bin_confidences(y_true, y_prob, n_bins, confidence).totals().ece())


def debiased_expected_calibration_error(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    n_bins: int = 15,
    confidence: Confidence = "positive",
) -> float:
    """Binary ECE corrected for its small-sample bias (see
    :mod:`nethical_runner.metrics.calibration_error`): the plain binned ECE of a calibrated
    model on 200 rows is about 0.07 by label noise alone, the debiased one about 0.015."""
    return float(bin_confidences(y_true, y_prob, n_bins, confidence).totals().debiased_ece())


def roc_auc(y_true: NDArray[np.int64], y_prob: NDArray[np.float64]) -> float:
    """Area under the ROC curve as the Mann-Whitney statistic, ties counted half.

    Computed from average ranks in numpy, so the metrics need no scikit-learn import.
    """
    _, inverse, counts = np.unique(y_prob, return_inverse=True, return_counts=True)
    last_rank = np.cumsum(counts)
    average_rank = (last_rank - (counts - 1) / 2.0)[inverse]
    positives = float(y_true.sum())
    negatives = y_true.size - positives
    rank_sum = float(average_rank[y_true == 1].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def classification_metrics(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    threshold: float = 0.5,
    ece_bins: int = 15,
    ece_confidence: Confidence = "positive",
) -> dict[str, float | int | None]:
    """Every metric a gate can check, plus the confusion counts. ``ece`` is the plain binned
    ECE, ``ece_debiased`` the value checks decide on (see
    :mod:`nethical_runner.metrics.calibration_error`).

    Precision, recall and F1 are 0.0 when their denominator is zero (scikit-learn's
    ``zero_division=0``); ROC AUC is ``None`` when the labels hold a single class, because it is
    undefined there and a gate on it must fail rather than pass on a made-up number.
    """
    labels = np.asarray(y_true).astype(np.int64).ravel()
    probabilities = np.asarray(y_prob, dtype=np.float64).ravel()
    predicted = (probabilities >= threshold).astype(np.int64)
    tp = int(np.sum((predicted == 1) & (labels == 1)))
    tn = int(np.sum((predicted == 0) & (labels == 0)))
    fp = int(np.sum((predicted == 1) & (labels == 0)))
    fn = int(np.sum((predicted == 0) & (labels == 1)))
    n = labels.size
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    auc = roc_auc(labels, probabilities) if 0 < labels.sum() < n else None
    return {
        "accuracy": (tp + tn) / n,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "auc": auc,
        "brier": float(np.mean((probabilities - labels) ** 2)),
        "ece": expected_calibration_error(labels, probabilities, ece_bins, ece_confidence),
        "ece_debiased": debiased_expected_calibration_error(
            labels, probabilities, ece_bins, ece_confidence
        ),
        "tp": tp,
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "samples": n,
        "positive_rate": float(labels.mean()),
    }
