"""Reference statistics for comparing intervals with ``scipy.stats.bootstrap``: written from
the definitions on arrays of row indices (one sample of positives, one of negatives), so that
scipy's two independently resampled samples are the label-stratified bootstrap."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import foldnorm, rankdata

Reference = Callable[..., np.ndarray]


def reference(metric: str, y: np.ndarray, p: np.ndarray, bins: int = 15) -> Reference:
    """``statistic(positive_rows, negative_rows, axis=-1)`` of ``metric`` on rows of (y, p)."""

    def statistic(pos: np.ndarray, neg: np.ndarray, axis: int = -1) -> np.ndarray:
        pp, pn = p[pos], p[neg]
        if metric == "brier":
            return np.concatenate([(pp - 1.0) ** 2, pn**2], axis=-1).mean(axis=-1)
        if metric == "f1":
            tp = (pp >= 0.5).sum(axis=-1)
            fp = (pn >= 0.5).sum(axis=-1)
            return 2.0 * tp / (2.0 * tp + fp + (pp.shape[-1] - tp))
        if metric == "auc":  # Mann-Whitney from average ranks
            ranks = rankdata(np.concatenate([pp, pn], axis=-1), axis=-1)
            n1, n0 = pp.shape[-1], pn.shape[-1]
            return (ranks[..., :n1].sum(axis=-1) - n1 * (n1 + 1) / 2) / (n1 * n0)
        if metric == "ece":
            conf = np.concatenate([pp, pn], axis=-1)
            hit = np.concatenate([np.ones_like(pp), np.zeros_like(pn)], axis=-1)
            return debiased_ece(hit, conf, bins)
        raise ValueError(metric)

    return statistic


def debiased_ece(hit: np.ndarray, conf: np.ndarray, bins: int) -> np.ndarray:
    """The empirical-Bayes debiased ECE from its definition, bin by bin, vectorised over
    leading axes: tau^2 by the method of moments, then each bin's posterior mean of |delta|."""
    index = np.minimum((conf * bins).astype(int), bins - 1)
    n = conf.shape[-1]
    parts = []
    for b in range(bins):
        inside = index == b
        n_b = inside.sum(axis=-1)
        safe = np.maximum(n_b, 1)
        d = ((hit - conf) * inside).sum(axis=-1) / safe
        s2 = (conf * (1 - conf) * inside).sum(axis=-1) / safe**2
        parts.append((n_b / n, np.where(n_b > 0, d, 0.0), np.where(n_b > 0, s2, 0.0)))
    tau2 = np.maximum(sum(w * (d**2 - s2) for w, d, s2 in parts), 0.0)
    total = np.zeros(conf.shape[:-1])
    for w, d, s2 in parts:
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(tau2 + s2 > 0, tau2 / (tau2 + s2), 0.0)
        mean, sd = factor * d, np.sqrt(factor * s2)
        safe_sd = np.where(sd > 0, sd, 1.0)
        folded = np.where(
            sd > 0, foldnorm.mean(np.abs(mean) / safe_sd, scale=safe_sd), np.abs(mean)
        )
        total = total + w * folded
    return total
