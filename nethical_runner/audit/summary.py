"""``training_summary.json``: the old script's per-run summary, tied to the tree head that
logged it.

One summary per trained cohort (the old script trained one model per run), under
``summaries/training_summary_<spec>@<cohort>@<run>.json``, and a copy of the newest as
``training_summary.json``. Each keeps the old script's fields (``merkle_root``, ``model_type``,
``promoted``, ``metrics``, ``timestamp``) and names its head (``head``, ``tree_size``), so a
summary is also a receipt: ``verify`` checks that the head it names is still in the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nethical_runner._files import atomic_write_json
from nethical_runner._names import training_summary_file
from nethical_runner.audit.events import json_safe, now
from nethical_runner.audit.formats import LATEST_SUMMARY, SUMMARIES_DIR, TreeHead

METRIC_FIELDS = ("accuracy", "precision", "recall", "f1", "auc", "brier", "ece", "samples")


@dataclass(frozen=True)
class CohortOutcome:
    """How one cohort of a run ended, as its summary and the ``run_end`` event tell it."""

    model_type: str
    promoted: bool
    metrics: Mapping[str, Any] | None  # the summary's metrics; None when it could not train
    model_path: str | None = None  # the saved model below the output root, when trained
    error: str | None = None  # why it could not be trained

    @classmethod
    def trained(
        cls, model_type: str, promoted: bool, metrics: Mapping[str, Any], model_path: str
    ) -> CohortOutcome:
        summarised = {name: metrics.get(name) for name in METRIC_FIELDS}
        return cls(model_type, promoted, summarised, model_path)

    @classmethod
    def failed(cls, model_type: str, error: str) -> CohortOutcome:
        return cls(model_type, False, None, error=error)

    @property
    def status(self) -> str:
        """``promoted``, ``gate_missed`` or ``failed``: the cohort's word in ``run_end``."""
        if self.error is not None:
            return "failed"
        return "promoted" if self.promoted else "gate_missed"


def write_summaries(
    directory: Path,
    head: TreeHead,
    *,
    spec_name: str,
    run_id: str,
    first_index: int,
    event_count: int,
    cohorts: Mapping[str, CohortOutcome],
    secrets: tuple[str, ...],
) -> list[Path]:
    """Write one summary per cohort (by id) and point ``training_summary.json`` at the last."""
    written = []
    for cohort_id, outcome in cohorts.items():
        summary = {
            "merkle_root": head.root,
            "tree_size": head.tree_size,
            "head": head.sequence,
            "model_type": outcome.model_type,
            "promoted": outcome.promoted,
            "metrics": outcome.metrics,
            "timestamp": now(),
            "spec": spec_name,
            "cohort": cohort_id,
            "run_id": run_id,
            "events": {"first": first_index, "count": event_count},
            **({"model_path": outcome.model_path} if outcome.model_path is not None else {}),
            **({"error": outcome.error} if outcome.error is not None else {}),
        }
        path = directory / SUMMARIES_DIR / training_summary_file(spec_name, cohort_id, run_id)
        atomic_write_json(path, json_safe(summary, secrets))
        written.append(path)
        atomic_write_json(directory / LATEST_SUMMARY, json_safe(summary, secrets))
    return written
