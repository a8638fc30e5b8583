"""Training once per pytest session, however many items of a spec run."""

from __future__ import annotations

from pathlib import Path

from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.results import SpecResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import Spec


class TrainingSession:
    """Caches each spec's :class:`SpecResult` by file, so ``-k``, ``--lf`` and a full run all
    train a spec exactly once and every item of it reads the same result."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.results: dict[Path, SpecResult] = {}

    def result(self, spec: Spec) -> SpecResult:
        key = spec.path.resolve()
        if key not in self.results:
            self.results[key] = run_spec(spec, self.settings)
        return self.results[key]
