"""Turn a CSV file into a feature matrix and binary labels, or say exactly what is wrong.

Column choice follows the script this replaces when the spec does not list features: its five
risk feature names if the file has them all, else every numeric column but the label; the label
is the first column whose name contains "label" or "target". Unlike the original, which skipped
bad rows silently and cast any label with ``int()``, every problem is an error naming the file
and the column, with a NaN policy the spec chooses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nethical_runner.data.errors import DataError
from nethical_runner.data.synthetic import RISK_FEATURES
from nethical_runner.spec.models import TableConfig


@dataclass(frozen=True)
class Table:
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    token_columns: int  # trailing columns of X that are byte tokens of text features


def read_table(path: Path, config: TableConfig, shown: str, limit: int | None) -> Table:
    """Rows of ``path`` as declared by ``config``; ``shown`` names the file in messages."""
    try:
        frame = pd.read_csv(path, sep=config.delimiter, nrows=limit, low_memory=False)
    except FileNotFoundError:
        raise DataError(f"{shown}: file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{shown}: cannot be read as CSV: {error}") from None
    if frame.empty:
        raise DataError(f"{shown}: the table has no rows")
    return frame_to_table(frame, config, shown, choose_columns(frame, config, shown))


def read_table_chunks(
    path: Path, config: TableConfig, shown: str, limit: int | None, chunk_rows: int
) -> Iterator[Table]:
    """The same rows as :func:`read_table`, ``chunk_rows`` at a time, so a file larger than
    memory can be read; the columns are chosen from the first chunk and kept for all."""
    try:
        reader = pd.read_csv(
            path, sep=config.delimiter, nrows=limit, chunksize=chunk_rows, low_memory=False
        )
        columns: tuple[list[str], str] | None = None
        for frame in reader:
            columns = columns or choose_columns(frame, config, shown)
            yield frame_to_table(frame, config, shown, columns)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{shown}: cannot be read as CSV: {error}") from None
    if columns is None:
        raise DataError(f"{shown}: the table has no rows")


def choose_columns(frame: pd.DataFrame, config: TableConfig, shown: str) -> tuple[list[str], str]:
    """Feature columns and label column, as declared or by the seed's rule."""
    duplicated = [str(c) for c in frame.columns if str(c).rsplit(".", 1)[0] in _dupe_bases(frame)]
    if duplicated:
        raise DataError(f"{shown}: duplicated column names: {', '.join(duplicated)}")
    if frame.shape[1] == 1 and config.delimiter not in str(frame.columns[0]):
        raise DataError(
            f"{shown}: only one column ({frame.columns[0]!r}); is the delimiter "
            f"{config.delimiter!r} right?"
        )
    label = config.label or _guess_label(frame, shown)
    if label not in frame.columns:
        raise DataError(f"{shown}: no label column {label!r}; columns: {_listing(frame)}")
    features = config.features or _guess_features(frame, label, shown)
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise DataError(f"{shown}: no column {missing[0]!r}; columns: {_listing(frame)}")
    if label in features:
        raise DataError(f"{shown}: column {label!r} is both the label and a feature")
    return features, label


def frame_to_table(
    frame: pd.DataFrame, config: TableConfig, shown: str, columns: tuple[list[str], str]
) -> Table:
    features, label = columns
    frame = _apply_na_policy(frame[[*features, label]], config.na, shown)
    y = _binary_labels(frame[label], config.positive, shown, label)
    numeric = [f for f in features if pd.api.types.is_numeric_dtype(frame[f])]
    text = [f for f in features if f not in numeric]
    blocks = [_numeric_block(frame, numeric, shown)]
    blocks += [_byte_tokens(frame[column], config.text_length) for column in text]
    names = [*numeric]
    for column in text:
        names += [f"{column}[{i}]" for i in range(config.text_length)]
    return Table(np.hstack(blocks), y, tuple(names), len(text) * config.text_length)


def _dupe_bases(frame: pd.DataFrame) -> set[str]:
    """pandas renames a repeated header ``a`` to ``a.1``; find the names that were repeated."""
    names = [str(c) for c in frame.columns]
    return {n.rsplit(".", 1)[0] for n in names if "." in n and n.rsplit(".", 1)[0] in names}


def _listing(frame: pd.DataFrame, most: int = 20) -> str:
    names = [str(c) for c in frame.columns]
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _guess_label(frame: pd.DataFrame, shown: str) -> str:
    for column in frame.columns:
        if "label" in str(column).lower() or "target" in str(column).lower():
            return str(column)
    raise DataError(
        f"{shown}: no column name contains 'label' or 'target'; set data.*.label "
        f"(columns: {_listing(frame)})"
    )


def _guess_features(frame: pd.DataFrame, label: str, shown: str) -> list[str]:
    by_lower = {str(c).lower(): str(c) for c in frame.columns}
    if all(name in by_lower for name in RISK_FEATURES):
        return [by_lower[name] for name in RISK_FEATURES]
    numeric = [
        str(c) for c in frame.columns if c != label and pd.api.types.is_numeric_dtype(frame[c])
    ]
    if not numeric:
        raise DataError(f"{shown}: no numeric feature column besides {label!r}")
    return numeric


def _apply_na_policy(frame: pd.DataFrame, policy: str, shown: str) -> pd.DataFrame:
    missing = frame.isna()
    if not missing.any().any():
        return frame
    if policy == "error":
        column = str(missing.any().idxmax())
        rows = np.flatnonzero(missing[column].to_numpy())
        # The index counts rows of the whole file (also in chunks); +2 for the header line and
        # because file lines count from 1.
        first_line = int(frame.index[rows[0]]) + 2
        raise DataError(
            f"{shown}: column {column!r} has {rows.size} missing values (first at line "
            f"{first_line}); set na: drop to skip such rows"
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
            raise DataError(f"{shown}: label column {column!r} never equals positive {positive!r}")
        return (labels == positive).to_numpy().astype(np.int64)
    values = set(pd.unique(labels).tolist())
    if not values <= {0, 1}:
        shown_values = ", ".join(repr(v) for v in sorted(values, key=str)[:5])
        raise DataError(
            f"{shown}: label column {column!r} is not binary 0/1 (values: {shown_values}); "
            "set positive to the value that means 1"
        )
    return labels.to_numpy().astype(np.int64)


def _numeric_block(frame: pd.DataFrame, columns: list[str], shown: str) -> np.ndarray:
    block = frame[columns].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(block)):
        bad = int(np.argmax(~np.isfinite(block).all(axis=0)))
        raise DataError(f"{shown}: column {columns[bad]!r} holds infinite values")
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
