"""Progress of a run: a line when each cohort starts and ends, epochs of a long training, on
every executor; lines escaped, and a sink that breaks never fails a cohort."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import SpecWriter
from nethical_runner.models import TrainsInEpochs, create_model
from nethical_runner.run.events import RunObserver
from nethical_runner.run.executors import executor_for
from nethical_runner.run.loading import load_spec
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.progress import ProgressObserver
from nethical_runner.run.results import CohortFailure, CohortResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import Cohort, Spec

TWO_COHORTS = """\
version: 1
name: pair
model: {type: logistic}
training: {epochs: 3}
data: {samples: 2000}
cohorts:
  - {id: alpha}
  - {id: cohort_b, training: {seed: 7}}
"""
ONE_CLASS_CSV = "a,b,target\n" + "".join(f"{i},{i % 7},1\n" for i in range(200))


class Lines:
    """A sink that keeps what it is given."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.statuses: list[str] = []

    def line(self, text: str) -> None:
        self.lines.append(text)

    def status(self, text: str) -> None:
        self.statuses.append(text)


class Clock:
    """Each reading a fixed step after the last, so statuses are due when the test says."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class Epochs(RunObserver):
    def __init__(self) -> None:
        self.seen: list[tuple[str, int, int]] = []

    def epoch_finished(self, cohort: Cohort, epoch: int, epochs: int) -> None:
        self.seen.append((cohort.id, epoch, epochs))


def _spec(write_spec: SpecWriter, text: str, name: str = "pair") -> Spec:
    return load_spec(write_spec(text, f"{name}.yaml"), root=write_spec.root)


def test_each_cohort_has_a_start_and_an_end_line_with_its_rows(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    sink = Lines()
    result = run_spec(
        _spec(write_spec, TWO_COHORTS),
        RunSettings(tmp_path / "out"),
        watcher=ProgressObserver(sink),
    )
    assert all(isinstance(c, CohortResult) for c in result.cohorts.values())
    assert sink.lines[0] == "pair::alpha: training logistic"
    assert re.fullmatch(
        r"pair::alpha: done in \d+\.\d s, 1,600 rows trained, 400 validated", sink.lines[1]
    )
    assert sink.lines[2] == "pair::cohort_b: training logistic"
    assert sink.lines[3].startswith("pair::cohort_b: done in ")
    assert len(sink.lines) == 4


def test_a_failed_cohort_ends_with_its_reason_and_the_others_still_train(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    write_spec.csv(ONE_CLASS_CSV, "one_class.csv")
    text = (
        TWO_COHORTS
        + "  - {id: broken, data: {source: csv, csv: {path: one_class.csv, "
        + ("label: target}}}\n")
    )
    sink = Lines()
    result = run_spec(
        _spec(write_spec, text), RunSettings(tmp_path / "out"), watcher=ProgressObserver(sink)
    )
    assert isinstance(result.cohorts["broken"], CohortFailure)
    failed = [line for line in sink.lines if line.startswith("pair::broken: ")]
    assert failed[0] == "pair::broken: training logistic"
    assert re.fullmatch(
        r"pair::broken: FAILED after \d+\.\d s: DataError: .*both classes.*", failed[1]
    )
    assert len([line for line in sink.lines if " done in " in line]) == 2


def test_a_failure_reason_is_one_escaped_line(tmp_path: Path, write_spec: SpecWriter) -> None:
    spec = _spec(write_spec, TWO_COHORTS)
    sink = Lines()
    progress = ProgressObserver(sink)
    progress.training_started(spec, spec.cohorts[0])
    progress.training_failed(spec.cohorts[0], "boom \x1b[2J ##[error]x\n::error::forged line")
    (line,) = sink.lines[1:]
    assert line.startswith("pair::alpha: FAILED after ")
    assert "\x1b" not in line and "\n" not in line and "##[" not in line
    assert line.endswith("boom \\x1b[2J ##\\x5berror]x")


def test_a_broken_stream_does_not_fail_the_cohort(write_spec: SpecWriter, tmp_path: Path) -> None:
    class Closed(Lines):
        def line(self, text: str) -> None:
            raise BrokenPipeError("stderr is gone")

    result = run_spec(
        _spec(write_spec, TWO_COHORTS),
        RunSettings(tmp_path / "out"),
        watcher=ProgressObserver(Closed()),
    )
    assert all(isinstance(c, CohortResult) for c in result.cohorts.values())


@pytest.mark.parametrize(
    ("model_type", "params"),
    [("logistic", {}), ("simple_transformer", {}), ("anomaly", {"method": "ngram"})],
)
def test_a_model_with_epochs_reports_each_and_learns_the_same(
    model_type: str, params: dict[str, Any]
) -> None:
    rng = np.random.default_rng(3)
    if model_type == "anomaly":
        X = rng.integers(1, 50, size=(300, 8)).astype(np.float64)
    else:
        X = rng.normal(size=(300, 4))
    y = (X[:, 0] > np.median(X[:, 0])).astype(int)
    told: list[tuple[int, int]] = []
    model = create_model(model_type, params)
    assert isinstance(model, TrainsInEpochs)
    model.fit_epochs(
        X, y, epochs=4, batch_size=32, seed=1, on_epoch=lambda i, n: told.append((i, n))
    )
    assert told == [(1, 4), (2, 4), (3, 4), (4, 4)]
    plain = create_model(model_type, params).fit(X, y, epochs=4, batch_size=32, seed=1)
    assert np.array_equal(model.predict_proba(X), plain.predict_proba(X))


def test_the_run_passes_epochs_of_in_process_training_to_its_watcher(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    epochs = Epochs()
    run_spec(_spec(write_spec, TWO_COHORTS), RunSettings(tmp_path / "out"), watcher=epochs)
    assert epochs.seen == [("alpha", i, 3) for i in (1, 2, 3)] + [
        ("cohort_b", i, 3) for i in (1, 2, 3)
    ]


def test_a_streamed_csv_reports_its_epochs_too(write_spec: SpecWriter, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [("a", "b", "target")] + [
        (f"{a:.4f}", f"{b:.4f}", int(a + b > 0)) for a, b in rng.normal(size=(3000, 2))
    ]
    write_spec.csv(rows, "big.csv")
    text = (
        "version: 1\nname: streamed\nmodel: {type: logistic}\ntraining: {epochs: 2}\n"
        "data: {source: csv, csv: {path: big.csv, label: target, chunk_rows: 1000}}\n"
    )
    epochs = Epochs()
    run_spec(_spec(write_spec, text, "streamed"), RunSettings(tmp_path / "out"), watcher=epochs)
    assert epochs.seen == [("default", 1, 2), ("default", 2, 2)]


def test_epoch_statuses_wait_a_second_and_come_at_most_once_a_second(
    write_spec: SpecWriter,
) -> None:
    spec = _spec(write_spec, TWO_COHORTS)
    cohort = spec.cohorts[0]
    sink = Lines()
    progress = ProgressObserver(sink, clock=Clock(0.4))  # each call 0.4 s after the last
    progress.training_started(spec, cohort)  # t = 0.4
    for epoch in range(1, 11):  # t = 0.8, 1.2, ... 4.4: due at 1.6, 2.8 and 4.0
        progress.epoch_finished(cohort, epoch, 10)
    assert sink.statuses == [
        "pair::alpha: epoch 3/10 (1.2 s)",
        "pair::alpha: epoch 6/10 (2.4 s)",
        "pair::alpha: epoch 9/10 (3.6 s)",
    ]


def test_on_a_cluster_cohorts_start_when_sent_and_end_with_their_own_training_time(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    """The fast cohort finishes long before the slow one, but is told after it trained, in
    the spec's order: its time is the worker's, not the wait for its spec."""
    text = """\
