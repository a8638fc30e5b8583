"""Progress of a run as lines: one when each cohort starts, one when it ends (how long it took
and how many rows it trained and validated, or why it failed), and, for a long training, how
many epochs are done.

The observer only words the lines; where they go is the front end's choice, through a
:class:`ProgressSink`: stderr for the command line, pytest's terminal reporter for the plugin
(see ``cli/progress.py`` and ``pytest_plugin/progress.py``). Every line is escaped for the
terminal here, as names, ids and failure reasons come from specs and data.

In-process a cohort starts when it is asked for and ends when it is saved, so the wall clock
between the two is its time. On a cluster (:meth:`~RunObserver.training_submitted`) a cohort
starts when it is handed over, trains when a worker is free and is told back when its spec is
finished, possibly long after it trained and out of the order cohorts finished in; its time is
then the one the worker measured (loading, splitting, training and validating), which is right
whatever the order.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from nethical_runner._escape import clip, terminal
from nethical_runner.data import Split
from nethical_runner.run.events import RunObserver
from nethical_runner.spec import Cohort, Spec

STATUS_EVERY_S = 1.0  # at most one epoch status a second, and none in a training's first second
REASON_LIMIT = 300  # characters of a failure's reason on its line (every check states it whole)
TIMED_STAGES = ("data_load", "preprocessing", "training", "validation")


class ProgressSink(Protocol):
    def line(self, text: str) -> None:
        """A line to keep (``text`` is escaped and has no line break)."""
        ...

    def status(self, text: str) -> None:
        """How far a training is: shown only where someone watches (a terminal), and replaced
        by the next status or line; elsewhere dropped."""
        ...


@dataclass
class _Cohort:
    name: str  # ``spec::cohort``, as in test ids
    started: float
    elsewhere: bool
    shown_at: float
    train_rows: int | None = None
    validation_rows: int | None = None
    trained_ms: float | None = None
    cached: bool = False


class ProgressObserver(RunObserver):
    """Words each cohort's start and end for ``sink``. Never raises: a terminal gone away
    (a closed pipe) must not fail a cohort that trained."""

    def __init__(
        self,
        sink: ProgressSink,
        *,
        clock: Callable[[], float] = time.monotonic,
        status_every_s: float = STATUS_EVERY_S,
    ) -> None:
        self.sink = sink
        self.clock = clock
        self.status_every_s = status_every_s
        self._cohorts: dict[int, _Cohort] = {}  # by the cohort object: ids repeat across specs

    def training_submitted(self, spec: Spec, cohort: Cohort, executor: str) -> None:
        now = self.clock()
        self._cohorts[id(cohort)] = _Cohort(_name(spec, cohort), now, True, now)
        self._line(f"{_name(spec, cohort)}: sent to {executor}")

    def training_started(self, spec: Spec, cohort: Cohort) -> None:
        if id(cohort) in self._cohorts:  # sent to a cluster: its start was said then
            return
        now = self.clock()
        self._cohorts[id(cohort)] = _Cohort(_name(spec, cohort), now, False, now)
        self._line(f"{_name(spec, cohort)}: training {cohort.config.model.type}")

    def epoch_finished(self, cohort: Cohort, epoch: int, epochs: int) -> None:
        found = self._cohorts.get(id(cohort))
        now = self.clock()
        if found is None or now - found.shown_at < self.status_every_s:
            return
        found.shown_at = now
        elapsed = _seconds(now - found.started)
        self._write(self.sink.status, f"{found.name}: epoch {epoch}/{epochs} ({elapsed})")

    def data_split(self, cohort: Cohort, split: Split) -> None:
        found = self._cohorts.get(id(cohort))
        if found is not None:
            found.train_rows, found.validation_rows = split.train_rows, int(split.y_val.size)

    def training_completed(
        self, cohort: Cohort, stage_ms: Mapping[str, float], *, cached: bool
    ) -> None:
        found = self._cohorts.get(id(cohort))
        if found is not None:
            found.trained_ms = sum(stage_ms.get(stage, 0.0) for stage in TIMED_STAGES)
            found.cached = cached

    def model_saved(self, cohort: Cohort, model_path: Path, metrics_path: Path) -> None:
        found = self._cohorts.pop(id(cohort), None)
        if found is None:
            return
        if found.elsewhere:
            took = f"done, trained in {_seconds((found.trained_ms or 0.0) / 1000)} on the cluster"
        else:
            took = f"done in {_seconds(self.clock() - found.started)}"
        rows = f"{found.validation_rows or 0:,} validated"
        if found.cached:
            rows = f"model from the result cache, {rows}"
        else:
            rows = f"{found.train_rows or 0:,} rows trained, {rows}"
        self._line(f"{found.name}: {took}, {rows}")

    def training_failed(self, cohort: Cohort, reason: str) -> None:
        found = self._cohorts.pop(id(cohort), None)
        if found is None:
            return
        first = reason.strip().splitlines()[0] if reason.strip() else "no reason given"
        after = "" if found.elsewhere else f" after {_seconds(self.clock() - found.started)}"
        self._line(f"{found.name}: FAILED{after}: {clip(first, REASON_LIMIT)}")

    def _line(self, text: str) -> None:
        self._write(self.sink.line, text)

    def _write(self, write: Callable[[str], None], text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # a closed stream: progress is no result
            write(terminal(text))


def _name(spec: Spec, cohort: Cohort) -> str:
    return f"{spec.name}::{cohort.id}"


def _seconds(value: float) -> str:
    return f"{value:.1f} s"
