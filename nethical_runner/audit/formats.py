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

Files are parsed strictly (unknown fields, wrong types, timestamps without a time zone are all
errors) and every error names the file, because a verifier that shrugs at a malformed file is
one an attacker can feed anything.
"""

from __future__ import annotations

import re
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

_CHUNK_NAME = re.compile(r"^chunk_(\d+)\.json$")
_HEAD_NAME = re.compile(r"^head_(\d+)\.json$")

Hex32 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


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
    chunk_id: int = Field(ge=1)
    run_id: str
    first_index: int = Field(ge=0)
    event_count: int = Field(ge=0)
    merkle_root: Hex32  # RFC 9162 root of this chunk's events alone
    created_at: AwareTimestamp
    finalized_at: AwareTimestamp
    leaf_hashes: list[Hex32]
    events: list[str]  # canonical JSON text of each event: the leaf data, byte for byte


class PreviousHead(_Record):
    tree_size: int = Field(ge=0)
    root: Hex32


class Signature(_Record):
    algorithm: Literal["hmac-sha256"] = SIGNATURE_ALGORITHM
    value: Hex32


class TreeHead(_Record):
    """The signed-off state of the log after one run: its size and root, and the proof that it
    only appended to the previous head."""

    format: Literal["nethical-audit-head/1"] = HEAD_FORMAT
    sequence: int = Field(ge=1)
    run_id: str
    tree_size: int = Field(ge=0)
    root: Hex32
    timestamp: AwareTimestamp
    chunk_count: int = Field(ge=0)  # chunks 1..chunk_count hold exactly tree_size events
    previous: PreviousHead | None
    consistency_proof: list[Hex32]  # RFC 9162 PROOF(previous.tree_size, D[tree_size])
    signature: Signature | None = None

    @property
    def root_bytes(self) -> bytes:
        return bytes.fromhex(self.root)

    @property
    def proof_bytes(self) -> list[bytes]:
        return [bytes.fromhex(h) for h in self.consistency_proof]

    def signed_payload(self) -> bytes:
        """The bytes an HMAC signs: every field but the signature, as canonical JSON."""
        return canonical_json(self.model_dump(mode="json", exclude={"signature"}))

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


def chunk_files(directory: Path) -> dict[int, Path]:
    """Chunk files by the number in their name (temp files of atomic writes are not matched)."""
    return _numbered(directory / CHUNKS_DIR, _CHUNK_NAME)


def head_files(directory: Path) -> dict[int, Path]:
    return _numbered(directory / HEADS_DIR, _HEAD_NAME)


def _numbered(folder: Path, pattern: re.Pattern[str]) -> dict[int, Path]:
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.iterdir():
        match = pattern.match(path.name)
        if match:
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))


_FileRecord = TypeVar("_FileRecord", Chunk, TreeHead)


def read_chunk(path: Path) -> Chunk:
    return _read(path, Chunk)


def read_head(path: Path) -> TreeHead:
    return _read(path, TreeHead)


def _read(path: Path, model: type[_FileRecord]) -> _FileRecord:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise FormatError(path, f"cannot be read: {error.strerror}") from None
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise _format_error(path, error) from None


def _format_error(path: Path, error: ValidationError) -> FormatError:
    details = error.errors(include_url=False)
    if any(d["type"] == "json_invalid" for d in details):
        message = details[0]["ctx"].get("error", details[0]["msg"])
        return FormatError(path, f"is not valid JSON ({message}): truncated?", truncated=True)
    shown = [
        f"{'.'.join(str(p) for p in d['loc']) or '(file)'}: "
        f"{d['msg'].removeprefix('Value error, ')}"
        for d in details[:3]
    ]
    more = f" (and {len(details) - 3} more)" if len(details) > 3 else ""
    return FormatError(path, "; ".join(shown) + more)
