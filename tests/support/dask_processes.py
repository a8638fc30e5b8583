"""A real Dask deployment on loopback: ``dask scheduler`` and ``dask worker`` processes, as an
operator would start them on separate machines, here bound to 127.0.0.1 and stopped after."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import distributed

STARTUP_S = 60.0
REPO = Path(__file__).resolve().parents[2]


def _dask_command() -> list[str]:
    script = Path(sys.executable).with_name("dask")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dask"]


@dataclass
class DaskProcesses:
    folder: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    address: str = ""

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def start_scheduler(self, allowed_failures: int = 3) -> str:
        """A scheduler that gives up on a task after ``allowed_failures`` + 1 worker deaths
        (3 is Dask's default)."""
        scheduler_file = self.folder / "scheduler.json"
        self._spawn(
            "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--scheduler-file", str(scheduler_file),
            env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(allowed_failures)},
        )  # fmt: skip
        deadline = time.monotonic() + STARTUP_S
        while not scheduler_file.exists():
            if time.monotonic() > deadline:
                raise TimeoutError("dask scheduler did not start")
            time.sleep(0.1)
        time.sleep(0.2)  # written before it is complete on some file systems
        self.address = json.loads(scheduler_file.read_text())["address"]
        return self.address

    def start_worker(self, *extra: str) -> subprocess.Popen[bytes]:
        """One worker process (under a nanny) with one thread, importing this checkout."""
        return self._spawn(
            "worker", self.address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
            "--host", "127.0.0.1", "--death-timeout", "30", *extra,
        )  # fmt: skip

    def client(self) -> distributed.Client:
        return distributed.Client(self.address, timeout=STARTUP_S)

    def cohort_tasks(self, client: distributed.Client) -> list[str]:
        """The keys of the cohort tasks the scheduler holds now."""
        keys = client.run_on_scheduler(lambda dask_scheduler: list(map(str, dask_scheduler.tasks)))
        return [key for key in keys if key.startswith("nethical-cohort-")]

    def wait_for_workers(self, count: int) -> None:
        with self.client() as client:
            client.wait_for_workers(count, timeout=STARTUP_S)

    def worker_pids(self) -> dict[str, int]:
        """Each worker's address and the pid of its own process (not its nanny's)."""
        with self.client() as client:
            return dict(client.run(os.getpid))

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _spawn(self, *arguments: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **(env or {})}
        log = (self.folder / f"{arguments[0]}-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [*_dask_command(), *arguments], stdout=log, stderr=subprocess.STDOUT, env=env,
            cwd=self.folder,
        )  # fmt: skip
        self.processes.append(process)
        return process
