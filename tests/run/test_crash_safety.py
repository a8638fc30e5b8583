"""A run killed with SIGKILL at any point loses nothing that was there before.

An output root holds a complete earlier run (a promoted model per cohort, SLA reports, an audit
log). A second run of the same spec is then killed, with SIGKILL, at one point of its training,
saving, promotion or audit append: by ``crash_driver.py`` at a numbered file system step (before
it, or right after it; halfway through the data for a write), or from outside after a random
delay. After every kill:

* every file of the earlier run is byte for byte what it was, its promoted model still loads,
  and each ``.latest.json`` pointer names a complete model and metrics file;
* no file under a visible name is partial: every JSON file parses, every model loads (an
  interrupted write leaves at most a hidden ``.*.tmp`` file);
* ``nethical-runner audit verify`` accepts the log, and holds the killed run's events either
  all (a complete run ending in ``run_end``) or none;
* the next run succeeds, and the log still verifies.

The default run kills at one step of each kind; ``-m slow`` kills at every step, before and
after, and at random moments.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SpecWriter, sweep
from nethical_runner.audit.verify import verify
from nethical_runner.cli.main import main
from nethical_runner.models import load_model

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd (Linux)"
)
DRIVER = Path(__file__).parents[1] / "support" / "crash_driver.py"
SPEC = """\
version: 1
name: k
model: {type: logistic}
training: {epochs: 2}
data: {samples: 400}
gate: {max_ece: 0.5, min_accuracy: 0.5}
sla: {calls: 10, warmup: 0, p95_ms: 1000}
audit: {enabled: true, chunk_size: 5}
cohorts:
  - {id: alpha}
  - {id: beta, training: {seed: 7}}
