"""Turn a CSV file into a feature matrix and binary labels, or say exactly what is wrong.

Column choice follows the script this replaces when the spec does not list features: its five
risk feature names if the file has them all, else every numeric column but the label; the label
is the first column whose name contains "label" or "target". Unlike the original, which skipped
bad rows silently and cast any label with ``int()``, every problem is an error naming the file
and the column, with a NaN policy the spec chooses. A numeric column with a stray word is an
error rather than a feature silently left out, an empty column is named as such, and labels of
one class only are refused: every model "learns" them perfectly and would pass its gate.
Names and values are quoted briefly (:func:`nethical_runner._escape.brief`): a header or a
field can be megabytes long and hold line breaks, and a message quotes at most its prefix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from nethical_runner._escape import brief, clip, printable
from nethical_runner.data.columns import listing, missing_hint, shown_name
from nethical_runner.data.compressed import TableFile
from nethical_runner.data.errors import DataError
from nethical_runner.data.header import MAX_COLUMNS, MAX_HEADER_BYTES, raw_header
from nethical_runner.data.synthetic import RISK_FEATURES
from nethical_runner.spec.config import ColumnsConfig, TableConfig

__all__ = ["MAX_COLUMNS", "MAX_HEADER_BYTES", "Table", "choose_columns", "frame_to_table"]


@dataclass(frozen=True)
class Table:
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    token_columns: int  # trailing columns of X that are byte tokens of text features


def read_table(path: Path, config: TableConfig, shown: str, limit: int | None) -> Table:
    """Rows of ``path`` as declared by ``config``; ``shown`` names the file in messages.

    Every step is linear in the number of columns, so a very wide file costs its reading time
    and nothing more. Compressed content is read only as declared, and measured before it is
    parsed (:mod:`nethical_runner.data.compressed`).
    """
    source = TableFile(path, config.compression, shown)
    source.check(read_through=True)
    header = raw_header(source, config.delimiter)
    try:
        with source.open() as handle:
            frame = _read_csv(handle, config.delimiter, limit)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{shown}: cannot be read as CSV: {_one_line(error)}") from None
    if frame.empty:
        raise DataError(f"{shown}: the table has no rows")
    columns = choose_columns(frame, config, shown, header, config.delimiter)
    return frame_to_table(frame, config, shown, columns)


def read_table_chunks(
    path: Path, config: TableConfig, shown: str, limit: int | None, chunk_rows: int
) -> Iterator[Table]:
    """The same rows as :func:`read_table`, ``chunk_rows`` at a time, so a file larger than
    memory can be read; the columns are chosen from the first chunk and kept for all."""
    source = TableFile(path, config.compression, shown)
    source.check(read_through=False)  # a chunk at a time: the bound stops the stream
    header = raw_header(source, config.delimiter)
    columns: tuple[list[str], str] | None = None
    try:
        with source.open() as handle:
            for frame in _read_csv(handle, config.delimiter, limit, chunk_rows):
                columns = columns or choose_columns(frame, config, shown, header, config.delimiter)
                yield frame_to_table(frame, config, shown, columns)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{shown}: cannot be read as CSV: {_one_line(error)}") from None
    if columns is None:
        raise DataError(f"{shown}: the table has no rows")


def _read_csv(
    handle: IO[bytes], delimiter: str, limit: int | None, chunk_rows: int | None = None
) -> Any:
    """pandas on bytes already decompressed as declared: ``compression=None``, since pandas
    would otherwise guess a decompressor itself (from a name, or from the bytes of a handle)."""
    return pd.read_csv(
        handle,
        sep=delimiter,
        nrows=limit,
        chunksize=chunk_rows,
        low_memory=False,
        compression=None,
    )


def _one_line(error: Exception) -> str:
    """The parser's message (which ends in a line break) on one bounded line."""
    return printable(clip(" ".join(str(error).split()), 500))


