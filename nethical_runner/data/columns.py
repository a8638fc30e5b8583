"""Column names in messages: how a missing column is told, the same at collection and when the
rows are read.

A table can have thousands of columns, and a cut list hides exactly the one a typo missed
(``targt`` next to a ``target`` that was the 31st name), so a short table lists every name and a
wide one the names closest to the one asked for.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from nethical_runner._escape import brief

LISTED_COLUMNS = 60  # a table this wide or narrower has every column named in a message
_CLOSE = 5


def shown_name(column: object) -> str:
    """A column name for a one-line message: as written, unless it holds line breaks or other
    unprintable characters (a quoted header may) or is long, when it is quoted briefly."""
    text = str(column)
    return text if text.isprintable() and len(text) <= 100 else brief(text, 100)


def listing(columns: Sequence[object]) -> str:
    """Every name of a short table; the first :data:`LISTED_COLUMNS` and a count otherwise."""
    names = [shown_name(c) for c in columns]
    rest = len(names) - LISTED_COLUMNS
    return ", ".join(names[:LISTED_COLUMNS]) + (f" and {rest} more" if rest > 0 else "")


def missing_hint(wanted: str, columns: Sequence[object]) -> str:
    """``did you mean 'target'?; columns: a, b, target`` for a name the table lacks: the near
    matches, and every column when the table is short (the near matches alone when wide)."""
    names = [str(c) for c in columns]
    close = difflib.get_close_matches(wanted, names, n=_CLOSE, cutoff=0.6)
    hint = "did you mean " + " or ".join(repr(shown_name(c)) for c in close) + "?" if close else ""
    if len(names) <= LISTED_COLUMNS:
        return f"{hint}; columns: {listing(names)}" if hint else f"columns: {listing(names)}"
    count = f"{len(names)} columns"
    return f"{hint} ({count})" if hint else f"no column has a similar name ({count})"
