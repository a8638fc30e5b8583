"""The one training path, shared by the pytest plugin and the command line.

data -> split -> fit (preprocessing is part of each model, fitted on the training rows only) ->
predicted probabilities on the validation rows -> metrics -> SLA timing (when declared) ->
gate -> save. Nothing here knows about pytest or argparse; both front ends call
:func:`run_spec` and read its result. Nor does it know who records the steps: it tells a
:class:`~nethical_runner.run.events.RunObserver`, and the audit log is one.
"""

from __future__ import annotations

import time
import traceback
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
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
from nethical_runner.drift import DriftResult, track_drift
from nethical_runner.metrics.classification import classification_metrics
from nethical_runner.metrics.gate import decide, interval_level, thresholds
from nethical_runner.metrics.intervals import Interval, metric_intervals
from nethical_runner.models import Model, ReadsText, TrainsFromChunks
from nethical_runner.run.adapters import drift_input
from nethical_runner.run.audit_observer import AuditObserver
from nethical_runner.run.cache import cache_key
from nethical_runner.run.champion import Champion, find_champion
from nethical_runner.run.events import NO_OBSERVER, RunObserver
from nethical_runner.run.results import CohortFailure, CohortResult, SpecResult
from nethical_runner.run.saving import save_cohort
from nethical_runner.run.settings import RunSettings
from nethical_runner.sla.measure import SlaResult, measure
from nethical_runner.sla.report import write_reports
from nethical_runner.spec import Cohort, RunConfig, Spec
from nethical_runner.spec.regression import bounded_metrics

STAGES = ("data_load", "preprocessing", "training", "validation")


def run_spec(spec: Spec, settings: RunSettings) -> SpecResult:
    """Train every cohort of ``spec``; one cohort's failure does not stop the others. Drift
    is measured across the cohorts once all have trained."""
    started = datetime.now(timezone.utc)
    results: dict[str, CohortResult | CohortFailure] = {}
    audit = AuditObserver.for_spec(spec, settings)
    observer = audit or NO_OBSERVER
    for cohort in spec.cohorts:
        try:
            results[cohort.id] = train_cohort(spec, cohort, settings, observer)
        except Exception as error:  # reported per cohort, so every check can say why it failed
            observer.training_failed(cohort, error)
            results[cohort.id] = CohortFailure(
                cohort.id, f"{type(error).__name__}: {error}", traceback.format_exc()
            )
    drift = track_drift(
        spec,
        {k: drift_input(v) for k, v in results.items() if isinstance(v, CohortResult)},
        {k: v.reason for k, v in results.items() if isinstance(v, CohortFailure)},
        run_id=settings.run_id,
        session=settings.session or settings.run_id,
        folder=settings.drift_dir or settings.out_dir / "drift",
        started=started,
        accept_baseline=settings.accept_baseline,
    )
    if isinstance(drift, DriftResult):
        observer.drift_reported(drift)
    receipt = audit.finish(spec, results) if audit else None
    return SpecResult(spec, settings.run_id, results, receipt, drift)


def train_cohort(
    spec: Spec, cohort: Cohort, settings: RunSettings, observer: RunObserver = NO_OBSERVER
) -> CohortResult:
    config = cohort.config
    observer.training_started(spec, cohort)
    model = cohort.new_model()
    stage_ms: dict[str, float] = {}
    with ExitStack() as stack:
        with _timed(stage_ms, "data_load"):
            dataset, streamed = _load_data(spec, config, model, settings, stack)
        observer.data_loaded(cohort, dataset)
        if dataset.token_columns:
            model = _reading_text(model, dataset)
        with _timed(stage_ms, "preprocessing"):
            split = (
                streamed.split
                if streamed
                else split_dataset(dataset, config.data.split, config.training.seed)
            )
        observer.data_split(cohort, split)
        cache = settings.result_cache
        key = cache_key(config, dataset.fingerprint, spec.estimator_prefixes) if cache else ""
        cached = cache.load(key, model, spec.estimator_prefixes) if cache else None
        if cached is not None:  # a hit saves the training, never the validation
            model = cached.model
            stage_ms["training"] = cached.training_ms
        else:
            chunks = streamed.train_chunks if streamed else None
            _train(model, config, split, chunks, stage_ms)
        probabilities, metrics = _validate(model, config, split, stage_ms)
        if cache and cached is None:
            cache.store(key, model, stage_ms["training"])
    observer.training_completed(cohort, stage_ms, cached=cached is not None)
    observer.validated(cohort, metrics)
    sla = _measure_sla(spec, cohort, settings, model, split, stage_ms)
    if sla is not None:
        observer.sla_reported(cohort, sla)
    intervals = _intervals(spec, cohort, split, probabilities)
    verdicts = decide(config.gate, metrics, intervals)
    promoted = all(v.passed for v in verdicts)
    observer.gate_decided(cohort, verdicts, promoted)
    champion = _champion(spec, cohort, settings, split)
    run_facts = {"stage_ms": stage_ms, "cached": cached is not None}
    model_path, metrics_path = save_cohort(
        spec, cohort, settings, model, dataset, metrics, verdicts, promoted, run_facts
    )
    observer.model_saved(cohort, model_path, metrics_path)
    return CohortResult(
        spec_name=spec.name,
        cohort_id=cohort.id,
        model_type=config.model.type,
        dataset=dataset,
        split=split,
        model=model,
        validation_probabilities=probabilities,
        metrics=metrics,
        intervals=intervals,
        verdicts=verdicts,
        promoted=promoted,
        model_path=model_path,
        metrics_path=metrics_path,
        stage_ms=stage_ms,
        sla=sla,
        cached=cached is not None,
        champion=champion,
    )


