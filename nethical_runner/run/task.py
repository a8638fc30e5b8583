"""One cohort's training as plain data: what a worker is sent, and what it sends back.

Training may happen in another process or on another machine (:mod:`nethical_runner.run.
executors`), so both directions are bytes in the project's own formats: an ``.npz`` archive of
numeric arrays and a JSON header, with the model inside as its own ``.npz`` file. Nothing in
either is unpickled; the controller reads a worker's answer with the same bounded reader as a
model file, and loads the model under its own estimator prefixes, never the worker's. The
in-process executor sends the same bytes, so every executor runs exactly this path and gives
the same metrics.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nethical_runner.data import Dataset, Split
from nethical_runner.models import ModelFileError
from nethical_runner.models.base import read_arrays
from nethical_runner.spec.config import RunConfig

_HEADER = "header"


class WireError(ValueError):
    """A task or an answer that is not what this package sends."""


@dataclass(frozen=True)
class CohortTask:
    """Everything a worker needs to train one cohort and validate it."""

    key: str  # the result-cache key: the same key, the same result
    spec_name: str
    cohort_id: str
    config: RunConfig
    estimator_prefixes: tuple[str, ...]
    root: Path  # that CSV paths are relative to; must name the same data on the worker
    cache_dir: Path  # where Kaggle datasets are kept
    data_identity: str  # what the controller found (see nethical_runner.data.identity)
    environment: dict[str, Any]  # the controller's code and library versions
    cached_model: bytes | None = None  # a result-cache hit: validate it, do not train

    def encode(self) -> bytes:
        header = {
            "key": self.key,
            "spec": self.spec_name,
            "cohort": self.cohort_id,
            "config": self.config.model_dump(mode="json"),
            "estimator_prefixes": list(self.estimator_prefixes),
            "root": str(self.root),
            "cache_dir": str(self.cache_dir),
            "data_identity": self.data_identity,
            "environment": self.environment,
        }
        arrays = {} if self.cached_model is None else {"cached_model": _bytes(self.cached_model)}
        return pack(header, arrays)

    @classmethod
    def decode(cls, data: bytes) -> CohortTask:
        header, arrays = unpack(data)
        try:
            cached = arrays.get("cached_model")
            return cls(
                key=str(header["key"]),
                spec_name=str(header["spec"]),
                cohort_id=str(header["cohort"]),
                config=RunConfig.model_validate(header["config"]),
                estimator_prefixes=tuple(map(str, header["estimator_prefixes"])),
                root=Path(header["root"]),
                cache_dir=Path(header["cache_dir"]),
                data_identity=str(header["data_identity"]),
                environment=dict(header["environment"]),
                cached_model=None if cached is None else cached.tobytes(),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise WireError(f"not a cohort task: {type(error).__name__}: {error}") from None


@dataclass(frozen=True)
class TrainedCohort:
    """A worker's answer: the trained model, the validation rows and what was measured on
    them. The training rows stay where they were read."""

    model_bytes: bytes
    dataset: Dataset  # its validation rows only; ``whole`` holds all rows' count and hash
    split: Split  # the validation rows, and how many training rows there were
    probabilities: np.ndarray  # positive-class probability of every validation row
    metrics: dict[str, Any]
    stage_ms: dict[str, float]
    cached: bool  # validated a result-cache hit instead of training
    data_identity: str  # what the worker found, for the controller to compare with its own
    trained_on: dict[str, str]  # executor, host and (on a cluster) worker address

    def encode(self) -> bytes:
        dataset = self.dataset
        header = {
            "dataset": {
                "feature_names": list(dataset.feature_names),
                "source": dataset.source,
                "description": dataset.description,
                "fallback_reason": dataset.fallback_reason,
                "token_columns": dataset.token_columns,
                "rows": dataset.rows,
                "sha256": dataset.fingerprint,
            },
            "train_rows": self.split.train_rows,
            "metrics": self.metrics,
            "stage_ms": self.stage_ms,
            "cached": self.cached,
            "data_identity": self.data_identity,
            "trained_on": self.trained_on,
        }
        arrays = {
            "model": _bytes(self.model_bytes),
            "X_val": self.split.X_val,
            "y_val": self.split.y_val,
            "probabilities": self.probabilities,
        }
        return pack(header, arrays)

    @classmethod
    def decode(cls, data: bytes) -> TrainedCohort:
        header, arrays = unpack(data)
        try:
            found = header["dataset"]
            X_val, y_val = arrays["X_val"], arrays["y_val"]
            dataset = Dataset(
                X_val,
                y_val,
                tuple(map(str, found["feature_names"])),
                str(found["source"]),
                str(found["description"]),
                None if found["fallback_reason"] is None else str(found["fallback_reason"]),
                token_columns=int(found["token_columns"]),
                whole=(int(found["rows"]), str(found["sha256"])),
            )
            empty = np.empty((0, X_val.shape[1]), dtype=X_val.dtype)
            train_rows = int(header["train_rows"])
            split = Split(empty, y_val[:0], X_val, y_val, counted_train_rows=train_rows)
            return cls(
                model_bytes=arrays["model"].tobytes(),
                dataset=dataset,
                split=split,
                probabilities=arrays["probabilities"],
                metrics=dict(header["metrics"]),
                stage_ms={str(k): float(v) for k, v in header["stage_ms"].items()},
                cached=bool(header["cached"]),
                data_identity=str(header["data_identity"]),
                trained_on={str(k): str(v) for k, v in header["trained_on"].items()},
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
            raise WireError(f"not a trained cohort: {type(error).__name__}: {error}") from None


@dataclass(frozen=True)
class FailedCohort:
    """A worker's answer when training raised: the reason, as every check of it will say."""

    reason: str
    details: str  # the traceback, as text

    def encode(self) -> bytes:
        return pack({"failed": self.reason, "details": self.details}, {})


def decode_answer(data: bytes) -> TrainedCohort | FailedCohort:
    header, _ = unpack(data)
    if "failed" in header:
        return FailedCohort(str(header["failed"]), str(header.get("details", "")))
    return TrainedCohort.decode(data)


def describe_place(trained_on: dict[str, str]) -> str:
    """``dask worker tcp://10.0.0.5:40211 (host gpu-3)`` or ``this process (host ci-1)``."""
    host = trained_on.get("host", "?")
    if "worker" in trained_on:
        return f"{trained_on['executor']} worker {trained_on['worker']} (host {host})"
    return f"this process (host {host})"


def pack(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """One ``.npz`` archive (uncompressed: it is read once, at once) of the arrays and the
    header as JSON bytes. Floats go through JSON exactly (shortest round-trip repr)."""
    text = json.dumps(header, sort_keys=True, default=_plain)
    members: dict[str, Any] = {_HEADER: _bytes(text.encode()), **arrays}
    buffer = io.BytesIO()
    np.savez(buffer, **members)
    return buffer.getvalue()


def unpack(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    try:
        arrays = read_arrays(io.BytesIO(data))
        header = json.loads(arrays.pop(_HEADER).tobytes().decode())
    except (ModelFileError, KeyError, ValueError) as error:
        raise WireError(f"not a message of this package: {error}") from None
    if not isinstance(header, dict):
        raise WireError("not a message of this package: its header is not a mapping")
    return header, arrays


def _bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8)


def _plain(value: Any) -> Any:
    """numpy scalars in metrics, as the Python numbers they equal."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not plain data")
