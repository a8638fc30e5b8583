"""Appending one run's events to the audit log.

A run's events become new chunk files and then one new tree head, all under the log's lock:

1. read the latest head and the committed chunks, and refuse to go on if they disagree or the
   head's signature fails (a writer must not sign off on a log that was tampered with);
2. delete chunk files beyond the latest head: they are what a run killed between steps 3 and 4
   left behind, and were never part of the log;
3. write the new chunk files (atomically, then fsync the folder);
4. write the new head, which commits them, with the RFC 9162 consistency proof from the
   previous head and the SHA-256 of each new chunk (and an HMAC when ``NETHICAL_AUDIT_KEY`` is
   set).

The lock is waited for at most :data:`~nethical_runner.audit.lock.LOCK_TIMEOUT_S`, and files
are read only when they are regular files of bounded size, so a planted pipe or a hung writer
makes an append fail with a message instead of hanging it.

The head is the commit point. A run that dies before it leaves only chunks no head covers:
``verify`` reports them as uncommitted and ignores them, and the next append removes them. So a
run's events are either all in the log or not in it at all, and the log verifies at every
point in between. Chunks are never rewritten once a head covers them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nethical_runner._files import atomic_write_json
from nethical_runner.audit.events import now
from nethical_runner.audit.formats import (
    CHUNKS_DIR,
    HEADS_DIR,
    SUMMARIES_DIR,
    Chunk,
    FormatError,
    PreviousHead,
    TreeHead,
    chunk_files,
    chunk_name,
    head_files,
    head_name,
    read_chunk,
    read_head,
)
from nethical_runner.audit.lock import LockError, exclusive_lock
from nethical_runner.audit.merkle import (
    canonical_json,
    consistency_proof,
    leaf_hash,
    merkle_root,
    verify_consistency,
)
from nethical_runner.audit.signing import AuditKey, sign, signature_valid

CommitHook = Callable[[TreeHead, int], None]


class AuditLogError(Exception):
    """The log cannot be appended to; the message names the file and what is wrong.

    ``committed`` is the new head and first index when the run's events did get committed and
    only what follows the commit (the training summaries) failed.
    """

    def __init__(self, message: str, *, committed: tuple[TreeHead, int] | None = None) -> None:
        super().__init__(message)
        self.committed = committed


def append_events(
    directory: Path,
    events: Sequence[Mapping[str, Any]],
    *,
    run_id: str,
    created_at: str,
    chunk_size: int,
    key: AuditKey | None,
    on_commit: CommitHook | None = None,
) -> tuple[TreeHead, int]:
    """Append ``events`` (without their ``index``, which is assigned here) as one run.

    Returns the new head and the log index of the first event. ``on_commit`` runs after the
    head is written and before the lock is released, so files that must follow the log's
    order (the latest training summary) are written in that order too.
    """
    if not events:
        raise ValueError("a run appends at least one event")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    try:
        with exclusive_lock(directory):
            return _append(directory, events, run_id, created_at, chunk_size, key, on_commit)
    except LockError as error:
        raise AuditLogError(f"cannot append: {error}") from None


def _append(
    directory: Path,
    events: Sequence[Mapping[str, Any]],
    run_id: str,
    created_at: str,
    chunk_size: int,
    key: AuditKey | None,
    on_commit: CommitHook | None,
) -> tuple[TreeHead, int]:
    latest, leaves = _committed(directory, key)
    _discard_uncommitted(directory, latest.chunk_count if latest else 0)
    first = len(leaves)
    encoded = [canonical_json({**event, "index": first + i}) for i, event in enumerate(events)]
    chunk_count, digests = _write_chunks(
        directory,
        encoded,
        first_index=first,
        first_chunk=(latest.chunk_count if latest else 0) + 1,
        run_id=run_id,
        created_at=created_at,
        chunk_size=chunk_size,
    )
    head = _next_head(
        latest, leaves, encoded, run_id=run_id, chunk_count=chunk_count, digests=digests
    )
    if key is not None:
        head = sign(head, key)
    atomic_write_json(directory / HEADS_DIR / head_name(head.sequence), _dump(head))
    _fsync_folder(directory / HEADS_DIR)
    if on_commit is not None:
        try:
            on_commit(head, first)
        except OSError as error:
            raise AuditLogError(
                f"the run's events are committed (head {head.sequence}), but writing "
                f"what follows them failed: {error}",
                committed=(head, first),
            ) from error
    return head, first


def _committed(directory: Path, key: AuditKey | None) -> tuple[TreeHead | None, list[bytes]]:
    """The latest head and the events it commits to, checked against each other (and its
    signature against ``key``)."""
    heads = head_files(directory)
    if not heads:
        return None, []  # a new log (chunks without any head are an interrupted first run)
    sequence = max(heads)
    try:
        latest = read_head(heads[sequence])
    except FormatError as error:
        raise _refusal(directory, f"{HEADS_DIR}/{error}") from None
    where = f"{HEADS_DIR}/{head_name(sequence)}"
    if latest.sequence != sequence:
        raise _refusal(directory, f"{where} holds head {latest.sequence}")
    if key is not None and not signature_valid(latest, key):
        raise _refusal(directory, f"{where} has a bad or no signature")
    files = chunk_files(directory)
    leaves: list[bytes] = []
    for chunk_id in range(1, latest.chunk_count + 1):
        path = files.get(chunk_id)
        if path is None:
            raise _refusal(directory, f"{CHUNKS_DIR}/{chunk_name(chunk_id)} is missing")
        try:
            chunk = read_chunk(path)
        except FormatError as error:
            raise _refusal(directory, f"{CHUNKS_DIR}/{error}") from None
        leaves.extend(text.encode("utf-8") for text in chunk.events)
    if len(leaves) != latest.tree_size or merkle_root(leaves) != latest.root_bytes:
        raise _refusal(directory, f"the committed chunks do not match {where}")
    return latest, leaves


def _refusal(directory: Path, problem: str) -> AuditLogError:
    return AuditLogError(
        f"refusing to append: {problem}; run `nethical-runner audit verify {directory}`"
    )


def _discard_uncommitted(directory: Path, committed_chunks: int) -> None:
    """Remove what an interrupted writer left: chunks no head covers, and temp files (of
    chunks, heads and summaries; no other writer is mid-write while the lock is held)."""
    summaries = directory / SUMMARIES_DIR
    for chunk_id, path in chunk_files(directory).items():
        if chunk_id > committed_chunks:
            path.unlink()
    for folder in (directory, directory / CHUNKS_DIR, directory / HEADS_DIR, summaries):
        if folder.is_dir():
            for stale in folder.glob(".*.tmp"):
                if stale.is_symlink() or not stale.is_dir():
                    stale.unlink(missing_ok=True)


def _write_chunks(
    directory: Path,
    encoded: Sequence[bytes],
    *,
    first_index: int,
    first_chunk: int,
    run_id: str,
    created_at: str,
    chunk_size: int,
) -> tuple[int, list[str]]:
    """Write ``encoded`` as chunks of at most ``chunk_size``; returns the last chunk id and
    each new chunk's digest."""
    finalized_at = now()
    chunk_id = first_chunk - 1
    digests = []
    for start in range(0, len(encoded), chunk_size):
        part = encoded[start : start + chunk_size]
        chunk_id += 1
        chunk = Chunk(
            chunk_id=chunk_id,
            run_id=run_id,
            first_index=first_index + start,
            event_count=len(part),
            merkle_root=merkle_root(part).hex(),
            created_at=created_at,
            finalized_at=finalized_at,
            leaf_hashes=[leaf_hash(leaf).hex() for leaf in part],
            events=[leaf.decode("utf-8") for leaf in part],
        )
        atomic_write_json(directory / CHUNKS_DIR / chunk_name(chunk_id), _dump(chunk))
        digests.append(chunk.digest())
    _fsync_folder(directory / CHUNKS_DIR)  # the chunks are durable before a head names them
    return chunk_id, digests


def _next_head(
    latest: TreeHead | None,
    leaves: list[bytes],
    encoded: Sequence[bytes],
    *,
    run_id: str,
    chunk_count: int,
    digests: list[str],
) -> TreeHead:
    grown = [*leaves, *encoded]
    root = merkle_root(grown)
    previous = None
    proof: list[bytes] = []
    if latest is not None:
        proof = consistency_proof(grown, latest.tree_size)
        if not verify_consistency(latest.tree_size, len(grown), latest.root_bytes, root, proof):
            raise AuditLogError("the new tree head is not consistent with the previous one")
        previous = PreviousHead(tree_size=latest.tree_size, root=latest.root)
    return TreeHead(
        sequence=(latest.sequence if latest else 0) + 1,
        run_id=run_id,
        tree_size=len(grown),
        root=root.hex(),
        timestamp=now(),
        chunk_count=chunk_count,
        chunk_sha256=digests,
        previous=previous,
        consistency_proof=[p.hex() for p in proof],
    )


def _dump(record: Chunk | TreeHead) -> dict[str, Any]:
    return record.model_dump(mode="json")


def _fsync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable, so a crash cannot keep a head but lose the
    chunks it names."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
