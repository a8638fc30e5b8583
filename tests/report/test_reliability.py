"""Reliability bins are the ECE's bins; the diagram is a deterministic PNG; annotations escape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nethical_runner.metrics.classification import expected_calibration_error
from nethical_runner.report.github import check_annotations, command
from nethical_runner.report.reliability import draw, ece_of, reliability_bins
from nethical_runner.report.run_report import RunReport, terminal_table


@pytest.mark.parametrize("confidence", ["positive", "top_label"])
@pytest.mark.parametrize("n_bins", [1, 10, 15])
def test_the_bins_add_up_to_the_gated_ece(confidence: str, n_bins: int) -> None:
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=500), [0.0, 1.0, 0.5, 14 / 15]])  # edges included
    y = (rng.uniform(size=p.size) < p**1.5).astype(int)
    bins = reliability_bins(y, p, n_bins, confidence)  # type: ignore[arg-type]
    assert len(bins) == n_bins
    assert sum(b["count"] for b in bins) == p.size
    assert bins[-1]["upper"] == 1.0
    expected = expected_calibration_error(y, p, n_bins, confidence)  # type: ignore[arg-type]
    assert ece_of(bins) == pytest.approx(expected, abs=1e-12)
    for b in bins:
        if b["count"]:
            assert b["lower"] <= b["mean_confidence"] <= b["upper"]


def test_empty_bins_have_no_means() -> None:
    bins = reliability_bins(np.array([0, 1]), np.array([0.01, 0.99]), 5)
    assert [b["count"] for b in bins] == [1, 0, 0, 0, 1]
    assert bins[1]["mean_confidence"] is None and bins[1]["observed"] is None


def test_the_diagram_is_the_same_png_for_the_same_numbers(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(0)
    p = rng.uniform(size=300)
    y = (rng.uniform(size=300) < p).astype(int)
    bins = reliability_bins(y, p)
    record = {"bins": bins, "confidence": "positive", "ece": ece_of(bins)}
    first = draw(record, "spec / cohort")
    assert first.startswith(b"\x89PNG") and first == draw(record, "spec / cohort")
    top_label = draw({**record, "confidence": "top_label"}, "spec / cohort")
    assert top_label != first


def test_workflow_commands_escape_like_the_actions_toolkit() -> None:
    line = command(
        "error", "50% off\nnext line", file="specs/a,b.yaml", line=3, column=1, title="x: y"
    )
    assert line == "::error file=specs/a%2Cb.yaml,line=3,col=1,title=x%3A y::50%25 off%0Anext line"
    assert command("warning", "plain") == "::warning::plain"


def _check(cohort: str, outcome: str, warning: str | None = None, order: int = 0) -> dict:
    return {
        "id": f"specs/s.yaml::s::{cohort}::gate[accuracy]",
        "spec": "s",
        "cohort": cohort,
        "kind": "gate",
        "check": "gate[accuracy]",
        "outcome": outcome,
        "message": f"{cohort} {outcome}",
        "warning": warning,
        "file": "specs/s.yaml",
        "line": 9,
        "column": 17,
        "order": order,
    }


def test_rows_put_failures_first_then_warnings_and_cross_cohort_checks_count_for_all() -> None:
    report = RunReport()
    report.add({"check": _check("a", "passed", order=0)})
    report.add({"check": _check("b", "passed", "fallback data", order=1)})
    report.add({"check": _check("c", "failed", order=2)})
    drift = {**_check("", "failed", order=3), "cohort": None, "kind": "drift", "check": "drift[x]"}
    drift["id"] = "specs/s.yaml::s::drift[x]"
    report.add({"check": drift})
    assert [row.cohort for row in report.rows()] == ["a", "b", "c"]  # all fail through drift
    assert [row.status(["drift"]) for row in report.rows()] == ["FAIL"] * 3
    assert [row.status(["gate"]) for row in report.rows()] == ["pass", "warn", "FAIL"]
    del report.checks[drift["id"]]
    assert [row.cohort for row in report.rows()] == ["c", "b", "a"]
    assert terminal_table(report).splitlines()[2].split()[:2] == ["s", "c"]
    lines = check_annotations(report.sorted_checks(), [], invocation_dir=Path.cwd(), workspace=None)
    assert [line.split(" ")[0] for line in lines] == ["::error", "::warning"]
