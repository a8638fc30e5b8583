"""What every executor offers (see the package's docstring)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from nethical_runner.models import EpochCallback
from nethical_runner.run.task import CohortTask
from nethical_runner.spec.config import SlaConfig

DEFAULT_RETRIES = 2


class ExecutorError(RuntimeError):
    """A cohort could not be run where it was sent: every check of it fails with this."""


class Pending(Protocol):
    def ready(self) -> bool:
        """Whether :meth:`answer` would return (or raise) without waiting for a worker."""
        ...

    def answer(self, on_epoch: EpochCallback | None = None) -> bytes:
        """The encoded answer, once there is one; raises :class:`ExecutorError` when none
        will come (the cluster is gone, the task killed every worker it ran on). An executor
        that trains here, while this waits, tells ``on_epoch`` of each epoch; one that trains
        elsewhere cannot, and does not."""
        ...


class Executor(Protocol):
    @property
    def description(self) -> str:
        """``in-process`` or ``dask local:2 (2 workers)``, for the run's header."""
        ...

    @property
    def runs_elsewhere(self) -> bool:
        """Whether work submitted early runs while this process does other things, so a
        front end should submit every spec it will need at once."""
        ...

    def start(self) -> None:
        """Get ready to take tasks, in the background (start or reach a cluster)."""
        ...

    def submit(self, task: CohortTask) -> Pending: ...

    def time_predictions(
        self,
        resource: str,
        model: bytes,
        rows: np.ndarray,
        sla: SlaConfig,
        estimator_prefixes: tuple[str, ...],
    ) -> tuple[np.ndarray, str]:
        """Latency samples of ``model`` on ``rows`` timed where ``resource`` is held, and a
        description of that place."""
        ...

    def close(self) -> None:
        """Cancel whatever is still outstanding and let go of the cluster."""
        ...
