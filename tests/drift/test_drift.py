"""Drift tracking: the bootstrap, slices, history across runs and the seed's report.

Specs here train small logistic models (a few hundred validation rows) so that each run takes
a fraction of a second; a cohort that must drift uses ``label_noise: 0.5``, which costs it
about 0.3 accuracy, far beyond any bootstrap interval on those rows.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from conftest import SpecWriter
from nethical_runner.drift import DriftFailure, DriftResult
from nethical_runner.drift.declared import declared_checks
from nethical_runner.drift.history import read_history
from nethical_runner.drift.slices import SliceError, slice_rows
from nethical_runner.drift.stats import (
    Predictions,
    judge,
    resampled_metrics,
    spread,
)
from nethical_runner.metrics.bootstrap import draw_counts
from nethical_runner.metrics.classification import classification_metrics
from nethical_runner.metrics.decide import shown_against
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.results import CohortResult, SpecResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import load_spec
from nethical_runner.spec.config import SliceWhere

BASE = """\
version: 1
name: small
model: {type: logistic}
training: {epochs: 2}
data: {samples: 800}
gate: {min_accuracy: 0.5}
"""
TWO_SEEDS = "cohorts:\n  - {id: alpha}\n  - {id: beta, training: {seed: 7}}\n"
ONE_NOISY = "cohorts:\n  - {id: alpha}\n  - {id: beta, data: {label_noise: 0.5}}\n"


def small_spec(write_spec: SpecWriter, extra: str, name: str = "small.yaml") -> Path:
    return write_spec(BASE + textwrap.dedent(extra), name)


def run(path: Path, out: Path, run_id: str, **settings: Any) -> SpecResult:
    return run_spec(load_spec(path), RunSettings(out, run_id=run_id, **settings))


def drift_of(result: SpecResult) -> DriftResult:
    assert isinstance(result.drift, DriftResult), result.drift
    return result.drift


def verdict(drift: DriftResult, name: str, cohort: str | None = None):
    check = next(c for c in drift.checks if c.name == name and c.cohort_id == cohort)
    return drift.verdict(check)


# --- the bootstrap ----------------------------------------------------------------------------


@pytest.mark.parametrize("confidence", ["positive", "top_label"])
def test_every_resample_gets_exactly_the_gates_metrics(confidence: str) -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.4).astype(np.int64)
    p = np.round(np.clip(0.3 * y + 0.6 * rng.random(300), 0, 1), 2)  # many tied scores
    data = Predictions(y, p, 0.5, 10, confidence)  # type: ignore[arg-type]
    drawn = resampled_metrics(data, 9, np.random.default_rng(5))
    counts = draw_counts(np.random.default_rng(5).integers(0, 300, size=(9, 300)), 300)
    for row in range(9):
        rows = np.repeat(np.arange(300), counts[row].astype(np.int64))
        expected = classification_metrics(y[rows], p[rows], ece_bins=10, ece_confidence=confidence)  # type: ignore[arg-type]
        for metric, values in drawn.items():
            gated = expected["ece_debiased" if metric == "ece" else metric]  # ece: as decided
            assert values[row] == pytest.approx(gated, abs=1e-12), metric
        assert drawn["auc"][row] == pytest.approx(roc_auc_score(y[rows], p[rows]), abs=1e-12)


def test_a_resample_of_one_class_has_an_undefined_auc() -> None:
    data = Predictions(np.array([0, 0, 0, 1]), np.array([0.1, 0.2, 0.3, 0.9]))
    auc = resampled_metrics(data, 400, np.random.default_rng(1))["auc"]
    assert np.isnan(auc).any() and np.isfinite(auc).any()


def test_resampling_is_seeded() -> None:
    data = Predictions(np.array([0, 1] * 50), np.linspace(0, 1, 100))
    first = resampled_metrics(data, 50, np.random.default_rng(3))
    again = resampled_metrics(data, 50, np.random.default_rng(3))
    assert all(np.array_equal(first[m], again[m], equal_nan=True) for m in first)


def test_the_worst_cohort_has_the_lowest_accuracy_but_the_highest_ece() -> None:
    values = {"alpha": 0.9, "beta": 0.8, "gamma": 0.85}
    stats = spread(values, None, "accuracy", 0.95)
    assert (stats.worst, stats.best, stats.interval) == ("beta", "alpha", None)
    assert stats.spread == pytest.approx(0.1)
    stats = spread({"alpha": 0.02, "beta": 0.07}, None, "ece", 0.95)
    assert (stats.worst, stats.best) == ("beta", "alpha")


def test_drift_is_called_only_when_the_whole_interval_is_beyond_the_bound() -> None:
    assert judge(0.04, 0.05, (0.0, 0.09)) == "ok"
    assert judge(0.07, 0.05, (0.01, 0.12)) == "inconclusive"
    assert judge(0.07, 0.05, (0.051, 0.12)) == "drift"
    assert judge(0.07, 0.05, None) == "drift"


def test_slices_select_rows_by_equals_in_and_closed_between() -> None:
    X = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 4.0]])
    names = ("a", "b")

    def rows(where: dict[str, Any]) -> list[int]:
        selected = slice_rows(SliceWhere.model_validate(where), names, X)
        return np.flatnonzero(selected).tolist()

    assert rows({"column": "a", "equals": 1}) == [1]
    assert rows({"column": "b", "in": [1, 4]}) == [0, 3]
    assert rows({"column": "b", "between": [2, 3]}) == [1, 2]
    with pytest.raises(SliceError, match=r"'c' is not a feature of the data \(features: a, b\)"):
        rows({"column": "c", "equals": 1})


def test_one_cohort_with_a_group_may_bound_the_spread_and_defaults_need_two(
    write_spec: SpecWriter,
) -> None:
    spec = load_spec(
        small_spec(write_spec, "drift: {max_spread: {accuracy: 0.05}, group: nightly}\n")
    )
    assert [c.name for c in declared_checks(spec)] == ["accuracy"]
    spec = load_spec(small_spec(write_spec, "drift: {max_drop: {ece: 0.01}}\n"))
    assert [c.name for c in declared_checks(spec)] == ["ece.vs_previous"]  # no default spreads
    spec = load_spec(small_spec(write_spec, TWO_SEEDS + "drift: {}\n"))
    assert [(c.name, c.limit, c.declared, c.key) for c in declared_checks(spec)] == [
        ("accuracy", 0.05, False, ("drift",)),
        ("ece", 0.03, False, ("drift",)),
    ]


# --- one run ----------------------------------------------------------------------------------


def test_two_cohorts_with_different_seeds_make_one_report_with_both(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    path = small_spec(write_spec, TWO_SEEDS + "drift: {max_spread: {accuracy: 0.2, f1: 0.2}}\n")
    drift = drift_of(run(path, tmp_path / "out", "run-1"))
    assert drift.report_path == tmp_path / "out" / "drift" / "drift_small@run-1.json"
    report = json.loads(drift.report_path.read_text())
    assert set(report) >= {
        "report_id", "start_time", "end_time", "generated_at", "cohorts", "drift_metrics",
        "recommendations",
    }  # fmt: skip
    assert report["report_id"] == "drift_small@run-1"
    assert report["start_time"] <= report["end_time"]
    assert list(report["cohorts"]) == ["alpha", "beta"]
    for cohort, profile in report["cohorts"].items():
        assert profile["cohort_id"] == cohort and profile["action_count"] == 1
        assert profile["violation_stats"] == {"total_count": 0, "by_type": {}, "by_severity": {}}
        assert profile["avg_risk_score"] == pytest.approx(1 - profile["metrics"]["accuracy"])
        assert profile["risk_distribution"] == {"low": 1, "normal": 0, "high": 0}
        assert set(profile["metrics"]) == {"accuracy", "precision", "recall", "f1", "auc", "ece"}
        low, high = profile["intervals"]["accuracy"]
        assert low <= profile["metrics"]["accuracy"] <= high
    accuracy = report["drift_metrics"]["metrics"]["accuracy"]
    values = accuracy["values"]
    assert accuracy["spread"] == pytest.approx(max(values.values()) - min(values.values()))
    assert {accuracy["worst_cohort"], accuracy["best_cohort"]} == {"alpha", "beta"}
    assert values[accuracy["worst_cohort"]] <= values[accuracy["best_cohort"]]
    assert accuracy["interval"][0] <= accuracy["spread"] <= accuracy["interval"][1]
    assert (accuracy["limit"], accuracy["status"], accuracy["check"]) == (
        0.2,
        "ok",
        "drift[accuracy]",
    )
    assert report["drift_metrics"]["metrics"]["recall"]["limit"] is None  # reported, not bounded
    assert report["drift_metrics"]["has_drift"] is False
    assert report["drift_metrics"]["message"] == "No drift beyond the bounds across 2 cohorts"
    assert report["recommendations"] == ["No significant ethical drift detected across cohorts"]
    assert verdict(drift, "accuracy").passed


def test_the_same_spec_gives_the_same_numbers(write_spec: SpecWriter, tmp_path: Path) -> None:
    path = small_spec(write_spec, TWO_SEEDS + "drift: {}\n")
    first = drift_of(run(path, tmp_path / "a", "run-1"))
    second = drift_of(run(path, tmp_path / "b", "run-1"))
    assert first.comparisons["ece"] == second.comparisons["ece"]
    assert first.groups[0].intervals == second.groups[0].intervals


def test_a_spread_beyond_noise_fails_naming_both_cohorts_values_and_bound(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    path = small_spec(write_spec, ONE_NOISY + "drift: {max_spread: {accuracy: 0.05}}\n")
    drift = drift_of(run(path, tmp_path / "out", "run-1"))
    alpha, beta = (drift.group(c).metrics["accuracy"] for c in ("alpha", "beta"))
    outcome = verdict(drift, "accuracy")
    assert not outcome.passed
    assert outcome.message.startswith(
        f"drift max_spread.accuracy: accuracy spread {shown_against(alpha - beta, 0.05)} > 0.05 "
        "across cohorts "
        f"alpha, beta: worst beta {beta:.4g}, best alpha {alpha:.4g} (95% bootstrap interval "
        "of the spread "
    )
    assert outcome.properties["worst"] == "beta" and outcome.properties["threshold"] == 0.05
    report = json.loads(drift.report_path.read_text())  # type: ignore[union-attr]
    assert report["drift_metrics"]["has_drift"] is True
    assert report["drift_metrics"]["message"] == "Drift detected: accuracy across cohorts"
    assert report["recommendations"][0].startswith(
        f"accuracy: cohort beta ({beta:.4g}) trails cohort alpha ({alpha:.4g}) by"
    )


def test_a_spread_within_noise_passes_with_a_warning(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    path = small_spec(write_spec, TWO_SEEDS + "drift: {max_spread: {accuracy: 0.0}}\n")
    drift = drift_of(run(path, tmp_path / "out", "run-1"))
    outcome = verdict(drift, "accuracy")
    assert drift.comparisons["accuracy"].stats.interval[0] == 0.0  # type: ignore[union-attr]
    assert outcome.passed and outcome.warning == outcome.message
    assert "inconclusive: the bound is exceeded within noise" in outcome.message


def test_missed_gates_are_the_seeds_violations_with_its_severity(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    path = small_spec(write_spec, ONE_NOISY + "drift: {}\n")
    text = path.read_text().replace("{epochs: 2}", "{epochs: 10}")
    path.write_text(text.replace("{min_accuracy: 0.5}", "{min_accuracy: 0.9, min_auc: 0.9999}"))
    drift = drift_of(run(path, tmp_path / "out", "run-1"))
    report = json.loads(drift.report_path.read_text())  # type: ignore[union-attr]
    alpha, beta = report["cohorts"]["alpha"], report["cohorts"]["beta"]
    assert alpha["metrics"]["accuracy"] > 0.9 and alpha["metrics"]["ece"] <= 0.15
    assert beta["metrics"]["accuracy"] < 0.7
    assert alpha["violation_stats"] == {
        "total_count": 1, "by_type": {"low_auc": 1}, "by_severity": {"medium": 1},
    }  # fmt: skip
    assert beta["violation_stats"] == {
        "total_count": 2,
        "by_type": {"low_accuracy": 1, "low_auc": 1},
        "by_severity": {"high": 2},  # accuracy below 0.70
    }
    assert beta["risk_distribution"] == {"low": 0, "normal": 1, "high": 0}
    assert beta["violations"][0] == {
        "type": "low_accuracy",
        "severity": "high",
        "metric": "accuracy",
        "value": beta["metrics"]["accuracy"],
        "threshold": 0.9,
        "gate_key": "min_accuracy",
    }
    assert any(
        r.startswith("cohort beta: low_accuracy (high): accuracy ")
        for r in report["recommendations"]
    )


SLICES = """\
slices:
  - {id: low, where: {column: violation_count, between: [0, 0.5]}}
  - {id: high, where: {column: violation_count, between: [0.5, 1]}}
  - {id: tiny, where: {column: severity_max, between: [0, 0.01]}}
