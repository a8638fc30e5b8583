"""Where training rows come from, and how they are split.

A :class:`Dataset` always says which data it holds (``description``) so that every result can
be traced to its source, and carries a fingerprint of its content for caches and audit records.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from nethical_runner.data import synthetic
from nethical_runner.spec.models import DataConfig, SplitConfig


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    source: str
    description: str

    @property
    def fingerprint(self) -> str:
        """SHA-256 over the feature bytes, the labels and the feature names."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.X, dtype=np.float64).tobytes())
        digest.update(np.ascontiguousarray(self.y, dtype=np.int64).tobytes())
        digest.update("\0".join(self.feature_names).encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class Split:
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray


def load_dataset(config: DataConfig, *, synthetic_kind: str, seed: int) -> Dataset:
    """The rows a spec declares; ``seed`` is the data seed, or the training seed by default."""
    data_seed = config.seed if config.seed is not None else seed
    X, y, names = synthetic.generate(synthetic_kind, config.samples, config.label_noise, data_seed)
    noise = config.label_noise
    description = f"synthetic ({synthetic_kind} generator, seed {data_seed}, label noise {noise})"
    return Dataset(X, y, names, "synthetic", description)


def split_dataset(dataset: Dataset, config: SplitConfig, seed: int) -> Split:
    """Train/validation split; both parts must hold at least one row."""
    n = dataset.y.size
    n_train = int(n * config.train_fraction)
    if not 0 < n_train < n:
        raise ValueError(f"train_fraction {config.train_fraction} of {n} rows leaves an empty part")
    if config.method == "temporal":
        return Split(
            dataset.X[:n_train],
            dataset.y[:n_train],
            dataset.X[n_train:],
            dataset.y[n_train:],
        )
    X_train, X_val, y_train, y_val = train_test_split(
        dataset.X, dataset.y, train_size=n_train, stratify=dataset.y, random_state=seed
    )
    return Split(X_train, y_train, X_val, y_val)
