"""ECE by the torchmetrics/netcal binary definition, checked against hand-computed values, plus
the other metrics against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, brier_score_loss, f1_score, precision_score

from nethical_runner.metrics.classification import (
    classification_metrics,
    expected_calibration_error,
)


def test_ece_matches_a_hand_computed_example() -> None:
    # Bins of width 0.25: [0, .25) holds 0.1 and 0.2 (labels 0, 1): |0.5 - 0.15| * 2/6;
    # [.5, .75) holds 0.6 (label 1): |1 - 0.6| * 1/6; [.75, 1] holds 0.8, 0.9, 1.0
    # (labels 1, 0, 1): |2/3 - 0.9| * 3/6.
    y = np.array([0, 1, 1, 1, 0, 1])
    p = np.array([0.1, 0.2, 0.6, 0.8, 0.9, 1.0])
    expected = (0.35 * 2 + 0.4 * 1 + abs(2 / 3 - 0.9) * 3) / 6
    assert expected_calibration_error(y, p, n_bins=4) == pytest.approx(expected, abs=1e-12)


def test_ece_bin_edges_are_half_open_and_the_last_bin_closed() -> None:
    # 0.5 belongs to [0.5, 1] with two bins, 1.0 to the last bin, 0.0 to the first.
    y = np.array([1, 1, 0])
    p = np.array([0.5, 1.0, 0.0])
    # bin [0, .5): {0.0 -> label 0}: 0; bin [.5, 1]: mean p .75, mean y 1 -> .25 * 2/3
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.25 * 2 / 3)


def test_perfectly_calibrated_and_certain_predictions_have_zero_ece() -> None:
    assert expected_calibration_error(np.array([0, 1, 1]), np.array([0.0, 1.0, 1.0])) == 0.0


def test_ece_of_single_class_data_is_the_mean_distance_to_that_class() -> None:
    p = np.array([0.1, 0.3, 0.05])
    assert expected_calibration_error(np.zeros(3), p) == pytest.approx(p.mean())


def test_top_label_convention_uses_max_probability_against_correctness() -> None:
    y = np.array([0, 1])
    p = np.array([0.2, 0.7])  # confidences 0.8 and 0.7, both predictions correct
    assert expected_calibration_error(y, p, n_bins=10, confidence="top_label") == pytest.approx(
        (0.2 + 0.3) / 2
    )


def test_ece_agrees_with_a_direct_loop_over_bins_on_random_data() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(5000)
    y = (rng.random(5000) < p**1.3).astype(int)
    edges = np.linspace(0, 1, 16)
    total = 0.0
    for b in range(15):
        upper = p <= edges[b + 1] if b == 14 else p < edges[b + 1]
        member = (p >= edges[b]) & upper
        if member.any():
            total += member.mean() * abs(y[member].mean() - p[member].mean())
    assert expected_calibration_error(y, p) == pytest.approx(total, abs=1e-12)


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        (np.array([]), np.array([]), "empty"),
        (np.array([0, 1]), np.array([0.5]), "values"),
        (np.array([0, 1]), np.array([0.5, 1.2]), "within"),
        (np.array([0, 1]), np.array([0.5, np.nan]), "finite"),
    ],
)
def test_ece_rejects_bad_input(y: np.ndarray, p: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expected_calibration_error(y, p)


def test_classification_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(1000)
    y = (rng.random(1000) < p).astype(int)
    metrics = classification_metrics(y, p)
    predicted = (p >= 0.5).astype(int)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, predicted))
    assert metrics["precision"] == pytest.approx(precision_score(y, predicted))
    assert metrics["f1"] == pytest.approx(f1_score(y, predicted))
    assert metrics["brier"] == pytest.approx(brier_score_loss(y, p))
    assert metrics["tp"] + metrics["tn"] + metrics["fp"] + metrics["fn"] == 1000


def test_single_class_validation_data_has_no_auc_and_zero_division_is_zero() -> None:
    metrics = classification_metrics(np.zeros(4, dtype=int), np.array([0.1, 0.2, 0.3, 0.4]))
    assert metrics["auc"] is None
    assert metrics["precision"] == 0.0 and metrics["recall"] == 0.0 and metrics["f1"] == 0.0
    assert metrics["accuracy"] == 1.0


def test_roc_auc_matches_scikit_learn_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(2)
    p = rng.integers(0, 20, 3000) / 20  # many ties
    y = (rng.random(3000) < p).astype(int)
    assert classification_metrics(y, p)["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
