"""One writer at a time: an advisory ``flock`` on ``<audit dir>/.lock``.

Appending reads the latest head, writes chunks and then a new head; two processes (or two
pytest-xdist workers) doing that at once would both build on the same head and one would
silently fork the log. Writers take the lock exclusively, readers (``verify``, ``prove``) take it
shared so they never see a half-appended run. ``flock`` is released by the kernel when the
holder dies, so a killed run never leaves the log locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".lock"


@contextmanager
def exclusive_lock(directory: Path) -> Iterator[None]:
    """Hold the log's lock for writing, creating the folder and lock file when needed."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def shared_lock(directory: Path) -> Iterator[None]:
    """Hold the lock for reading. A log that cannot be locked (a read-only copy, a folder that
    does not exist) is read unlocked: nobody can be appending to it through this lock anyway."""
    try:
        fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)
