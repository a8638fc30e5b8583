"""The header line of a CSV, read from a bounded prefix of its bytes, without pandas.

Both the reader (:mod:`nethical_runner.data.tables`) and the check at collection
(:mod:`nethical_runner.data.declared`) need the names as written: pandas renames a repeated
``a`` to ``a.1``, and collection must not pay for importing pandas or reading rows. The line is
read a block at a time up to its newline, so a file of any size costs one block here, and a
header without an end costs at most :data:`MAX_HEADER_BYTES`.
"""

from __future__ import annotations

import csv

from nethical_runner.data.compressed import TableFile
from nethical_runner.data.errors import DataError

# A file in a pull request can be arbitrarily wide; its header is checked before pandas reads it.
MAX_COLUMNS = 100_000
MAX_HEADER_BYTES = 8 * 1024 * 1024
_BLOCK = 64 * 1024


def raw_header(source: TableFile, delimiter: str) -> list[str] | None:
    """The header's names as written; None when the line is not plain CSV (not UTF-8, or
    quoted across lines), for the parser to judge. Raises :class:`DataError` for a header
    longer than :data:`MAX_HEADER_BYTES` or wider than :data:`MAX_COLUMNS`."""
    shown = source.shown
    head = bytearray()
    with source.open() as handle:
        while b"\n" not in head and len(head) <= MAX_HEADER_BYTES:
            block = handle.read(_BLOCK)
            if not block:
                break
            head += block
    line = bytes(head).partition(b"\n")[0]
    if len(line) > MAX_HEADER_BYTES:
        raise DataError(f"{shown}: the header line is longer than {MAX_HEADER_BYTES} bytes")
    try:
        text = line.decode("utf-8-sig").rstrip("\r")
        names = next(csv.reader([text], delimiter=delimiter, strict=True))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return None
    if len(names) > MAX_COLUMNS:
        raise DataError(
            f"{shown}: {len(names)} columns, more than the {MAX_COLUMNS} a table may have"
        )
    return names
