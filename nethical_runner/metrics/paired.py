"""Champion against challenger on the same validation rows: paired differences and their
intervals.

Two models scored on the same rows make errors that are correlated, so the difference of their
metrics is much less noisy than two separate intervals suggest. Each resample therefore draws
one set of rows (label-stratified, as :mod:`nethical_runner.metrics.intervals` does) and scores
both models on it: the interval is a BCa interval of the per-resample difference, with the
jackknife of the difference (row i left out of both). Accuracy also gets McNemar's exact test
on the rows where exactly one of the two is right.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nethical_runner.metrics.calibration import Confidence
from nethical_runner.metrics.intervals import Interval, bca_intervals, check_level
from nethical_runner.metrics.resampled import Strata, WeightedMetrics, check_metrics

PAIRED_BCA: Final = "paired-bca-stratified-bootstrap"


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test of equal accuracy on the discordant rows."""

    candidate_only: int  # rows the candidate gets right and the champion wrong
    champion_only: int
    p_value: float  # exact two-sided binomial p-value; 1.0 without discordant rows


@dataclass(frozen=True)
class PairedDifference:
    """One metric of both models and the interval of candidate - champion."""

    metric: str
    candidate: float
    champion: float
    difference: float  # candidate - champion
    interval: Interval
    mcnemar: McNemar | None  # accuracy only


def paired_differences(
    y_true: ArrayLike,
    p_candidate: ArrayLike,
    p_champion: ArrayLike,
    *,
    metrics: Iterable[str],
    level: float,
    threshold: float = 0.5,
    ece_bins: int = 15,
    ece_confidence: Confidence = "positive",
    seed: int,
    resamples: int = 2000,
) -> dict[str, PairedDifference]:
    """Paired differences of the asked ``metrics`` (accuracy, precision, recall, f1, auc,
    brier, ece) with seeded paired BCa intervals; AUC of single-class rows gets no entry.
    ``ece`` is the debiased ECE, as the gate decides it. Identical predictions give a
    difference of exactly 0 and the interval [0, 0].
    """
    asked = check_metrics(metrics)
    check_level(level)
    strata = Strata.of(y_true)
    candidate, champion = (
        WeightedMetrics(
            strata,
            p,
            asked,
            threshold=threshold,
            ece_bins=ece_bins,
            ece_confidence=ece_confidence,
        )
        for p in (p_candidate, p_champion)
    )
    if not candidate.metrics:
        return {}

    def difference(counts: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
        ours, theirs = candidate.values(counts), champion.values(counts)
        return {m: ours[m] - theirs[m] for m in ours}

    ours, theirs = candidate.point(), champion.point()
    ours_out, theirs_out = candidate.leave_one_out(), champion.leave_one_out()
    intervals = bca_intervals(
        difference,
        {m: ours[m] - theirs[m] for m in ours},
        {m: ours_out[m] - theirs_out[m] for m in ours_out},
        strata,
        level=level,
        seed=seed,
        resamples=resamples,
        method=PAIRED_BCA,
    )
    return {
        m: PairedDifference(
            m,
            ours[m],
            theirs[m],
            ours[m] - theirs[m],
            intervals[m],
            mcnemar(candidate.correct, champion.correct) if m == "accuracy" else None,
        )
        for m in candidate.metrics
    }


def mcnemar(candidate_correct: NDArray[np.bool_], champion_correct: NDArray[np.bool_]) -> McNemar:
    """Exact McNemar test: under equal accuracy each discordant row is a fair coin, so the
    two-sided p-value is ``binomtest(min(b, c), b + c, 0.5)``'s."""
    from scipy.stats import binomtest  # 0.4 s to import: only when a champion is compared

    b = int(np.count_nonzero(candidate_correct & ~champion_correct))
    c = int(np.count_nonzero(champion_correct & ~candidate_correct))
    p_value = float(binomtest(min(b, c), b + c, 0.5).pvalue) if b + c else 1.0
    return McNemar(b, c, p_value)
