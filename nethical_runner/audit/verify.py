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
- the chunks' metadata: each head commits to the SHA-256 of every chunk it added, so an edited
  ``run_id`` or ``created_at`` is found too;
- training summaries: each is rebuilt from the ``run_end`` event of its run and the head that
  committed it, and must equal it field for field (``training_summary.json`` must be the newest
  run's); the heads they name must still be in the log;
- a head kept elsewhere (``--trusted-head``, or its size and root): the log must still hold it,
  which is the only way to see a log cut back to an earlier state whole.

The folder is listed first (:mod:`~nethical_runner.audit.folder`): only canonical names count,
anything else is an unexpected file, and nothing but regular files is opened. All work is
bounded by the files that exist, and the lock is waited for a bounded time. Every problem is
reported (not just the first), each naming its file; malformed input of any shape is a finding,
never an exception.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nethical_runner._words import cohort_named, counted
from nethical_runner.audit.chunk_check import Kind, chunk_findings, parse_event, span
from nethical_runner.audit.folder import LogFolder, scan
from nethical_runner.audit.formats import (
    CHUNKS_DIR,
    HEADS_DIR,
    MAX_SUMMARY_BYTES,
    FormatError,
    PreviousHead,
    TreeHead,
    chunk_name,
    head_name,
    read_bounded,
    read_chunk,
    read_head,
)
from nethical_runner.audit.frontier import MerkleFrontier
from nethical_runner.audit.lock import LOCK_NAME, LockError, shared_lock
from nethical_runner.audit.merkle import canonical_json, verify_consistency
from nethical_runner.audit.signing import KEY_ENV, AuditKey, signature_valid
from nethical_runner.audit.summary import RUN_END, summaries_of


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
    summaries_checked: int = 0  # summaries rebuilt from the log's events and found equal

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
                f"  {counted(len(self.leaves), 'event')} in {counted(self.chunk_count, 'chunk')}, "
                f"{counted(len(self.heads), 'tree head')}",
                f"  {counted(self.summaries_checked, 'training summary', 'training summaries')} "
                "rebuilt from the events and equal to them",
                f"  latest {HEADS_DIR}/{head_name(head.sequence)}: {head.describe()} "
                f"({signed}, {head.timestamp})",
            ]
        else:
            lines = [f"audit log {self.directory}: {counted(len(self.problems), 'problem')}"]
            lines += [f"  {problem}" for problem in self.problems]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def verify(
    directory: Path,
    *,
    key: AuditKey | Literal["env"] | None = "env",
    trusted_head: TreeHead | PreviousHead | None = None,
) -> VerifyReport:
    """Check the log in ``directory``; ``key`` defaults to ``NETHICAL_AUDIT_KEY``.

    Never raises for what the folder holds: every problem, including a lock held too long, is
    a finding of the report."""
    verifier = _Verifier(directory, AuditKey.from_env() if key == "env" else key, trusted_head)
    try:
        with shared_lock(directory):
            return verifier.run()
    except LockError as error:
        verifier.problem("locked" if error.held else "unexpected", LOCK_NAME, error.reason)
        return verifier.report


