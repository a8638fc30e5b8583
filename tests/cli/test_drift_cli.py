"""Drift tracking on the command line: the seed's flags and its example's flow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nethical_runner.cli.main import main

NOISY_SPEC = """\
version: 1
name: small
model: {type: logistic}
training: {epochs: 2}
data: {samples: 800}
gate: {min_accuracy: 0.5}
cohorts:
  - {id: alpha}
  - {id: beta, data: {label_noise: 0.5}}
drift: {max_spread: {accuracy: 0.05}}
"""


def seed_example_flow(tmp_path: Path) -> list[dict[str, Any]]:
    """The seed's examples/train_with_drift_tracking.py: two runs into one drift folder."""
    folder = tmp_path / "example_drift_reports"
    for model_type, seed, cohort in (
        ("heuristic", "42", "cohort_a_heuristic"),
        ("logistic", "999", "cohort_b_logistic"),
    ):
        code = main(
            ["train", "--model-type", model_type, "--epochs", "5", "--num-samples", "500",
             "--seed", seed, "--enable-drift-tracking", "--drift-report-dir", str(folder),
             "--cohort-id", cohort, "--out", str(tmp_path / "out")]
        )  # fmt: skip
        assert code == 0
    reports = []
    for drift_file in folder.glob("drift_*.json"):
        report = json.loads(drift_file.read_text())
        # every field the example prints
        assert report["generated_at"] == report["end_time"] > report["start_time"]
        assert report["drift_metrics"]["has_drift"] is False  # one cohort, then two alike
        for cohort_data in report["cohorts"].values():
            assert cohort_data["action_count"] >= 1
            stats = cohort_data["violation_stats"]
            assert stats["total_count"] == sum(stats["by_type"].values())
            assert stats["total_count"] == sum(stats["by_severity"].values())
            assert 0.0 <= cohort_data["avg_risk_score"] <= 1.0
        assert report["recommendations"][:3]
        reports.append(report)
    return sorted(reports, key=lambda report: report["end_time"])


def test_the_seeds_drift_example_accumulates_cohorts_across_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = seed_example_flow(tmp_path)
    assert list(first["cohorts"]) == ["cohort_a_heuristic"]
    assert first["drift_metrics"]["message"] == (
        "Insufficient cohorts for drift analysis (only cohort_a_heuristic)"
    )
    assert sorted(second["cohorts"]) == ["cohort_a_heuristic", "cohort_b_logistic"]
    assert second["cohorts"]["cohort_a_heuristic"]["source"] == "earlier run"
    assert second["cohorts"]["cohort_a_heuristic"]["model_type"] == "heuristic"
    assert second["cohorts"]["cohort_b_logistic"]["model_type"] == "logistic"
    accuracy = second["drift_metrics"]["metrics"]["accuracy"]
    values = accuracy["values"].values()
    assert accuracy["spread"] == pytest.approx(max(values) - min(values))
    assert accuracy["spread"] > 0
    out = capsys.readouterr().out
    assert out.count("Drift Report ID: drift_") == 2
    assert "drift cohorts: cohort_b_logistic (this run), cohort_a_heuristic (run " in out
    assert "has_drift: " in out


def test_without_drift_tracking_the_command_line_writes_no_drift_report(tmp_path: Path) -> None:
    assert (
        main(["train", "--model-type", "heuristic", "--num-samples", "300", "--out", str(tmp_path)])
        == 0
    )
    assert not (tmp_path / "drift").exists()


def test_run_exits_1_when_cohorts_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(NOISY_SPEC)
    out = str(tmp_path / "out")
    assert main(["run", str(path), "--out", out]) == 1
    assert "has_drift: true (Drift detected: accuracy across cohorts)" in capsys.readouterr().out
