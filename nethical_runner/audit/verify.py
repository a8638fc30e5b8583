"""``audit verify``: is the log intact, and if not, what exactly was done to it?

Checked, in layers that each catch what the one before cannot:

- each chunk (``chunk_check``): its events carry consecutive log indexes (a gap is a removed
  event, a stray or repeated index an inserted one, a permutation a reordering, a short tail a
  truncation), each event's bytes hash to its recorded leaf hash (else: a modified event, named
  by chunk and index), and its events hash to its ``merkle_root``;
- the chunk files: numbered 1..n without gaps up to what the latest head commits to (a gap is
  a deleted chunk), and chunks after that are an interrupted run's leftovers, reported and
  ignored;
- the tree heads: numbered without gaps, each naming its predecessor and proving with an RFC
  9162 consistency proof that it only appended to it (else: history was rewritten), and each
  equal to the root of the events it covers (else: events were changed after it was signed off);
- signatures, when ``NETHICAL_AUDIT_KEY`` is set: every head must carry a valid HMAC;
- training summaries, and optionally a head kept elsewhere (``--trusted-head``): the heads they
  recorded must still be in the log, which catches a log cut back to an earlier state.

Every problem is reported (not just the first), each naming its file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nethical_runner.audit.chunk_check import Kind, chunk_findings
from nethical_runner.audit.formats import (
    CHUNKS_DIR,
    HEADS_DIR,
    LATEST_SUMMARY,
    SUMMARIES_DIR,
    FormatError,
    TreeHead,
    chunk_files,
    chunk_name,
    head_files,
    head_name,
    read_chunk,
    read_head,
)
from nethical_runner.audit.frontier import MerkleFrontier
from nethical_runner.audit.lock import shared_lock
from nethical_runner.audit.merkle import verify_consistency
from nethical_runner.audit.signing import KEY_ENV, key_from_env, signature_valid


@dataclass(frozen=True)
class Finding:
    kind: Kind
    where: str  # a file relative to the log folder, e.g. chunks/chunk_000002.json
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class VerifyReport:
    directory: Path
    problems: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    heads: dict[int, TreeHead] = field(default_factory=dict)
    leaves: list[bytes] = field(default_factory=list)  # committed events, in log order
    chunk_count: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def latest(self) -> TreeHead | None:
        return self.heads[max(self.heads)] if self.heads else None

    def render(self) -> str:
        """The report ``audit verify`` prints."""
        if self.ok and self.latest is not None:
            head = self.latest
            signed = "signed" if head.signature else "unsigned"
            lines = [
                f"audit log {self.directory}: intact",
                f"  {_count(len(self.leaves), 'event')} in {_count(self.chunk_count, 'chunk')}, "
                f"{_count(len(self.heads), 'tree head')}",
                f"  latest {HEADS_DIR}/{head_name(head.sequence)}: {head.describe()} "
                f"({signed}, {head.timestamp})",
            ]
        else:
            lines = [f"audit log {self.directory}: {_count(len(self.problems), 'problem')}"]
            lines += [f"  {problem}" for problem in self.problems]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def verify(
    directory: Path,
    *,
    key: bytes | Literal["env"] | None = "env",
    trusted_head: TreeHead | None = None,
) -> VerifyReport:
    """Check the log in ``directory``; ``key`` defaults to ``NETHICAL_AUDIT_KEY``."""
    resolved_key = key_from_env() if key == "env" else key
    with shared_lock(directory):
        return _Verifier(directory, resolved_key, trusted_head).run()


class _Verifier:
    def __init__(self, directory: Path, key: bytes | None, trusted: TreeHead | None) -> None:
        self.report = VerifyReport(directory)
        self.directory = directory
        self.key = key
        self.trusted = trusted
        self.first_bad: int | None = None  # leaves from here on come from a damaged chunk
        self.chunk_ends: dict[int, int] = {0: 0}  # chunk id -> events in chunks 1..id

    def problem(self, kind: Kind, where: str, message: str) -> None:
        self.report.problems.append(Finding(kind, where, message))

    def run(self) -> VerifyReport:
        if not self.directory.is_dir():
            self.problem("missing", str(self.directory), "no audit log here (no such folder)")
            return self.report
        heads = self._load_heads()
        self.report.heads = heads
        if not heads:
            return self.report
        latest = heads[max(heads)]
        self._load_chunks(latest)
        self._check_head_chain(heads)
        self._check_heads_against_events(heads, latest)
        self._check_signatures(heads)
        self._check_summaries(heads)
        return self.report

    # --- files -------------------------------------------------------------------------------

    def _load_heads(self) -> dict[int, TreeHead]:
        files = head_files(self.directory)
        if not files:
            leftovers = (
                " (its chunks are an interrupted run's)" if chunk_files(self.directory) else ""
            )
            self.problem(
                "missing", f"{HEADS_DIR}/", f"no tree head: nothing was committed{leftovers}"
            )
            return {}
        heads: dict[int, TreeHead] = {}
        for sequence in range(1, max(files) + 1):
            where = f"{HEADS_DIR}/{head_name(sequence)}"
            if sequence not in files:
                self.problem(
                    "missing",
                    where,
                    f"is missing (heads go up to {max(files)}): a tree head was deleted",
                )
                continue
            try:
                head = read_head(files[sequence])
            except FormatError as error:
                self.problem(_file_kind(error), where, error.message)
                continue
            if head.sequence != sequence:
                self.problem(
                    "reordered", where, f"holds head {head.sequence}: head files were renamed"
                )
                continue
            heads[sequence] = head
        return heads

    def _load_chunks(self, latest: TreeHead) -> None:
        files = chunk_files(self.directory)
        committed = latest.chunk_count
        self.report.chunk_count = committed
        for chunk_id in (c for c in files if c > committed):
            self.report.notes.append(
                f"{CHUNKS_DIR}/{chunk_name(chunk_id)} is not covered by any tree head "
                "(an interrupted run's events, never committed): ignored"
            )
        expected_first: int | None = 0
        for chunk_id in range(1, committed + 1):
            where = f"{CHUNKS_DIR}/{chunk_name(chunk_id)}"
            damaged_from = len(self.report.leaves)
            if chunk_id not in files:
                self.problem(
                    "missing",
                    where,
                    f"is missing: {HEADS_DIR}/{head_name(latest.sequence)} commits to chunks "
                    f"1-{committed} (a deleted chunk)",
                )
                self._damaged(damaged_from)
                expected_first = None
                continue
            try:
                chunk = read_chunk(files[chunk_id])
            except FormatError as error:
                self.problem(_file_kind(error), where, error.message)
                self._damaged(damaged_from)
                expected_first = None
                continue
            findings = chunk_findings(chunk, chunk_id, expected_first)
            for kind, message in findings:
                self.problem(kind, where, message)
            if findings:
                self._damaged(damaged_from)
            self.report.leaves.extend(text.encode("utf-8") for text in chunk.events)
            self.chunk_ends[chunk_id] = len(self.report.leaves)
            expected_first = chunk.first_index + chunk.event_count

    def _damaged(self, position: int) -> None:
        if self.first_bad is None or position < self.first_bad:
            self.first_bad = position

    # --- heads -------------------------------------------------------------------------------

    def _check_head_chain(self, heads: dict[int, TreeHead]) -> None:
        for sequence, head in heads.items():
            where = f"{HEADS_DIR}/{head_name(sequence)}"
            if sequence == 1:
                if head.previous is not None or head.consistency_proof:
                    self.problem("rewritten", where, "is the first head but names a previous one")
                continue
            before = heads.get(sequence - 1)
            if before is None:
                continue  # already reported; its successor is still checked against the events
            previous = head.previous
            if previous is None or (previous.tree_size, previous.root) != (
                before.tree_size,
                before.root,
            ):
                named = "none" if previous is None else f"size {previous.tree_size}"
                self.problem(
                    "rewritten",
                    where,
                    f"names its previous head as {named}, but {head_name(sequence - 1)} is "
                    f"{before.describe()}: history was rewritten",
                )
            elif not verify_consistency(
                before.tree_size,
                head.tree_size,
                before.root_bytes,
                head.root_bytes,
                head.proof_bytes,
            ):
                self.problem(
                    "rewritten",
                    where,
                    f"is not consistent with {head_name(sequence - 1)} ({before.describe()}): "
                    "its consistency proof fails, so the log was rewritten, not appended to",
                )
            if head.chunk_count < before.chunk_count:
                self.problem(
                    "rewritten", where, f"commits to fewer chunks than {head_name(sequence - 1)}"
                )

    def _check_heads_against_events(self, heads: dict[int, TreeHead], latest: TreeHead) -> None:
        leaves = self.report.leaves
        where_latest = f"{HEADS_DIR}/{head_name(latest.sequence)}"
        if self.first_bad is None and len(leaves) != latest.tree_size:
            if len(leaves) < latest.tree_size:
                kind: Kind = "removed"
                what = "events were removed"
            else:
                kind, what = "inserted", "events were inserted"
            self.problem(
                kind,
                where_latest,
                f"commits to {latest.tree_size} events but its chunks hold {len(leaves)}: {what}",
            )
        trusted = [self.trusted] if self.trusted is not None else []
        limit = len(leaves) if self.first_bad is None else self.first_bad
        sizes = {h.tree_size for h in [*heads.values(), *trusted] if h.tree_size <= limit}
        roots = _roots_at(leaves, sizes)
        for sequence, head in heads.items():
            where = f"{HEADS_DIR}/{head_name(sequence)}"
            root = roots.get(head.tree_size)
            if root is not None and root != head.root_bytes:
                self.problem(
                    "rewritten",
                    where,
                    f"does not match the log's first {head.tree_size} events: events before "
                    f"index {head.tree_size} were changed after this head was signed off",
                )
            ends = self.chunk_ends.get(head.chunk_count)
            if self.first_bad is None and ends is not None and ends != head.tree_size:
                self.problem(
                    "malformed",
                    where,
                    f"says chunks 1-{head.chunk_count} hold its {head.tree_size} events, "
                    f"but they hold {ends}",
                )
        if self.trusted is not None:
            self._check_trusted(self.trusted, roots)

    def _check_trusted(self, trusted: TreeHead, roots: dict[int, bytes]) -> None:
        where = "trusted head"
        held = len(self.report.leaves)
        if trusted.tree_size > held:
            self.problem(
                "truncated",
                where,
                f"commits to {trusted.tree_size} events but the log holds {held}: the log was "
                "cut back (heads and chunks removed)",
            )
        elif trusted.tree_size in roots and roots[trusted.tree_size] != trusted.root_bytes:
            self.problem(
                "rewritten",
                where,
                f"({trusted.describe()}) is not the root of the log's first "
                f"{trusted.tree_size} events: history was rewritten",
            )
        if self.key is not None and trusted.signature and not signature_valid(trusted, self.key):
            self.problem("signature", where, "bad signature")

    def _check_signatures(self, heads: dict[int, TreeHead]) -> None:
        if self.key is None:
            if any(head.signature for head in heads.values()):
                self.report.notes.append(
                    f"tree heads are signed; set {KEY_ENV} to check their signatures"
                )
            return
        for sequence, head in heads.items():
            where = f"{HEADS_DIR}/{head_name(sequence)}"
            if head.signature is None:
                self.problem(
                    "signature", where, f"is not signed, but {KEY_ENV} is set: every head must be"
                )
            elif not signature_valid(head, self.key):
                self.problem(
                    "signature",
                    where,
                    "bad signature: the head was changed after signing, or signed with another key",
                )

    def _check_summaries(self, heads: dict[int, TreeHead]) -> None:
        folder = self.directory / SUMMARIES_DIR
        paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
        latest = self.directory / LATEST_SUMMARY
        for path in [*paths, *([latest] if latest.is_file() else [])]:
            where = path.relative_to(self.directory).as_posix()
            recorded = _summary_head(path)
            if recorded is None:
                self.problem("malformed", where, "is not a training summary with a tree head")
                continue
            sequence, size, root = recorded
            head = heads.get(sequence)
            if head is None or (head.tree_size, head.root) != (size, root):
                self.problem(
                    "rewritten",
                    where,
                    f"records tree head {sequence} (size {size}, root {root[:16]}...), which the "
                    "log no longer holds: heads were removed or history rewritten",
                )


def _file_kind(error: FormatError) -> Kind:
    return "truncated" if error.truncated else "malformed"


def _roots_at(leaves: Sequence[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """The tree root after the first ``size`` leaves, for each size, in one pass."""
    wanted = set(sizes)
    last = max(wanted, default=0)
    frontier = MerkleFrontier()
    roots = {0: frontier.root()} if 0 in wanted else {}
    for leaf in leaves:
        if frontier.size >= last:
            break
        frontier.append(leaf)
        if frontier.size in wanted:
            roots[frontier.size] = frontier.root()
    return roots


def _summary_head(path: Path) -> tuple[int, int, str] | None:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict):
        return None
    sequence, size, root = summary.get("head"), summary.get("tree_size"), summary.get("merkle_root")
    if isinstance(sequence, int) and isinstance(size, int) and isinstance(root, str):
        return sequence, size, root
    return None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
