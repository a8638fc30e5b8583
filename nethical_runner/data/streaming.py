"""Training rows read from a table file a chunk at a time, for files larger than memory.

The file is parsed once, chunk by chunk: rows before the temporal cut are spilled as raw
float64 to a temporary file, the validation rows (a fraction of the file) are kept. Each epoch
then reads the spill back a chunk at a time, so peak memory is a few chunks whatever the file
size, and the file is never parsed twice. A CSV and a Parquet file of the same rows, read in
chunks of the same size, give the same spill, the same validation rows and the same digest.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nethical_runner.data.compressed import TableFile
from nethical_runner.data.errors import DataError
from nethical_runner.data.tables import Table, read_table_chunks
from nethical_runner.spec.config import ColumnsConfig, TableConfig

Chunk = tuple[np.ndarray, np.ndarray]


@dataclass
class StreamedTable:
    spill: Path
    n_train: int
    feature_names: tuple[str, ...]
    X_val: np.ndarray
    y_val: np.ndarray
    sha256: str
    chunk_rows: int

    def train_chunks(self) -> Iterator[Chunk]:
        """The training rows in file order, ``chunk_rows`` at a time (features, labels)."""
        width = len(self.feature_names) + 1
        with self.spill.open("rb") as handle:
            while True:
                block = np.fromfile(handle, dtype=np.float64, count=self.chunk_rows * width)
                if block.size == 0:
                    return
                rows = block.reshape(-1, width)
                yield rows[:, :-1], rows[:, -1].astype(np.int64)


def count_rows(source: TableFile) -> int:
    """Data rows of a CSV (lines after the header), counted in 1 MiB blocks of its bytes as
    declared; a compressed file that expands past the bound is refused here, before parsing."""
    lines, last = 0, b"\n"
    with source.open() as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last != b"\n"  # a last line without its newline
    return max(lines - 1, 0)


@contextmanager
def stream_csv(
    path: Path,
    config: TableConfig,
    shown: str,
    *,
    limit: int | None,
    train_fraction: float,
    chunk_rows: int,
) -> Iterator[StreamedTable]:
    """Parse ``path`` once into a spill file of training rows and in-memory validation rows;
    the spill file is removed when the context ends."""
    source = TableFile(path, config.compression, shown)
    source.check(read_through=False)  # counting the rows reads it through
    rows = count_rows(source)
    chunks = read_table_chunks(path, config, shown, limit, chunk_rows)
    with stream_table(
        chunks, rows, shown, limit=limit, train_fraction=train_fraction, chunk_rows=chunk_rows
    ) as table:
        yield table


@contextmanager
def stream_parquet(
    path: Path,
    config: ColumnsConfig,
    shown: str,
    *,
    limit: int | None,
    train_fraction: float,
    chunk_rows: int,
) -> Iterator[StreamedTable]:
    """:func:`stream_csv` for a Parquet file: its row groups read in order, its row count
    from its footer."""
    from nethical_runner.data.parquet import open_parquet, read_parquet_chunks  # pyarrow

    table = open_parquet(path, shown)
    chunks = read_parquet_chunks(table, config, limit, chunk_rows)
    with stream_table(
        chunks, table.rows, shown, limit=limit, train_fraction=train_fraction,
        chunk_rows=chunk_rows,
    ) as streamed:  # fmt: skip
        yield streamed


@contextmanager
def stream_table(
    chunks: Iterable[Table],
    rows: int,
    shown: str,
    *,
    limit: int | None,
    train_fraction: float,
    chunk_rows: int,
) -> Iterator[StreamedTable]:
    """Spill the training part of ``chunks`` (a file of ``rows`` rows, read in order) and keep
    the rest; the temporal cut is at ``train_fraction`` of the rows read."""
    total = rows if limit is None else min(limit, rows)
    n_train = int(total * train_fraction)
    if not 0 < n_train < total:
        raise DataError(f"{shown}: {total} rows leave no training or no validation rows")
    digest = hashlib.sha256()
    validation: list[Chunk] = []
    names: tuple[str, ...] = ()
    seen = trained = 0
    with tempfile.TemporaryDirectory(prefix="nethical-stream-") as folder:
        spill = Path(folder) / "train.f64"
        with spill.open("wb") as handle:
            for table in chunks:
                if table.token_columns:
                    raise DataError(f"{shown}: text columns cannot be read in chunks")
                names = table.feature_names
                digest.update(np.ascontiguousarray(table.X).data)
                digest.update(np.ascontiguousarray(table.y).data)
                cut = max(0, min(table.y.size, n_train - seen))
                seen += table.y.size
                if cut:
                    np.column_stack([table.X[:cut], table.y[:cut]]).tofile(handle)
                    trained += cut
                if cut < table.y.size:
                    validation.append((table.X[cut:], table.y[cut:]))
        if not validation:
            raise DataError(f"{shown}: no validation rows left after dropping missing values")
        digest.update("\0".join(names).encode())
        X_val = np.concatenate([X for X, _ in validation])
        y_val = np.concatenate([y for _, y in validation])
        validation.clear()  # the pieces (views of whole parsed chunks) are copied: free them
        yield StreamedTable(
            spill=spill,
            n_train=trained,
            feature_names=names,
            X_val=X_val,
            y_val=y_val,
            sha256=digest.hexdigest(),
            chunk_rows=chunk_rows,
        )
