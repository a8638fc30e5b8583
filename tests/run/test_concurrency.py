"""Processes training specs into one output root at the same time lose no file and corrupt
nothing: every run's models, metrics, reports and summaries are there and complete, pointers
name complete files, and the shared audit log verifies with each run's events whole.

Stress runs of several processes at once, so they run in CI's ``-m slow`` step, next to the
kill sweeps, and not in the quick default run."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SpecWriter
from nethical_runner.audit.verify import verify
from nethical_runner.models import load_model

NAMES = ("one", "two", "three")


def write_specs(write_spec: SpecWriter) -> list[Path]:
    return [
        write_spec(
            f"version: 1\nname: {name}\nmodel: {{type: logistic}}\ntraining: {{epochs: 3}}\n"
            "data: {samples: 600}\ngate: {max_ece: 0.5, min_accuracy: 0.5}\n"
            "sla: {calls: 10, warmup: 0, p95_ms: 1000}\naudit: {enabled: true, chunk_size: 3}\n"
            "cohorts:\n  - {id: alpha}\n  - {id: beta, training: {seed: 7}}\n",
            f"specs/{name}.yaml",
        )
        for name in NAMES
    ]


def check_root(out: Path, at_least: int) -> None:
    """Every run of every spec (``at_least`` each) left all its files in ``out``, complete,
    and the audit log holds each run whole. (pytest-xdist workers may each train a spec whose
    items they share, so a session can add more than one run.)"""
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    current = out / "models" / "current"
    spec_runs = 0
    for name in NAMES:
        runs_of_spec = set()
        for cohort in ("alpha", "beta"):
            models = sorted(current.glob(f"{name}@{cohort}@logistic_model_*.npz"))
            metrics = sorted(current.glob(f"{name}@{cohort}@logistic_metrics_*.json"))
            reports = list((out / "sla").glob(f"sla_report_{name}@{cohort}@*.json"))
            summaries = list((out / "audit" / "summaries").glob(f"*_{name}@{cohort}@*.json"))
            assert len(models) >= at_least, (name, cohort, models)
            assert len(models) == len(metrics) == len(reports) == len(summaries)
            for model in models:
                load_model(model)
            run_ids = {json.loads(path.read_text())["run_id"] for path in metrics}
            assert len(run_ids) == len(models)
            assert all(json.loads(report.read_text()) for report in reports)
            pointer = json.loads((current / f"{name}@{cohort}.latest.json").read_text())
            assert pointer["model"] in {model.name for model in models}
            assert pointer["run_id"] in run_ids
            runs_of_spec |= run_ids
        spec_runs += len(runs_of_spec)
    report = verify(out / "audit")
    assert report.ok and not report.notes, report.render()
    assert len(report.heads) == spec_runs
    events = [json.loads(leaf) for leaf in report.leaves]
    start = 0
    for end in [i for i, event in enumerate(events) if event["type"] == "run_end"]:
        run = events[start : end + 1]  # each spec run's events are contiguous and whole
        assert len({(event["spec"], event["run_id"]) for event in run}) == 1, run
        assert [event["type"] for event in run].count("training_start") == 2
        start = end + 1
    assert start == len(events)


def start_cli(specs: list[Path], out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "nethical_runner", "run", *map(str, specs), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_command_lines_running_at_once_into_one_root(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    specs = write_specs(write_spec)
    out = tmp_path / "out"
    processes = [start_cli(specs, out) for _ in range(3)]
    for process in processes:
        stdout, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stdout + stderr
    check_root(out, at_least=3)
    heads = verify(out / "audit").heads.values()
    order = [head.run_id for head in sorted(heads, key=lambda head: head.sequence)]
    assert sum(a != b for a, b in itertools.pairwise(order)) >= 2, (
        f"the runs did not overlap, so this test proved nothing: {order}"
    )


@pytest.mark.slow
def test_xdist_sessions_and_a_command_line_at_once_into_one_root(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    pytest.importorskip("xdist")
    specs = write_specs(write_spec)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pytest", str(tmp_path / "specs"), "-n", "2", "-q"]
    command += ["-p", "no:cacheprovider", "--nethical-out", str(out), "--rootdir", str(tmp_path)]
    sessions = [
        subprocess.Popen(
            command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    time.sleep(1.0)  # the sessions start their workers while the command line trains
    cli = start_cli(specs, out)
    for process in [*sessions, cli]:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stdout + stderr
    check_root(out, at_least=3)
