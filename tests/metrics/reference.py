"""Reference statistics for comparing intervals with ``scipy.stats.bootstrap``: written from
the definitions on arrays of row indices (one sample of positives, one of negatives), so that
scipy's two independently resampled samples are the label-stratified bootstrap."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import norm, rankdata

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
    """Debiased ECE from its definition, bin by bin (Kumar et al. 2019 with the model's own
    noise variance), vectorised over leading axes."""
    index = np.minimum((conf * bins).astype(int), bins - 1)
    total = np.zeros(conf.shape[:-1])
    for b in range(bins):
        inside = index == b
        n_b = inside.sum(axis=-1)
        safe = np.maximum(n_b, 1)
        o = (hit * inside).sum(axis=-1) / safe
        c = (conf * inside).sum(axis=-1) / safe
        s = np.sqrt((conf * (1 - conf) * inside).sum(axis=-1)) / safe
        d = o - c
        with np.errstate(invalid="ignore", divide="ignore"):
            folded = s * np.sqrt(2 / np.pi) * np.exp(-(d**2) / (2 * s**2)) + d * (
                1 - 2 * norm.cdf(-d / s)
            )
        folded = np.where(s > 0, folded, np.abs(d))
        total = total + np.where(n_b > 0, n_b * (2 * np.abs(d) - folded), 0.0)
    return total / conf.shape[-1]