class _Verifier:
    def __init__(
        self, directory: Path, key: AuditKey | None, trusted: TreeHead | PreviousHead | None
    ) -> None:
        self.report = VerifyReport(directory)
        self.directory = directory
        self.key = key
        self.trusted = trusted
        self.first_bad: int | None = None  # leaves from here on come from a damaged chunk
        self.chunk_ends: dict[int, int] = {0: 0}  # chunk id -> events in chunks 1..id
        self.digests: dict[int, str] = {}  # chunk id -> Chunk.digest(), of undamaged chunks

    def problem(self, kind: Kind, where: str, message: str) -> None:
        self.report.problems.append(Finding(kind, where, message))

    def run(self) -> VerifyReport:
        if not self.directory.is_dir():
            self.problem("missing", str(self.directory), "no audit log here (no such folder)")
            return self.report
        folder = scan(self.directory)
        for where, message in folder.unexpected:
            self.problem("unexpected", where, message)
        for where in folder.leftovers:
            self.report.notes.append(f"{where} is left by an interrupted write: ignored")
        heads = self._load_heads(folder)
        self.report.heads = heads
        if not heads:
            return self.report
        latest = heads[max(heads)]
        self._load_chunks(folder, latest)
        self._check_head_chain(heads)
        self._check_heads_against_events(heads, latest)
        self._check_chunk_digests(heads)
        self._check_signatures(heads)
        self._check_summaries(folder, heads)
        return self.report

    # --- files -------------------------------------------------------------------------------

    def _load_heads(self, folder: LogFolder) -> dict[int, TreeHead]:
        files = folder.heads
        if not files:
            leftovers = " (its chunks are an interrupted run's)" if folder.chunks else ""
            self.problem(
                "missing", f"{HEADS_DIR}/", f"no tree head: nothing was committed{leftovers}"
            )
            return {}
        heads: dict[int, TreeHead] = {}
        last = max(files)
        for start, end in _gaps(files, last):
            more = "" if start == end else f", and so are heads {span(start + 1, end)}"
            self.problem(
                "missing",
                f"{HEADS_DIR}/{head_name(start)}",
                f"is missing{more} (heads go up to {last}): "
                f"{'a tree head was' if start == end else 'tree heads were'} deleted",
            )
        for sequence, path in files.items():
            where = f"{HEADS_DIR}/{path.name}"
            try:
                head = read_head(path)
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

    def _load_chunks(self, folder: LogFolder, latest: TreeHead) -> None:
        files = folder.chunks
        committed = latest.chunk_count
        self.report.chunk_count = committed
        for chunk_id in (c for c in files if c > committed):
            self.report.notes.append(
                f"{CHUNKS_DIR}/{chunk_name(chunk_id)} is not covered by any tree head "
                "(an interrupted run's events, never committed): ignored"
            )
        gaps = dict(_gaps({c: p for c, p in files.items() if c <= committed}, committed))
        expected_first: int | None = 0
        for chunk_id in sorted([*(c for c in files if c <= committed), *gaps]):
            damaged_from = len(self.report.leaves)
            if chunk_id in gaps:
                end = gaps[chunk_id]
                more = "" if end == chunk_id else f", and so are chunks {span(chunk_id + 1, end)}"
                self.problem(
                    "missing",
                    f"{CHUNKS_DIR}/{chunk_name(chunk_id)}",
                    f"is missing{more}: {HEADS_DIR}/{head_name(latest.sequence)} commits to "
                    f"chunks 1-{committed} (a deleted chunk)",
                )
                self._damaged(damaged_from)
                expected_first = None
                continue
            where = f"{CHUNKS_DIR}/{chunk_name(chunk_id)}"
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
            else:
                self.digests[chunk_id] = chunk.digest()
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

    def _check_trusted(self, trusted: TreeHead | PreviousHead, roots: dict[int, bytes]) -> None:
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
        signed = isinstance(trusted, TreeHead) and trusted.signature is not None
        if self.key is not None and signed and not signature_valid(trusted, self.key):  # type: ignore[arg-type]
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

    def _check_chunk_digests(self, heads: dict[int, TreeHead]) -> None:
        """Each head lists the digest of every chunk it added; an undamaged chunk whose digest
        differs had its metadata edited (its events are checked by their hashes)."""
        for sequence, head in heads.items():
            where = f"{HEADS_DIR}/{head_name(sequence)}"
            before = 0 if sequence == 1 else getattr(heads.get(sequence - 1), "chunk_count", None)
            if before is None:
                continue  # its predecessor is missing or broken, already reported
            added = head.chunk_count - before
            if head.chunk_sha256 is None:
                self.report.notes.append(
                    f"{where} was written before heads committed to their chunks' digests: the "
                    "metadata of the chunks it added is not covered"
                )
                continue
            if added != len(head.chunk_sha256):
                self.problem(
                    "malformed",
                    where,
                    f"lists {len(head.chunk_sha256)} chunk digests for the {max(added, 0)} "
                    "chunks it adds",
                )
                continue
            for chunk_id, digest in zip(
                range(before + 1, head.chunk_count + 1), head.chunk_sha256, strict=True
            ):
                found = self.digests.get(chunk_id)
                if found is not None and found != digest:
                    self.problem(
                        "modified",
                        f"{CHUNKS_DIR}/{chunk_name(chunk_id)}",
                        f"differs from what {where} committed to, though its events match their "
                        "hashes: its metadata (run_id, created_at, finalized_at) was edited",
                    )

    # --- summaries ---------------------------------------------------------------------------

    def _check_summaries(self, folder: LogFolder, heads: dict[int, TreeHead]) -> None:
        for path in folder.summaries:
            self._check_summary(path, heads, newest=False)
        if folder.latest_summary is not None:
            self._check_summary(folder.latest_summary, heads, newest=True)

    def _check_summary(self, path: Path, heads: dict[int, TreeHead], *, newest: bool) -> None:
        """The summary at ``path`` equals the one rebuilt from its run's ``run_end`` event and
        the head that committed it; the newest one is also the log's newest run's."""
        where = path.relative_to(self.directory).as_posix()
        summary = _read_summary(path)
        if isinstance(summary, str):
            self.problem("malformed", where, summary)
            return
        recorded = _summary_head(summary)
        if recorded is None:
            self.problem("malformed", where, "is not a training summary with a tree head")
            return
        sequence, size, root, first, count = recorded
        head = heads.get(sequence)
        if head is None or (head.tree_size, head.root) != (size, root):
            self.problem(
                "rewritten",
                where,
                f"records tree head {sequence} (size {size}, root {root[:16]}...), which the "
                "log no longer holds: heads were removed or history rewritten",
            )
            return
        end = first + count - 1
        leaves = self.report.leaves
        if self.first_bad is not None and end >= self.first_bad:
            self.report.notes.append(f"{where} is not checked: the events it names are damaged")
            return
        run_end = parse_event(leaves[end]) if 0 <= first <= end < len(leaves) else None
        if run_end is not None and run_end.get("type") == RUN_END and "outcomes" not in run_end:
            self.report.notes.append(
                f"{where} is not checked: its run was logged before run_end events recorded "
                "the cohorts' outcomes it would be rebuilt from"
            )
            return
        committing = _committing_head(heads, end)
        expected = _rebuilt(run_end, committing)
        if expected is None:
            self.problem(
                "rewritten",
                where,
                f"names events {span(first, end)}, which are not a run of the log that ended "
                "with its cohorts' outcomes",
            )
            return
        if newest:
            last = self._newest_run_end()
            if last != end:  # true of an older run: what a kill before it was replaced leaves
                self.report.notes.append(
                    f"{where} is the summary of the run ending at event {end}, not of the "
                    f"newest run (ending at event {last}), whose summaries were not written"
                )
            cohorts = {entry["cohort"]: entry for entry in expected.values()}
            rebuilt = cohorts.get(summary.get("cohort"), list(cohorts.values())[-1])
            if rebuilt is not list(cohorts.values())[-1]:  # a kill between two cohorts' copies
                self.report.notes.append(
                    f"{where} is the summary of {cohort_named(rebuilt['cohort'])}, not of its "
                    "run's last cohort: writing the summaries was interrupted"
                )
        elif path.name in expected:
            rebuilt = expected[path.name]
        else:
            self.problem(
                "rewritten",
                where,
                f"is not named after a cohort of the run it names ({', '.join(expected)})",
            )
            return
        edited = _differences(summary, rebuilt)
        if edited:
            self.problem(
                "modified",
                where,
                f"differs from the log's events in {', '.join(edited)}: the summary was edited",
            )
        else:
            self.report.summaries_checked += 1

    def _newest_run_end(self) -> int | None:
        """The index of the last ``run_end`` event with cohorts (whose run wrote summaries)."""
        for index in range(len(self.report.leaves) - 1, -1, -1):
            event = parse_event(self.report.leaves[index])
            if event is not None and event.get("type") == RUN_END and event.get("outcomes"):
                return index
        return None


