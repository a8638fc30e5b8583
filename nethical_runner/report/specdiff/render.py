"""A spec diff as a terminal table or as markdown for a pull-request comment."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

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
    rows = [
        [
            change.spec,
            change.key,
            value_text(change.old, change.old_default),
            value_text(change.new, change.new_default),
            change.verdict,
            change.note,
        ]
        for change in changes
    ]
    lines = []
    if rows:
        headers = ["spec", "key", "old", "new", "change", "note"]
        lines.append(tabulate(rows, headers=headers, tablefmt="simple"))
    lines.append(headline(changes, base, head))
    return "\n".join(lines) + "\n"


def markdown(changes: Sequence[Change], base: str, head: str) -> str:
    lines = ["## Spec changes", "", headline(changes, base, head).replace("->", "→"), ""]
    for spec in dict.fromkeys(change.spec for change in changes):
        lines += [f"### `{spec}`", "", "| key | old | new | change | note |", "|---" * 5 + "|"]
        for change in (c for c in changes if c.spec == spec):
            verdict = f"**{change.verdict}**" if change.verdict == LOOSENED else change.verdict
            cells = [
                f"`{change.key}`",
                value_text(change.old, change.old_default),
                value_text(change.new, change.new_default),
                verdict,
                change.note,
            ]
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _cell(text: str) -> str:
    """Markdown table cells may not hold a pipe or a line break."""
    return text.replace("|", "\\|").replace("\n", " ")
