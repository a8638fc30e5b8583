"""Where cohorts train: in this process, or on a Dask cluster, behind one small interface.

An executor takes encoded :class:`~nethical_runner.run.task.CohortTask` bytes and gives back
encoded answers; it never writes an output and never judges one, so the pipeline is the same
whichever runs it, and so are the metrics. (The shape is Dask's own: a client that hides where
work runs, with ``LocalCluster`` and a real scheduler behind the same calls.)
"""

from __future__ import annotations

from nethical_runner.run.executors.base import DEFAULT_RETRIES, Executor, ExecutorError, Pending
from nethical_runner.run.executors.in_process import InProcessExecutor

IN_PROCESS: Executor = InProcessExecutor()


def executor_for(address: str | None, retries: int = DEFAULT_RETRIES) -> Executor:
    """The executor an ``--nethical-dask`` / ``--dask`` value names (in-process without one).
    Raises ValueError for an address that cannot be one, or when Dask is not installed."""
    if address is None:
        return IN_PROCESS
    try:
        from nethical_runner.run.executors.dask import DaskExecutor  # only with the dask extra
    except ImportError as error:
        raise ValueError(
            f"training on Dask needs {error.name or 'dask[distributed]'}, which is not "
            "installed: pip install 'nethical-runner[dask]'"
        ) from None
    return DaskExecutor(address, retries=retries)


__all__ = ["DEFAULT_RETRIES", "IN_PROCESS", "Executor", "ExecutorError", "Pending", "executor_for"]
