"""Turn a Parquet file into a feature matrix and binary labels, as a CSV is (pyarrow).

A Parquet file says before any row is read what it holds: its footer names every column with
its type and every row group with its row count and uncompressed size. So the footer is judged
first, its declared length against the file's size and a bound, before pyarrow parses it; the
columns a spec uses against the types this reader turns into features (numbers, booleans,
text); and the uncompressed size of what will be read against the bound a decompressed CSV is
held to. Only then are rows read, and only the columns used. From there on the rows take the
CSV's path (:func:`nethical_runner.data.tables.frame_to_table`), so the NA policy, the label
rules and every message are the same whichever format a table is stored in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nethical_runner._escape import brief, clip, printable
from nethical_runner.data.columns import missing_hint, shown_name
from nethical_runner.data.compressed import MAX_DECOMPRESSED_BYTES
from nethical_runner.data.errors import DataError
from nethical_runner.data.header import MAX_COLUMNS
from nethical_runner.data.tables import Table, choose_columns, frame_to_table
from nethical_runner.spec.config import ColumnsConfig

MAGIC = b"PAR1"
MAX_FOOTER_BYTES = 16 * 1024 * 1024  # a footer of 100,000 columns and many row groups fits
# Read at call time, so that a test can lower it: rows held in memory at once, uncompressed.
MAX_READ_BYTES = MAX_DECOMPRESSED_BYTES


@dataclass(frozen=True)
class ParquetTable:
    """An opened Parquet file whose footer has been checked; ``shown`` names it in messages."""

    file: pq.ParquetFile
    shown: str

    @property
    def names(self) -> list[str]:
        return [str(name) for name in self.file.schema_arrow.names]

    @property
    def rows(self) -> int:
        return int(self.file.metadata.num_rows)


def open_parquet(path: Path, shown: str) -> ParquetTable:
    """The file's footer, read and checked; raises :class:`DataError` for anything that is
    not a plain Parquet file of at most :data:`MAX_COLUMNS` columns."""
    _check_footer(path, shown)
    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{shown}: cannot be read as Parquet: {_one_line(error)}") from None
    table = ParquetTable(file, shown)
    names = table.names
    if len(names) > MAX_COLUMNS:
        raise DataError(
            f"{shown}: {len(names)} columns, more than the {MAX_COLUMNS} a table may have"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        listed = ", ".join(shown_name(name) for name in repeated)
        raise DataError(f"{shown}: duplicated column names: {listed}")
    return table


def _check_footer(path: Path, shown: str) -> None:
    """``PAR1`` at both ends and a footer length that fits the file and the bound, read from
    the file's last eight bytes before pyarrow trusts them."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
            size = handle.seek(0, 2)
            handle.seek(max(size - 8, 0))
            tail = handle.read(8)
    except FileNotFoundError:
        raise DataError(f"{shown}: file not found") from None
    if head != MAGIC or tail[-4:] not in (MAGIC, b"PARE") or size < 12:
        raise DataError(f"{shown}: not a Parquet file (it does not begin and end with PAR1)")
    if tail[-4:] == b"PARE":
        raise DataError(f"{shown}: the Parquet file is encrypted, which is not read")
    declared = int.from_bytes(tail[:4], "little")
    if declared > size - 12:
        raise DataError(
            f"{shown}: truncated or corrupt Parquet file: its footer declares {declared} bytes "
            f"of metadata in a file of {size} bytes"
        )
    if declared > MAX_FOOTER_BYTES:
        raise DataError(
            f"{shown}: its footer declares {declared} bytes of metadata, more than the "
            f"{MAX_FOOTER_BYTES} read"
        )


def _one_line(error: Exception) -> str:
    """pyarrow's message on one bounded line."""
    return printable(clip(" ".join(str(error).split()), 500))


def _readable(kind: pa.DataType) -> bool:
    """Types whose values become features as a CSV's would: numbers and booleans as numbers,
    text (also dictionary-encoded) as byte tokens; a column of nulls only, to be named as
    empty by the NA policy."""
    if pa.types.is_dictionary(kind):
        return _readable(kind.value_type) and not pa.types.is_dictionary(kind.value_type)
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_null(kind)
    )


def type_problem(table: ParquetTable, name: str) -> str | None:
    """Why column ``name`` cannot be read, or None when its type can."""
    kind = table.file.schema_arrow.field(name).type
    if _readable(kind):
        return None
    return (
        f"column {brief(name)} holds {printable(clip(str(kind), 60))} values, which are not read "
        "(numbers, booleans and text are)"
    )


