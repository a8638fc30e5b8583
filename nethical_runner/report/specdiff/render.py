"""A spec diff as a terminal table or as markdown for a pull-request comment.

Everything shown comes from files a pull request controls (paths, keys, values), and the output
goes to terminals and to public step summaries: control and format characters (terminal escapes,
bidirectional overrides, line breaks) are shown as escapes, and in markdown every character that
could open a link, an image, HTML or a code span, or close a table cell, is escaped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from nethical_runner._escape import markdown as markdown_text
from nethical_runner._escape import markdown_code
from nethical_runner._escape import terminal as terminal_text
from nethical_runner.report.specdiff.compare import Change
from nethical_runner.report.specdiff.rules import ABSENT, CHANGED, LOOSENED, TIGHTENED

MAX_CELL = 60


def value_text(value: Any, default: bool = False) -> str:
    """A value as YAML would show it in flow style; ``-`` for absent; ``(default)`` marked."""
    if value is ABSENT:
        return "-"
    text = _flow(value) if value != {} else "(no overrides)"
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 3] + "..."
    return f"{text} (default)" if default else text


def _flow(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return str(value)


def headline(changes: Sequence[Change], base: str, head: str) -> str:
    """``2 loosened, 1 tightened, 3 changed in 2 specs (base abc1234, head working tree)``."""
    if not changes:
        return f"no spec changes between {base} and {head}"
    counts = Counter(change.verdict for change in changes)
    parts = [f"{counts[v]} {v.lower()}" for v in (LOOSENED, TIGHTENED, CHANGED) if counts[v]]
    specs = len({change.spec for change in changes})
    return f"{', '.join(parts)} in {specs} spec{'s' if specs != 1 else ''} ({base} -> {head})"


def terminal(changes: Sequence[Change], base: str, head: str) -> str:
    rows = [[terminal_text(cell) for cell in _cells(change)] for change in changes]
    lines = []
    if rows:
        headers = ["spec", "key", "old", "new", "change", "note"]
        lines.append(tabulate(rows, headers=headers, tablefmt="simple"))
    lines.append(terminal_text(headline(changes, base, head)))
    return "\n".join(lines) + "\n"


def _cells(change: Change) -> list[str]:
    return [
        change.spec,
        change.key,
        value_text(change.old, change.old_default),
        value_text(change.new, change.new_default),
        change.verdict,
        change.note,
    ]


def markdown(changes: Sequence[Change], base: str, head: str, level: int = 2) -> str:
    """The diff as markdown whose headings start at ``level`` (3 inside a larger comment)."""
    title = _text(headline(changes, base, head)).replace("-\\>", "→")
    heading = "#" * level
    lines = [f"{heading} Spec changes", "", title, ""]
    for spec in dict.fromkeys(change.spec for change in changes):
        lines += [
            f"{heading}# {_code(spec)}",
            "",
            "| key | old | new | change | note |",
            "|---" * 5 + "|",
        ]
        for change in (c for c in changes if c.spec == spec):
            _spec, key, *cells = _cells(change)
            row = [_code(key).replace("|", "\\|"), *(_text(cell) for cell in cells)]
            if change.verdict == LOOSENED:
                row[3] = f"**{row[3]}**"
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _text(text: str) -> str:
    """Literal markdown text (no markup, no raw HTML, no cell boundary) on one line."""
    return markdown_text(text).replace("|", "\\|")


def _code(text: str) -> str:
    """A code span holding ``text`` literally, safe inside a table cell."""
    return markdown_code(text)
