"""Shared fixtures: ``write_spec`` for the spec and data files a test runs on, pytester for the
plugin, and a fake Kaggle the real client talks to.

OpenMP is held to one thread for the whole session, child processes included: the tests fit
small models, where a second thread saves nothing, and on a busy machine (or under ``-n``)
OpenMP's spinning threads made one gradient-boosting fit take many seconds instead of a tenth.

The tests spread over every core by default (pytest-xdist's ``-n auto``, a test extra): most of
their time is child processes and inner pytest sessions waiting on each other, which parallel
workers overlap. ``-n 0`` runs them in one process.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support.kaggle_server import FakeKaggle

if TYPE_CHECKING:
    from support.dask_processes import DaskProcesses

pytest_plugins = ["pytester"]


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """``-n auto`` unless the command line chose (runs before xdist reads the option). Not in
    xdist's workers: they run this hook too, and would each start workers of their own."""
    worker = hasattr(config, "workerinput")
    if (
        config.pluginmanager.hasplugin("xdist")
        and config.option.numprocesses is None
        and not worker
    ):
        config.option.numprocesses = "auto"


os.environ.setdefault("OMP_NUM_THREADS", "1")  # before scikit-learn loads its OpenMP runtime
# Reliability diagrams cost a few tenths of a second per trained cohort and the suite trains
# hundreds; tests/report/, which tests them, turns them back on.
os.environ.setdefault("NETHICAL_DIAGRAMS", "0")

USERNAME = "ci-user"
FAKE_KEY = "fake-key-0123456789abcdef"

Serve = Callable[..., FakeKaggle]


@dataclass(frozen=True)
class SpecWriter:
    """Writes spec and data files below ``root``, making folders on the way, and returns the
    path: every test writes its files one way, and a name such as ``specs/mine.yaml`` says
    where a file lands. Text is written exactly as given (dedent it where the test's layout
    needs it); bytes too, for files that are not text."""

    root: Path

    def __call__(self, content: str | bytes, name: str = "spec.yaml") -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def csv(self, rows: str | Iterable[Sequence[object]], name: str = "data.csv") -> Path:
        """A CSV file from its text, or from rows (the header first) joined with commas."""
        if not isinstance(rows, str):
            rows = "".join(",".join(str(cell) for cell in row) + "\n" for row in rows)
        return self(rows, name)


@pytest.fixture(autouse=True)
def outside_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of the plugin inside tests must not annotate or append to the job summary of the
    CI job that runs these tests; tests that need the variables set them."""
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def write_spec(request: pytest.FixtureRequest, tmp_path: Path) -> SpecWriter:
    """A ``SpecWriter`` into the test's folder: pytester's, for a test that runs pytest on the
    files it writes, else ``tmp_path``."""
    if "pytester" in request.fixturenames:
        return SpecWriter(request.getfixturevalue("pytester").path)
    return SpecWriter(tmp_path)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean Kaggle environment with legacy API-key credentials; returns the cache folder."""
    for name in list(os.environ):
        proxy = name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        if name.startswith("KAGGLE_") or proxy or name in ("VERBOSE", "VERBOSE_OUTPUT"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for folder in ("home", "kaggle-config", "outside"):
        (tmp_path / folder).mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle-config"))
    monkeypatch.setenv("KAGGLE_USERNAME", USERNAME)
    monkeypatch.setenv("KAGGLE_KEY", FAKE_KEY)
    return tmp_path / "cache"


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Serve]:
    """Start a FakeKaggle and point the client at it; stopped when the test ends."""
    with ExitStack() as stack:

        def start(**settings: object) -> FakeKaggle:
            server = stack.enter_context(FakeKaggle(**settings))  # type: ignore[arg-type]
            for name, value in server.client_env().items():
                monkeypatch.setenv(name, value)
            return server

        yield start


@pytest.fixture
def child_processes(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """Every process started through ``subprocess.Popen`` during the test, for tests that check
    how a child ended (the Kaggle client killed at its time limit) rather than how long the
    machine took to get there."""
    started: list[subprocess.Popen[bytes]] = []

    class Recorded(subprocess.Popen[bytes]):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(subprocess, "Popen", Recorded)
    return started


def sweep(cases: Iterable[Any], *, default: Collection[Any]) -> list[Any]:
    """Parameters of a sweep: the ``default`` ones run in every ``pytest tests/``, the rest
    are marked ``slow`` and run in CI's ``pytest tests/ -m slow`` step, so the quick run keeps
    one case of each kind and CI still runs them all."""
    cases = list(cases)
    unknown = set(default) - set(cases)
    assert not unknown, f"default cases {sorted(unknown)} are not in the sweep"
    slow = pytest.mark.slow
    return [
        case
        if case in default
        else pytest.param(*case, marks=slow)
        if isinstance(case, tuple)
        else pytest.param(case, marks=slow)
        for case in cases
    ]


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskProcesses]:
    """A scheduler and two workers, each a separate process started like an operator would."""
    from support.dask_processes import DaskProcesses  # Dask: a test extra

    processes = DaskProcesses(tmp_path_factory.mktemp("dask"))
    try:
        processes.start_scheduler()
        processes.start_worker()
        processes.start_worker("--resources", "latency-probe=1")
        processes.wait_for_workers(2)
        yield processes
    finally:
        processes.stop()
