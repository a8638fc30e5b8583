"""The one training path, shared by the pytest plugin and the command line.

Each cohort becomes a :class:`~nethical_runner.run.task.CohortTask` keyed by what it trains
on; an executor runs it (in this process, or on a Dask cluster) through data -> split -> fit ->
validation predictions -> metrics (:mod:`nethical_runner.run.training`); back here, in the one
process that writes outputs: SLA timing (when declared) -> intervals -> gate -> save.
Nothing here knows about pytest or argparse; both front ends call :func:`submit_spec` and
:func:`finish_spec` (or :func:`run_spec`, both at once) and read the result. Nor does it know
who records the steps: it tells a :class:`~nethical_runner.run.events.RunObserver`; the
audit log is one, and the front end's progress lines (its ``watcher``) another.
"""

from __future__ import annotations

import time
import traceback
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from nethical_runner.data import DataError, Split
from nethical_runner.data.identity import data_identity
from nethical_runner.drift import DriftResult, track_drift
from nethical_runner.metrics.gate import decide, interval_level, thresholds
from nethical_runner.metrics.intervals import Interval, metric_intervals
from nethical_runner.models import ModelFileError, ReadsText
from nethical_runner.models.base import stamped, stored_identity
from nethical_runner.run.adapters import drift_input
from nethical_runner.run.audit_observer import AuditObserver
from nethical_runner.run.cache import cache_key, environment
from nethical_runner.run.champion import Champion, find_champion
from nethical_runner.run.events import NO_OBSERVER, Observers, RunObserver
from nethical_runner.run.executors import IN_PROCESS, Executor, Pending
from nethical_runner.run.results import CohortFailure, CohortResult, LazyModel, SpecResult
from nethical_runner.run.saving import save_cohort
from nethical_runner.run.settings import RunSettings
from nethical_runner.run.task import (
    CohortTask,
    FailedCohort,
    TrainedCohort,
    decode_answer,
    describe_place,
)
from nethical_runner.sla.measure import SlaResult, measure
from nethical_runner.sla.report import write_reports
from nethical_runner.spec import Cohort, Spec
from nethical_runner.spec.regression import bounded_metrics

READY_POLL_S = 0.05


def run_spec(
    spec: Spec,
    settings: RunSettings,
    executor: Executor = IN_PROCESS,
    watcher: RunObserver = NO_OBSERVER,
) -> SpecResult:
    """Train every cohort of ``spec`` on ``executor``; one cohort's failure does not stop the
    others. Drift is measured across the cohorts once all have trained."""
    return finish_spec(submit_spec(spec, settings, executor, watcher))


@dataclass
class SubmittedSpec:
    """A spec whose cohorts are handed to an executor; :func:`finish_spec` collects them."""

    spec: Spec
    settings: RunSettings
    executor: Executor
    started: datetime
    audit: AuditObserver | None
    cohorts: dict[str, tuple[CohortTask, Pending] | CohortFailure]
    watcher: RunObserver = NO_OBSERVER  # the front end's (progress lines), told after the audit

    @property
    def observer(self) -> RunObserver:
        if self.audit is None:
            return self.watcher
        return self.audit if self.watcher is NO_OBSERVER else Observers(self.audit, self.watcher)

    def ready(self) -> bool:
        """Whether finishing it now would not wait for an answer."""
        return all(
            isinstance(found, CohortFailure) or found[1].ready() for found in self.cohorts.values()
        )


def submit_spec(
    spec: Spec, settings: RunSettings, executor: Executor, watcher: RunObserver = NO_OBSERVER
) -> SubmittedSpec:
    """Hand every cohort to ``executor`` at once, so that a cluster trains them side by side;
    ``watcher`` hears every step, after the audit log."""
    started = datetime.now(timezone.utc)
    audit = AuditObserver.for_spec(spec, settings)
    submitted = SubmittedSpec(spec, settings, executor, started, audit, {}, watcher)
    for cohort in spec.cohorts:
        try:
            task = _task(spec, cohort, settings)
            submitted.cohorts[cohort.id] = (task, executor.submit(task))
            if executor.runs_elsewhere:
                submitted.observer.training_submitted(spec, cohort, executor.description)
        except Exception as error:  # reported per cohort, so every check can say why it failed
            submitted.cohorts[cohort.id] = _failure(cohort, error)
    return submitted