version: 1
name: mixed
model: {type: simple_transformer}
training: {epochs: 3}
cohorts:
  - {id: slow, data: {samples: 12000}}
  - {id: fast, data: {samples: 600}}
"""
    sink = Lines()
    executor = executor_for("local:2")
    try:
        result = run_spec(
            _spec(write_spec, text, "mixed"),
            RunSettings(tmp_path / "out"),
            executor,
            ProgressObserver(sink),
        )
    finally:
        executor.close()
    assert sink.lines[:2] == [
        f"mixed::slow: sent to {executor.description}",
        f"mixed::fast: sent to {executor.description}",
    ]
    assert sink.statuses == []  # epochs pass on the workers
    trained = {}
    for cohort_id in ("slow", "fast"):
        cohort = result.cohorts[cohort_id]
        assert isinstance(cohort, CohortResult), cohort
        (end,) = [line for line in sink.lines[2:] if line.startswith(f"mixed::{cohort_id}:")]
        found = re.fullmatch(
            rf"mixed::{cohort_id}: done, trained in (\d+\.\d) s on the cluster, "
            rf"{cohort.split.train_rows:,} rows trained, {cohort.metrics['samples']:,} validated",
            end,
        )
        assert found, end
        worker_s = sum(
            cohort.stage_ms[s] for s in ("data_load", "preprocessing", "training", "validation")
        )
        assert found.group(1) == f"{worker_s / 1000:.1f}"
        trained[cohort_id] = float(found.group(1))
    assert trained["fast"] < trained["slow"]
