"""One judging path: ``nethical-runner run`` and ``pytest`` fail the same checks of a spec.

Both front ends are run for real (the CLI in-process, pytest in a child process) on the same
spec and inputs, and the failing checks are read from each run's ``results.json``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nethical_runner.cli.main import main

SPEC = """\
version: 1
name: agree
model: {type: heuristic}
data: {samples: 600}
gate: {min_accuracy: 0.6}
regression:
  max_drop: {accuracy: 0.01}
audit: {enabled: true}
"""


def write_spec(root: Path) -> Path:
    path = root / "specs" / "agree.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SPEC)
    return path


def failing(results: Path) -> dict[str, str]:
    """Failed check labels (``alpha::gate[accuracy]``) and their messages."""
    document = json.loads(results.read_text())
    checks = [
        check
        for spec in document["specs"]
        for scope in (*spec["cohorts"], spec)
        for check in scope["checks"]
    ]
    return {
        f"{c['cohort'] or '-'}::{c['check']}": c["message"]
        for c in checks
        if c["outcome"] in ("failed", "error")
    }


def cli(root: Path, out: Path, *extra: str) -> int:
    return main(["run", str(write_spec(root)), "--out", str(out), *extra])


def pytest_run(root: Path, out: Path, *extra: str) -> int:
    spec = write_spec(root)
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", str(spec), "-p", "no:cacheprovider", "-q",
         "--rootdir", str(root), "--nethical-out", str(out), *extra],
        cwd=root, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return completed.returncode


def raised_baseline(results: Path, target: Path, by: float) -> Path:
    """``results`` with every accuracy raised by ``by``: a baseline the model cannot match."""
    document = json.loads(results.read_text())
    for spec in document["specs"]:
        for cohort in spec["cohorts"]:
            cohort["metrics"]["accuracy"] += by
    target.write_text(json.dumps(document))
    return target


def test_a_passing_gate_with_a_failing_regression_fails_both_alike(tmp_path: Path) -> None:
    assert pytest_run(tmp_path, tmp_path / "first") == 0  # every check passes: exit 0
    assert failing(tmp_path / "first" / "results.json") == {}
    baseline = raised_baseline(tmp_path / "first" / "results.json", tmp_path / "base.json", 0.05)
    assert cli(tmp_path, tmp_path / "cli", "--baseline", str(baseline)) == 1
    code = pytest_run(tmp_path, tmp_path / "pytest", "--nethical-baseline", str(baseline))
    assert code == 1
    by_cli = failing(tmp_path / "cli" / "results.json")
    by_pytest = failing(tmp_path / "pytest" / "results.json")
    assert list(by_cli) == ["default::regression[accuracy]"]
    assert by_cli == by_pytest


def test_a_tampered_audit_log_fails_both_alike(tmp_path: Path) -> None:
    assert cli(tmp_path, tmp_path / "first") == 0  # every check passes: exit 0
    assert failing(tmp_path / "first" / "results.json") == {}
    chunk = tmp_path / "first" / "audit" / "chunks" / "chunk_000001.json"
    document = json.loads(chunk.read_text())
    document["events"][1] = document["events"][1].replace('"rows":600', '"rows":601')
    assert '"rows":601' in document["events"][1]
    chunk.write_text(json.dumps(document))
    for front_end in ("cli", "pytest"):
        shutil.copytree(tmp_path / "first" / "audit", tmp_path / front_end / "audit")
    # the damaged log refuses this run's events: a failed check for pytest, and for the
    # command line an error (exit 2), since the run could not record what it did
    assert cli(tmp_path, tmp_path / "cli") == 2
    assert pytest_run(tmp_path, tmp_path / "pytest") == 1
    by_cli = failing(tmp_path / "cli" / "results.json")
    assert list(by_cli) == ["-::audit[verify]"]
    assert list(failing(tmp_path / "pytest" / "results.json")) == list(by_cli)


@pytest.mark.parametrize("command", ["run", "train"])
def test_an_unreadable_baseline_is_unusable_input(tmp_path: Path, command: str) -> None:
    missing = str(tmp_path / "missing.json")
    if command == "run":
        argv = ["run", str(write_spec(tmp_path)), "--baseline", missing]
    else:
        argv = ["train", "--model-type", "heuristic", "--baseline", missing]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()
