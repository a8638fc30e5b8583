"""The part of a cohort's run that may happen anywhere: read the data, split it, fit the model
(or take the result cache's), predict the validation rows and compute their metrics.

It reads only its :class:`~nethical_runner.run.task.CohortTask` and the data that names, and
writes nothing: what it produced goes back as a :class:`~nethical_runner.run.task.
TrainedCohort`, and the controller (:mod:`nethical_runner.run.pipeline`) decides, saves and
reports. Preprocessing is part of each model, fitted on the training rows only.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np

from nethical_runner.data import (
    DataError,
    Dataset,
    Split,
    StreamedData,
    load_dataset,
    split_dataset,
    stream_data,
)
from nethical_runner.data.identity import data_identity
from nethical_runner.metrics.classification import classification_metrics
from nethical_runner.models import (
    EpochCallback,
    Model,
    ReadsText,
    TrainsFromChunks,
    TrainsInEpochs,
    build_model,
    load_model,
)
from nethical_runner.run.cache import environment
from nethical_runner.run.task import CohortTask, FailedCohort, TrainedCohort, describe_place
from nethical_runner.spec.config import RunConfig

STAGES = ("data_load", "preprocessing", "training", "validation")
PREDICT_BLOCK_ROWS = 65_536


def run_encoded(
    task: bytes,
    executor: str,
    worker: str | None = None,
    on_epoch: EpochCallback | None = None,
) -> bytes:
    """A worker's whole job: an encoded task in, an encoded answer out. A failure is an answer
    too (its reason and traceback as text), so no exception object travels back. ``on_epoch``
    is told of each training epoch, where the caller can hear it (in this process)."""
    trained_on = {"executor": executor, "host": socket.gethostname(), "pid": str(os.getpid())}
    if worker is not None:
        trained_on["worker"] = worker
    try:
        return train_task(CohortTask.decode(task), trained_on, on_epoch).encode()
    except Exception as error:  # reported per cohort, so every check can say why it failed
        return FailedCohort(f"{type(error).__name__}: {error}", traceback.format_exc()).encode()


def train_task(
    task: CohortTask, trained_on: dict[str, str], on_epoch: EpochCallback | None = None
) -> TrainedCohort:
    differing = _differences(task.environment, environment())
    if differing:
        raise RuntimeError(
            f"{describe_place(trained_on)} runs other code than the controller "
            f"({'; '.join(differing)}): install the same nethical-runner and libraries there"
        )
    config = task.config
    model = _new_model(config, task.estimator_prefixes)
    stage_ms: dict[str, float] = {}
    with ExitStack() as stack:
        with _timed(stage_ms, "data_load"):
            identity = data_identity(config.data, root=task.root, cache_dir=task.cache_dir)
            dataset, streamed = _load_data(task, model, stack)
        if dataset.token_columns:
            model = _reading_text(model, dataset)
        with _timed(stage_ms, "preprocessing"):
            split = (
                streamed.split
                if streamed
                else split_dataset(dataset, config.data.split, config.training.seed)
            )
        if task.cached_model is not None:  # a hit saves the training, never the validation
            model, metadata = load_model(task.cached_model, task.estimator_prefixes)
            stage_ms["training"] = float(metadata["training_ms"])
        else:
            chunks = streamed.train_chunks if streamed else None
            _train(model, config, split, chunks, stage_ms, on_epoch)
            model.feature_names = dataset.feature_names  # saved with it, checked on frames
        with _timed(stage_ms, "validation"):
            probabilities = _predicted(model, split.X_val)
            metrics = classification_metrics(
                split.y_val,
                probabilities,
                threshold=config.metrics.decision_threshold,
                ece_bins=config.metrics.ece_bins,
                ece_confidence=config.metrics.ece_confidence,
            )
    validation_only = Dataset(
        split.X_val,
        split.y_val,
        dataset.feature_names,
        dataset.source,
        dataset.description,
        dataset.fallback_reason,
        dataset.token_columns,
        whole=(dataset.rows, dataset.fingerprint),
    )
    return TrainedCohort(
        model_bytes=task.cached_model or model.to_npz_bytes({"training_ms": stage_ms["training"]}),
        dataset=validation_only,
        split=Split(
            split.X_train[:0], split.y_train[:0], split.X_val, split.y_val, split.train_rows
        ),
        probabilities=probabilities,
        metrics=metrics,
        stage_ms=stage_ms,
        cached=task.cached_model is not None,
        data_identity=identity,
        trained_on=trained_on,
    )


def _predicted(model: Model, X: np.ndarray) -> np.ndarray:
    """p(class 1) of every validation row, predicted a block of rows at a time: a model's
    temporaries (a standardised copy, two probability columns) then cost a block, not a
    multiple of the validation rows, which a file read in chunks may hold millions of."""
    blocks = range(0, X.shape[0], PREDICT_BLOCK_ROWS)
    if len(blocks) <= 1:
        return model.predict_proba(X)[:, 1]
    return np.concatenate(
        [model.predict_proba(X[i : i + PREDICT_BLOCK_ROWS])[:, 1] for i in blocks]
    )


def _differences(wanted: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """``numpy 2.1.0 here, 1.26.4 on the controller``, for each thing that differs."""
    flat = [("nethical-runner", "version"), ("nethical-runner source", "code")]
    differing = [
        f"{label} {found.get(key)} here, {wanted.get(key)} on the controller"
        for label, key in flat
        if wanted.get(key) != found.get(key)
    ]
    here, there = found.get("versions", {}), wanted.get("versions", {})
    for name in sorted(set(here) | set(there)):
        if here.get(name) != there.get(name):
            differing.append(f"{name} {here.get(name)} here, {there.get(name)} on the controller")
    return differing


def _new_model(config: RunConfig, prefixes: tuple[str, ...]) -> Model:
    declared = config.model
    return build_model(declared.type, declared.params, declared.estimator, prefixes)


def _load_data(
    task: CohortTask, model: Model, stack: ExitStack
) -> tuple[Dataset, StreamedData | None]:
    """The cohort's rows; a CSV or Parquet file with ``chunk_rows`` is streamed (its spill
    file lives as long as ``stack``) and only its validation rows are held in memory."""
    config = task.config
    if config.data.chunk_rows:
        if not isinstance(model, TrainsFromChunks):  # refused at collection already
            raise DataError(
                f"data.{config.data.source}.chunk_rows: {model.type_name} cannot train from "
                "chunks; logistic can, or drop chunk_rows to load the whole table"
            )
        streamed = stack.enter_context(stream_data(config.data, task.root))
        return streamed.dataset, streamed
    dataset = load_dataset(
        config.data,
        synthetic_kind=model.synthetic_kind(model.params),
        seed=config.training.seed,
        root=task.root,
        cache_dir=task.cache_dir,
    )
    return dataset, None


def _train(
    model: Model,
    config: RunConfig,
    split: Split,
    chunks: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]] | None,
    stage_ms: dict[str, float],
    on_epoch: EpochCallback | None,
) -> None:
    training = config.training
    with _timed(stage_ms, "training"):
        if chunks is not None:
            assert isinstance(model, TrainsFromChunks)  # _load_data streams for no other model
            model.fit_chunks(
                chunks,
                epochs=training.epochs,
                batch_size=training.batch_size,
                seed=training.seed,
                on_epoch=on_epoch,
            )
        elif isinstance(model, TrainsInEpochs):
            model.fit_epochs(
                split.X_train,
                split.y_train,
                epochs=training.epochs,
                batch_size=training.batch_size,
                seed=training.seed,
                on_epoch=on_epoch,
            )
        else:
            model.fit(
                split.X_train,
                split.y_train,
                epochs=training.epochs,
                batch_size=training.batch_size,
                seed=training.seed,
            )


def _reading_text(model: Model, dataset: Dataset) -> Model:
    """The same model told how many trailing columns are byte tokens of text features."""
    if not isinstance(model, ReadsText):
        text = sorted({name.rsplit("[", 1)[0] for name in dataset.feature_names if "[" in name})
        raise DataError(
            f"{', '.join(text)}: text columns can only feed simple_transformer, "
            f"not {model.type_name}"
        )
    return model.with_token_columns(dataset.token_columns)


@contextmanager
def _timed(into: dict[str, Any], stage: str) -> Iterator[None]:
    start = time.perf_counter_ns()
    yield
    into[stage] = (time.perf_counter_ns() - start) / 1e6
