"""What an audit folder holds, by name and by file type, without opening anything.

``verify`` vouches only for files it knows: chunks and heads under their canonical names,
summaries, the latest summary and the lock. Everything else is reported as an unexpected file
rather than silently skipped (an edited chunk kept beside the original as ``chunk_2.json``
must not pass for part of the log, nor sit there unnoticed), and an entry under a log name that
is not a regular file (a pipe, a link, a device) is reported without being opened. Work is
bounded by the entries that exist; no number read from a name is ever iterated up to.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nethical_runner.audit.formats import (
    CHUNKS_DIR,
    HEADS_DIR,
    LATEST_SUMMARY,
    SUMMARIES_DIR,
    chunk_number,
    head_number,
)
from nethical_runner.audit.lock import LOCK_NAME

_TEMP = re.compile(r"\.[^/]+\.json\.[A-Za-z0-9_]+\.tmp", re.ASCII)  # atomic writes in progress
_SUMMARY = re.compile(r"training_summary_.+\.json")


@dataclass
class LogFolder:
    chunks: dict[int, Path] = field(default_factory=dict)
    heads: dict[int, Path] = field(default_factory=dict)
    summaries: list[Path] = field(default_factory=list)
    latest_summary: Path | None = None
    unexpected: list[tuple[str, str]] = field(default_factory=list)  # (where, message)
    leftovers: list[str] = field(default_factory=list)  # temp files of interrupted writes


def scan(directory: Path) -> LogFolder:
    found = LogFolder()
    for entry in _entries(directory):
        name = entry.name
        if name in (CHUNKS_DIR, HEADS_DIR, SUMMARIES_DIR):
            if not entry.is_dir(follow_symlinks=False):
                found.unexpected.append((name, "is not a folder"))
            continue
        if name == LOCK_NAME:
            continue  # the lock checks its own file type when it is taken
        if name == LATEST_SUMMARY:
            found.latest_summary = _regular(found, entry, name)
            continue
        _other(found, entry, name)
    _numbered(found, directory, CHUNKS_DIR, chunk_number, found.chunks, "chunk_NNNNNN.json")
    _numbered(found, directory, HEADS_DIR, head_number, found.heads, "head_NNNNNN.json")
    for entry in _entries(directory / SUMMARIES_DIR):
        where = f"{SUMMARIES_DIR}/{entry.name}"
        if _SUMMARY.fullmatch(entry.name):
            path = _regular(found, entry, where)
            if path is not None:
                found.summaries.append(path)
        else:
            _other(found, entry, where)
    found.summaries.sort()
    return found


def _numbered(
    found: LogFolder,
    directory: Path,
    folder: str,
    number: Callable[[str], int | None],
    into: dict[int, Path],
    pattern: str,
) -> None:
    for entry in _entries(directory / folder):
        where = f"{folder}/{entry.name}"
        found_number = number(entry.name)
        if found_number is None:
            _other(found, entry, where, f" (log files are named {pattern})")
            continue
        path = _regular(found, entry, where)
        if path is not None:
            into[found_number] = path
    ordered = sorted(into.items())
    into.clear()
    into.update(ordered)


def _regular(found: LogFolder, entry: os.DirEntry[str], where: str) -> Path | None:
    if entry.is_file(follow_symlinks=False):
        return Path(entry.path)
    found.unexpected.append((where, "is not a regular file: not opened"))
    return None


def _other(found: LogFolder, entry: os.DirEntry[str], where: str, hint: str = "") -> None:
    if _TEMP.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
        found.leftovers.append(where)
    else:
        found.unexpected.append((where, f"unexpected file: not part of an audit log{hint}"))


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    if not os.path.isdir(folder) or os.path.islink(folder):
        return []
    with os.scandir(folder) as entries:
        return sorted(entries, key=lambda entry: entry.name)
