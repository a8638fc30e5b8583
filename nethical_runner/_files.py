"""Atomic file writes.

Every output of a run goes through here so that a crash or a kill leaves either the old file or
the new one in place, never a half-written one, and two writers never interleave inside a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _process_umask() -> int:
    """The umask, read once (setting it to read it is not safe while other threads create
    files, and nothing here changes it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# What ``open(path, "w")`` would give: a temp file is private (0600), and an output renamed
# from it would stay unreadable to the CI user or the team that reads it.
_FILE_MODE = 0o666 & ~_process_umask()


def _temp_beside(path: Path, data: bytes) -> str:
    """A temp file in ``path``'s folder holding ``data`` on disk, with the mode ``path``
    would get; its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), _FILE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return tmp_name


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and an atomic rename."""
    tmp_name = _temp_beside(path, data)
    try:
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, payload: Any) -> None:
    """JSON with sorted keys so that the same content always gives the same bytes."""
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n")


def atomic_create_text(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` only if nothing is there, atomically: the content is put in
    a temp file and hard-linked into place, which fails rather than replaces when another
    file (the user's own, or another writer's) got there first. Whether it was written."""
    tmp_name = _temp_beside(path, text.encode("utf-8"))
    try:
        os.link(tmp_name, path)
    except FileExistsError:
        return False
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return True
