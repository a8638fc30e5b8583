"""Classification metrics by their textbook definitions.

All metrics are computed from the positive-class probability on held-out data. The expected
calibration error follows DESIGN.md (the convention of torchmetrics' and netcal's binary ECE),
not the ``|accuracy - precision|`` of the script this project replaces.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Confidence = Literal["positive", "top_label"]

METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "auc", "brier", "ece")


def expected_calibration_error(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    n_bins: int = 15,
    confidence: Confidence = "positive",
) -> float:
    """Binary ECE over ``n_bins`` equal-width bins, each [lo, hi) and the last [lo, 1].

    ``positive``: confidence is p(class 1) and a sample's "accuracy" is its label, so the ECE
    measures how well p(class 1) matches the observed frequency. ``top_label``: confidence is
    max(p, 1 - p) against whether the thresholded prediction (p >= 0.5) is correct. Empty bins
    contribute nothing; an empty input is an error because there is nothing to measure.
    """
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_prob = np.asarray(y_prob, dtype=np.float64).ravel()
    if y_true.shape != y_prob.shape:
        raise ValueError(f"y_true has {y_true.size} values but y_prob has {y_prob.size}")
    if y_true.size == 0:
        raise ValueError("expected calibration error of an empty sample is undefined")
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    if np.any((y_prob < 0) | (y_prob > 1)) or not np.all(np.isfinite(y_prob)):
        raise ValueError("probabilities must be finite and within [0, 1]")
    if confidence == "positive":
        conf, hit = y_prob, y_true
    elif confidence == "top_label":
        predicted = (y_prob >= 0.5).astype(np.float64)
        conf, hit = (
            np.maximum(y_prob, 1.0 - y_prob),
            (predicted == y_true).astype(np.float64),
        )
    else:
        raise ValueError(f"confidence must be 'positive' or 'top_label', got {confidence!r}")
    # floor(conf * n_bins) puts each value in [lo, hi); clipping folds conf == 1 into the last bin.
    bins = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    # (n_b / n) * |mean(hit) - mean(conf)| equals |sum(hit) - sum(conf)| / n for each bin.
    conf_sums = np.bincount(bins, weights=conf, minlength=n_bins)
    hit_sums = np.bincount(bins, weights=hit, minlength=n_bins)
    return float(np.abs(hit_sums - conf_sums).sum() / y_true.size)


def roc_auc(y_true: np.ndarray, y_prob: np.ndarray) -> float:
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
    y_true: np.ndarray,
    y_prob: np.ndarray,
    *,
    threshold: float = 0.5,
    ece_bins: int = 15,
    ece_confidence: Confidence = "positive",
) -> dict[str, float | int | None]:
    """Every metric a gate can check, plus the confusion counts.

    Precision, recall and F1 are 0.0 when their denominator is zero (scikit-learn's
    ``zero_division=0``); ROC AUC is ``None`` when the labels hold a single class, because it is
    undefined there and a gate on it must fail rather than pass on a made-up number.
    """
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_prob = np.asarray(y_prob, dtype=np.float64).ravel()
    predicted = (y_prob >= threshold).astype(np.int64)
    tp = int(np.sum((predicted == 1) & (y_true == 1)))
    tn = int(np.sum((predicted == 0) & (y_true == 0)))
    fp = int(np.sum((predicted == 1) & (y_true == 0)))
    fn = int(np.sum((predicted == 0) & (y_true == 1)))
    n = y_true.size
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    auc = roc_auc(y_true, y_prob) if 0 < y_true.sum() < n else None
    return {
        "accuracy": (tp + tn) / n,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "auc": auc,
        "brier": float(np.mean((y_prob - y_true) ** 2)),
        "ece": expected_calibration_error(y_true, y_prob, ece_bins, ece_confidence),
        "tp": tp,
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "samples": n,
        "positive_rate": float(y_true.mean()),
    }
