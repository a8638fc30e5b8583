"""``nethical-runner run`` writes the results.json a pytest session writes: the same document
for the same spec, only the run's own identity, timings and process differing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nethical_runner.cli.main import main

SPEC = """\
version: 1
name: same
model: {type: heuristic}
data: {samples: 600}
cohorts: [{id: alpha}, {id: beta, training: {seed: 3}}]
gate: {min_accuracy: 0.999, max_ece: 0.3}
"""
RUN_OWN = {"run_id", "runs", "model_file", "metrics_file", "stage_ms", "trained_on"}


def without_run_identity(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_run_identity(v) for k, v in value.items() if k not in RUN_OWN}
    if isinstance(value, list):
        return [without_run_identity(item) for item in value]
    return value


def test_run_and_pytest_write_the_same_results_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # both name the spec as specs/same.yaml
    spec = tmp_path / "specs" / "same.yaml"
    spec.parent.mkdir()
    spec.write_text(SPEC)
    assert (
        main(["run", "specs/same.yaml", "--out", str(tmp_path / "cli")]) == 1
    )  # min_accuracy fails
    subprocess.run(
        [sys.executable, "-m", "pytest", "specs/same.yaml", "-p", "no:cacheprovider", "-q",
         "-n", "0", "--rootdir", str(tmp_path), "--nethical-out", str(tmp_path / "pytest")],
        cwd=tmp_path, capture_output=True, timeout=300,
    )  # fmt: skip
    by_cli = json.loads((tmp_path / "cli" / "results.json").read_text())
    by_pytest = json.loads((tmp_path / "pytest" / "results.json").read_text())
    assert by_cli["outcome"] == "failed" and by_cli["totals"]["failed"] == 2
    assert without_run_identity(by_cli) == without_run_identity(by_pytest)
