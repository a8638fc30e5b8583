"""What a spec run produced, cohort by cohort: what every check and every report reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nethical_runner._words import cohort_named
from nethical_runner.audit.recorder import AuditReceipt
from nethical_runner.data import Dataset, Split
from nethical_runner.drift import DriftFailure, DriftResult
from nethical_runner.metrics.gate import Verdict
from nethical_runner.metrics.intervals import Interval
from nethical_runner.models import Model, load_model
from nethical_runner.run.champion import Champion
from nethical_runner.sla.measure import SlaResult
from nethical_runner.spec import Spec


class LazyModel:
    """A trained model as the worker sent it (a model file's bytes), loaded on first use: the
    controller saves and caches the bytes as they are, and only timing latency (or a caller
    in Python) needs the model itself, whose loading may cost seconds of imports."""

    def __init__(self, model_file: bytes, estimator_prefixes: tuple[str, ...]) -> None:
        self.model_file = model_file
        self.estimator_prefixes = estimator_prefixes
        self._model: Model | None = None

    def loaded(self) -> Model:
        if self._model is None:
            self._model, _ = load_model(self.model_file, self.estimator_prefixes)
        return self._model


@dataclass
class CohortResult:
    """What one cohort's training produced: enough for every check and every report."""

    spec_name: str
    cohort_id: str
    model_type: str
    dataset: Dataset
    split: Split
    trained_model: LazyModel
    # The positive-class probability of every validation row, predicted once: the metrics,
    # the reliability report and drift all read these instead of predicting again.
    validation_probabilities: np.ndarray
    metrics: dict[str, Any]
    intervals: dict[str, Interval]  # of the gated and regression-bounded metrics
    verdicts: list[Verdict]
    promoted: bool
    model_path: Path
    metrics_path: Path
    stage_ms: dict[str, float]
    sla: SlaResult | None = None
    cached: bool = False  # served from the result cache instead of trained in this run
    champion: Champion | None = None  # for regression against the champion
    # where it trained: executor, host, pid and (on a cluster) worker address
    trained_on: dict[str, str] = field(default_factory=dict)

    @property
    def model(self) -> Model:
        return self.trained_model.loaded()

    def context(self) -> str:
        """``cohort alpha, 2000 samples, synthetic data`` for messages."""
        samples = self.metrics["samples"]
        return f"{cohort_named(self.cohort_id)}, {samples} samples, {self.dataset.label} data"


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