def finish_spec(submitted: SubmittedSpec) -> SpecResult:
    """Wait for each cohort's answer, judge it and write its outputs (this process is the
    only writer), then measure drift across the cohorts."""
    spec, settings = submitted.spec, submitted.settings
    results: dict[str, CohortResult | CohortFailure] = {}
    observer = submitted.observer
    for cohort in spec.cohorts:  # the audit log records each cohort's steps together
        found = submitted.cohorts[cohort.id]
        try:
            observer.training_started(spec, cohort)
            if isinstance(found, CohortFailure):
                raise TrainingFailed(found.reason, found.details)
            results[cohort.id] = _finish_cohort(submitted, cohort, *found)
        except Exception as error:  # reported per cohort, so every check can say why it failed
            failure = _failure(cohort, error)
            results[cohort.id] = failure
            observer.training_failed(cohort, failure.reason)
    drift = track_drift(
        spec,
        {k: drift_input(v) for k, v in results.items() if isinstance(v, CohortResult)},
        {k: v.reason for k, v in results.items() if isinstance(v, CohortFailure)},
        run_id=settings.run_id,
        session=settings.session or settings.run_id,
        folder=settings.drift_dir or settings.out_dir / "drift",
        started=submitted.started,
        accept_baseline=settings.accept_baseline,
    )
    if isinstance(drift, DriftResult):
        observer.drift_reported(drift)
    audit = submitted.audit
    receipt = audit.finish(spec, results) if audit else None
    return SpecResult(spec, settings.run_id, results, receipt, drift)


def finish_as_ready(submitted: list[SubmittedSpec]) -> Iterator[SpecResult]:
    """Each spec finished as soon as every one of its cohorts has an answer, so that the first
    to train is the first reported (in-process, where nothing trains until asked, in order)."""
    waiting = list(submitted)
    while waiting:
        ready = next((s for s in waiting if s.ready()), None)
        if ready is None:
            time.sleep(READY_POLL_S)
            continue
        waiting.remove(ready)
        yield finish_spec(ready)


class TrainingFailed(Exception):
    """A cohort failed earlier or elsewhere (on a worker); its reason and traceback are text."""

    def __init__(self, reason: str, details: str) -> None:
        super().__init__(reason)
        self.reason, self.details = reason, details


def _failure(cohort: Cohort, error: Exception) -> CohortFailure:
    if isinstance(error, TrainingFailed):
        return CohortFailure(cohort.id, error.reason, error.details)
    return CohortFailure(cohort.id, f"{type(error).__name__}: {error}", traceback.format_exc())


def _task(spec: Spec, cohort: Cohort, settings: RunSettings) -> CohortTask:
    """The cohort as plain data, keyed by what it will train on; with the result cache's
    model when it holds one for that key."""
    config = cohort.config
    identity = data_identity(config.data, root=spec.root, cache_dir=settings.cache_dir)
    key = cache_key(config, identity, spec.estimator_prefixes)
    cache = settings.result_cache
    cached = cache.load(key, cohort.new_model(), spec.estimator_prefixes) if cache else None
    return CohortTask(
        key=key,
        spec_name=spec.name,
        cohort_id=cohort.id,
        config=config,
        estimator_prefixes=spec.estimator_prefixes,
        root=spec.root.resolve(),
        cache_dir=settings.cache_dir.resolve(),
        data_identity=identity,
        environment=environment(),
        cached_model=cached,
    )


