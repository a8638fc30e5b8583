"""``--nethical-dask`` through pytest: the same specs give the same metrics and decisions in
one process, under pytest-xdist, on ``local:2`` and on a real scheduler with its own workers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.dask_processes import DaskProcesses

from conftest import SpecWriter

SPECS = {
    "linear": "model: {type: logistic}\ndata: {source: synthetic, samples: 3000}\n"
    "cohorts:\n  - {id: alpha}\n  - {id: beta, training: {seed: 3}}\n"
    "gate: {min_accuracy: 0.85, max_ece: 0.08, confidence: 0.95}\n",
    "trees": "model: {type: correlation}\ndata: {source: synthetic, samples: 3000}\n"
    "drift: {max_spread: {accuracy: 0.2}}\n"
    "cohorts:\n  - {id: a}\n  - {id: b, training: {seed: 5}}\n",
    "rules": "model: {type: heuristic}\ndata: {source: synthetic, samples: 2000}\n"
    "sla: {calls: 20, warmup: 2, p95_ms: 500}\n",
}


def write_specs(write_spec: SpecWriter) -> None:
    for name, body in SPECS.items():
        write_spec(f"version: 1\nname: {name}\n{body}", f"specs/{name}.yaml")


def decided(results: Path) -> dict[str, Any]:
    """Per cohort: metrics, intervals, promotion and every check's outcome and decision."""
    found: dict[str, Any] = {}
    for spec in json.loads(results.read_text())["specs"]:
        for cohort in spec["cohorts"]:
            checks = sorted((c["name"], c["outcome"], c.get("decision")) for c in cohort["checks"])
            found[f"{spec['name']}/{cohort['cohort']}"] = {
                "metrics": cohort["metrics"],
                "intervals": cohort["intervals"],
                "promoted": cohort["promoted"],
                "data": cohort["data"],
                "checks": checks,
            }
    return found


def places(results: Path) -> set[str]:
    return {
        cohort["trained_on"]["executor"]
        for spec in json.loads(results.read_text())["specs"]
        for cohort in spec["cohorts"]
    }


def test_every_executor_gives_the_same_metrics_and_decisions(
    write_spec: SpecWriter, pytester: pytest.Pytester, deployment: DaskProcesses
) -> None:
    write_specs(write_spec)
    ways = {
        "in-process": [],
        "xdist": ["-n", "2", "-p", "xdist"],
        "local:2": ["--nethical-dask", "local:2"],
        "scheduler": ["--nethical-dask", deployment.address],
    }
    seen = {}
    for way, options in ways.items():
        out = pytester.path / f"out-{way.replace(':', '-')}"
        result = pytester.runpytest_subprocess(
            "specs/", "-p", "no:cacheprovider", "--nethical-out", str(out), *options
        )
        assert result.ret == 0, (way, result.stdout.str()[-3000:])
        seen[way] = decided(out / "results.json")
        expected = "dask" if way in ("local:2", "scheduler") else "in-process"
        assert places(out / "results.json") == {expected}, way
    first = seen["in-process"]
    assert len(first) == 5
    for way, found in seen.items():
        assert found == first, way


def test_the_header_says_where_cohorts_train(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec("version: 1\nname: one\nmodel: {type: heuristic}\n", "specs/one.yaml")
    result = pytester.runpytest_subprocess("specs/", "--nethical-dask", "local:1")
    result.stdout.fnmatch_lines(
        ["nethical-runner: training on dask local:1 (a LocalCluster of 1 processes)"]
    )
    assert result.ret == 0


def test_collect_only_submits_nothing(write_spec: SpecWriter, pytester: pytest.Pytester) -> None:
    write_spec("version: 1\nname: one\nmodel: {type: heuristic}\n", "specs/one.yaml")
    result = pytester.runpytest_subprocess(
        "specs/", "--collect-only", "-q", "--nethical-dask", "tcp://127.0.0.1:9"
    )
    assert result.ret == 0  # an unreachable scheduler is never contacted
    assert not (pytester.path / "nethical-out").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--nethical-dask", "locale"], "*--nethical-dask: 'locale' is neither local[[]:N] nor*"),
        (["--nethical-dask-retries", "2"], "*dask-retries is for a Dask run*"),
        (
            ["--nethical-dask", "local:2", "--nethical-dask-retries", "x"],
            "*'x' is not a retry count*",
        ),
        (
            ["--nethical-dask", "local:2", "-n", "2", "-p", "xdist"],
            "*starts a cluster in each pytest-xdist worker*",
        ),
    ],
)
def test_options_that_cannot_work_are_usage_errors(
    write_spec: SpecWriter, pytester: pytest.Pytester, options: list[str], message: str
) -> None:
    write_spec("version: 1\nname: one\nmodel: {type: heuristic}\n", "specs/one.yaml")
    result = pytester.runpytest_subprocess("specs/", *options)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_ctrl_c_under_pytest_cancels_the_outstanding_tasks(
    write_spec: SpecWriter, pytester: pytest.Pytester, deployment: DaskProcesses
) -> None:
    body = "model: {type: simple_transformer}\ntraining: {epochs: 6, batch_size: 64}\n"
    for name in ("first", "second"):
        write_spec(
            f"version: 1\nname: {name}\n{body}data: {{source: synthetic, samples: 40000}}\n",
            f"specs/{name}.yaml",
        )
    command = [
        sys.executable, "-m", "pytest", "specs/", "-p", "no:cacheprovider",
        "--nethical-dask", deployment.address,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    with deployment.client() as client:
        deadline = time.monotonic() + 60
        while len(deployment.cohort_tasks(client)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(deployment.cohort_tasks(client)) == 2, (
            "both specs are submitted once collection ends"
        )
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        deadline = time.monotonic() + 30
        while deployment.cohort_tasks(client) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not deployment.cohort_tasks(client), output.decode(errors="replace")[-2000:]
    assert process.returncode == pytest.ExitCode.INTERRUPTED
    assert not list((pytester.path / "nethical-out").rglob("*.npz"))