"""


def test_slices_are_judged_per_cohort_and_a_small_slice_is_reported_not_judged(
    write_spec: SpecWriter,
    tmp_path: Path,
) -> None:
    path = small_spec(
        write_spec, TWO_SEEDS + SLICES + "drift: {max_slice_spread: {accuracy: 0.5}}\n"
    )
    drift = drift_of(run(path, tmp_path / "out", "run-1"))
    tiny = next(s for s in drift.slices["alpha"] if s.config.id == "tiny")
    assert 0 < tiny.samples < 30 and not tiny.judged and tiny.metrics["accuracy"] is not None
    comparison = drift.slice_comparisons["alpha"]["accuracy"]
    assert comparison.judged == ("low", "high")
    assert comparison.not_judged == {"tiny": f"{tiny.samples} rows < min_samples 30"}
    outcome = verdict(drift, "slice.accuracy", "alpha")
    assert outcome.passed and not outcome.skipped
    assert "across slices of cohort alpha low, high: worst " in outcome.message
    assert outcome.message.endswith(f"; not judged: tiny: {tiny.samples} rows < min_samples 30")
    report = json.loads(drift.report_path.read_text())  # type: ignore[union-attr]
    assert report["slices"]["beta"]["tiny"]["judged"] is False
    assert report["slices"]["beta"]["low"]["where"] == {
        "column": "violation_count",
        "between": [0, 0.5],
    }
    assert report["drift_metrics"]["slices"]["alpha"]["accuracy"]["not_judged"] == {
        "tiny": f"{tiny.samples} rows < min_samples 30"
    }
    assert any("slice tiny" in r and "not judged" in r for r in report["recommendations"])


def test_with_fewer_than_two_judged_slices_the_slice_check_is_skipped(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    extra = TWO_SEEDS + SLICES + "drift: {max_slice_spread: {accuracy: 0.5}, min_samples: 10000}\n"
    drift = drift_of(run(small_spec(write_spec, extra), tmp_path / "out", "run-1"))
    outcome = verdict(drift, "slice.accuracy", "beta")
    assert outcome.skipped and outcome.passed
    assert outcome.message.startswith(
        "drift max_slice_spread.accuracy: fewer than two slices of cohort beta can be judged (low: "
    )


def test_a_slice_on_a_column_the_data_lacks_fails_its_check_naming_it(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(
        "a,b,label\n" + "".join(f"{i % 7},{i % 3},{i % 2}\n" for i in range(200))
    )
    path = tmp_path / "t.yaml"
    path.write_text(
        "version: 1\nname: t\nmodel: {type: logistic}\ntraining: {epochs: 1}\n"
        "data: {source: csv, csv: {path: t.csv}}\ngate: {min_accuracy: 0.0}\n"
        "cohorts: [{id: alpha}, {id: beta, training: {seed: 3}}]\n"
        "slices: [{id: s, where: {column: c, equals: 1}}, {id: t, where: {column: a, equals: 1}}]\n"
        "drift: {max_slice_spread: {accuracy: 0.5}}\n"
    )
    result = run_spec(load_spec(path, root=tmp_path), RunSettings(tmp_path / "out", run_id="r"))
    outcome = verdict(drift_of(result), "slice.accuracy", "alpha")
    assert not outcome.passed
    assert outcome.message == (
        "drift max_slice_spread.accuracy: slice s: 'c' is not a feature of the data "
        "(features: a, b) (cohort alpha)"
    )


def test_a_cohort_that_failed_to_train_fails_the_spread_and_the_report_says_so(
    write_spec: SpecWriter,
    tmp_path: Path,
) -> None:
    missing = "{source: csv, csv: {path: none.csv}}"
    extra = f"cohorts:\n  - {{id: alpha}}\n  - {{id: beta, data: {missing}}}\ndrift: {{}}\n"
    drift = drift_of(run(small_spec(write_spec, extra), tmp_path / "out", "run-1"))
    outcome = verdict(drift, "accuracy")
    assert not outcome.passed
    assert outcome.message.startswith(
        "drift max_spread.accuracy (default): cohort beta could not be trained: DataUnavailable"
    )
    report = json.loads(drift.report_path.read_text())  # type: ignore[union-attr]
    assert list(report["cohorts"]) == ["alpha"] and list(report["failed_cohorts"]) == ["beta"]
    assert (
        report["drift_metrics"]["message"] == "Insufficient cohorts for drift analysis (only alpha)"
    )


def test_when_the_report_cannot_be_written_only_the_drift_checks_fail(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    path = small_spec(write_spec, TWO_SEEDS + "drift: {}\n")
    result = run(path, tmp_path / "out", "run-1", drift_dir=blocker)
    assert isinstance(result.drift, DriftFailure)
    assert all(isinstance(c, CohortResult) and c.promoted for c in result.cohorts.values())
    check = declared_checks(result.spec)[0]
    assert result.drift.verdict(check).message.startswith(
        "drift max_spread.accuracy: drift tracking failed: "
    )


# --- across runs ------------------------------------------------------------------------------


def test_each_cohort_is_compared_with_itself_in_the_previous_run(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    path = small_spec(write_spec, TWO_SEEDS + "drift: {max_drop: {accuracy: 0.02, ece: 0.05}}\n")
    first = drift_of(run(path, out, "run-1"))
    outcome = verdict(first, "accuracy.vs_previous")
    assert outcome.skipped and outcome.message == (
        "drift max_drop.accuracy: no baseline yet: no earlier run of spec small with these "
        f"cohorts is recorded in {out / 'drift'}; this run is recorded as the baseline for the next"
    )
    second = drift_of(run(path, out, "run-2"))  # the same spec trains the same models
    outcome = verdict(second, "accuracy.vs_previous")
    assert outcome.passed and not outcome.skipped
    assert [(d.cohort, d.baseline_run, d.change) for d in second.drops["accuracy"]] == [
        ("alpha", "run-1", 0.0),
        ("beta", "run-1", 0.0),
    ]
    path.write_text(
        path.read_text().replace(
            "{id: beta, training: {seed: 7}}", "{id: beta, data: {label_noise: 0.5}}"
        )
    )
    third = drift_of(run(path, out, "run-3"))
    outcome = verdict(third, "accuracy.vs_previous")
    before, after = (
        second.group("beta").metrics["accuracy"],
        third.group("beta").metrics["accuracy"],
    )
    assert not outcome.passed
    assert outcome.message.startswith(
        "drift max_drop.accuracy: accuracy worsened by more than 0.02 since the previous run: "
        f"cohort beta {before:.4g} -> {after:.4g} (fell {before - after:.4g}; 95% interval of "
        "the worsening "
    )
    assert outcome.message.endswith(") since run run-2")
    assert "cohort alpha" not in outcome.message
    assert [p.name for p in sorted((out / "drift" / "history" / "small").iterdir())] == [
        "run-1.json", "run-2.json", "run-3.json",
    ]  # fmt: skip


def test_a_new_cohort_has_no_baseline_while_the_others_are_compared(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    path = small_spec(write_spec, TWO_SEEDS + "drift: {max_drop: {accuracy: 0.02}}\n")
    run(path, out, "run-1")
    path.write_text(
        path.read_text().replace("cohorts:\n", "cohorts:\n  - {id: gamma, training: {seed: 9}}\n")
    )
    outcome = verdict(drift_of(run(path, out, "run-2")), "accuracy.vs_previous")
    assert outcome.passed and outcome.message.endswith("; no baseline yet for cohort gamma")


def test_runs_of_one_xdist_session_are_not_each_others_baseline(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    path = small_spec(write_spec, TWO_SEEDS + "drift: {max_drop: {accuracy: 0.02}}\n")
    run(path, out, "gw0-run", session="session-a")
    assert verdict(
        drift_of(run(path, out, "gw1-run", session="session-a")), "accuracy.vs_previous"
    ).skipped
    drops = drift_of(run(path, out, "next-run", session="session-b")).drops["accuracy"]
    assert {d.baseline_run for d in drops} == {"gw1-run"}


def test_an_unreadable_history_file_is_reported_and_skipped(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    path = small_spec(write_spec, TWO_SEEDS + "drift: {}\n")
    run(path, out, "run-1")
    broken = out / "drift" / "history" / "small" / "run-0.json"
    broken.write_text("{not json")
    drift = drift_of(run(path, out, "run-2"))
    assert drift.history_unreadable == (str(broken),)
    assert len(read_history(out / "drift", ["small"]).records) == 4


def test_a_group_accumulates_cohorts_across_specs_and_runs(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    group = "drift: {group: nightly, max_spread: {accuracy: 0.05}}\n"
    first = small_spec(write_spec, "cohorts: [{id: alpha}]\n" + group, "first.yaml")
    second = small_spec(
        write_spec, "cohorts: [{id: beta, data: {label_noise: 0.5}}]\n" + group, "second.yaml"
    )
    second.write_text(second.read_text().replace("name: small", "name: other"))
    lone = drift_of(run(first, out, "run-1"))
    assert verdict(lone, "accuracy").skipped
    assert verdict(lone, "accuracy").message.startswith(
        "drift max_spread.accuracy: insufficient cohorts for drift analysis: only cohort alpha "
        "is recorded in drift group 'nightly' in "
    )
    both = drift_of(run(second, out, "run-2"))
    assert [(g.label, g.this_run, g.run_id) for g in both.groups] == [
        ("beta", True, "run-2"),
        ("alpha", False, "run-1"),
    ]
    outcome = verdict(both, "accuracy")
    assert (
        not outcome.passed and "worst beta" in outcome.message and "best alpha" in outcome.message
    )
