"""What a spec run tells those who watch it, step by step, as the steps happen.

The pipeline trains; it does not know who listens. The audit log is one listener
(:mod:`nethical_runner.run.audit_observer`), progress lines another (:mod:`nethical_runner.
run.progress`); :class:`Observers` tells several, and a run nobody watches tells
:data:`NO_OBSERVER`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nethical_runner.data import Dataset, Split
from nethical_runner.drift import DriftResult
from nethical_runner.metrics.gate import Verdict
from nethical_runner.sla.measure import SlaResult
from nethical_runner.spec import Cohort, Spec


class RunObserver:
    """Hears each step of a spec run. Every method does nothing here, so a subscriber
    overrides only what it cares about; a method that raises fails the cohort it was told
    about, as the step itself failing would."""

    def training_submitted(self, spec: Spec, cohort: Cohort, executor: str) -> None:
        """``cohort`` is handed to an executor that trains elsewhere (described by
        ``executor``), where it starts when a worker is free; not told for training in this
        process, which starts at :meth:`training_started`."""

    def training_started(self, spec: Spec, cohort: Cohort) -> None:
        """Before anything else is told about ``cohort`` (on a cluster, it may have trained by
        then: each cohort's steps are told together, in the spec's order)."""

    def data_loaded(self, cohort: Cohort, dataset: Dataset) -> None:
        """The cohort's rows are read (or generated)."""

    def data_split(self, cohort: Cohort, split: Split) -> None:
        """Its rows are split into training and validation rows."""

    def epoch_finished(self, cohort: Cohort, epoch: int, epochs: int) -> None:
        """``epoch`` of ``epochs`` is done, for a model that trains in epochs in this process
        (on a cluster they pass unseen); between :meth:`training_started` and
        :meth:`data_loaded`, as the answer is being made."""

    def training_completed(
        self, cohort: Cohort, stage_ms: Mapping[str, float], *, cached: bool
    ) -> None:
        """Its model is trained and validated, or served from the result cache (``cached``)."""

    def validated(self, cohort: Cohort, metrics: Mapping[str, Any]) -> None:
        """Its validation metrics are known."""

    def sla_reported(self, cohort: Cohort, sla: SlaResult) -> None:
        """Its SLA reports are written (only for a cohort with an ``sla`` section)."""

    def gate_decided(self, cohort: Cohort, verdicts: list[Verdict], promoted: bool) -> None:
        """Its gate judged the metrics."""

    def model_saved(self, cohort: Cohort, model_path: Path, metrics_path: Path) -> None:
        """Its model and metrics record are written."""

    def training_failed(self, cohort: Cohort, reason: str) -> None:
        """A step of ``cohort`` failed for ``reason``; the run goes on with the next cohort."""

    def drift_reported(self, drift: DriftResult) -> None:
        """The spec's drift report is written, after every cohort trained."""


class Observers(RunObserver):
    """Tells each of ``observers`` every step, in their order: one that raises stops the
    step there, as the step itself failing would."""

    def __init__(self, *observers: RunObserver) -> None:
        self.observers = observers

    def training_submitted(self, spec: Spec, cohort: Cohort, executor: str) -> None:
        for observer in self.observers:
            observer.training_submitted(spec, cohort, executor)

    def training_started(self, spec: Spec, cohort: Cohort) -> None:
        for observer in self.observers:
            observer.training_started(spec, cohort)

    def epoch_finished(self, cohort: Cohort, epoch: int, epochs: int) -> None:
        for observer in self.observers:
            observer.epoch_finished(cohort, epoch, epochs)

    def data_loaded(self, cohort: Cohort, dataset: Dataset) -> None:
        for observer in self.observers:
            observer.data_loaded(cohort, dataset)

    def data_split(self, cohort: Cohort, split: Split) -> None:
        for observer in self.observers:
            observer.data_split(cohort, split)

    def training_completed(
        self, cohort: Cohort, stage_ms: Mapping[str, float], *, cached: bool
    ) -> None:
        for observer in self.observers:
            observer.training_completed(cohort, stage_ms, cached=cached)

    def validated(self, cohort: Cohort, metrics: Mapping[str, Any]) -> None:
        for observer in self.observers:
            observer.validated(cohort, metrics)

    def sla_reported(self, cohort: Cohort, sla: SlaResult) -> None:
        for observer in self.observers:
            observer.sla_reported(cohort, sla)

    def gate_decided(self, cohort: Cohort, verdicts: list[Verdict], promoted: bool) -> None:
        for observer in self.observers:
            observer.gate_decided(cohort, verdicts, promoted)

    def model_saved(self, cohort: Cohort, model_path: Path, metrics_path: Path) -> None:
        for observer in self.observers:
            observer.model_saved(cohort, model_path, metrics_path)

    def training_failed(self, cohort: Cohort, reason: str) -> None:
        for observer in self.observers:
            observer.training_failed(cohort, reason)

    def drift_reported(self, drift: DriftResult) -> None:
        for observer in self.observers:
            observer.drift_reported(drift)


NO_OBSERVER: RunObserver = RunObserver()
