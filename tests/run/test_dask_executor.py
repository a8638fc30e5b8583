"""Cohorts trained on Dask: a ``LocalCluster`` and real ``dask scheduler`` / ``dask worker``
processes, on loopback only. The controller stays the only writer; the metrics and decisions
are those of an in-process run; faults fail the affected items with their reason."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.dask_processes import DaskProcesses

from conftest import SpecWriter
from nethical_runner.cli.main import main
from nethical_runner.models import create_model
from nethical_runner.run.executors import dask as dask_executor
from nethical_runner.run.executors import executor_for
from nethical_runner.run.pipeline import SubmittedSpec, finish_spec, run_spec, submit_spec
from nethical_runner.run.results import CohortFailure, CohortResult, SpecResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.run.task import (
    CohortTask,
    FailedCohort,
    TrainedCohort,
    WireError,
    decode_answer,
)
from nethical_runner.run.training import run_encoded
from nethical_runner.spec import Spec, load_spec

TWO_COHORTS = """\
version: 1
name: pair
model: {type: logistic}
data: {source: synthetic, samples: 3000}
cohorts:
  - {id: alpha}
  - {id: beta, training: {seed: 7}}
  - {id: gamma}
sla: {calls: 20, warmup: 2}
"""
SLOW = """\
version: 1
name: slow
model: {type: simple_transformer}
training: {epochs: 4, batch_size: 64}
data: {source: synthetic, samples: 40000}
"""


def _comparable(result: SpecResult) -> dict[str, Any]:
    """What must not depend on where a cohort trained: metrics, intervals, decisions."""
    found: dict[str, Any] = {}
    for cohort_id, cohort in result.cohorts.items():
        assert isinstance(cohort, CohortResult), cohort
        found[cohort_id] = {
            "metrics": cohort.metrics,
            "intervals": {k: v.record() for k, v in cohort.intervals.items()},
            "verdicts": [v.record() for v in cohort.verdicts],
            "promoted": cohort.promoted,
            "probabilities": cohort.validation_probabilities.tobytes(),
            "data": (cohort.dataset.rows, cohort.dataset.fingerprint, cohort.split.train_rows),
        }
    return found


def _spec(write_spec: SpecWriter, text: str, name: str) -> Spec:
    return load_spec(write_spec(text, f"{name}.yaml"))


def _submitted_in_process(write_spec: SpecWriter, tmp_path: Path) -> SubmittedSpec:
    """The two-cohort spec handed to the in-process executor, which trains when asked."""
    spec = _spec(write_spec, TWO_COHORTS, "pair")
    return submit_spec(spec, RunSettings(tmp_path / "out"), executor_for(None))


def test_a_local_cluster_gives_the_in_process_results_and_trains_identical_cohorts_once(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    spec = _spec(write_spec, TWO_COHORTS, "pair")
    here = run_spec(spec, RunSettings(tmp_path / "here"))
    executor = executor_for("local:2")
    try:
        there = run_spec(spec, RunSettings(tmp_path / "there"), executor)
    finally:
        executor.close()
    assert _comparable(there) == _comparable(here)
    alpha, beta, gamma = there.cohorts.values()
    assert isinstance(alpha, CohortResult) and isinstance(gamma, CohortResult)
    assert isinstance(beta, CohortResult) and beta.trained_on["executor"] == "dask"
    # alpha and gamma are the same cohort under two names: one task, one answer
    assert alpha.trained_on == gamma.trained_on and alpha.stage_ms == gamma.stage_ms
    record = json.loads(alpha.metrics_path.read_text())
    assert record["trained_on"]["worker"].startswith("tcp://127.0.0.1:")


def test_a_real_scheduler_and_workers_give_the_in_process_results(
    deployment: DaskProcesses, write_spec: SpecWriter, tmp_path: Path
) -> None:
    spec = _spec(write_spec, TWO_COHORTS, "pair")
    here = run_spec(spec, RunSettings(tmp_path / "here"))
    executor = executor_for(deployment.address)
    try:
        there = run_spec(spec, RunSettings(tmp_path / "there"), executor)
    finally:
        executor.close()
    assert _comparable(there) == _comparable(here)
    workers = set(deployment.worker_pids())
    for cohort in there.cohorts.values():
        assert isinstance(cohort, CohortResult)
        assert cohort.trained_on["worker"] in workers
        assert cohort.sla is not None and cohort.sla.measured_on == "controller"


def test_the_command_line_on_a_scheduler_writes_where_each_cohort_trained(
    deployment: DaskProcesses, write_spec: SpecWriter, tmp_path: Path
) -> None:
    path = write_spec(TWO_COHORTS, "pair.yaml")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--dask", deployment.address]) == 0
    results = json.loads((out / "results.json").read_text())
    (spec,) = results["specs"]
    places = {c["cohort"]: c["trained_on"] for c in spec["cohorts"]}
    assert set(places) == {"alpha", "beta", "gamma"}
    assert all(
        p["executor"] == "dask" and p["worker"] in deployment.worker_pids() for p in places.values()
    )


def test_sla_latency_is_timed_on_a_worker_holding_the_named_resource(
    deployment: DaskProcesses, write_spec: SpecWriter, tmp_path: Path
) -> None:
    text = TWO_COHORTS.replace(
        "sla: {calls: 20, warmup: 2}", "sla: {calls: 20, resource: latency-probe}"
    )
    spec = _spec(write_spec, text, "pair")
    executor = executor_for(deployment.address)
    try:
        result = run_spec(spec, RunSettings(tmp_path / "out"), executor)
        missing = _spec(
            write_spec, text.replace("latency-probe", "gpu").replace("pair", "nogpu"), "nogpu"
        )
        absent = run_spec(missing, RunSettings(tmp_path / "out2"), executor)
    finally:
        executor.close()
    with deployment.client() as client:
        workers = client.scheduler_info(n_workers=-1)["workers"]
    (holder,) = [a for a, w in workers.items() if w["resources"].get("latency-probe")]
    for cohort in result.cohorts.values():
        assert isinstance(cohort, CohortResult) and cohort.sla is not None
        assert cohort.sla.measured_on == f"dask worker {holder} (resource latency-probe)"
        assert cohort.sla.sample_count == 20
    for cohort in absent.cohorts.values():
        assert isinstance(cohort, CohortFailure)
        assert "no worker of dask scheduler" in cohort.reason and "'gpu'" in cohort.reason


def test_a_worker_killed_mid_training_is_retried_with_the_same_outcome(
    deployment: DaskProcesses, write_spec: SpecWriter, tmp_path: Path
) -> None:
    spec = _spec(write_spec, SLOW, "slow")
    expected = _comparable(run_spec(spec, RunSettings(tmp_path / "here")))
    executor = executor_for(deployment.address, retries=1)
    killed: list[str] = []

    def kill_the_worker_training_it() -> None:
        with deployment.client() as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                busy = [
                    w
                    for w, keys in client.processing().items()
                    if any("nethical-cohort-" in str(k) for k in keys)
                ]
                if busy:
                    time.sleep(1.0)  # well inside training
                    pid = dict(client.run(os.getpid, workers=busy))[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(busy[0])
                    return
                time.sleep(0.05)

    killer = threading.Thread(target=kill_the_worker_training_it)
    try:
        submitted_at = time.monotonic()
        killer.start()
        result = run_spec(spec, RunSettings(tmp_path / "there"), executor)
    finally:
        killer.join()
        executor.close()
    assert killed, "the task was never seen running"
    assert time.monotonic() - submitted_at < 120
    assert _comparable(result) == expected
    (cohort,) = result.cohorts.values()
    assert isinstance(cohort, CohortResult) and cohort.trained_on["worker"] != killed[0]
    deployment.wait_for_workers(2)  # the nanny restarted it, for the tests after this one


@pytest.mark.slow
def test_a_task_that_keeps_killing_workers_fails_its_items_and_writes_nothing(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    """Each worker has far less memory than the data needs: its nanny kills it every time."""
    processes = DaskProcesses(tmp_path / "dask")
    try:
        processes.start_scheduler(allowed_failures=0)  # each death ends an attempt
        processes.start_worker("--memory-limit", "150MB")
        processes.wait_for_workers(1)
        big = SLOW.replace("samples: 40000", "samples: 3000000").replace(
            "simple_transformer", "logistic"
        )
        out = tmp_path / "out"
        path = write_spec(big, "slow.yaml")
        status = main(
            [
                "run",
                str(path),
                "--out",
                str(out),
                "--dask",
                processes.address,
                "--dask-retries",
                "1",
            ]
        )
    finally:
        processes.stop()
    assert status == 2  # as for any cohort that could not be trained
    results = json.loads((out / "results.json").read_text())
    (cohort,) = results["specs"][0]["cohorts"]
    assert cohort["training"] == "failed"
    assert "every worker that trained it died (killed, or over its memory limit)" in cohort["error"]
    assert "in 2 attempt(s) with 1 retries allowed" in cohort["error"]
    assert all(check["outcome"] == "failed" for check in cohort["checks"])
    assert not (out / "models").exists() or not any((out / "models").rglob("*.npz"))


def test_an_unreachable_scheduler_fails_every_item_with_the_reason(
    write_spec: SpecWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dask_executor, "CONNECT_TIMEOUT_S", 2.0)
    spec = _spec(write_spec, TWO_COHORTS, "pair")
    executor = executor_for("tcp://127.0.0.1:9")  # the discard port: nothing listens there
    started = time.monotonic()
    try:
        result = run_spec(spec, RunSettings(tmp_path / "out"), executor)
    finally:
        executor.close()
    assert time.monotonic() - started < 30  # one attempt to connect, not one per cohort
    for cohort in result.cohorts.values():
        assert isinstance(cohort, CohortFailure)
        assert cohort.reason.startswith(
            "ExecutorError: dask scheduler tcp://127.0.0.1:9 cannot be reached"
        )
    assert not (tmp_path / "out" / "models").exists()


def test_ctrl_c_cancels_outstanding_tasks(
    deployment: DaskProcesses, write_spec: SpecWriter, tmp_path: Path
) -> None:
    path = write_spec(SLOW, "slow.yaml")
    command = [
        sys.executable,
        "-m",
        "nethical_runner",
        "run",
        str(path),
        "--out",
        str(tmp_path / "out"),
        "--dask",
        deployment.address,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    with deployment.client() as client:
        deadline = time.monotonic() + 60
        while not deployment.cohort_tasks(client) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert deployment.cohort_tasks(client), "the task never reached the scheduler"
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        deadline = time.monotonic() + 30
        while deployment.cohort_tasks(client) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not deployment.cohort_tasks(client)
    assert process.returncode != 0
    assert not (tmp_path / "out" / "models").exists()


def test_data_changed_between_submission_and_training_fails_the_cohort(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    rows = [("a", "b", "label")] + [(i % 7, i % 5, int(i % 7 > 3)) for i in range(400)]
    data = write_spec.csv(rows, "t.csv")
    text = (
        "version: 1\nname: csv\nmodel: {type: logistic}\n"
        "data:\n  source: csv\n  csv: {path: t.csv, label: label}\n"
    )
    spec = load_spec(write_spec(text, "csv.yaml"), root=write_spec.root)
    submitted = submit_spec(spec, RunSettings(tmp_path / "out"), executor_for(None))
    data.write_text(data.read_text() + "1,1,0\n")  # in-process trains when asked: after this
    (cohort,) = finish_spec(submitted).cohorts.values()
    assert isinstance(cohort, CohortFailure)
    assert "trained on other data than declared" in cohort.reason


def test_answers_are_plain_data_and_a_pickle_is_refused(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    submitted = _submitted_in_process(write_spec, tmp_path)
    task, pending = submitted.cohorts["alpha"]
    answer = decode_answer(pending.answer())
    assert isinstance(answer, TrainedCohort)
    again = TrainedCohort.decode(answer.encode())
    assert again.metrics == answer.metrics and again.stage_ms == answer.stage_ms
    assert np.array_equal(again.probabilities, answer.probabilities)
    with pytest.raises(WireError):
        decode_answer(pickle.dumps({"metrics": {"accuracy": 1.0}}))
    assert task.decode(task.encode()) == task


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("local:0", "between 1 and 256 workers"),
        ("locale", "neither local[:N] nor a scheduler address"),
        ("tcp://host:8786; rm -rf /", "neither local[:N] nor a scheduler address"),
    ],
)
def test_an_address_that_cannot_be_one_is_refused_up_front(address: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        executor_for(address)


def test_without_dask_installed_the_option_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    monkeypatch.delitem(sys.modules, "nethical_runner.run.executors.dask", raising=False)
    with pytest.raises(ValueError, match=r"pip install 'nethical-runner\[dask\]'"):
        executor_for("local:2")


def test_a_worker_with_other_code_refuses_to_train(write_spec: SpecWriter, tmp_path: Path) -> None:
    submitted = _submitted_in_process(write_spec, tmp_path)
    task, _ = submitted.cohorts["alpha"]
    assert isinstance(task, CohortTask)
    other = CohortTask(
        **{**task.__dict__, "environment": {**task.environment, "versions": {"numpy": "0.1"}}}
    )
    answer = decode_answer(run_encoded(other.encode(), "test"))
    assert isinstance(answer, FailedCohort)
    assert "numpy" in answer.reason and "0.1 on the controller" in answer.reason


class _ForgingWorker:
    """An answer from a worker that lies: a model of another type than the spec declares."""

    def __init__(self, answer: bytes) -> None:
        self._answer = answer

    def ready(self) -> bool:
        return True

    def answer(self, on_epoch: object = None) -> bytes:
        found = decode_answer(self._answer)
        assert isinstance(found, TrainedCohort)
        other = create_model("heuristic").fit(
            found.split.X_val, found.split.y_val, epochs=1, batch_size=32, seed=0
        )
        forged = dataclasses.replace(found, model_bytes=other.to_npz_bytes({"training_ms": 1.0}))
        return forged.encode()


def test_a_worker_sending_another_model_than_declared_fails_the_cohort(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    submitted = _submitted_in_process(write_spec, tmp_path)
    task, pending = submitted.cohorts["alpha"]
    submitted.cohorts["alpha"] = (task, _ForgingWorker(pending.answer()))
    result = finish_spec(submitted)
    alpha = result.cohorts["alpha"]
    assert isinstance(alpha, CohortFailure)
    assert "this process (host " in alpha.reason
    assert "sent a heuristic model where logistic is declared" in alpha.reason
    assert isinstance(result.cohorts["beta"], CohortResult)
    assert not any("alpha" in path.name for path in (tmp_path / "out").rglob("*.npz"))


def test_a_local_cluster_listens_on_a_free_loopback_port_only() -> None:
    """The scheduler's HTTP endpoint does not take (or fall back from) dask's default 8787,
    which another cluster on the machine may hold, and listens on loopback only."""
    with socket.socket() as taken:
        with contextlib.suppress(OSError):  # held by someone else already: the same case
            taken.bind(("127.0.0.1", 8787))
            taken.listen()
        executor = executor_for("local:1")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", UserWarning)
                client = executor._connected()  # type: ignore[attr-defined]
            port = client.scheduler_info()["services"]["dashboard"]
            assert port != 8787
            hosts = client.run_on_scheduler(
                lambda dask_scheduler: sorted(
                    {s.getsockname()[0] for s in dask_scheduler.http_server._sockets.values()}
                )
            )
            assert hosts == ["127.0.0.1"]
        finally:
            executor.close()