"""
# Replaced by every promotion or audit append, so the earlier run's version may be gone.
REPLACED = ("models/current/k@alpha.latest.json", "models/current/k@beta.latest.json",
            "audit/training_summary.json",  # the newest run's pointers and summaries
            "results.json", "summary.md",  # the run summary, rewritten by every run
            "reliability/k@alpha.png", "reliability/k@beta.png")  # fmt: skip
# One step of each kind: training, writing a model, promoting it, every phase of the append.
REPRESENTATIVE = [
    ("fit logistic", "before"),
    ("write models/current/.k@alpha@logistic_model_RUN.npz.*.tmp", "after"),
    ("replace models/current/k@alpha@logistic_model_RUN.npz", "before"),
    ("replace models/current/k@alpha.latest.json", "before"),
    ("replace models/current/k@beta.latest.json", "after"),
    ("write audit/chunks/.chunk_000006.json.*.tmp", "after"),
    ("replace audit/chunks/chunk_000008.json", "after"),
    ("write audit/heads/.head_000002.json.*.tmp", "after"),
    ("replace audit/heads/head_000002.json", "after"),
    ("replace audit/training_summary.json", "before"),
]


def cli(*args: str, out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``nethical-runner`` through the crash driver (which kills it when ``CRASH_AT`` says)."""
    return subprocess.run(
        [sys.executable, str(DRIVER), *args],
        cwd=out.parent,
        env={**os.environ, "CRASH_OUT": str(out), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_spec(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return cli("run", str(out.parent / "k.yaml"), "--out", str(out), out=out, **env)


def snapshot(out: Path) -> dict[str, bytes]:
    return {
        path.relative_to(out).as_posix(): path.read_bytes()
        for path in out.rglob("*")
        if path.is_file()
    }


def run_ids(out: Path) -> list[str]:
    return [json.loads(leaf)["run_id"] for leaf in verify(out / "audit").leaves]


@pytest.fixture(scope="module")
def earlier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output root after one complete run; each test works on a copy of it."""
    root = SpecWriter(tmp_path_factory.mktemp("earlier"))(SPEC, "k.yaml").parent
    completed = run_spec(root / "out")
    assert completed.returncode == 0, completed.stderr
    return root / "out"


@pytest.fixture(scope="module")
def steps(earlier: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The numbered steps of a second run into that root, as the driver sees them."""
    out = copy_of(earlier, tmp_path_factory.mktemp("trace"))
    trace = out.parent / "trace.json"
    completed = run_spec(out, CRASH_TRACE=str(trace))
    assert completed.returncode == 0, completed.stderr
    return json.loads(trace.read_text())


def copy_of(earlier: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(earlier.parent / "k.yaml", folder / "k.yaml")
    shutil.copytree(earlier, folder / "out")
    return folder / "out"


def check_nothing_lost(out: Path, before: dict[str, bytes]) -> None:
    """The guarantees listed in the module docstring, for the state a kill left behind."""
    for relative, content in before.items():
        if relative not in REPLACED and not relative.endswith(".lock"):
            assert (out / relative).read_bytes() == content, f"{relative} changed"
    for path in out.rglob("*"):
        if not path.is_file():
            continue
        if path.name == ".gitignore":  # the output root's, written whole or not at all
            assert path.read_text() == "*\n", path
        elif path.name.startswith("."):
            assert path.name == ".lock" or path.name.endswith(".tmp"), path
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".npz":
            load_model(path)
        elif path.suffix == ".png":
            assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), path
        else:
            assert path.read_text().strip(), path
    for pointer in (out / "models" / "current").glob("*.latest.json"):
        named = json.loads(pointer.read_text())
        load_model(pointer.parent / named["model"])
        json.loads((pointer.parent / named["metrics"]).read_text())
    assert main(["audit", "verify", str(out / "audit")]) == 0  # in process: the log, not a kill
    ids = run_ids(out)
    first = ids[0]
    per_run = ids.count(first)
    for other in set(ids) - {first}:
        assert ids.count(other) == per_run, "a run is in the log whole or not at all"
    events = [json.loads(leaf) for leaf in verify(out / "audit").leaves]
    assert events[-1]["type"] == "run_end"


def check_next_run_succeeds(out: Path) -> None:
    """In this process: the run after a kill is an ordinary one, with nothing to instrument."""
    assert main(["run", str(out.parent / "k.yaml"), "--out", str(out)]) == 0
    report = verify(out / "audit")
    assert report.ok and not report.notes, report.render()


def kill_and_check(earlier: Path, folder: Path, index: int, when: str, label: str) -> None:
    out = copy_of(earlier, folder)
    before = snapshot(out)
    killed = run_spec(out, CRASH_AT=f"{index}:{when}")
    assert killed.returncode == -signal.SIGKILL, f"not killed at {label}: {killed.stderr}"
    check_nothing_lost(out, before)
    check_next_run_succeeds(out)


def test_the_driver_sees_every_kind_of_step(steps: list[str]) -> None:
    for label, _ in REPRESENTATIVE:
        assert label in steps, f"{label!r} not among {steps}"


@pytest.mark.parametrize(
    ("label", "when"),
    sweep(REPRESENTATIVE, default=set(REPRESENTATIVE[::3])),
    ids=[f"{w} {s}" for s, w in REPRESENTATIVE],
)
def test_a_kill_at_a_step_of_each_kind_loses_nothing(
    earlier: Path, steps: list[str], tmp_path: Path, label: str, when: str
) -> None:
    kill_and_check(earlier, tmp_path, steps.index(label), when, label)


@pytest.mark.slow
def test_a_kill_at_every_step_loses_nothing(
    earlier: Path, steps: list[str], tmp_path: Path
) -> None:
    for index, label in enumerate(steps):
        for when in ("before", "after"):
            kill_and_check(earlier, tmp_path / f"{index}-{when}", index, when, label)


@pytest.mark.slow
def test_kills_at_random_moments_lose_nothing(earlier: Path, tmp_path: Path) -> None:
    """The same guarantees with no instrumentation: the plain command line, killed from
    outside after a random delay within the time a run takes."""
    started = time.monotonic()
    check_next_run_succeeds(copy_of(earlier, (tmp_path / "timing").resolve()))
    duration = time.monotonic() - started
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    for attempt in range(30):
        folder = tmp_path / str(attempt)
        out = copy_of(earlier, folder)
        before = snapshot(out)
        process = subprocess.Popen(
            [sys.executable, "-m", "nethical_runner", "run", str(folder / "k.yaml"),
             "--out", str(out)],
            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(rng.uniform(0.2, duration))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        try:
            check_nothing_lost(out, before)
            check_next_run_succeeds(out)
        except AssertionError as error:
            raise AssertionError(f"attempt {attempt} of random seed {seed}: {error}") from error


def test_a_first_run_killed_before_its_head_leaves_an_empty_log_the_next_run_repairs(
    write_spec: SpecWriter,
    tmp_path: Path,
) -> None:
    """With no earlier run there is nothing to keep: the log holds no committed event, which
    ``verify`` reports (an empty log does not verify), and the next run appends from zero."""
    write_spec(SPEC, "k.yaml")
    out = tmp_path / "out"
    trace = tmp_path / "trace.json"
    assert run_spec(out, CRASH_TRACE=str(trace)).returncode == 0
    steps = json.loads(trace.read_text())
    shutil.rmtree(out)
    killed = run_spec(out, CRASH_AT=f"{steps.index('fsync audit/chunks')}:after")
    assert killed.returncode == -signal.SIGKILL
    report = verify(out / "audit")
    assert [str(problem) for problem in report.problems] == [
        "heads/: no tree head: nothing was committed (its chunks are an interrupted run's)"
    ]
    check_next_run_succeeds(out)
    assert len(set(run_ids(out))) == 1