def read_columns(table: ParquetTable, config: ColumnsConfig) -> list[str]:
    """The columns to read: the declared ones (each of a readable type), or, for a spec that
    lets features be guessed, every readable column (a timestamp or a nested column is left
    out, as a CSV's text columns are from a guess)."""
    schema = table.file.schema_arrow
    names = table.names
    declared = [*(config.features or []), *([config.label] if config.label else [])]
    for name in declared:
        if name not in names:
            hint = missing_hint(name, names)
            what = "label column" if name == config.label else "column"
            raise DataError(f"{table.shown}: no {what} {brief(name)} ({hint})")
        refused = type_problem(table, name)
        if refused:
            raise DataError(f"{table.shown}: {refused}")
    if config.features:
        guessed = [] if config.label else [n for n in names if _may_be_label(n)][:1]
        return [*declared, *guessed]
    readable = [name for name in names if _readable(schema.field(name).type)]
    if config.label and config.label not in readable:
        readable.append(config.label)
    return readable


def _may_be_label(name: str) -> bool:
    """The old script's rule for a label that is not declared (as for a CSV)."""
    return "label" in name.lower() or "target" in name.lower()


def _declared_bytes(table: ParquetTable, group: int, columns: set[str]) -> int:
    """Uncompressed bytes the footer declares for ``columns`` of row group ``group``."""
    meta = table.file.metadata.row_group(group)
    return sum(
        int(meta.column(index).total_uncompressed_size)
        for index in range(meta.num_columns)
        if meta.column(index).path_in_schema.split(".")[0] in columns
    )


def _groups_for(table: ParquetTable, limit: int | None) -> list[int]:
    """The first row groups that hold ``limit`` rows (all of them without a limit)."""
    meta = table.file.metadata
    groups, rows = [], 0
    for group in range(meta.num_row_groups):
        if limit is not None and rows >= limit:
            break
        groups.append(group)
        rows += int(meta.row_group(group).num_rows)
    return groups


def _refuse_large(table: ParquetTable, groups: list[int], columns: list[str], what: str) -> None:
    declared = sum(_declared_bytes(table, group, set(columns)) for group in groups)
    limit = MAX_READ_BYTES
    if declared > limit:
        raise DataError(
            f"{table.shown}: {what} declares {declared} bytes uncompressed, more than the "
            f"{limit} held in memory at once; set samples, or chunk_rows to stream the file"
        )


def read_parquet(path: Path, config: ColumnsConfig, shown: str, limit: int | None) -> Table:
    """Rows of ``path`` as declared by ``config``, the first ``limit`` of them when given."""
    table = open_parquet(path, shown)
    columns = read_columns(table, config)
    groups = _groups_for(table, limit)
    _refuse_large(table, groups, columns, "the part read")
    try:
        arrow = table.file.read_row_groups(groups, columns=columns, use_threads=False)
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{shown}: cannot be read as Parquet: {_one_line(error)}") from None
    if limit is not None:
        arrow = arrow.slice(0, limit)
    if arrow.num_rows == 0:
        raise DataError(f"{shown}: the table has no rows")
    frame = _frame(arrow, 0)
    chosen = choose_columns(frame, config, shown, columns, header_lines=0)
    return frame_to_table(frame, config, shown, chosen, header_lines=0)


def read_parquet_chunks(
    table: ParquetTable, config: ColumnsConfig, limit: int | None, chunk_rows: int
) -> Iterator[Table]:
    """The same rows as :func:`read_parquet`, ``chunk_rows`` at a time (the row groups read
    one after another, none larger than the bound), chunked exactly as a CSV's."""
    shown = table.shown
    columns = read_columns(table, config)
    for group in _groups_for(table, limit):
        _refuse_large(table, [group], columns, f"row group {group}")
    chosen: tuple[list[str], str] | None = None
    seen = 0
    try:
        for batch in table.file.iter_batches(
            batch_size=chunk_rows, columns=columns, use_threads=False
        ):
            if limit is not None and seen >= limit:
                break
            if limit is not None:
                batch = batch.slice(0, limit - seen)
            frame = _frame(batch, seen)
            seen += batch.num_rows
            chosen = chosen or choose_columns(frame, config, shown, columns, header_lines=0)
            yield frame_to_table(frame, config, shown, chosen, header_lines=0)
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{shown}: cannot be read as Parquet: {_one_line(error)}") from None
    if chosen is None:
        raise DataError(f"{shown}: the table has no rows")


def _frame(rows: Any, start: int) -> pd.DataFrame:
    """An Arrow table or batch as pandas, its index counting rows of the whole file (so that
    messages name the row); integer columns with nulls become floats, as in a CSV."""
    frame = rows.to_pandas()
    frame.index = pd.RangeIndex(start, start + len(frame))
    return frame
