"""Training in the calling process, when its answer is first asked for: what a run without a
cluster does. Lazy on purpose, so that one spec's rows are in memory at a time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nethical_runner.models import EpochCallback
from nethical_runner.run.task import CohortTask
from nethical_runner.run.timing import time_encoded
from nethical_runner.run.training import run_encoded
from nethical_runner.spec.config import SlaConfig

EXECUTOR_NAME = "in-process"


@dataclass(frozen=True)
class _Deferred:
    task: bytes

    def ready(self) -> bool:
        """Trains when asked, so asking never waits for anyone else."""
        return True

    def answer(self, on_epoch: EpochCallback | None = None) -> bytes:
        return run_encoded(self.task, EXECUTOR_NAME, on_epoch=on_epoch)


class InProcessExecutor:
    description = EXECUTOR_NAME
    runs_elsewhere = False

    def start(self) -> None:
        """Nothing to start."""

    def submit(self, task: CohortTask) -> _Deferred:
        return _Deferred(task.encode())

    def time_predictions(
        self,
        resource: str,
        model: bytes,
        rows: np.ndarray,
        sla: SlaConfig,
        estimator_prefixes: tuple[str, ...],
    ) -> tuple[np.ndarray, str]:
        """There is no worker to hold ``resource``: timed here, and said so."""
        samples = time_encoded(model, rows, sla, estimator_prefixes)
        return samples, f"this process (no cluster holds resource {resource!r})"

    def close(self) -> None:
        """Nothing runs until asked for, so nothing is outstanding."""
