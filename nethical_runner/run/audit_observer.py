"""The audit log as a listener of the run: each step becomes the event the log has always held.

What each event type holds is decided here, from the run's own types, and handed to the audit
package as plain fields. Events carry descriptions, counts, metrics, paths and hashes, never
configuration values that could be credentials. Files are hashed only here, so a run whose spec
does not enable ``audit`` never reads its outputs back.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nethical_runner import __version__
from nethical_runner.audit.events import file_sha256, relative_to
from nethical_runner.audit.recorder import AUDIT_SUBDIR, AuditReceipt, AuditRecorder
from nethical_runner.audit.summary import CohortOutcome
from nethical_runner.data import Dataset, Split
from nethical_runner.drift import DriftResult
from nethical_runner.metrics.gate import Verdict
from nethical_runner.run.events import RunObserver
from nethical_runner.run.results import CohortFailure, CohortResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.sla.measure import SlaResult
from nethical_runner.spec import Cohort, Spec


class AuditObserver(RunObserver):
    """Records a spec run's steps; :meth:`finish` appends them to the audit log."""

    def __init__(self, recorder: AuditRecorder, out_dir: Path) -> None:
        self.recorder = recorder
        self.out_dir = out_dir  # event paths are relative to it

    @classmethod
    def for_spec(cls, spec: Spec, settings: RunSettings) -> AuditObserver | None:
        """An observer writing to ``settings.audit_dir`` (by default ``<out>/audit``) when the
        spec enables ``audit``, else None."""
        config = spec.cohorts[0].config.audit  # cohorts cannot override ``audit``
        if not config.enabled:
            return None
        recorder = AuditRecorder(
            settings.audit_dir or settings.out_dir / AUDIT_SUBDIR,
            run_id=settings.run_id,
            spec_name=spec.name,
            chunk_size=config.chunk_size,
        )
        return cls(recorder, settings.out_dir)

    def training_started(self, spec: Spec, cohort: Cohort) -> None:
        config = cohort.config
        self.recorder.record(
            "training_start",
            cohort.id,
            spec_path=spec.path.as_posix(),
            spec_sha256=spec.sha256,
            model_type=config.model.type,
            params=dict(config.model.params),
            seed=config.training.seed,
            epochs=config.training.epochs,
            batch_size=config.training.batch_size,
            nethical_runner_version=__version__,
        )

    def data_loaded(self, cohort: Cohort, dataset: Dataset) -> None:
        config = cohort.config
        data_seed = config.data.seed if config.data.seed is not None else config.training.seed
        self.recorder.record(
            "data_loaded",
            cohort.id,
            source=dataset.source,
            description=dataset.description,
            rows=dataset.rows,
            features=list(dataset.feature_names),
            sha256=dataset.fingerprint,
            data_seed=data_seed,
        )

    def data_split(self, cohort: Cohort, split: Split) -> None:
        config = cohort.config.data.split
        self.recorder.record(
            "data_split",
            cohort.id,
            method=config.method,
            train_fraction=config.train_fraction,
            train_rows=split.train_rows,
            validation_rows=int(split.y_val.size),
        )

    def training_completed(
        self, cohort: Cohort, stage_ms: Mapping[str, float], *, cached: bool
    ) -> None:
        training = cohort.config.training
        self.recorder.record(
            "training_completed",
            cohort.id,
            cached=cached,
            epochs=training.epochs,
            batch_size=training.batch_size,
            duration_ms=round(stage_ms["training"], 3),
        )

    def validated(self, cohort: Cohort, metrics: Mapping[str, Any]) -> None:
        self.recorder.record("validation_metrics", cohort.id, metrics=dict(metrics))

    def sla_reported(self, cohort: Cohort, sla: SlaResult) -> None:
        files = self._files(sla.report_path, sla.documentation_path)
        self.recorder.record("sla_report", cohort.id, files=files)

    def gate_decided(self, cohort: Cohort, verdicts: list[Verdict], promoted: bool) -> None:
        thresholds = [v.record() for v in verdicts]
        self.recorder.record("gate_decision", cohort.id, promoted=promoted, thresholds=thresholds)

    def model_saved(self, cohort: Cohort, model_path: Path, metrics_path: Path) -> None:
        self.recorder.record(
            "model_saved",
            cohort.id,
            path=relative_to(model_path, self.out_dir),
            sha256=file_sha256(model_path),
            bytes=model_path.stat().st_size,
            metrics_path=relative_to(metrics_path, self.out_dir),
            metrics_sha256=file_sha256(metrics_path),
        )

    def training_failed(self, cohort: Cohort, reason: str) -> None:
        self.recorder.record("training_failed", cohort.id, error=reason)

    def drift_reported(self, drift: DriftResult) -> None:
        self.recorder.record("drift_report", None, files=self._files(drift.report_path))
        if drift.baselines.accepted is not None:
            self._baseline_accepted(drift)

    def _baseline_accepted(self, drift: DriftResult) -> None:
        """A new drift baseline accepted on purpose: the reason given, the run each cohort
        was not judged against, and the history record that later runs will compare with."""
        replaced = {d.cohort: d.baseline_run for drops in drift.drops.values() for d in drops}
        (history,) = self._files(drift.history_path)
        self.recorder.record(
            "baseline_accepted",
            None,
            reason=drift.baselines.accepted,
            not_compared_with=replaced,
            history=history,
        )

    def finish(
        self, spec: Spec, results: Mapping[str, CohortResult | CohortFailure]
    ) -> AuditReceipt:
        """Append the run, with each cohort's outcome, to the log (see
        :meth:`AuditRecorder.finish`: a log that cannot be written is in the receipt)."""
        outcomes = {
            cohort_id: self._outcome(result, spec.cohort(cohort_id).config.model.type)
            for cohort_id, result in results.items()
        }
        return self.recorder.finish(outcomes)

    def _outcome(self, result: CohortResult | CohortFailure, model_type: str) -> CohortOutcome:
        if isinstance(result, CohortFailure):
            return CohortOutcome.failed(model_type, result.reason)
        model_path = relative_to(result.model_path, self.out_dir)
        return CohortOutcome.trained(result.model_type, result.promoted, result.metrics, model_path)

    def _files(self, *paths: Path | None) -> list[dict[str, str]]:
        """Paths and SHA-256 of report files (SLA, drift), so a report edited later is
        detectable."""
        return [
            {"path": relative_to(path, self.out_dir), "sha256": file_sha256(path)}
            for path in paths
            if path is not None
        ]
