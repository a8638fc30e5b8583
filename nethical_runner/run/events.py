"""What a spec run tells those who watch it, step by step, as the steps happen.

The pipeline trains; it does not know who listens. The audit log is one listener
(:mod:`nethical_runner.run.audit_observer`); a run nobody watches tells :data:`NO_OBSERVER`.
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

    def training_started(self, spec: Spec, cohort: Cohort) -> None:
        """Before anything else is told about ``cohort`` (on a cluster, it may have trained by
        then: each cohort's steps are told together, in the spec's order)."""

    def data_loaded(self, cohort: Cohort, dataset: Dataset) -> None:
        """The cohort's rows are read (or generated)."""

    def data_split(self, cohort: Cohort, split: Split) -> None:
        """Its rows are split into training and validation rows."""

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


NO_OBSERVER = RunObserver()