def _load_data(
    spec: Spec, config: RunConfig, model: Model, settings: RunSettings, stack: ExitStack
) -> tuple[Dataset, StreamedData | None]:
    """The cohort's rows; a CSV with ``chunk_rows`` is streamed (its spill file lives as long
    as ``stack``) and only its validation rows are held in memory."""
    if config.data.csv is not None and config.data.csv.chunk_rows:
        if not isinstance(model, TrainsFromChunks):
            raise DataError(
                f"data.csv.chunk_rows: {model.type_name} cannot train from chunks; "
                "logistic can, or drop chunk_rows to load the whole table"
            )
        streamed = stack.enter_context(stream_data(config.data, spec.root))
        return streamed.dataset, streamed
    dataset = load_dataset(
        config.data,
        synthetic_kind=model.synthetic_kind(model.params),
        seed=config.training.seed,
        root=spec.root,
        cache_dir=settings.cache_dir,
    )
    return dataset, None


def _train(
    model: Model,
    config: RunConfig,
    split: Split,
    chunks: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]] | None,
    stage_ms: dict[str, float],
) -> None:
    training = config.training
    with _timed(stage_ms, "training"):
        if chunks is not None:
            assert isinstance(model, TrainsFromChunks)  # _load_data streams for no other model
            model.fit_chunks(
                chunks, epochs=training.epochs, batch_size=training.batch_size, seed=training.seed
            )
        else:
            model.fit(
                split.X_train,
                split.y_train,
                epochs=training.epochs,
                batch_size=training.batch_size,
                seed=training.seed,
            )


def _validate(
    model: Model, config: RunConfig, split: Split, stage_ms: dict[str, float]
) -> tuple[np.ndarray, dict[str, Any]]:
    """The validation rows' probabilities and the metrics computed from them."""
    with _timed(stage_ms, "validation"):
        probabilities = _positive_probabilities(model, split)
        metrics = classification_metrics(
            split.y_val,
            probabilities,
            threshold=config.metrics.decision_threshold,
            ece_bins=config.metrics.ece_bins,
            ece_confidence=config.metrics.ece_confidence,
        )
    return probabilities, metrics


def _intervals(
    spec: Spec, cohort: Cohort, split: Split, probabilities: np.ndarray
) -> dict[str, Interval]:
    """Intervals of the metrics the gate and the regression bounds read, at the gate's level,
    from a bootstrap seeded by the spec and cohort names (the same rows give the same
    intervals in every run and on every executor)."""
    config = cohort.config
    wanted = [t.metric for t in thresholds(config.gate)]
    if config.regression is not None:
        wanted += bounded_metrics(config.regression)
    return metric_intervals(
        split.y_val,
        probabilities,
        metrics=list(dict.fromkeys(wanted)),
        level=interval_level(config.gate),
        threshold=config.metrics.decision_threshold,
        ece_bins=config.metrics.ece_bins,
        ece_confidence=config.metrics.ece_confidence,
        seed=zlib.crc32(f"{spec.name}\0{cohort.id}".encode()),
    )


def _champion(spec: Spec, cohort: Cohort, settings: RunSettings, split: Split) -> Champion | None:
    """The promoted model's predictions of these validation rows, read before this run saves
    (and perhaps promotes) its own model; only for ``regression: {against: champion}``."""
    regression = cohort.config.regression
    if regression is None or regression.against != "champion":
        return None
    return find_champion(spec, cohort, settings, split.X_val)


def _positive_probabilities(model: Model, split: Split) -> np.ndarray:
    """The one prediction of the validation rows that the metrics, reports and drift read."""
    return model.predict_proba(split.X_val)[:, 1]


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
def _timed(into: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter_ns()
    yield
    into[stage] = (time.perf_counter_ns() - start) / 1e6


def _measure_sla(
    spec: Spec,
    cohort: Cohort,
    settings: RunSettings,
    model: Model,
    split: Split,
    stage_ms: dict[str, float],
) -> SlaResult | None:
    """Time the trained model against the cohort's ``sla`` section and write its reports."""
    config = cohort.config
    if config.sla is None:
        return None
    result = measure(
        config.sla,
        predict=model.predict_proba,
        rows=split.X_val,
        stage_ms=stage_ms,
        seed=config.training.seed,
        spec_name=spec.name,
        cohort_id=cohort.id,
        run_id=settings.run_id,
    )
    return write_reports(result, settings.sla_dir or settings.out_dir / "sla")
