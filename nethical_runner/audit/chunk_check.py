"""What is wrong inside one chunk file of the audit log, named as precisely as possible.

A chunk's events carry consecutive log indexes and the chunk lists each event's leaf hash, so
a damaged chunk can be told apart: a gap in the indexes is a removed event, a stray or repeated
index an inserted one, a permutation a reordering, a short tail a truncation, and bytes that no
longer match their leaf hash a modified event. Only when none of that explains a wrong
``merkle_root`` is the chunk reported as rewritten as a whole.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from nethical_runner.audit.formats import Chunk
from nethical_runner.audit.merkle import canonical_json, leaf_hash, merkle_root

# The kinds of problem ``verify`` names, inside chunks and across the log.
Kind = Literal[
    "missing",  # the log, a chunk or a head file is gone
    "truncated",  # a file cut short, or events cut off the end
    "malformed",  # a file that is not what the format says
    "modified",  # an event's bytes changed
    "removed",  # events taken out
    "inserted",  # events added
    "reordered",  # events or chunks moved
    "rewritten",  # heads that no longer agree with the events or with each other
    "signature",  # a missing or bad HMAC
    "unexpected",  # a file that is no part of a log, or not a regular file (never opened)
    "locked",  # the log's lock was held longer than verify waits
]


def chunk_findings(
    chunk: Chunk, chunk_id: int, expected_first: int | None
) -> list[tuple[Kind, str]]:
    """What is wrong inside one chunk; ``expected_first`` is None after a damaged chunk.

    The chunk's own ``merkle_root`` is compared last, and only reported when nothing more
    precise was found: then the events were rewritten along with their leaf hashes.
    """
    findings = list(_event_findings(chunk, chunk_id, expected_first))
    root = merkle_root([text.encode("utf-8") for text in chunk.events]).hex()
    if not findings and root != chunk.merkle_root:
        findings.append(
            (
                "modified",
                "its merkle_root does not match its events: events were rewritten together "
                "with their leaf hashes, or the root was edited",
            )
        )
    return findings


def _event_findings(
    chunk: Chunk, chunk_id: int, expected_first: int | None
) -> Iterable[tuple[Kind, str]]:
    if chunk.chunk_id != chunk_id:
        yield "reordered", f"holds chunk {chunk.chunk_id}: chunk files were renamed or reordered"
    if expected_first is not None and chunk.first_index != expected_first:
        if chunk.first_index > expected_first:
            yield (
                "removed",
                f"starts at event {chunk.first_index} but the chunks before it end at event "
                f"{expected_first - 1}: event(s) "
                f"{span(expected_first, chunk.first_index - 1)} were removed",
            )
        else:
            yield (
                "inserted",
                f"starts at event {chunk.first_index}, but the chunks before it already hold "
                f"events up to {expected_first - 1}: events were inserted",
            )
    first = chunk.first_index
    if chunk.event_count > max(len(chunk.events), len(chunk.leaf_hashes)):
        yield (
            "malformed",
            f"says it holds {chunk.event_count} events, but lists {len(chunk.events)} events "
            f"and {len(chunk.leaf_hashes)} leaf hashes",
        )
        return  # the list of expected indexes is bounded by what the file holds
    expected = list(range(first, first + chunk.event_count))
    parsed = [parse_event(text) for text in chunk.events]
    indexes = [_index_of(event) for event in parsed]
    hashes = [leaf_hash(text.encode("utf-8")).hex() for text in chunk.events]
    edited = _edited_in_place(indexes, expected, hashes, chunk.leaf_hashes)
    for position in sorted(edited):
        yield (
            "modified",
            f"modified event {expected[position]} (position {position} in this chunk): its "
            "index field was changed too, and its bytes match no recorded leaf hash",
        )
    placed = [expected[p] if p in edited else index for p, index in enumerate(indexes)]
    if placed != expected:
        yield from _order_findings(placed, expected)
    if len(chunk.leaf_hashes) != chunk.event_count:
        yield (
            "malformed",
            f"lists {len(chunk.leaf_hashes)} leaf hashes for its {chunk.event_count} events",
        )
        return
    checked: set[int] = set()
    for position, (text, event, index) in enumerate(zip(chunk.events, parsed, placed, strict=True)):
        if position in edited or index is None or index in checked:
            continue  # reported above as modified, or as a repeated event
        if not first <= index < first + chunk.event_count:
            continue  # reported above as inserted
        checked.add(index)
        data = text.encode("utf-8")
        if hashes[position] != chunk.leaf_hashes[index - first]:
            yield (
                "modified",
                f"modified event {index} (position {position} in this chunk): its bytes do not "
                "match its recorded leaf hash",
            )
        elif event is not None and not _canonical(event, data):
            yield "malformed", f"event {index} is not stored as canonical JSON"


def _edited_in_place(
    indexes: Sequence[int | None],
    expected: Sequence[int],
    hashes: Sequence[str],
    recorded: Sequence[str],
) -> set[int]:
    """Positions holding an event that is no recorded event and sits under the wrong (or no)
    index, in a chunk that still has its declared length: one event edited in place, index
    field included, rather than one removed and another inserted."""
    if len(indexes) != len(expected):
        return set()
    known = set(recorded)
    return {
        position
        for position, index in enumerate(indexes)
        if index != expected[position] and hashes[position] not in known
    }


def _order_findings(
    indexes: Sequence[int | None], expected: Sequence[int]
) -> Iterable[tuple[Kind, str]]:
    """Name what happened to a chunk whose events' indexes are not ``expected``."""
    wanted = set(expected)
    seen: Counter[int] = Counter()
    strays, unreadable = [], []
    for position, index in enumerate(indexes):
        if index is None:
            unreadable.append(position)
            continue
        seen[index] += 1
        if index not in wanted or seen[index] > 1:
            strays.append(f"position {position} (index {index})")
    missing = [i for i in expected if i not in seen]
    if unreadable:
        positions = ", ".join(str(p) for p in unreadable)
        yield "modified", f"modified event(s) at position(s) {positions}: not an indexed event"
    if missing:
        if missing == list(expected[len(expected) - len(missing) :]) and not strays:
            yield (
                "truncated",
                f"is truncated: event(s) {ranges(missing)} were removed from its end "
                f"(its event_count is {len(expected)})",
            )
        else:
            yield "removed", f"event(s) {ranges(missing)} were removed"
    if strays:
        yield "inserted", f"inserted event(s) at {', '.join(strays[:5])}"
    if not missing and not strays and not unreadable:
        moved = [f"position {p} holds event {i}" for p, i in enumerate(indexes) if i != expected[p]]
        yield "reordered", f"events were reordered: {', '.join(moved[:6])}"


def parse_event(text: str | bytes) -> dict[str, Any] | None:
    """The event as a JSON object, or None for anything else (junk, nesting deeper than the
    parser's recursion limit, a number too long to convert)."""
    try:
        event = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return event if isinstance(event, dict) else None


def _canonical(event: dict[str, Any], data: bytes) -> bool:
    try:
        return canonical_json(event) == data
    except (ValueError, RecursionError):
        return False


def span(first: int, last: int) -> str:
    """``3-5``, or ``3`` when the range holds one number."""
    return str(first) if first == last else f"{first}-{last}"


def _index_of(event: dict[str, Any] | None) -> int | None:
    index = None if event is None else event.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else None


def ranges(numbers: Sequence[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``3-5, 9``."""
    parts: list[str] = []
    start = previous = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == previous + 1:
            previous = n
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if n is not None:
            start = previous = n
    return ", ".join(parts)
