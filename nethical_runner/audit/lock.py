"""One writer at a time: an advisory ``flock`` on ``<audit dir>/.lock``.

Appending reads the latest head, writes chunks and then a new head; two processes (or two
pytest-xdist workers) doing that at once would both build on the same head and one would
silently fork the log. Writers take the lock exclusively, readers (``verify``, ``prove``) take it
shared so they never see a half-appended run. ``flock`` is released by the kernel when the
holder dies, so a killed run never leaves the log locked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not a POSIX system: the package still imports, appending reports why not
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"


def _flock(fd: int, operation: str) -> None:
    if fcntl is None:
        raise OSError("the audit log's lock needs fcntl.flock, which this system does not have")
    fcntl.flock(fd, getattr(fcntl, operation))


@contextmanager
def exclusive_lock(directory: Path) -> Iterator[None]:
    """Hold the log's lock for writing, creating the folder and lock file when needed."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _flock(fd, "LOCK_EX")
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def shared_lock(directory: Path) -> Iterator[None]:
    """Hold the lock for reading, without creating anything: a folder without a lock file (a
    copy, a folder that is not a log, one that does not exist) has no writer to wait for."""
    try:
        fd: int | None = os.open(directory / LOCK_NAME, os.O_RDONLY)
    except OSError:
        fd = None
    if fd is None:
        yield
        return
    try:
        _flock(fd, "LOCK_SH")
        yield
    finally:
        os.close(fd)
