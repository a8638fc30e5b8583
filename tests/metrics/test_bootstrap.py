"""The one bootstrap: fixed draws per seed in memory-bounded chunks, row-wise statistics,
percentile intervals."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from nethical_runner.metrics.bootstrap import (
    bca_interval,
    bootstrap,
    draw_counts,
    percentile_interval,
    resample_indices,
    stratified_bootstrap,
    stratified_counts,
)


def test_chunks_bound_the_indices_held_at_once_and_cover_every_resample() -> None:
    chunks = list(resample_indices(np.random.default_rng(0), 10, 23, max_cells=50))
    assert [c.shape for c in chunks] == [(5, 10)] * 4 + [(3, 10)]
    assert all(((c >= 0) & (c < 10)).all() for c in chunks)


def test_a_chunk_holds_at_least_one_resample_however_large_the_sample() -> None:
    chunks = list(resample_indices(np.random.default_rng(0), 100, 3, max_cells=10))
    assert [c.shape for c in chunks] == [(1, 100)] * 3


def test_the_draws_are_one_integers_call_per_chunk_in_order() -> None:
    """The contract that keeps SLA and drift intervals the same from release to release."""
    drawn = np.vstack(list(resample_indices(np.random.default_rng(4), 7, 10, max_cells=21)))
    expected = np.random.default_rng(4)
    chunks = [expected.integers(0, 7, size=(rows, 7)) for rows in (3, 3, 3, 1)]
    assert np.array_equal(drawn, np.vstack(chunks))


def test_an_empty_sample_cannot_be_resampled() -> None:
    with pytest.raises(ValueError, match="empty"):
        next(resample_indices(np.random.default_rng(0), 0, 5, max_cells=10))


def test_counts_say_how_often_each_item_was_drawn() -> None:
    drawn = np.array([[0, 0, 2], [1, 2, 2]])
    assert draw_counts(drawn, 3).tolist() == [[2.0, 0.0, 1.0], [0.0, 1.0, 2.0]]


def test_bootstrap_joins_the_row_wise_statistics_of_every_chunk_in_draw_order() -> None:
    values = np.arange(10.0)
    draws = bootstrap(
        lambda drawn: {"mean": values[drawn].mean(axis=1), "max": values[drawn].max(axis=1)},
        np.random.default_rng(3),
        10,
        25,
        max_cells=40,
    )
    indices = np.vstack(list(resample_indices(np.random.default_rng(3), 10, 25, max_cells=40)))
    assert list(draws) == ["mean", "max"]
    assert np.array_equal(draws["mean"], values[indices].mean(axis=1))
    assert np.array_equal(draws["max"], values[indices].max(axis=1))


def test_a_percentile_interval_holds_the_central_share() -> None:
    samples = np.arange(1.0, 101.0)
    expected = (float(np.percentile(samples, 5.0)), float(np.percentile(samples, 95.0)))
    assert percentile_interval(samples, 0.9) == pytest.approx(expected, abs=1e-12)


def test_stratified_counts_keep_every_stratums_size_in_bounded_chunks() -> None:
    chunks = list(stratified_counts(np.random.default_rng(0), (3, 7), 23, max_cells=50))
    assert [c.shape for c in chunks] == [(5, 10)] * 4 + [(3, 10)]
    joined = np.vstack(chunks)
    assert (joined[:, :3].sum(axis=1) == 3).all() and (joined[:, 3:].sum(axis=1) == 7).all()


def test_stratified_draws_are_one_integers_call_per_stratum_and_chunk_in_order() -> None:
    drawn = np.vstack(list(stratified_counts(np.random.default_rng(4), (2, 5), 5, max_cells=21)))
    rng = np.random.default_rng(4)
    expected = []
    for rows in (3, 2):
        expected.append(
            np.hstack([draw_counts(rng.integers(0, k, size=(rows, k)), k) for k in (2, 5)])
        )
    assert np.array_equal(drawn, np.vstack(expected))


def test_stratified_bootstrap_joins_each_chunks_statistic_and_refuses_empty_strata() -> None:
    draws = stratified_bootstrap(
        lambda counts: {"first": counts[:, 0]}, np.random.default_rng(1), (4, 4), 9, 16
    )
    assert draws["first"].shape == (9,)
    with pytest.raises(ValueError, match="empty stratum"):
        next(stratified_counts(np.random.default_rng(0), (3, 0), 5, 10))


def test_bca_follows_efron_and_tibshirani_with_the_multi_sample_acceleration() -> None:
    rng = np.random.default_rng(2)
    resampled = rng.gamma(2.0, size=4000)
    jackknife = [rng.gamma(2.0, size=30), rng.normal(size=12)]
    u = [(v.size - 1) * (v.mean() - v) for v in jackknife]
    a = sum((x**3).sum() / x.size**3 for x in u) / (
        6 * sum((x**2).sum() / x.size**2 for x in u) ** 1.5
    )
    estimate = 1.7
    share = (np.sum(resampled < estimate) + np.sum(resampled <= estimate)) / (2 * resampled.size)
    z0 = scipy.stats.norm.ppf(share)
    ends = [
        scipy.stats.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
        for z in scipy.stats.norm.ppf([0.05, 0.95])
    ]
    expected = np.percentile(resampled, [100 * ends[0], 100 * ends[1]])
    assert bca_interval(estimate, resampled, jackknife, 0.9) == pytest.approx(expected, abs=1e-12)


def test_bca_stays_defined_where_scipy_gives_nan() -> None:
    assert bca_interval(0.3, np.full(50, 0.3), [np.zeros(5)], 0.95) == (0.3, 0.3)
    samples = np.arange(1.0, 101.0)
    low, high = bca_interval(0.0, samples, [np.ones(7), np.array([2.0])], 0.95)
    assert 1.0 <= low < high <= 100.0  # estimate below every resample, no acceleration
    with pytest.raises(ValueError, match="level"):
        bca_interval(0.0, samples, [], 0.0)
