"""The one training path, shared by the pytest plugin and the command line.

data -> split -> fit (preprocessing is part of each model, fitted on the training rows only) ->
predicted probabilities on the validation rows -> metrics -> SLA timing (when declared) ->
gate -> save. Nothing here knows
about pytest or argparse; both front ends call :func:`run_spec` and read its result.
"""

from __future__ import annotations

import os
import secrets
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from nethical_runner import __version__
from nethical_runner._files import atomic_write_json
from nethical_runner.audit import events as audit_events
from nethical_runner.audit.recorder import AuditReceipt, AuditRecorder
from nethical_runner.data import (
    DataError,
    Dataset,
    Split,
    StreamedData,
    load_dataset,
    split_dataset,
    stream_data,
)
from nethical_runner.drift import DriftFailure, DriftResult, track_drift
from nethical_runner.metrics.classification import classification_metrics
from nethical_runner.metrics.gate import Verdict, decide
from nethical_runner.models import Model, ReadsText, TrainsFromChunks, build_model, load_model
from nethical_runner.run.cache import CachedTraining, ResultCache, cache_key
from nethical_runner.sla.measure import SlaResult, measure
from nethical_runner.sla.report import write_reports
from nethical_runner.spec import Cohort, RunConfig, Spec

STAGES = ("data_load", "preprocessing", "training", "validation")