def choose_columns(
    frame: pd.DataFrame,
    config: ColumnsConfig,
    shown: str,
    header: list[str] | None,
    delimiter: str | None = None,
    header_lines: int = 1,
) -> tuple[list[str], str]:
    """Feature columns and label column, as declared or by the old script's rule;
    ``delimiter`` is the separator of a text table (None for a typed format), ``header_lines``
    as for :func:`frame_to_table`."""
    duplicated = _duplicated(frame, header)
    if duplicated:
        names = ", ".join(shown_name(column) for column in duplicated)
        raise DataError(f"{shown}: duplicated column names: {names}")
    if delimiter is not None and frame.shape[1] == 1 and delimiter not in str(frame.columns[0]):
        raise DataError(
            f"{shown}: only one column ({brief(frame.columns[0])}); is the delimiter "
            f"{delimiter!r} right?"
        )
    label = config.label or _guess_label(frame, shown)
    if label not in frame.columns:
        hint = missing_hint(label, list(frame.columns))
        raise DataError(f"{shown}: no label column {brief(label)} ({hint})")
    features = config.features or _guess_features(frame, label, shown, header_lines)
    present = set(frame.columns)
    missing = [f for f in features if f not in present]
    if missing:
        hint = missing_hint(missing[0], list(frame.columns))
        raise DataError(f"{shown}: no column {brief(missing[0])} ({hint})")
    if label in features:
        raise DataError(f"{shown}: column {brief(label)} is both the label and a feature")
    return features, label


def frame_to_table(
    frame: pd.DataFrame,
    config: ColumnsConfig,
    shown: str,
    columns: tuple[list[str], str],
    *,
    header_lines: int = 1,
) -> Table:
    """The chosen columns as features and binary labels, the spec's NA policy applied.
    ``header_lines`` is how many lines precede the first row in the file (1 for a CSV, 0 for
    a format without lines, whose messages then count rows)."""
    features, label = columns
    frame = _apply_na_policy(frame[[*features, label]], config.na, shown, header_lines)
    y = _binary_labels(frame[label], config.positive, shown, label)
    numeric_columns = {
        str(name) for name, dtype in frame.dtypes.items() if pd.api.types.is_numeric_dtype(dtype)
    }
    numeric = [f for f in features if f in numeric_columns]
    text = [f for f in features if f not in numeric_columns]
    blocks = [_numeric_block(frame, numeric, shown)]
    blocks += [_byte_tokens(frame[column], config.text_length) for column in text]
    names = [*numeric]
    for column in text:
        names += [f"{column}[{i}]" for i in range(config.text_length)]
    return Table(np.hstack(blocks), y, tuple(names), len(text) * config.text_length)


def _duplicated(frame: pd.DataFrame, header: list[str] | None) -> list[str]:
    """pandas' names of the columns whose header name is written more than once."""
    columns = [str(c) for c in frame.columns]
    if header is not None and len(header) == len(columns):
        counts = Counter(name for name in header if name)  # pandas names empty ones uniquely
        return [column for column, name in zip(columns, header, strict=True) if counts[name] > 1]
    names = set(columns)  # a header pandas read differently: judge by its renaming
    repeated = {n.rsplit(".", 1)[0] for n in columns if "." in n and n.rsplit(".", 1)[0] in names}
    return [column for column in columns if column.rsplit(".", 1)[0] in repeated]


def _guess_label(frame: pd.DataFrame, shown: str) -> str:
    for column in frame.columns:
        if "label" in str(column).lower() or "target" in str(column).lower():
            return str(column)
    raise DataError(
        f"{shown}: no column name contains 'label' or 'target'; set data.*.label "
        f"(columns: {listing(list(frame.columns))})"
    )


def _guess_features(frame: pd.DataFrame, label: str, shown: str, header_lines: int) -> list[str]:
    by_lower = {str(c).lower(): str(c) for c in frame.columns}
    if all(name in by_lower for name in RISK_FEATURES):
        return [by_lower[name] for name in RISK_FEATURES]
    numeric = []
    for name, dtype in frame.dtypes.items():
        if name == label:
            continue
        if pd.api.types.is_numeric_dtype(dtype):
            numeric.append(str(name))
        else:
            _refuse_mixed(frame[name], str(name), shown, header_lines)
    if not numeric:
        raise DataError(f"{shown}: no numeric feature column besides {brief(label)}")
    return numeric


