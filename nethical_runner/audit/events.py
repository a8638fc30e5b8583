"""Audit events: the guarantees every event gets, whatever records it.

An event is a flat JSON object: the envelope (``type``, ``index``, ``run_id``, ``spec``,
``cohort``, ``timestamp``) plus the fields of its type. What each type holds is the recorder's
caller's to decide (for training runs, :mod:`nethical_runner.run.audit_observer`); this module
makes every event storable and hashes the files an event names.

Events carry descriptions, counts, metrics, paths and hashes, never configuration values that
could be credentials. As a second line of defence, every string is scrubbed of the values of
environment variables whose names look secret (``KAGGLE_KEY``, ``NETHICAL_AUDIT_KEY``, tokens,
passwords) before it is stored: an exception message that happens to quote a key must not put
that key into an append-only log, where it could never be removed again.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any

import numpy as np

ENVELOPE = ("type", "index", "run_id", "spec", "cohort", "timestamp")
REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8  # shorter values ("true", "1") would scrub innocent text
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)


def now() -> str:
    """UTC, with its offset written out, so timestamps compare across machines."""
    return datetime.now(timezone.utc).isoformat()


class Secrets:
    """Values of secret-looking environment variables, to scrub from every string.

    Held as one compiled pattern (longest first, so a secret containing another is scrubbed
    whole) and never as a plain string in a local: the object sits in frames whose locals a
    traceback under ``pytest -l`` prints, so its ``repr`` is redacted too."""

    __slots__ = ("_count", "_pattern")

    def __init__(self, values: Iterable[str] = ()) -> None:
        ordered = sorted(set(values), key=len, reverse=True)
        self._count = len(ordered)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Secrets:
        env = os.environ if environ is None else environ
        return cls(
            v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= MIN_SECRET_LENGTH
        )

    def scrub(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(REDACTED, text)

    def __repr__(self) -> str:
        return f"Secrets({self._count} [redacted])"

    __str__ = __repr__


def json_safe(value: Any, secrets: Secrets | None = None) -> Any:
    """``value`` as plain JSON data (numpy scalars and arrays, paths and tuples converted),
    with every secret replaced by ``[redacted]``.

    Raises ValueError for NaN or infinite floats and for objects JSON cannot hold: the log must
    be readable by any JSON parser, and a silently stringified object is not evidence.
    """
    secrets = Secrets() if secrets is None else secrets
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, PurePath):
        value = value.as_posix()
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} cannot be stored in an audit event (not valid JSON)")
        return value
    if isinstance(value, str):
        return secrets.scrub(value)
    if isinstance(value, Mapping):
        return {json_safe(str(k), secrets): json_safe(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item, secrets) for item in value]
    raise ValueError(f"{type(value).__name__} cannot be stored in an audit event")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def relative_to(path: Path, root: Path) -> str:
    """``path`` below the output root when it is there, so events read the same on any machine."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
