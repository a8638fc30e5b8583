"""Paired differences: exactly nothing between identical models, McNemar against scipy, and
paired BCa intervals against ``scipy.stats.bootstrap`` on the same resampled rows."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from reference import reference
from test_intervals import sample

from nethical_runner.metrics.classification import classification_metrics
from nethical_runner.metrics.paired import PAIRED_BCA, McNemar, mcnemar, paired_differences
from nethical_runner.metrics.resampled import METRICS


def challenger(p: np.ndarray, seed: int = 9) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, 0.08, p.size)
    return np.round(np.clip(p + noise, 0.0, 1.0), 2)


def test_identical_models_differ_by_exactly_nothing() -> None:
    y, p = sample()
    found = paired_differences(y, p, p.copy(), metrics=METRICS, level=0.95, seed=3)
    assert list(found) == list(METRICS)
    for difference in found.values():
        assert difference.difference == 0.0
        assert (difference.interval.low, difference.interval.high) == (0.0, 0.0)
        assert difference.interval.method == PAIRED_BCA
    assert found["accuracy"].mcnemar == McNemar(0, 0, 1.0)


def test_values_are_each_models_and_the_difference_theirs() -> None:
    y, p = sample()
    q = challenger(p)
    found = paired_differences(y, q, p, metrics=["auc", "accuracy", "ece"], level=0.9, seed=0)
    assert list(found) == ["accuracy", "auc", "ece"]
    for metric in ("accuracy", "auc"):
        assert found[metric].candidate == pytest.approx(classification_metrics(y, q)[metric])
        assert found[metric].champion == pytest.approx(classification_metrics(y, p)[metric])
        assert found[metric].difference == pytest.approx(
            found[metric].candidate - found[metric].champion, abs=1e-15
        )
    assert found["accuracy"].mcnemar is not None and found["auc"].mcnemar is None
    assert found["ece"].candidate >= 0.0 and found["ece"].champion >= 0.0


def test_mcnemar_is_scipys_exact_binomial_test_on_the_discordant_rows() -> None:
    ours = np.array([True] * 9 + [False] * 3 + [True] * 20)
    theirs = np.array([False] * 9 + [True] * 3 + [True] * 20)
    result = mcnemar(ours, theirs)
    assert (result.candidate_only, result.champion_only) == (9, 3)
    assert result.p_value == scipy.stats.binomtest(3, 12, 0.5).pvalue


@pytest.mark.parametrize(("metric", "tolerance"), [("brier", 0.002), ("auc", 0.005)])
def test_paired_bca_agrees_with_scipy_on_the_same_resampled_rows(
    metric: str, tolerance: float
) -> None:
    """One set of resampled row indices per resample scores both models: scipy's two samples
    are the positive and the negative rows, its statistic the difference on those rows."""
    y, p = sample(300)
    q = challenger(p)
    ours = paired_differences(y, q, p, metrics=[metric], level=0.95, seed=1, resamples=20000)
    candidate, champion = reference(metric, y, q), reference(metric, y, p)
    theirs = scipy.stats.bootstrap(
        (np.flatnonzero(y == 1), np.flatnonzero(y == 0)),
        lambda pos, neg, axis=-1: candidate(pos, neg) - champion(pos, neg),
        method="BCa",
        n_resamples=20000,
        batch=1000,
        random_state=5,
    ).confidence_interval
    assert ours[metric].interval.low == pytest.approx(theirs.low, abs=tolerance)
    assert ours[metric].interval.high == pytest.approx(theirs.high, abs=tolerance)


def test_paired_differences_are_seeded() -> None:
    y, p = sample()
    q = challenger(p)
    first = paired_differences(y, q, p, metrics=["f1"], level=0.95, seed=2, resamples=500)
    assert first == paired_differences(y, q, p, metrics=["f1"], level=0.95, seed=2, resamples=500)