def _finish_cohort(
    submitted: SubmittedSpec, cohort: Cohort, task: CohortTask, pending: Pending
) -> CohortResult:
    spec, settings, observer = submitted.spec, submitted.settings, submitted.observer
    config = cohort.config
    answer = decode_answer(
        pending.answer(
            on_epoch=lambda epoch, epochs: observer.epoch_finished(cohort, epoch, epochs)
        )
    )
    if isinstance(answer, FailedCohort):
        raise TrainingFailed(answer.reason, answer.details)
    if answer.data_identity != task.data_identity:
        raise DataError(
            f"trained on other data than declared: {describe_place(answer.trained_on)} read "
            f"{answer.data_identity}, this process {task.data_identity}; the data must be the "
            "same wherever cohorts train"
        )
    declared = cohort.new_model()
    if answer.dataset.token_columns and isinstance(declared, ReadsText):  # learnt from the data
        declared = declared.with_token_columns(answer.dataset.token_columns)
    stored_type, stored_params = stored_identity(answer.model_bytes)  # no estimator loaded
    if stored_type != declared.type_name:
        wrong = f"a {stored_type} model where {declared.type_name} is declared"
    elif stored_params != declared.params.model_dump(mode="json"):
        wrong = f"a {stored_type} model with other parameters than declared"
    else:
        wrong = None
    if wrong:
        raise ModelFileError(f"{describe_place(answer.trained_on)} sent {wrong}")
    model = LazyModel(answer.model_bytes, spec.estimator_prefixes)
    dataset, split, stage_ms = answer.dataset, answer.split, answer.stage_ms
    observer.data_loaded(cohort, dataset)
    observer.data_split(cohort, split)
    cache = settings.result_cache
    if cache and not answer.cached:
        cache.store(task.key, stamped(answer.model_bytes, {"training_ms": stage_ms["training"]}))
    observer.training_completed(cohort, stage_ms, cached=answer.cached)
    observer.validated(cohort, answer.metrics)
    sla = _measure_sla(submitted, cohort, model, answer)
    if sla is not None:
        observer.sla_reported(cohort, sla)
    probabilities = answer.probabilities
    intervals = _intervals(spec, cohort, split, probabilities)
    verdicts = decide(config.gate, answer.metrics, intervals)
    promoted = all(v.passed for v in verdicts)
    observer.gate_decided(cohort, verdicts, promoted)
    champion = _champion(spec, cohort, settings, split)
    run_facts = {"stage_ms": stage_ms, "cached": answer.cached, "trained_on": answer.trained_on}
    model_path, metrics_path = save_cohort(
        spec, cohort, settings, answer.model_bytes, dataset, answer.metrics, verdicts, promoted,
        run_facts,
    )  # fmt: skip
    observer.model_saved(cohort, model_path, metrics_path)
    return CohortResult(
        spec_name=spec.name,
        cohort_id=cohort.id,
        model_type=config.model.type,
        dataset=dataset,
        split=split,
        trained_model=model,
        validation_probabilities=probabilities,
        metrics=answer.metrics,
        intervals=intervals,
        verdicts=verdicts,
        promoted=promoted,
        model_path=model_path,
        metrics_path=metrics_path,
        stage_ms=stage_ms,
        sla=sla,
        cached=answer.cached,
        champion=champion,
        trained_on=answer.trained_on,
    )


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


def _measure_sla(
    submitted: SubmittedSpec, cohort: Cohort, model: LazyModel, answer: TrainedCohort
) -> SlaResult | None:
    """Time the trained model against the cohort's ``sla`` section and write its reports:
    here, where CI reads its numbers, unless the section names a worker resource to time on."""
    config = cohort.config
    if config.sla is None:
        return None
    rows = answer.split.X_val
    resource = config.sla.resource
    if config.sla.scope == "inference" and resource is not None:
        samples, measured_on = submitted.executor.time_predictions(
            resource, answer.model_bytes, rows, config.sla, submitted.spec.estimator_prefixes
        )
    else:
        samples, measured_on = None, "controller"
    result = measure(
        config.sla,
        predict=model.loaded().predict_proba,
        rows=rows,
        stage_ms=answer.stage_ms,
        seed=config.training.seed,
        spec_name=submitted.spec.name,
        cohort_id=cohort.id,
        run_id=submitted.settings.run_id,
        samples=samples,
        measured_on=measured_on,
    )
    settings = submitted.settings
    return write_reports(result, settings.sla_dir or settings.out_dir / "sla")
