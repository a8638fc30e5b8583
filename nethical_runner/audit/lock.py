"""One writer at a time: an advisory ``flock`` on ``<audit dir>/.lock``, never waited on forever.

Appending reads the latest head, writes chunks and then a new head; two processes (or two
pytest-xdist workers) doing that at once would both build on the same head and one would
silently fork the log. Writers take the lock exclusively, readers (``verify``, ``prove``) take it
shared so they never see a half-appended run. ``flock`` is released by the kernel when the
holder dies, so a killed run never leaves the log locked; a holder that hangs instead is waited
for at most :data:`LOCK_TIMEOUT_S`, and then the caller gets a :class:`LockError` saying so. The
lock file is opened without following a link or blocking, and must be a regular file: a pipe
planted as ``.lock`` would otherwise hang whoever opens it.
"""

from __future__ import annotations

import os
import signal
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not a POSIX system: the package still imports, appending reports why not
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"
LOCK_TIMEOUT_S = 120.0  # far longer than any append holds it (milliseconds to seconds)
_POLL_S = 0.002  # short: a polling waiter must find the gaps between another's appends
_OPEN_FLAGS = os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class LockError(Exception):
    """The log's lock cannot be taken: held too long by another process (``held``), or its file
    is not a lock file."""

    def __init__(self, path: Path, reason: str, *, held: bool = False) -> None:
        super().__init__(f"{path}: {reason}")
        self.reason = reason
        self.held = held


def _acquire(fd: int, path: Path, *, exclusive: bool) -> None:
    if fcntl is None:
        raise LockError(path, "the audit log's lock needs fcntl.flock, which this system lacks")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        raise LockError(path, "is not a regular file, so it cannot be the log's lock")
    operation = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    timeout = LOCK_TIMEOUT_S
    if not _blocking_flock(fd, operation, timeout):
        raise LockError(
            path,
            f"the audit log is locked by another process (waited {timeout:g} s); "
            "a run that hangs while appending holds it",
            held=True,
        )


class _Expired(Exception):
    pass


def _expire(signum: int, frame: object) -> None:
    raise _Expired


def _blocking_flock(fd: int, operation: int, timeout: float) -> bool:
    """A blocking ``flock`` cut short by an alarm after ``timeout``: the kernel hands the lock
    to a waiter as soon as it is released, so writers take turns. Only on the main thread and
    when nothing else uses ``SIGALRM``; elsewhere it polls. False when not taken in time."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, None)
        or signal.getitimer(signal.ITIMER_REAL) != (0.0, 0.0)
    ):
        return _polled_flock(fd, operation, timeout)
    previous = signal.signal(signal.SIGALRM, _expire)
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout)
            fcntl.flock(fd, operation)
            return True
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Expired:
        return False  # a lock taken just as the alarm fired is released when fd is closed
    finally:
        signal.signal(signal.SIGALRM, previous)


def _polled_flock(fd: int, operation: int, timeout: float) -> bool:
    """Non-blocking attempts until ``timeout``: works on any thread, but a waiter only wins
    the lock in a gap between another writer's appends."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_S)


def _open(path: Path, flags: int) -> int:
    try:
        return os.open(path, flags | _OPEN_FLAGS, 0o644)
    except OSError as error:
        if path.is_symlink():
            raise LockError(path, "is not a regular file (a symbolic link)") from None
        raise LockError(path, f"cannot be opened: {error.strerror}") from None


@contextmanager
def exclusive_lock(directory: Path) -> Iterator[None]:
    """Hold the log's lock for writing, creating the folder and lock file when needed."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_NAME
    fd = _open(path, os.O_RDWR | os.O_CREAT)
    try:
        _acquire(fd, path, exclusive=True)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def shared_lock(directory: Path) -> Iterator[None]:
    """Hold the lock for reading, without creating anything: a folder without a lock file (a
    copy, a folder that is not a log, one that does not exist) has no writer to wait for."""
    path = directory / LOCK_NAME
    if not os.path.lexists(path):
        yield
        return
    fd = _open(path, os.O_RDONLY)
    try:
        _acquire(fd, path, exclusive=False)
        yield
    finally:
        os.close(fd)