def _refuse_mixed(column: pd.Series, name: str, shown: str, header_lines: int) -> None:
    """A column of numbers with a stray word would silently drop out of the guessed features;
    mostly numbers means it was meant as a feature, so the stray value is an error."""
    values = column.dropna()
    parsed = pd.to_numeric(values, errors="coerce")
    if values.empty or parsed.notna().sum() * 2 < values.size:
        return  # a text column, not a broken numeric one
    first = int(np.flatnonzero(parsed.isna().to_numpy())[0])
    # Positions, not index labels: pandas may have guessed an index (even NaN) from ragged rows.
    row = int(np.flatnonzero(column.notna().to_numpy())[first]) + 1
    at = f"line {row + header_lines}" if header_lines else f"row {row}"
    raise DataError(
        f"{shown}: column {brief(name)} mixes numbers and text ({brief(values.iloc[first])} at "
        f"{at}); fix the value, or list the features to use"
    )


def _apply_na_policy(
    frame: pd.DataFrame, policy: str, shown: str, header_lines: int
) -> pd.DataFrame:
    missing = frame.isna()
    if not missing.any().any():
        return frame
    empty = missing.all()
    if empty.any():
        raise DataError(f"{shown}: column {brief(str(empty.idxmax()))} has no values in any row")
    if policy == "error":
        column = str(missing.any().idxmax())
        rows = np.flatnonzero(missing[column].to_numpy())
        # A range index counts rows of the whole file (also in chunks); any other index is
        # pandas' guess from ragged rows, so count positions. Lines and rows count from 1.
        ranged = isinstance(frame.index, pd.RangeIndex)
        first = (int(frame.index[rows[0]]) if ranged else int(rows[0])) + 1
        at = f"line {first + header_lines}" if header_lines else f"row {first}"
        raise DataError(
            f"{shown}: column {brief(column)} has {rows.size} missing values (first at {at}); "
            "set na: drop to skip such rows"
        )
    kept = frame[~missing.any(axis=1)]
    if kept.empty:
        raise DataError(f"{shown}: every row has a missing value (na: drop left nothing)")
    return kept


def _binary_labels(
    labels: pd.Series, positive: str | int | None, shown: str, column: str
) -> np.ndarray:
    if positive is not None:
        if not (labels == positive).any():
            raise DataError(
                f"{shown}: label column {brief(column)} never equals positive {brief(positive)}"
            )
        y = (labels == positive).to_numpy().astype(np.int64)
    else:
        values = set(pd.unique(labels).tolist())
        if not values <= {0, 1}:
            shown_values = ", ".join(brief(v, 60) for v in sorted(values, key=str)[:5])
            raise DataError(
                f"{shown}: label column {brief(column)} is not binary 0/1 (values: "
                f"{shown_values}); set positive to the value that means 1"
            )
        y = labels.to_numpy().astype(np.int64)
    if np.unique(y).size < 2:
        # Every model "learns" one class perfectly, and the gate would promote it.
        value = labels.iloc[0]
        value = value.item() if isinstance(value, np.generic) else value
        raise DataError(
            f"{shown}: label column {brief(column)} holds one class only ({brief(value)} in all "
            f"{y.size} rows); a classifier needs rows of both classes"
        )
    return y


def _numeric_block(frame: pd.DataFrame, columns: list[str], shown: str) -> np.ndarray:
    block = frame[columns].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(block)):
        bad = int(np.argmax(~np.isfinite(block).all(axis=0)))
        raise DataError(f"{shown}: column {brief(columns[bad])} holds infinite values")
    return block


def _byte_tokens(column: pd.Series, length: int) -> np.ndarray:
    """UTF-8 bytes of each value as token ids ``byte + 1`` (0 pads), cut at ``length``."""
    encoded = np.char.encode(column.astype(str).to_numpy(dtype=str), "utf-8")
    fixed = encoded.astype(f"S{length}")  # truncates and pads with NUL bytes
    codes = np.frombuffer(fixed.tobytes(), dtype=np.uint8).reshape(-1, length)
    lengths = np.char.str_len(fixed)
    tokens = codes.astype(np.float64) + 1.0
    tokens[np.arange(length)[None, :] >= lengths[:, None]] = 0.0
    return tokens
