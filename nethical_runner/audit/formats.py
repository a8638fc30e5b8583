"""The files of an audit log: chunks of events, tree heads, and how they are named and read.

```
<audit dir>/chunks/chunk_000001.json    events of one run (or part of one), never rewritten
<audit dir>/heads/head_000001.json      the tree head signed off after that run
```

A chunk keeps the old script's fields (``chunk_id``, ``merkle_root``, ``created_at``,
``finalized_at``, ``event_count``, ``events``). Each event is stored as the exact canonical JSON
text that was hashed into the tree, so verification rehashes those bytes rather than a
re-serialisation that could differ. ``leaf_hashes`` repeats each event's leaf hash so that a
changed event can be named precisely instead of only "the root differs".

Files are parsed strictly (unknown fields, wrong types, timestamps without a time zone, numbers
beyond 2**53 are all errors) and every error names the file, because a verifier that shrugs at a
malformed file is one an attacker can feed anything. Only canonical names count
(``chunk_000001.json``: ASCII digits, six wide or as wide as the number needs), so that
``chunk_1.json`` or a name with non-ASCII digits cannot pose as chunk 1 beside it. Files are read
without following links and only when they are regular files of bounded size: a pipe or a
device under a log name would otherwise block ``verify``, and the next writer holding the lock.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Final, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from nethical_runner.audit.merkle import canonical_json

CHUNKS_DIR = "chunks"
HEADS_DIR = "heads"
SUMMARIES_DIR = "summaries"
LATEST_SUMMARY = "training_summary.json"
CHUNK_FORMAT: Final = "nethical-audit-chunk/1"
HEAD_FORMAT: Final = "nethical-audit-head/1"
SIGNATURE_ALGORITHM: Final = "hmac-sha256"

_CHUNK_NAME = re.compile(r"chunk_([0-9]{6,16})\.json", re.ASCII)
_HEAD_NAME = re.compile(r"head_([0-9]{6,16})\.json", re.ASCII)
MAX_NUMBER: Final = 2**53 - 1  # every count and index; JSON parsers beyond Python agree below it
MAX_CHUNK_BYTES: Final = 256 << 20  # a chunk of 1000 events is a few MB
MAX_HEAD_BYTES: Final = 1 << 20  # a head holds a proof of log2(size) hashes
MAX_SUMMARY_BYTES: Final = 1 << 20

Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=0, le=MAX_NUMBER)]
Ordinal = Annotated[int, Field(ge=1, le=MAX_NUMBER)]


def _aware(value: str) -> str:
    """An ISO 8601 timestamp with a time zone: a log read in another zone must mean the same."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return value


