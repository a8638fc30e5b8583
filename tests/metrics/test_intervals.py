"""Wilson intervals against scipy, closed-form jackknives against recomputation, resampled
metrics against the metrics of the resampled rows, and BCa intervals against
``scipy.stats.bootstrap``."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from reference import reference

from nethical_runner.metrics import intervals as intervals_module
from nethical_runner.metrics.bootstrap import draw_counts
from nethical_runner.metrics.calibration import bin_confidences
from nethical_runner.metrics.calibration_error import METHOD as CONSISTENCY
from nethical_runner.metrics.calibration_error import _folded_mean, shrink
from nethical_runner.metrics.classification import (
    classification_metrics,
    debiased_expected_calibration_error,
    expected_calibration_error,
)
from nethical_runner.metrics.intervals import (
    BCA,
    WILSON,
    Interval,
    metric_intervals,
    rows_to_decide,
    wilson_bounds,
    wilson_interval,
)
from nethical_runner.metrics.resampled import METRICS, Strata, WeightedMetrics


def sample(n: int = 300, seed: int = 0, k: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Scores from a logistic-normal, labels from a distorted (over-confident) truth; rounded
    so that AUC meets ties."""
    rng = np.random.default_rng(seed)
    p = 1.0 / (1.0 + np.exp(-rng.normal(0.0, 1.5, n)))
    truth = 1.0 / (1.0 + np.exp(-k * np.log(p / (1.0 - p))))
    return (rng.random(n) < truth).astype(np.int64), np.round(p, 2)


def model(y: np.ndarray, p: np.ndarray, confidence: str = "positive") -> WeightedMetrics:
    return WeightedMetrics(
        Strata.of(y),
        p,
        METRICS,
        threshold=0.5,
        ece_bins=15,
        ece_confidence=confidence,  # type: ignore[arg-type]
    )