def _gaps(files: Mapping[int, Any], last: int) -> Iterable[tuple[int, int]]:
    """The missing numbers 1..``last`` as (first, last) ranges, in as many steps as there are
    files: a name like ``head_999999999999.json`` costs one range, not a loop up to it."""
    expected = 1
    for number in sorted(files):
        if number > last:
            break
        if number > expected:
            yield expected, number - 1
        expected = number + 1
    if expected <= last:
        yield expected, last


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


def _read_summary(path: Path) -> dict[str, Any] | str:
    """The summary as a JSON object, or what is wrong with the file."""
    try:
        summary = json.loads(read_bounded(path, MAX_SUMMARY_BYTES))
    except FormatError as error:
        return error.message
    except (ValueError, RecursionError):
        return "is not valid JSON"
    return summary if isinstance(summary, dict) else "is not a training summary (a JSON object)"


def _summary_head(summary: Mapping[str, Any]) -> tuple[int, int, str, int, int] | None:
    """The head (sequence, size, root) and events (first, count) a summary names."""
    events = summary.get("events")
    events = events if isinstance(events, dict) else {}
    sequence, size, first, count = (
        _int_or_none(value)
        for value in (
            summary.get("head"),
            summary.get("tree_size"),
            events.get("first"),
            events.get("count"),
        )
    )
    root = summary.get("merkle_root")
    if sequence is None or size is None or first is None or count is None or count < 1:
        return None
    return (sequence, size, root, first, count) if isinstance(root, str) else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _committing_head(heads: Mapping[int, TreeHead], index: int) -> TreeHead | None:
    """The first head whose tree holds event ``index``: the one that committed its run."""
    holding = [head for head in heads.values() if head.tree_size > index]
    return min(holding, key=lambda head: head.tree_size, default=None)


def _rebuilt(
    run_end: dict[str, Any] | None, head: TreeHead | None
) -> dict[str, dict[str, Any]] | None:
    """The summaries of the run that ended with ``run_end``, or None when it is not a
    ``run_end`` event holding its cohorts' outcomes."""
    if run_end is None or head is None or run_end.get("type") != RUN_END:
        return None
    try:
        rebuilt = summaries_of(run_end, head)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return rebuilt or None


def _differences(found: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """The fields whose canonical JSON differs (so ``1`` never passes for ``true``)."""
    try:
        if canonical_json(found) == canonical_json(expected):
            return []
    except (ValueError, TypeError, RecursionError):
        return ["(not canonical JSON)"]
    return [
        name
        for name in sorted(set(found) | set(expected))
        if name not in found
        or name not in expected
        or json.dumps(found[name], sort_keys=True) != json.dumps(expected[name], sort_keys=True)
    ]