AwareTimestamp = Annotated[str, AfterValidator(_aware)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Chunk(_Record):
    """One chunk file: consecutive events of the log, starting at ``first_index``."""

    format: Literal["nethical-audit-chunk/1"] = CHUNK_FORMAT
    chunk_id: Ordinal
    run_id: str
    first_index: Count
    event_count: Count
    merkle_root: Hex32  # RFC 9162 root of this chunk's events alone
    created_at: AwareTimestamp
    finalized_at: AwareTimestamp
    leaf_hashes: list[Hex32]
    events: list[str]  # canonical JSON text of each event: the leaf data, byte for byte

    def digest(self) -> str:
        """SHA-256 of the whole chunk as canonical JSON, metadata included: the head that adds
        a chunk commits to it, so ``run_id`` or ``created_at`` cannot be edited either."""
        return hashlib.sha256(canonical_json(self.model_dump(mode="json"))).hexdigest()


class PreviousHead(_Record):
    """A tree size and root: a head's predecessor, or a head kept elsewhere and trusted."""

    tree_size: Count
    root: Hex32

    @property
    def root_bytes(self) -> bytes:
        return bytes.fromhex(self.root)

    def describe(self) -> str:
        return f"size {self.tree_size}, root {self.root[:16]}..."


class Signature(_Record):
    algorithm: Literal["hmac-sha256"] = SIGNATURE_ALGORITHM
    value: Hex32


class TreeHead(_Record):
    """The signed-off state of the log after one run: its size and root, and the proof that it
    only appended to the previous head."""

    format: Literal["nethical-audit-head/1"] = HEAD_FORMAT
    sequence: Ordinal
    run_id: str
    tree_size: Count
    root: Hex32
    timestamp: AwareTimestamp
    chunk_count: Count  # chunks 1..chunk_count hold exactly tree_size events
    # Chunk.digest() of each chunk this head added, in order; None in heads written before
    # chunk digests were committed (their chunks' metadata is not covered, and verify says so)
    chunk_sha256: list[Hex32] | None = None
    previous: PreviousHead | None
    consistency_proof: list[Hex32] = Field(max_length=128)  # RFC 9162 PROOF(previous, D[n])
    signature: Signature | None = None

    @property
    def root_bytes(self) -> bytes:
        return bytes.fromhex(self.root)

    @property
    def proof_bytes(self) -> list[bytes]:
        return [bytes.fromhex(h) for h in self.consistency_proof]

    def signed_payload(self) -> bytes:
        """The bytes an HMAC signs: every field but the signature, as canonical JSON."""
        legacy = {"chunk_sha256"} if self.chunk_sha256 is None else set()
        return canonical_json(self.model_dump(mode="json", exclude={"signature", *legacy}))

    def describe(self) -> str:
        return f"size {self.tree_size}, root {self.root[:16]}..."


class FormatError(Exception):
    """A file of the log cannot be read as what it should be."""

    def __init__(self, path: Path, message: str, *, truncated: bool = False) -> None:
        super().__init__(f"{path.name}: {message}")
        self.path = path
        self.message = message
        self.truncated = truncated  # not even JSON: most likely cut off mid-write or by hand


def chunk_name(chunk_id: int) -> str:
    return f"chunk_{chunk_id:06d}.json"


def head_name(sequence: int) -> str:
    return f"head_{sequence:06d}.json"


def chunk_number(name: str) -> int | None:
    """The id of a canonically named chunk file, else None (``chunk_1.json`` is not chunk 1)."""
    return _canonical(name, _CHUNK_NAME, chunk_name)


def head_number(name: str) -> int | None:
    return _canonical(name, _HEAD_NAME, head_name)


def _canonical(name: str, pattern: re.Pattern[str], render: Callable[[int], str]) -> int | None:
    match = pattern.fullmatch(name)
    if match is None:
        return None
    number = int(match.group(1))
    return number if number >= 1 and render(number) == name else None


def chunk_files(directory: Path) -> dict[int, Path]:
    """Canonically named chunk files by id (temp files of atomic writes are not matched)."""
    return _numbered(directory / CHUNKS_DIR, chunk_number)


def head_files(directory: Path) -> dict[int, Path]:
    return _numbered(directory / HEADS_DIR, head_number)


def _numbered(folder: Path, number: Callable[[str], int | None]) -> dict[int, Path]:
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.iterdir():
        found_number = number(path.name)
        if found_number is not None:
            found[found_number] = path
    return dict(sorted(found.items()))


_FileRecord = TypeVar("_FileRecord", Chunk, TreeHead)


def read_chunk(path: Path) -> Chunk:
    return _read(path, Chunk, MAX_CHUNK_BYTES)


def read_head(path: Path) -> TreeHead:
    return _read(path, TreeHead, MAX_HEAD_BYTES)


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    Opened without following a link and without blocking, then checked on the open descriptor
    (so a file swapped in between cannot slip through): a pipe is refused, never read.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if path.is_symlink():
            raise FormatError(path, "is not a regular file (a symbolic link)") from None
        raise FormatError(path, f"cannot be read: {error.strerror}") from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise FormatError(path, "is not a regular file")
        if status.st_size > limit:
            raise FormatError(path, f"is {status.st_size} bytes, more than the {limit} allowed")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise FormatError(path, f"cannot be read: {error.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FormatError(path, f"is more than the {limit} bytes allowed")
    return data


def _read(path: Path, model: type[_FileRecord], limit: int) -> _FileRecord:
    raw = read_bounded(path, limit)
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise _format_error(path, error) from None


def _format_error(path: Path, error: ValidationError) -> FormatError:
    details = error.errors(include_url=False)
    if any(d["type"] == "json_invalid" for d in details):
        message = (details[0].get("ctx") or {}).get("error", details[0]["msg"])
        return FormatError(path, f"is not valid JSON ({message}): truncated?", truncated=True)
    shown = [
        f"{'.'.join(str(p) for p in d['loc']) or '(file)'}: "
        f"{d['msg'].removeprefix('Value error, ')}"
        for d in details[:3]
    ]
    more = f" (and {len(details) - 3} more)" if len(details) > 3 else ""
    return FormatError(path, "; ".join(shown) + more)
