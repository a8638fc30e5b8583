"""Where training rows come from, and how they are split.

A :class:`Dataset` always says which data it holds, so every result can be traced to its
source: a pass on synthetic rows that stood in for unavailable real data says
``synthetic (fallback: <reason>)`` wherever it is shown, never a plain pass.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nethical_runner._escape import brief, clip, printable
from nethical_runner.data import synthetic
from nethical_runner.data.errors import DataError
from nethical_runner.data.kaggle import DataUnavailable, fetch_dataset, find_file
from nethical_runner.spec.config import DataConfig, SplitConfig

DEFAULT_SYNTHETIC_SAMPLES = 10_000

__all__ = [
    "DataError",
    "DataUnavailable",
    "Dataset",
    "Split",
    "StreamedData",
    "load_dataset",
    "split_dataset",
    "stream_data",
]


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    source: str  # synthetic | csv | parquet | kaggle: where the rows really came from
    description: str
    fallback_reason: str | None = None
    token_columns: int = 0  # trailing columns of X holding byte tokens of text
    # (all rows, their SHA-256) when X holds only some of them: the validation rows of a
    # streamed table, or those a worker sent back
    whole: tuple[int, str] | None = None

    @property
    def rows(self) -> int:
        return self.whole[0] if self.whole else int(self.y.size)

    @property
    def label(self) -> str:
        """``csv``, ``parquet``, ``kaggle``, ``synthetic`` or ``synthetic (fallback:
        <reason>)``."""
        if self.fallback_reason:
            return f"synthetic (fallback: {self.fallback_reason})"
        return self.source

    @functools.cached_property
    def fingerprint(self) -> str:
        """SHA-256 over the feature bytes, the labels and the feature names; computed once,
        since the cache key, the metrics record and the audit log all need it."""
        if self.whole:
            return self.whole[1]
        digest = hashlib.sha256()
        for array in (self.X, self.y):
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).data)  # hashed in place, no copy
        digest.update("\0".join(self.feature_names).encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class Split:
    X_train: np.ndarray  # empty when the training rows are not held here (see below)
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    # How many training rows there were, when they were streamed from disk or stayed on the
    # worker that trained on them
    counted_train_rows: int | None = None

    @property
    def train_rows(self) -> int:
        if self.counted_train_rows is not None:
            return self.counted_train_rows
        return int(self.y_train.size)


@dataclass(frozen=True)
class StreamedData:
    """A table file read in chunks: the validation rows in memory, the training rows on
    demand."""

    dataset: Dataset
    split: Split
    train_chunks: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]]


@contextmanager
def stream_data(config: DataConfig, root: Path) -> Iterator[StreamedData]:
    """The rows of a csv or parquet source with ``chunk_rows``, read a chunk at a time."""
    table, chunk_rows = config.table, config.chunk_rows
    assert table is not None and chunk_rows is not None
    from nethical_runner.data import streaming  # pandas: only for tables

    path = table_path(config, root)
    shown = shown_path(table.path)
    stream = streaming.stream_parquet if config.source == "parquet" else streaming.stream_csv
    with stream(
        path,
        table,  # type: ignore[arg-type]  # the section of the source's own format
        shown,
        limit=config.samples,
        train_fraction=config.split.train_fraction,
        chunk_rows=chunk_rows,
    ) as streamed:
        rows = streamed.n_train + streamed.y_val.size
        dataset = Dataset(
            streamed.X_val, streamed.y_val, streamed.feature_names, config.source,
            f"{config.source} {shown} ({rows} rows, read {chunk_rows} at a time)",
            whole=(rows, streamed.sha256),
        )  # fmt: skip
        empty = np.empty((0, len(streamed.feature_names)))
        split = Split(
            empty, np.empty(0, np.int64), streamed.X_val, streamed.y_val, streamed.n_train
        )
        yield StreamedData(dataset, split, streamed.train_chunks)


def load_dataset(
    config: DataConfig, *, synthetic_kind: str, seed: int, root: Path, cache_dir: Path
) -> Dataset:
    """The rows a spec declares.

    ``seed`` is the training seed (the data seed unless ``data.seed`` is set), ``root`` the
    project root that CSV and Parquet paths are relative to, ``cache_dir`` where Kaggle
    datasets are kept.
    Unavailable data raises :class:`DataUnavailable` unless ``fallback: synthetic``; data that
    is there but unusable raises :class:`DataError` whatever the fallback.
    """
    try:
        if config.source == "csv":
            return _from_csv(config, root)
        if config.source == "parquet":
            return _from_parquet(config, root)
        if config.source == "kaggle":
            return _from_kaggle(config, cache_dir)
    except DataUnavailable as unavailable:
        if config.fallback != "synthetic":
            raise
        return _synthetic(config, synthetic_kind, seed, fallback=str(unavailable))
    return _synthetic(config, synthetic_kind, seed, fallback=None)


def _synthetic(config: DataConfig, kind: str, seed: int, fallback: str | None) -> Dataset:
    data_seed = config.seed if config.seed is not None else seed
    samples = config.samples or DEFAULT_SYNTHETIC_SAMPLES
    X, y, names = synthetic.generate(kind, samples, config.label_noise, data_seed)
    noise = config.label_noise
    description = f"synthetic ({kind} generator, seed {data_seed}, label noise {noise})"
    if fallback:
        description += f", standing in for unavailable data: {fallback}"
    return Dataset(X, y, names, "synthetic", description, fallback)


def shown_path(written: str) -> str:
    """A data path as the spec wrote it, for messages: on one line and of bounded length."""
    return printable(clip(written, 200))


def table_path(config: DataConfig, root: Path) -> Path:
    """The file of a csv or parquet source: below ``root`` (a path that leaves it, by ``..``
    or a link, is an error whatever the fallback), and present (or it is unavailable)."""
    table = config.table
    assert table is not None
    path = resolved_path(table.path, root)
    if not path.is_relative_to(root.resolve()):
        shown = brief(table.path)
        raise DataError(
            f"data.{config.source}.path {shown} leaves the project root {printable(str(root))}"
        )
    if not path.is_file():
        raise DataUnavailable("missing_file", f"{shown_path(table.path)}: file not found")
    return path


def resolved_path(written: str, root: Path) -> Path:
    """A data path as written in a spec, made absolute against the project root."""
    return (root / written).resolve()


def _from_csv(config: DataConfig, root: Path) -> Dataset:
    assert config.csv is not None
    path = table_path(config, root)
    from nethical_runner.data.tables import read_table  # pandas: only for tables

    shown = shown_path(config.csv.path)
    table = read_table(path, config.csv, shown, config.samples)
    description = f"csv {shown} ({table.y.size} rows)"
    return Dataset(
        table.X, table.y, table.feature_names, "csv", description,
        token_columns=table.token_columns,
    )  # fmt: skip


def _from_parquet(config: DataConfig, root: Path) -> Dataset:
    assert config.parquet is not None
    path = table_path(config, root)
    from nethical_runner.data.parquet import read_parquet  # pyarrow: only for Parquet tables

    shown = shown_path(config.parquet.path)
    table = read_parquet(path, config.parquet, shown, config.samples)
    return Dataset(
        table.X, table.y, table.feature_names, "parquet", f"parquet {shown} ({table.y.size} rows)",
        token_columns=table.token_columns,
    )  # fmt: skip


def _from_kaggle(config: DataConfig, cache_dir: Path) -> Dataset:
    assert config.kaggle is not None
    source = config.kaggle
    folder = fetch_dataset(
        source.dataset, version=source.version, cache_dir=cache_dir, timeout_s=source.timeout_s
    )
    path = find_file(folder, source.file)
    version = f"version {source.version}" if source.version else "latest version"
    shown = f"kaggle {source.dataset} ({version}) {source.file}"
    from nethical_runner.data.tables import read_table  # pandas: only for tables

    table = read_table(path, source, shown, config.samples)
    return Dataset(
        table.X, table.y, table.feature_names, "kaggle", f"{shown} ({table.y.size} rows)",
        token_columns=table.token_columns,
    )  # fmt: skip


def split_dataset(dataset: Dataset, config: SplitConfig, seed: int) -> Split:
    """Train/validation split; both parts must hold rows of both classes for stratification."""
    n = dataset.y.size
    n_train = int(n * config.train_fraction)
    if not 0 < n_train < n:
        raise ValueError(f"train_fraction {config.train_fraction} of {n} rows leaves an empty part")
    if config.method == "temporal":
        split = Split(
            dataset.X[:n_train], dataset.y[:n_train], dataset.X[n_train:], dataset.y[n_train:]
        )
    else:
        train, val = _stratified_indices(dataset.y, n_train, seed)
        split = Split(dataset.X[train], dataset.y[train], dataset.X[val], dataset.y[val])
    _require_both_classes(split, config.method)
    return split


def _require_both_classes(split: Split, method: str) -> None:
    """A part with one class cannot train a classifier, nor show that one separates the classes:
    on such a part every model reaches accuracy 1.0 and would be promoted."""
    for part, labels in (("training", split.y_train), ("validation", split.y_val)):
        if np.unique(labels).size == 2:
            continue
        absent = 1 - int(labels[0])
        hint = (
            "the rows may be sorted by label; try split method stratified"
            if method == "temporal"
            else f"too few rows of class {absent}"
        )
        raise DataError(
            f"the {part} part of the {method} split ({labels.size} rows) holds no rows of class "
            f"{absent}: {hint}"
        )


def _stratified_indices(y: np.ndarray, n_train: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded shuffle split keeping each class's share in both parts (largest remainders)."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * n_train / y.size
    quota = np.floor(exact).astype(np.int64)
    short = n_train - int(quota.sum())
    quota[np.argsort(-(exact - quota), kind="stable")[:short]] += 1
    train, val = [], []
    for label, take in zip(classes, quota, strict=True):
        members = rng.permutation(np.flatnonzero(y == label))
        train.append(members[:take])
        val.append(members[take:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(val))
