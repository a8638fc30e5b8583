"""The one calibration binning: bin edges, per-bin tables, and resampled tables that agree with
the tables of the resampled rows themselves."""

from __future__ import annotations

import numpy as np
import pytest

from nethical_runner.drift.stats import Predictions, resampled_metrics
from nethical_runner.metrics.bootstrap import draw_counts
from nethical_runner.metrics.calibration import bin_confidences
from nethical_runner.metrics.classification import (
    debiased_expected_calibration_error,
)


def sample(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(np.int64)
    p = np.round(np.clip(0.3 * y + 0.6 * rng.random(n), 0, 1), 2)
    return y, p


def test_bins_are_half_open_and_the_last_is_closed() -> None:
    binned = bin_confidences(np.zeros(5), np.array([0.0, 0.2, 0.25, 0.5, 1.0]), n_bins=4)
    assert binned.index.tolist() == [0, 0, 1, 2, 3]


def test_a_table_holds_counts_means_and_observed_frequencies_nan_where_empty() -> None:
    table = bin_confidences(np.array([0, 1, 1]), np.array([0.1, 0.2, 0.9]), n_bins=2).totals()
    assert table.counts.tolist() == [2.0, 1.0]
    assert table.mean_confidence == pytest.approx([0.15, 0.9])
    assert table.observed.tolist() == [0.5, 1.0]
    empty = bin_confidences(np.array([1]), np.array([0.9]), n_bins=2).totals()
    assert np.isnan(empty.mean_confidence[0]) and np.isnan(empty.observed[0])


def test_top_label_confidence_is_the_larger_probability_against_correctness_at_one_half() -> None:
    binned = bin_confidences(np.array([1, 0, 1]), np.array([0.3, 0.2, 0.5]), confidence="top_label")
    assert binned.confidence.tolist() == [0.7, 0.8, 0.5]
    assert binned.hit.tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("confidence", ["positive", "top_label"])
def test_a_resampled_table_is_the_table_of_the_resampled_rows(confidence: str) -> None:
    y, p = sample()
    binned = bin_confidences(y, p, 10, confidence)  # type: ignore[arg-type]
    counts = draw_counts(np.random.default_rng(1).integers(0, y.size, size=(6, y.size)), y.size)
    resampled = binned.weighted_totals(counts)
    for row in range(6):
        rows = np.repeat(np.arange(y.size), counts[row].astype(np.int64))
        table = bin_confidences(y[rows], p[rows], 10, confidence).totals()  # type: ignore[arg-type]
        assert resampled.counts[row].tolist() == table.counts.tolist()
        assert resampled.hit_sums[row] == pytest.approx(table.hit_sums, abs=1e-12)
        assert resampled.confidence_sums[row] == pytest.approx(table.confidence_sums, abs=1e-12)
        assert resampled.ece()[row] == pytest.approx(float(table.ece()), abs=1e-12)


def test_drift_resamples_bin_top_label_as_the_gate_does_whatever_the_decision_threshold() -> None:
    y, p = sample()
    data = Predictions(y, p, 0.3, 15, "top_label")
    drawn = resampled_metrics(data, 5, np.random.default_rng(2))["ece"]
    counts = draw_counts(np.random.default_rng(2).integers(0, y.size, size=(5, y.size)), y.size)
    for row in range(5):
        rows = np.repeat(np.arange(y.size), counts[row].astype(np.int64))
        gate = debiased_expected_calibration_error(y[rows], p[rows], 15, "top_label")
        assert drawn[row] == pytest.approx(gate, abs=1e-12)


@pytest.mark.parametrize(
    ("y", "p", "n_bins", "message"),
    [
        ([0, 1], [0.5], 15, "y_true has 2 values"),
        ([], [], 15, "empty sample"),
        ([1], [0.5], 0, "n_bins must be at least 1"),
        ([1], [1.5], 15, "within"),
        ([1], [np.nan], 15, "finite"),
    ],
)
def test_what_cannot_be_binned_is_refused(y: list, p: list, n_bins: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bin_confidences(y, p, n_bins)


def test_an_unknown_confidence_is_refused() -> None:
    with pytest.raises(ValueError, match="confidence must be"):
        bin_confidences([1], [0.5], confidence="both")  # type: ignore[arg-type]
