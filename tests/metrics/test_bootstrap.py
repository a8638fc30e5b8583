"""The one bootstrap: fixed draws per seed in memory-bounded chunks, row-wise statistics,
percentile intervals."""

from __future__ import annotations

import numpy as np
import pytest

from nethical_runner.metrics.bootstrap import (
    bootstrap,
    draw_counts,
    percentile_interval,
    resample_indices,
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
