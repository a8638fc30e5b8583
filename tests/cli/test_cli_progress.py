"""Progress of ``train`` and ``run`` on stderr: a line per cohort as it starts and ends, epoch
statuses only on a terminal; stdout keeps the result alone. Also the counts and cohort names of
``validate`` and of the run's messages, as a sentence reads them."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.terminal import read_until_closed

from conftest import SpecWriter
from nethical_runner.cli.main import main
from nethical_runner.cli.progress import StreamProgress
from nethical_runner.run.loading import load_spec
from nethical_runner.run.progress import ProgressObserver

SPEC = """\
version: 1
name: pair
model: {type: logistic}
training: {epochs: 3}
data: {samples: 2000}
cohorts:
  - {id: alpha}
  - {id: cohort_b, training: {seed: 7}}
"""
PROGRESS = "nethical-runner: "


class FakeTerminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_run_prints_a_start_and_an_end_line_per_cohort_on_stderr_only(
    write_spec: SpecWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(SPEC, "pair.yaml")
    assert main(["run", str(spec), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert PROGRESS not in captured.out
    progress = [line for line in captured.err.splitlines() if line.startswith(PROGRESS)]
    assert progress[0] == f"{PROGRESS}pair::alpha: training logistic"
    assert re.fullmatch(
        rf"{PROGRESS}pair::alpha: done in \d+\.\d s, 1,600 rows trained, 400 validated",
        progress[1],
    )
    assert progress[2] == f"{PROGRESS}pair::cohort_b: training logistic"
    assert progress[3].startswith(f"{PROGRESS}pair::cohort_b: done in ")
    assert len(progress) == 4
    assert "epoch" not in captured.err  # not a terminal


def test_a_cohort_that_fails_says_so_on_its_end_line(
    write_spec: SpecWriter,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_spec.csv("a,b,target\n" + "".join(f"{i},{i % 3},0\n" for i in range(100)))
    spec = write_spec(
        "version: 1\nname: lonely\nmodel: {type: logistic}\n"
        "data: {source: csv, csv: {path: data.csv, label: target}}\n",
        "lonely.yaml",
    )
    monkeypatch.chdir(write_spec.root)  # where `run` resolves the data path
    assert main(["run", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{PROGRESS}lonely::default: training logistic" in err
    assert re.search(
        rf"^{PROGRESS}lonely::default: FAILED after \d+\.\d s: DataError: .*both classes",
        err,
        re.MULTILINE,
    )


def test_statuses_rewrite_one_line_on_a_terminal_and_are_dropped_elsewhere(
    write_spec: SpecWriter,
) -> None:
    spec = load_spec(write_spec(SPEC, "pair.yaml"))
    cohort = spec.cohorts[0]
    shown = {}
    for tty in (True, False):
        stream = FakeTerminal(tty)
        sink = StreamProgress(stream)
        ticks = map(float, range(100))  # 1 s a reading
        progress = ProgressObserver(sink, clock=ticks.__next__)
        progress.training_started(spec, cohort)
        for epoch in (1, 2):
            progress.epoch_finished(cohort, epoch, 2)
        progress.training_failed(cohort, "stopped")
        shown[tty] = stream.getvalue()
    erase = "\r\x1b[K"
    assert shown[True] == (
        f"{PROGRESS}pair::alpha: training logistic\n"
        f"{erase}{PROGRESS}pair::alpha: epoch 1/2 (1.0 s)"
        f"{erase}{PROGRESS}pair::alpha: epoch 2/2 (2.0 s)"
        f"{erase}{PROGRESS}pair::alpha: FAILED after 3.0 s: stopped\n"
    )
    assert shown[False] == (
        f"{PROGRESS}pair::alpha: training logistic\n"
        f"{PROGRESS}pair::alpha: FAILED after 3.0 s: stopped\n"
    )


def test_a_long_training_shows_its_epochs_on_a_real_terminal(tmp_path: Path) -> None:
    """The command of the complaint, smaller: stderr on a pseudo-terminal shows epochs, each
    status rewriting the last, and erased before the cohort's end line."""
    leader, follower = pty.openpty()
    command = [
        sys.executable, "-m", "nethical_runner", "train", "--model-type", "simple_transformer",
        "--num-samples", "5000", "--epochs", "30", "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, cwd=tmp_path) as child:
        os.close(follower)
        shown = read_until_closed(leader)
        stdout = child.stdout.read() if child.stdout else b""
    os.close(leader)
    assert child.returncode == 0
    text = shown.decode()
    statuses = re.findall(
        r"\r\x1b\[Knethical-runner: simple_transformer::\S+: epoch (\d+)/30", text
    )
    assert statuses, text
    assert [int(s) for s in statuses] == sorted(int(s) for s in statuses)
    assert re.search(r"\r\x1b\[Knethical-runner: simple_transformer::\S+: done in ", text)
    assert b"epoch" not in stdout and b"nethical-runner: " not in stdout


def test_validate_counts_in_the_singular_and_the_plural(
    write_spec: SpecWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    one = write_spec("version: 1\nname: one\nmodel: {type: heuristic}\n", "one.yaml")
    two = write_spec(SPEC, "pair.yaml")
    assert main(["validate", str(one), str(two)]) == 0
    out = capsys.readouterr().out
    assert f"{one}: ok (1 cohort, 2 checks)" in out
    assert f"{two}: ok (2 cohorts, 4 checks)" in out
    assert "1 cohorts" not in out
