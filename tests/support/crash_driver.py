"""Run ``nethical-runner`` in this process and SIGKILL it at a chosen step of its file writes.

Test-only instrumentation, kept out of the package: it wraps the ``os`` functions every output
of a run goes through (``fdopen`` for the writes of atomic temp files, ``fsync``, ``replace``,
``unlink``, ``flock``) and the models' ``fit`` (``fit_epochs`` of those that train in epochs),
numbers each call that concerns the output root, and kills the process with SIGKILL at one of
them, exactly as an out-of-memory killer or a cancelled CI job would. Nothing is cleaned up: that
is the point.

Environment:

``CRASH_OUT``   the output root; only steps on paths below it are counted.
``CRASH_AT``    ``<step>:before`` kills before the step, ``<step>:after`` right after it; for a
                write, ``after`` means halfway through the data, flushed to the file.
``CRASH_TRACE`` where to write the list of steps as JSON when the run ends (no kill).

Usage: ``python crash_driver.py run specs/x.yaml --out DIR`` (any command-line arguments).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

OUT = Path(os.environ["CRASH_OUT"]).resolve()
TARGET, _, WHEN = os.environ.get("CRASH_AT", "").partition(":")
KILL_AT = int(TARGET) if TARGET else None
TRACE = os.environ.get("CRASH_TRACE")
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")
TEMP = re.compile(r"(\.[^/]+?\.)[A-Za-z0-9_]{6,}(\.tmp)$")

steps: list[str] = []


def shown(path: Any) -> str | None:
    """``path`` relative to the output root with run ids and temp names made generic, or None
    for a path outside it."""
    try:
        relative = Path(os.fsdecode(path)).resolve().relative_to(OUT).as_posix()
    except (TypeError, ValueError):
        return None
    return TEMP.sub(r"\1*\2", RUN_ID.sub("RUN", relative))


def fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def step(label: str) -> int:
    """Record a step; kill now if it is the one to kill before."""
    index = len(steps)
    steps.append(label)
    if index == KILL_AT and WHEN == "before":
        die()
    return index


def done(index: int) -> None:
    if index == KILL_AT and WHEN == "after":
        die()


def wrap(module: Any, name: str, label_of: Any) -> None:
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        label = label_of(*args)
        if label is None:
            return original(*args, **kwargs)
        index = step(label)
        result = original(*args, **kwargs)
        done(index)
        return result

    setattr(module, name, wrapper)


class KillableWrite:
    """A binary file whose ``write`` is a step; killed "after", it stops halfway through."""

    def __init__(self, handle: Any, label: str) -> None:
        self._handle = handle
        self._label = label

    def write(self, data: bytes) -> int:
        index = step(f"write {self._label}")
        if index == KILL_AT and WHEN == "after":
            self._handle.write(data[: len(data) // 2])
            self._handle.flush()
            os.fsync(self._handle.fileno())
            die()
        return self._handle.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> KillableWrite:
        self._handle.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        return self._handle.__exit__(*exc_info)


def install() -> None:
    import fcntl

    original_fdopen = os.fdopen

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        handle = original_fdopen(fd, *args, **kwargs)
        label = shown(fd_path(fd))
        mode = args[0] if args else kwargs.get("mode", "r")
        return KillableWrite(handle, label) if label and "w" in mode else handle

    os.fdopen = fdopen  # type: ignore[assignment]

    def on_path(verb: str, path: Any, extra: str = "") -> str | None:
        where = shown(path)
        return f"{verb} {where}{extra}" if where else None

    wrap(os, "replace", lambda src, dst, *a: on_path("replace", dst))
    wrap(os, "unlink", lambda path, *a: on_path("unlink", path))
    wrap(os, "fsync", lambda fd: on_path("fsync", fd_path(fd)))
    wrap(fcntl, "flock", lambda fd, op: on_path("flock", fd_path(fd), f" {op}"))

    from nethical_runner.models import REGISTRY, TrainsInEpochs

    for model_class in REGISTRY.values():  # the method the run trains with
        method = "fit_epochs" if issubclass(model_class, TrainsInEpochs) else "fit"
        wrap(model_class, method, lambda self, *a: f"fit {self.type_name}")


def main() -> int:
    install()
    from nethical_runner.cli.main import main as cli

    try:
        return cli(sys.argv[1:])
    finally:
        if TRACE:
            Path(TRACE).write_text(json.dumps(steps, indent=1))


if __name__ == "__main__":
    sys.exit(main())
