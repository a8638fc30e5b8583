"""Progress lines under pytest, through its terminal reporter.

Without pytest-xdist the lines are written as cohorts start and end, on lines of their own
(pytest's line of dots, or the ``-v`` line of the item that is training, resumes after them),
with capturing suspended as pytest's own live logging does. Under ``-q`` there are none.

Under pytest-xdist a worker's output never reaches the terminal (writing it there would
interleave with the controller's and with other workers'), and xdist forwards nothing from a
worker but reports. So a worker keeps its lines and hands them over on the report of the item
during which they were said (the first item of each spec, the one that trains it); the
controller, the one process that writes to the terminal, prints them whole, each tagged with
the worker's id like xdist's own ``-v`` lines (``[gw0] nethical-runner: ...``), just before
that item's outcome. They arrive when that item ends rather than as each cohort starts.

Epoch statuses are shown only when pytest writes to a terminal and trains in this process: at
most one line a second (pytest owns the line being written, so a line is not rewritten in
place). Under xdist they are dropped, as they would arrive after the training.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from nethical_runner.run.events import NO_OBSERVER, RunObserver
from nethical_runner.run.progress import ProgressObserver

PREFIX = "nethical-runner: "
PROGRESS_ATTRIBUTE = "nethical_progress"  # the lines a worker said during an item
PLUGIN_NAME = "nethical-progress"


class TerminalProgress:
    """Lines written now, through the terminal reporter; also a plugin, which resumes pytest's
    line of dots after them."""

    def __init__(self, config: pytest.Config, reporter: Any) -> None:
        self.capture = config.pluginmanager.getplugin("capturemanager")
        self.reporter = reporter
        self.on_terminal = bool(reporter.isatty)
        self.dots = config.getoption("verbose") == 0
        self.wrote = False

    def line(self, text: str) -> None:
        self.wrote = True
        if self.capture is None:
            self.reporter.write_line(f"{PREFIX}{text}")
            return
        with self.capture.global_and_fixture_disabled():  # training runs inside an item
            self.reporter.write_line(f"{PREFIX}{text}")

    def status(self, text: str) -> None:
        if self.on_terminal:
            self.line(text)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Before the item's dot: the file's name again, as pytest starts its lines, so the dot
        does not stand alone under the progress lines (``-v`` lines start so already)."""
        if self.wrote and self.dots:
            self.reporter.write_fspath_result(report.nodeid, "")
        self.wrote = False


class HeldProgress:
    """A worker's lines, kept for the next report (see :class:`ForwardedProgress`)."""

    def __init__(self) -> None:
        self.held: list[str] = []

    def line(self, text: str) -> None:
        self.held.append(f"{PREFIX}{text}")

    def status(self, text: str) -> None:
        """Dropped: it would reach the terminal after the training it tells of."""

    def take(self) -> list[str]:
        taken, self.held = self.held, []
        return taken


class ForwardedProgress:
    """Hooks carrying a worker's lines on its reports, and printing them on the controller."""

    def __init__(self, held: HeldProgress | None, reporter: Any, *, dots: bool) -> None:
        self.held = held  # on a worker
        self.reporter = reporter  # on the controller, unless quiet
        self.dots = dots

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self) -> Generator[None, Any, None]:
        made = yield
        if self.held is not None and self.held.held:
            setattr(made.get_result(), PROGRESS_ATTRIBUTE, self.held.take())

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        lines = getattr(report, PROGRESS_ATTRIBUTE, None)
        node = getattr(report, "node", None)  # set by xdist on the controller
        if self.reporter is None or node is None or not isinstance(lines, list):
            return
        worker = getattr(getattr(node, "gateway", None), "id", "?")
        shown = [f"[{worker}] {line}" for line in lines if isinstance(line, str)]
        if not shown:
            return
        if self.dots:  # xdist's dots carry no file name, so end their line by hand
            self.reporter.write("\n" + "\n".join(shown) + "\n")
        else:
            for line in shown:
                self.reporter.write_line(line)


def progress_watcher(config: pytest.Config) -> RunObserver:
    """The observer whose lines this process shows or forwards, with the hooks that show or
    carry them registered; :data:`NO_OBSERVER` under ``-q`` or without a terminal reporter."""
    reporter = config.pluginmanager.getplugin("terminalreporter")
    quiet = config.getoption("verbose") < 0
    dots = config.getoption("verbose") == 0
    if hasattr(config, "workerinput"):
        held = None if quiet else HeldProgress()
        config.pluginmanager.register(ForwardedProgress(held, None, dots=dots), PLUGIN_NAME)
        return NO_OBSERVER if held is None else ProgressObserver(held)
    if reporter is None or quiet:
        return NO_OBSERVER
    if getattr(config.option, "dist", "no") != "no":  # the controller: workers train
        config.pluginmanager.register(ForwardedProgress(None, reporter, dots=dots), PLUGIN_NAME)
        return NO_OBSERVER
    sink = TerminalProgress(config, reporter)
    config.pluginmanager.register(sink, PLUGIN_NAME)
    return ProgressObserver(sink)
