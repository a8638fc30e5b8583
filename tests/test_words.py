"""Counts and cohort ids as a sentence reads them: "1 cohort, 3 checks", and a cohort whose id
already says it is one is not called "cohort cohort_b"."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SpecWriter
from nethical_runner._words import cohort_named, cohorts_named, counted
from nethical_runner.cli.main import main


def test_counts_are_singular_for_one_only() -> None:
    assert [counted(n, "check") for n in (0, 1, 2)] == ["0 checks", "1 check", "2 checks"]
    assert counted(1, "summary", "summaries") == "1 summary"
    assert counted(3, "summary", "summaries") == "3 summaries"


def test_a_cohort_id_that_says_cohort_is_shown_alone() -> None:
    assert cohort_named("alpha") == "cohort alpha"
    assert cohort_named("cohort_b") == "cohort_b"
    assert cohort_named("cohort2") == "cohort2"
    assert cohorts_named(["alpha"]) == "cohort alpha"
    assert cohorts_named(["alpha", "beta"]) == "cohorts alpha, beta"
    assert cohorts_named(["cohort_a", "cohort_b"]) == "cohort_a, cohort_b"
    assert cohorts_named(["alpha", "cohort_b"]) == "cohorts alpha, cohort_b"


def test_a_missed_gate_names_its_cohort_once(
    write_spec: SpecWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(
        "version: 1\nname: pair\nmodel: {type: heuristic}\ndata: {samples: 1000}\n"
        "cohorts:\n  - {id: alpha}\n  - {id: cohort_b}\ngate: {min_accuracy: 0.999}\n",
        "pair.yaml",
    )
    assert main(["run", str(spec), "--out", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "cohort cohort_b" not in out
    assert "(cohort_b, 200 samples, synthetic data)" in out
    assert "(cohort alpha, 200 samples, synthetic data)" in out
    assert "1 spec, 2 cohorts" in out
