"""Training once per pytest session, however many items of a spec run."""

from __future__ import annotations

from pathlib import Path

from nethical_runner.run.events import NO_OBSERVER, RunObserver
from nethical_runner.run.executors import IN_PROCESS, Executor
from nethical_runner.run.pipeline import SubmittedSpec, finish_spec, submit_spec
from nethical_runner.run.results import SpecResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import Spec


class TrainingSession:
    """Caches each spec's :class:`SpecResult` by file, so ``-k``, ``--lf`` and a full run all
    train a spec exactly once and every item of it reads the same result.

    A spec is submitted to the executor when it is first known to be needed: on a cluster, for
    every selected spec once collection ends (so they all train while the first items run);
    in-process, when its first item runs.
    """

    def __init__(
        self,
        settings: RunSettings,
        executor: Executor = IN_PROCESS,
        watcher: RunObserver = NO_OBSERVER,
    ) -> None:
        self.settings = settings
        self.executor = executor
        self.watcher = watcher  # progress lines
        self.submitted: dict[Path, SubmittedSpec] = {}
        self.results: dict[Path, SpecResult] = {}

    def submit(self, spec: Spec) -> None:
        key = spec.path.resolve()
        if key not in self.submitted and key not in self.results:
            self.submitted[key] = submit_spec(spec, self.settings, self.executor, self.watcher)

    def result(self, spec: Spec) -> SpecResult:
        key = spec.path.resolve()
        if key not in self.results:
            self.submit(spec)
            self.results[key] = finish_spec(self.submitted.pop(key))
        return self.results[key]

    def close(self) -> None:
        """Cancel what is still outstanding (an interrupted or failing-fast session)."""
        self.executor.close()