def test_wilson_bounds_equal_scipys_over_many_counts_and_levels() -> None:
    cases = [
        (k, n, level)
        for n in (1, 2, 7, 50, 333)
        for k in range(0, n + 1, max(1, n // 9))
        for level in (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)
    ]
    k, n, level = (np.array(column) for column in zip(*cases, strict=True))
    for lv in np.unique(level):
        at = level == lv
        low, high = wilson_bounds(k[at], n[at], float(lv))
        expected = [
            scipy.stats.binomtest(int(a), int(b)).proportion_ci(lv, method="wilson")
            for a, b in zip(k[at], n[at], strict=True)
        ]
        assert low == pytest.approx([e.low for e in expected], abs=1e-9)
        assert high == pytest.approx([e.high for e in expected], abs=1e-9)


def test_a_wilson_interval_names_its_method_and_rows_and_knows_nothing_without_trials() -> None:
    interval = wilson_interval(170, 200, 0.95)
    assert (interval.method, interval.rows, interval.level) == (WILSON, 200, 0.95)
    assert wilson_interval(0, 0, 0.9) == Interval(0.0, 1.0, 0.9, WILSON, 0)
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(3, 2, 0.95)
    with pytest.raises(ValueError, match="level"):
        wilson_interval(1, 2, 1.0)


def test_an_interval_records_describes_and_contains() -> None:
    interval = Interval(0.81234, 0.86127, 0.95, WILSON, 200)
    assert interval.record() == {
        "low": 0.81234,
        "high": 0.86127,
        "level": 0.95,
        "method": WILSON,
        "rows": 200,
    }
    assert interval.describe() == "95% wilson interval 0.8123 to 0.8613 over 200 rows"
    assert interval.contains(0.81234) and interval.contains(0.86127)
    assert not interval.contains(0.8) and not interval.contains(0.87)


def test_rows_to_decide_scale_the_rows_by_the_squared_half_width_over_the_margin() -> None:
    interval = Interval(0.80, 0.90, 0.95, WILSON, 200)  # half-width 0.05
    assert rows_to_decide(0.85, 0.80, interval) == 200  # margin 0.05: as many rows as now
    assert rows_to_decide(0.85, 0.825, interval) == 800  # half the margin: four times
    assert rows_to_decide(0.85, 0.82, interval) == 556  # 200 * (5/3)^2 = 555.6, rounded up
    assert rows_to_decide(0.85, 0.85, interval) is None
    assert rows_to_decide(0.5, 0.7, Interval(0.0, 1.0, 0.95, WILSON, 0)) is None


@pytest.mark.parametrize("confidence", ["positive", "top_label"])
def test_closed_form_jackknives_equal_recomputation_without_each_row(confidence: str) -> None:
    y, p = sample(60, seed=3)
    metrics = model(y, p, confidence)
    strata = Strata.of(y)
    left_out = metrics.leave_one_out()
    plain = bin_confidences(y[strata.order], p[strata.order], 15, confidence).leave_one_out_ece(  # type: ignore[arg-type]
        debiased=False
    )
    for i in range(y.size):
        keep = np.delete(strata.order, i)
        again = model(y[keep], p[keep], confidence).point()
        for metric in METRICS:
            assert left_out[metric][i] == pytest.approx(again[metric], abs=1e-12), metric
        ece = expected_calibration_error(y[keep], p[keep], 15, confidence)  # type: ignore[arg-type]
        assert plain[i] == pytest.approx(ece, abs=1e-12)


def test_point_metrics_are_the_gates_and_the_debiased_ece_its_definition() -> None:
    y, p = sample()
    point = model(y, p).point()
    gate = classification_metrics(y, p)
    for metric in ("accuracy", "precision", "recall", "f1", "auc", "brier"):
        assert point[metric] == pytest.approx(gate[metric], abs=1e-12)
    definition = reference("ece", y, p)(np.flatnonzero(y == 1), np.flatnonzero(y == 0))
    assert point["ece"] == pytest.approx(float(definition), abs=1e-12)
    assert debiased_expected_calibration_error(y, p) == pytest.approx(point["ece"], abs=1e-12)


def test_resampled_metrics_are_the_metrics_of_the_resampled_rows() -> None:
    y, p = sample(80, seed=1)
    metrics = model(y, p)
    strata = Strata.of(y)
    counts = draw_counts(np.random.default_rng(5).integers(0, y.size, (4, y.size)), y.size)
    values = metrics.values(counts)
    for row in range(4):
        rows = np.repeat(strata.order, counts[row].astype(np.int64))
        again = model(y[rows], p[rows]).point()
        for metric in METRICS:
            assert values[metric][row] == pytest.approx(again[metric], abs=1e-12), metric


def test_the_posterior_term_is_the_mean_of_a_folded_normal() -> None:
    mean, sd = np.array([0.03, -0.2, 0.0, 0.1]), np.array([0.05, 0.1, 0.02, 0.0])
    expected = [
        scipy.stats.foldnorm.mean(abs(m) / s, scale=s) if s else abs(m)
        for m, s in zip(mean, sd, strict=True)
    ]
    assert _folded_mean(mean, sd) == pytest.approx(expected, abs=1e-12)


def test_the_shrinkage_is_the_method_of_moments_posterior() -> None:
    counts, hits = np.array([10.0, 25.0, 4.0, 0.0]), np.array([3.0, 20.0, 4.0, 0.0])
    confidence, variance = np.array([4.1, 17.0, 3.2, 0.0]), np.array([2.0, 4.5, 0.5, 0.0])
    d = np.array([(3 - 4.1) / 10, (20 - 17) / 25, (4 - 3.2) / 4, 0.0])
    s2 = np.array([2.0 / 100, 4.5 / 625, 0.5 / 16, 0.0])
    w = counts / counts.sum()
    tau2 = max(float((w * (d**2 - s2)).sum()), 0.0)
    factor = tau2 / (tau2 + s2)
    found = shrink(counts, hits, confidence, variance)
    assert found.shift == pytest.approx(np.where(counts > 0, factor * d, 0.0), abs=1e-12)
    expected = (w * _folded_mean(factor * d, np.sqrt(factor * s2))).sum()
    assert float(found.estimate) == pytest.approx(expected, abs=1e-12)
    # distances within their noise shrink to nothing; distances far beyond it hardly move
    quiet = shrink(
        np.array([50.0, 50.0]),
        np.array([26.0, 24.0]),
        np.array([25.0, 25.0]),
        np.array([12.5, 12.5]),
    )
    assert float(quiet.estimate) == 0.0
    loud = shrink(
        np.array([50.0, 50.0]),
        np.array([45.0, 5.0]),
        np.array([25.0, 25.0]),
        np.array([12.5, 12.5]),
    )
    assert float(loud.estimate) == pytest.approx(0.4, rel=0.05)


def test_the_debiased_ece_is_below_the_plain_one_and_never_negative() -> None:
    y, p = sample(200, seed=2, k=1.0)
    assert 0.0 <= debiased_expected_calibration_error(y, p) < expected_calibration_error(y, p)
    rng = np.random.default_rng(0)
    for _ in range(50):  # a posterior mean of |delta| is at least 0, on every sample
        p = rng.random(40)
        y = (rng.random(40) < p).astype(int)
        assert debiased_expected_calibration_error(y, p) >= 0.0


def test_a_table_without_variance_sums_has_no_debiased_ece() -> None:
    table = bin_confidences([1, 0], [0.7, 0.2]).totals()
    bare = type(table)(table.counts, table.confidence_sums, table.hit_sums)
    with pytest.raises(ValueError, match="variance sums"):
        bare.debiased_ece()


@pytest.mark.parametrize(("dataset", "k"), [(0, 0.6), (1, 1.0)])
@pytest.mark.parametrize(("metric", "tolerance"), [("brier", 0.002), ("f1", 0.005), ("auc", 0.005)])
def test_bca_intervals_agree_with_scipys_two_sample_bca(
    dataset: int, k: float, metric: str, tolerance: float
) -> None:
    """scipy resamples positives and negatives as two independent samples, the label
    stratification. Tolerances: three times the largest endpoint spread seen over repeated
    runs of both (Brier 0.0005, F1 and AUC 0.0015) at 20000 resamples."""
    y, p = sample(300, seed=dataset, k=k)
    ours = metric_intervals(y, p, metrics=[metric], level=0.95, seed=dataset, resamples=20000)
    theirs = scipy.stats.bootstrap(
        (np.flatnonzero(y == 1), np.flatnonzero(y == 0)),
        reference(metric, y, p),
        method="BCa",
        n_resamples=20000,
        batch=1000,
        random_state=100 + dataset,
    ).confidence_interval
    assert ours[metric].method == BCA and ours[metric].rows == 300
    assert ours[metric].low == pytest.approx(theirs.low, abs=tolerance)
    assert ours[metric].high == pytest.approx(theirs.high, abs=tolerance)


def test_intervals_are_seeded_asked_for_and_named() -> None:
    y, p = sample()
    asked = ["ece", "accuracy", "auc", "recall"]
    first = metric_intervals(y, p, metrics=asked, level=0.9, seed=7, resamples=300)
    assert first == metric_intervals(y, p, metrics=asked, level=0.9, seed=7, resamples=300)
    assert first != metric_intervals(y, p, metrics=asked, level=0.9, seed=8, resamples=300)
    assert list(first) == ["accuracy", "recall", "auc", "ece"]
    tp = int(np.sum((p >= 0.5) & (y == 1)))
    assert first["recall"] == wilson_interval(tp, int(y.sum()), 0.9)
    assert first["accuracy"].method == WILSON and first["auc"].method == BCA
    assert all(interval.level == 0.9 for interval in first.values())


def test_proportions_alone_do_not_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("bootstrapped")

    monkeypatch.setattr(intervals_module, "stratified_bootstrap", refuse)
    y, p = sample()
    assert set(metric_intervals(y, p, metrics=["accuracy", "precision"], level=0.95, seed=0)) == {
        "accuracy",
        "precision",
    }


def test_single_class_rows_have_no_auc_and_a_degenerate_distribution_a_point() -> None:
    y = np.ones(50, dtype=np.int64)
    p = np.full(50, 0.8)
    found = metric_intervals(y, p, metrics=["auc", "brier", "f1"], level=0.95, seed=0)
    assert set(found) == {"brier", "f1"}
    assert (found["brier"].low, found["brier"].high) == pytest.approx((0.04, 0.04), abs=1e-15)
    assert (found["f1"].low, found["f1"].high) == (1.0, 1.0)


def test_the_ece_interval_is_seeded_named_and_holds_its_estimate() -> None:
    y, p = sample(300, seed=0, k=1.0)
    ece = metric_intervals(y, p, metrics=["ece"], level=0.95, seed=0)["ece"]
    assert ece == metric_intervals(y, p, metrics=["ece"], level=0.95, seed=0)["ece"]
    assert ece.method == CONSISTENCY and ece.rows == 300 and ece.level == 0.95
    assert ece.low == 0.0 < ece.high  # a calibrated model: nothing rules out perfection
    estimate = debiased_expected_calibration_error(y, p)
    assert ece.low <= estimate <= ece.high
    y, p = sample(300, seed=0, k=0.3)  # over-confident: bounded away from 0
    bad = metric_intervals(y, p, metrics=["ece"], level=0.95, seed=0)["ece"]
    assert 0.05 < bad.low <= debiased_expected_calibration_error(y, p) <= bad.high


def test_unknown_metrics_and_bad_inputs_are_refused() -> None:
    y, p = sample(20)
    with pytest.raises(ValueError, match="unknown metrics"):
        metric_intervals(y, p, metrics=["mcc"], level=0.95, seed=0)
    with pytest.raises(ValueError, match="labels"):
        metric_intervals(y + 1, p, metrics=["f1"], level=0.95, seed=0)
    with pytest.raises(ValueError, match="20 values"):
        metric_intervals(y, p[:-1], metrics=["f1"], level=0.95, seed=0)
    with pytest.raises(ValueError, match="empty"):
        metric_intervals([], [], metrics=["f1"], level=0.95, seed=0)
