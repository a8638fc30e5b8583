"""Bin tables of resamples summed bin by bin equal the dense (rows x bins) products they
replace, and leave-one-out tables built a block at a time equal those built at once."""

from __future__ import annotations

import numpy as np
import pytest

from nethical_runner.metrics import calibration
from nethical_runner.metrics.calibration import bin_confidences


@pytest.mark.parametrize("confidence", ["positive", "top_label"])
def test_weighted_totals_equal_the_dense_products(confidence: calibration.Confidence) -> None:
    rng = np.random.default_rng(4)
    p, y = rng.random(3000) ** 3, rng.integers(0, 2, 3000)  # bins of very different sizes
    binned = bin_confidences(y, p, 15, confidence)
    weights = rng.poisson(1.0, size=(7, 3000)).astype(np.float64)
    one_hot = np.eye(15)[binned.index]
    table = binned.weighted_totals(weights)
    np.testing.assert_allclose(table.counts, weights @ one_hot, rtol=1e-12)
    np.testing.assert_allclose(
        table.hit_sums, weights @ (one_hot * binned.hit[:, None]), rtol=1e-12
    )
    np.testing.assert_allclose(
        table.confidence_sums, weights @ (one_hot * binned.confidence[:, None]), rtol=1e-12
    )
    np.testing.assert_allclose(
        table.variance_sums, weights @ (one_hot * binned.variance[:, None]), rtol=1e-12
    )


def test_leave_one_out_in_blocks_equals_all_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    binned = bin_confidences(rng.integers(0, 2, 1000), rng.random(1000), 10)
    whole = binned.leave_one_out_ece(debiased=True)
    monkeypatch.setattr(calibration, "_LEFT_OUT_BLOCK", 64)
    np.testing.assert_array_equal(binned.leave_one_out_ece(debiased=True), whole)