def new_run_id() -> str:
    """UTC time plus random bits: sortable, and unique across runs and parallel workers."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def default_cache_dir() -> Path:
    """``$NETHICAL_CACHE_DIR``, else the user's cache folder: downloads outlive output roots."""
    if os.environ.get("NETHICAL_CACHE_DIR"):
        return Path(os.environ["NETHICAL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nethical-runner"


@dataclass(frozen=True)
class RunSettings:
    out_dir: Path
    run_id: str = field(default_factory=new_run_id)
    cache_dir: Path = field(default_factory=default_cache_dir)
    sla_dir: Path | None = None  # SLA reports; <out_dir>/sla when None
    audit_dir: Path | None = None  # the audit log's folder; <out_dir>/audit when None
    result_cache: ResultCache | None = None  # skip training an unchanged cohort when set
    # Runs sharing a session (the workers of one pytest-xdist run) never baseline each other.
    session: str | None = None
    drift_dir: Path | None = None  # drift reports and history; <out_dir>/drift when None


@dataclass
class CohortResult:
    """What one cohort's training produced: enough for every check and every report."""

    spec_name: str
    cohort_id: str
    model_type: str
    dataset: Dataset
    split: Split
    model: Model
    metrics: dict[str, Any]
    verdicts: list[Verdict]
    promoted: bool
    model_path: Path
    metrics_path: Path
    stage_ms: dict[str, float]
    sla: SlaResult | None = None
    cached: bool = False  # served from the result cache instead of trained in this run

    def context(self) -> str:
        """``cohort alpha, 2000 samples, synthetic data`` for messages."""
        samples = self.metrics["samples"]
        return f"cohort {self.cohort_id}, {samples} samples, {self.dataset.label} data"


@dataclass(frozen=True)
class CohortFailure:
    """A cohort that could not be trained; every check of it fails with this reason."""

    cohort_id: str
    reason: str
    details: str


@dataclass
class SpecResult:
    spec: Spec
    run_id: str
    cohorts: dict[str, CohortResult | CohortFailure]
    audit: AuditReceipt | None = None  # where the run's audit events went, when enabled
    drift: DriftResult | DriftFailure | None = None  # when the spec declares drift or slices


def run_spec(spec: Spec, settings: RunSettings) -> SpecResult:
    """Train every cohort of ``spec``; one cohort's failure does not stop the others. Drift
    is measured across the cohorts once all have trained."""
    started = datetime.now(timezone.utc)
    results: dict[str, CohortResult | CohortFailure] = {}
    audit = AuditRecorder.for_spec(spec, settings)
    for cohort in spec.cohorts:
        try:
            results[cohort.id] = train_cohort(spec, cohort, settings, audit)
        except Exception as error:  # reported per cohort, so every check can say why it failed
            audit.record("training_failed", cohort.id, **audit_events.training_failed(error))
            results[cohort.id] = CohortFailure(
                cohort.id, f"{type(error).__name__}: {error}", traceback.format_exc()
            )
    drift = track_drift(
        spec,
        {k: v for k, v in results.items() if isinstance(v, CohortResult)},
        {k: v.reason for k, v in results.items() if isinstance(v, CohortFailure)},
        run_id=settings.run_id,
        session=settings.session or settings.run_id,
        folder=settings.drift_dir or settings.out_dir / "drift",
        started=started,
    )
    if isinstance(drift, DriftResult) and audit.enabled:
        files = audit_events.report_files(settings.out_dir, drift.report_path)
        audit.record("drift_report", None, **files)
    return SpecResult(spec, settings.run_id, results, audit.finish(spec, results), drift)


def train_cohort(
    spec: Spec, cohort: Cohort, settings: RunSettings, audit: AuditRecorder | None = None
) -> CohortResult:
    audit = audit or AuditRecorder.disabled()
    config = cohort.config
    audit.record("training_start", cohort.id, **audit_events.training_start(spec, config))
    model = build_model(
        config.model.type, config.model.params, config.model.estimator, spec.estimator_prefixes
    )
    stage_ms: dict[str, float] = {}
    with ExitStack() as stack:
        with _timed(stage_ms, "data_load"):
            dataset, streamed = _load_data(spec, config, model, settings, stack)
        audit.record("data_loaded", cohort.id, **audit_events.data_loaded(dataset, config))
        if dataset.token_columns:
            model = _reading_text(model, dataset)
        with _timed(stage_ms, "preprocessing"):
            split = (
                streamed.split
                if streamed
                else split_dataset(dataset, config.data.split, config.training.seed)
            )
        audit.record("data_split", cohort.id, **audit_events.data_split(config.data.split, split))
        cache = settings.result_cache
        key = cache_key(config, dataset.fingerprint, spec.estimator_prefixes) if cache else ""
        cached = cache.load(key) if cache else None
        if cached is not None:
            model, _ = load_model(cached.model_npz)
            metrics = cached.metrics
            stage_ms.update(cached.stage_ms)
        else:
            chunks = streamed.train_chunks if streamed else None
            model, metrics = _train_and_validate(model, config, split, chunks, stage_ms)
            if cache:
                trained = CachedTraining(model.to_npz_bytes(), metrics, _trained_stages(stage_ms))
                cache.store(key, trained)
    audit.record(
        "training_completed",
        cohort.id,
        cached=cached is not None,
        **audit_events.training_completed(config, stage_ms),
    )
    audit.record("validation_metrics", cohort.id, **audit_events.validation_metrics(metrics))
    sla = _measure_sla(spec, cohort, settings, model, split, stage_ms)
    if sla is not None and audit.enabled:  # hashing the reports is only for the log
        reports = audit_events.report_files(
            settings.out_dir, sla.report_path, sla.documentation_path
        )
        audit.record("sla_report", cohort.id, **reports)
    verdicts = decide(config.gate, metrics)
    promoted = all(v.passed for v in verdicts)
    audit.record("gate_decision", cohort.id, **audit_events.gate_decision(verdicts, promoted))
    model_path, metrics_path = _save(
        spec,
        cohort,
        settings,
        model,
        dataset,
        metrics,
        verdicts,
        promoted,
        {"stage_ms": stage_ms, "cached": cached is not None},
    )
    if audit.enabled:  # hashing the saved files is only for the log
        saved = audit_events.model_saved(settings.out_dir, model_path, metrics_path)
        audit.record("model_saved", cohort.id, **saved)
    return CohortResult(
        spec_name=spec.name,
        cohort_id=cohort.id,
        model_type=config.model.type,
        dataset=dataset,
        split=split,
        model=model,
        metrics=metrics,
        verdicts=verdicts,
        promoted=promoted,
        model_path=model_path,
        metrics_path=metrics_path,
        stage_ms=stage_ms,
        sla=sla,
        cached=cached is not None,
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


def _train_and_validate(
    model: Model,
    config: RunConfig,
    split: Split,
    chunks: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]] | None,
    stage_ms: dict[str, float],
) -> tuple[Model, dict[str, Any]]:
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
    with _timed(stage_ms, "validation"):
        probabilities = model.predict_proba(split.X_val)[:, 1]
        metrics = classification_metrics(
            split.y_val,
            probabilities,
            threshold=config.metrics.decision_threshold,
            ece_bins=config.metrics.ece_bins,
            ece_confidence=config.metrics.ece_confidence,
        )
    return model, metrics


def _trained_stages(stage_ms: dict[str, float]) -> dict[str, float]:
    return {stage: stage_ms[stage] for stage in ("training", "validation")}


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


def _save(
    spec: Spec,
    cohort: Cohort,
    settings: RunSettings,
    model: Model,
    dataset: Dataset,
    metrics: dict[str, Any],
    verdicts: list[Verdict],
    promoted: bool,
    extra: dict[str, Any],
) -> tuple[Path, Path]:
    """Write model and metrics under ``models/current`` or ``models/candidates``.

    File names carry the run id, so nothing already there is ever overwritten; a promotion also
    replaces (atomically) the ``.latest.json`` pointer to the newest promoted model. When a
    write fails (a full disk), the files this call already wrote are removed again, so a cohort
    that failed leaves no model among the promoted ones.
    """
    folder = settings.out_dir / "models" / ("current" if promoted else "candidates")
    stem = f"{spec.name}__{cohort.id}__{cohort.config.model.type}"
    model_path = folder / f"{stem}_model_{settings.run_id}.npz"
    metrics_path = folder / f"{stem}_metrics_{settings.run_id}.json"
    record = {
        "spec": spec.name,
        "spec_path": str(spec.path),
        "spec_sha256": spec.sha256,
        "cohort": cohort.id,
        "model_type": cohort.config.model.type,
        "run_id": settings.run_id,
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "nethical_runner_version": __version__,
        "config": cohort.config.model_dump(mode="json"),
        "data": {
            "source": dataset.label,
            "description": dataset.description,
            "rows": dataset.rows,
            "sha256": dataset.fingerprint,
            "features": list(dataset.feature_names),
        },
        "promoted": promoted,
        "gate": [
            {
                "key": v.threshold.key,
                "threshold": v.threshold.value,
                "actual": v.actual,
                "passed": v.passed,
            }
            for v in verdicts
        ],
        **extra,
        "model_file": model_path.name,
        **{k: _plain(v) for k, v in metrics.items()},
    }
    try:
        model.save(
            model_path,
            metadata={"spec": spec.name, "cohort": cohort.id, "run": settings.run_id},
        )
        atomic_write_json(metrics_path, record)
        if promoted:
            pointer = folder / f"{spec.name}__{cohort.id}.latest.json"
            atomic_write_json(
                pointer,
                {
                    "model": model_path.name,
                    "metrics": metrics_path.name,
                    "run_id": settings.run_id,
                },
            )
    except BaseException:
        for written in (model_path, metrics_path):
            written.unlink(missing_ok=True)
        raise
    return model_path, metrics_path


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


ProgressCallback = Callable[[str], None]
