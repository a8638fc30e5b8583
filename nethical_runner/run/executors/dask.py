"""Cohorts trained on a Dask cluster: ``local[:N]`` (a ``LocalCluster`` this run starts and
stops) or the address of a running scheduler.

One task per cohort, keyed by its result-cache key, so cohorts that would train identically
(the same configuration on the same data, in whichever spec) train once. A task's argument and
its answer are bytes in the project's own formats (:mod:`nethical_runner.run.task`); what Dask
pickles is its own envelope around them and the reference to the function a worker runs.

A worker that dies mid-task is tried again, on a fresh key, up to ``retries`` times; the
``LocalCluster`` is started with ``allowed-failures`` 0 so that each death is one retry here.
A task that still fails, a scheduler that cannot be reached or has no workers, or one lost
mid-run: each affected cohort fails with the reason (:class:`ExecutorError`), never passes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import uuid
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from typing import Any

import dask
import distributed
import numpy as np

from nethical_runner.models import EpochCallback
from nethical_runner.run.executors.base import ExecutorError
from nethical_runner.run.task import CohortTask
from nethical_runner.run.timing import decode_samples, encode_timing, run_timing_encoded
from nethical_runner.run.training import run_encoded
from nethical_runner.spec.config import SlaConfig

EXECUTOR_NAME = "dask"
WORKER_MODULE = "nethical_runner.run.training"
CONNECT_TIMEOUT_S = 30.0  # to reach the scheduler, and for it to have a worker
MAX_LOCAL_WORKERS = 256
WORKER_CONFIG = {
    "distributed.nanny.pre-spawn-environ": {
        "OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1,
    },
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}  # fmt: skip
_LOCAL = re.compile(r"^local(?::(\d+))?$")
_ADDRESS = re.compile(r"^(?:(tcp|tls|ws|wss|inproc|ucx)://)?[A-Za-z0-9_.\[\]:-]+$")


def local_workers(address: str) -> int | None:
    """N of ``local:N`` (all cores for ``local``), or None for a scheduler address. Raises
    ValueError for something that is neither."""
    found = _LOCAL.match(address)
    if found is None:
        if not _ADDRESS.match(address) or address.startswith("local"):
            raise ValueError(
                f"{address!r} is neither local[:N] nor a scheduler address like tcp://host:8786"
            )
        return None
    workers = int(found.group(1)) if found.group(1) else (os.cpu_count() or 1)
    if not 1 <= workers <= MAX_LOCAL_WORKERS:
        raise ValueError(f"local:{workers}: between 1 and {MAX_LOCAL_WORKERS} workers")
    return workers


def _train_on_worker(task: bytes) -> bytes:
    """What a worker runs: the same function as in-process, told where it runs."""
    worker = distributed.get_worker()
    return run_encoded(task, EXECUTOR_NAME, worker.address)


@dataclass
class DaskExecutor:
    address: str
    retries: int
    _workers: int | None = field(init=False)
    _client: Any = field(default=None, init=False)
    _cluster: Any = field(default=None, init=False)
    _unavailable: str | None = field(default=None, init=False)
    _outstanding: list[Any] = field(default_factory=list, init=False)
    _connecting: threading.Lock = field(default_factory=threading.Lock, init=False)
    _starting: threading.Thread | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if not 0 <= self.retries <= 100:
            raise ValueError(f"retries {self.retries}: between 0 and 100")
        self._workers = local_workers(self.address)

    @property
    def description(self) -> str:
        if self._workers is not None:
            return f"dask local:{self._workers} (a LocalCluster of {self._workers} processes)"
        return f"dask scheduler {self.address}"

    runs_elsewhere = True

    def start(self) -> None:
        """Start the local cluster in the background while the front end loads and collects
        specs (a scheduler's address is reached at the first submission, which is quick or
        fails); whatever goes wrong is told at the first submission."""
        if self._workers is not None and self._starting is None:
            self._starting = threading.Thread(target=self._start_quietly, daemon=True)
            self._starting.start()

    def _start_quietly(self) -> None:
        with contextlib.suppress(ExecutorError):
            self._connect()

    def submit(self, task: CohortTask) -> _DaskPending:
        client = self._connect()
        pending = _DaskPending(self, f"nethical-cohort-{task.key}", task.encode())
        pending.start(client)
        return pending

    def time_predictions(
        self,
        resource: str,
        model: bytes,
        rows: np.ndarray,
        sla: SlaConfig,
        estimator_prefixes: tuple[str, ...],
    ) -> tuple[np.ndarray, str]:
        client = self._connect()
        holders = [
            address
            for address, worker in client.scheduler_info(n_workers=-1)["workers"].items()
            if worker.get("resources", {}).get(resource, 0) >= 1
        ]
        if not holders:
            raise ExecutorError(
                f"sla.resource: no worker of {self.description} holds resource {resource!r} "
                f"(start one with: dask worker ADDRESS --resources {resource}=1)"
            )
        future = client.submit(
            run_timing_encoded,
            encode_timing(model, rows, sla, estimator_prefixes),
            key=f"nethical-sla-{uuid.uuid4().hex}",
            resources={resource: 1},
            pure=False,
        )
        self._outstanding.append(future)
        try:
            answer = future.result()
            where = client.who_has(future).get(future.key, ())
        except (CancelledError, OSError, distributed.KilledWorker) as error:
            raise ExecutorError(f"timing on a {resource!r} worker failed: {error}") from None
        finally:
            self._outstanding.remove(future)
        place = ", ".join(where) if where else "a worker"
        return decode_samples(answer), f"dask worker {place} (resource {resource})"

    def close(self) -> None:
        """Cancel outstanding tasks (Ctrl-C lands here too), then close the client and, for
        ``local``, the cluster this run started."""
        if self._starting is not None:
            self._starting.join()
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        try:
            if client is not None:
                if self._outstanding:
                    client.cancel(self._outstanding, force=True)
                client.close()
        finally:
            self._outstanding.clear()
            if cluster is not None:
                cluster.close()

    def _connect(self) -> Any:
        with self._connecting:
            return self._connected()

    def _connected(self) -> Any:
        if self._client is not None:
            return self._client
        if self._unavailable is not None:
            raise ExecutorError(self._unavailable)
        try:
            if self._workers is not None:
                self._client = distributed.Client(self._local_cluster(self._workers))
            else:
                self._client = distributed.Client(self.address, timeout=CONNECT_TIMEOUT_S)
                self._client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as error:
            self._unavailable = f"{self.description} cannot be reached: {error}"
            if self._client is not None:
                self._client.close()
                self._client = None
            raise ExecutorError(self._unavailable) from None
        return self._client

    def _local_cluster(self, workers: int) -> Any:
        """Loopback only, one thread per worker process (each model trains on one core), no
        dashboard; failures counted here rather than by the scheduler.

        Two of Dask's defaults cost training dearly, so they are off (:data:`WORKER_CONFIG`;
        docs/scaling.md says how to set the same on workers of a cluster): the nanny starts workers
        with ``MALLOC_TRIM_THRESHOLD_=65536``, which hands freed memory back to the system at
        once, so training that allocates many mid-sized temporaries (every step of
        simple_transformer) faults its pages in again and again and ran 2.5 times slower; and
        each worker samples the stacks of its running tasks every 10 ms for the dashboard's
        profile, which made logistic and simple_transformer train 40% slower. Its event loop
        also wakes every 20 ms to check it is not blocked and every 0.5 s to sample the system
        for the dashboard; each wake takes the GIL from the training thread, and waking every
        second and every 5 s instead trained 8 specs in 13% less time. (The memory monitor that
        enforces the memory limit keeps its pace.)
        """
        settings = {"distributed.scheduler.allowed-failures": 0, **WORKER_CONFIG}
        with dask.config.set(settings):
            self._cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                # The scheduler's health endpoint still listens; on a free loopback port, not
                # on 8787, which a second cluster on the machine (or a user's) already holds.
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.ERROR,
                preload=[WORKER_MODULE],  # imported while the cluster starts, not per task
            )
        return self._cluster


@dataclass
class _DaskPending:
    executor: DaskExecutor
    key: str
    task: bytes
    attempts: int = 0
    _future: Any = None

    def start(self, client: Any) -> None:
        key = self.key if self.attempts == 0 else f"{self.key}-retry-{self.attempts}"
        self._future = client.submit(_train_on_worker, self.task, key=key, pure=False)
        self.executor._outstanding.append(self._future)

    def ready(self) -> bool:
        return bool(self._future.done())

    def answer(self, on_epoch: EpochCallback | None = None) -> bytes:
        """The worker's answer; ``on_epoch`` is never called, as epochs pass on the worker."""
        try:
            while True:
                try:
                    return bytes(self._future.result())
                except distributed.KilledWorker as error:
                    if self.attempts >= self.executor.retries:
                        raise ExecutorError(
                            f"every worker that trained it died (killed, or over its memory "
                            f"limit), in {self.attempts + 1} attempt(s) with "
                            f"{self.executor.retries} retries allowed: {error}"
                        ) from None
                    self._forget()
                    self.attempts += 1
                    self.start(self.executor._connect())
        except CancelledError:
            raise ExecutorError("cancelled before it trained") from None
        except OSError as error:
            raise ExecutorError(f"lost {self.executor.description}: {error}") from None
        finally:
            self._forget()

    def _forget(self) -> None:
        if self._future in self.executor._outstanding:
            self.executor._outstanding.remove(self._future)
