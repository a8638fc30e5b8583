"""``training_summary.json``: the old script's per-run summary, derived from the log itself.

One summary per trained cohort (the old script trained one model per run), under
``summaries/training_summary_<spec>@<cohort>@<run>.json``, and a copy of the newest as
``training_summary.json``. Each keeps the old script's fields (``merkle_root``, ``model_type``,
``promoted``, ``metrics``, ``timestamp``) and names its head (``head``, ``tree_size``).

A summary is a pure function of two things the log commits to: the run's ``run_end`` event,
which holds every cohort's outcome (model type, promoted, metrics, model path or error), and
the tree head that committed the run (its timestamp is the summary's). So ``verify`` rebuilds
each summary from the log and compares every field: an edited ``promoted``, accuracy or model
path is a finding, not a receipt that merely names a head.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nethical_runner._files import atomic_write_json
from nethical_runner._names import training_summary_file
from nethical_runner.audit.formats import LATEST_SUMMARY, SUMMARIES_DIR, TreeHead

METRIC_FIELDS = ("accuracy", "precision", "recall", "f1", "auc", "brier", "ece", "samples")
RUN_END = "run_end"


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

    def record(self, cohort_id: str) -> dict[str, Any]:
        """The cohort's entry in ``run_end``'s ``outcomes``: everything its summary says."""
        return {
            "cohort": cohort_id,
            "model_type": self.model_type,
            "promoted": self.promoted,
            "metrics": None if self.metrics is None else dict(self.metrics),
            **({"model_path": self.model_path} if self.model_path is not None else {}),
            **({"error": self.error} if self.error is not None else {}),
        }


def summaries_of(run_end: Mapping[str, Any], head: TreeHead) -> dict[str, dict[str, Any]]:
    """Each cohort's summary (by file name, in the run's cohort order) of the run that ended
    with ``run_end`` (as stored in the log, with its ``index``) and was committed by ``head``.

    Raises ValueError (KeyError, TypeError) when ``run_end`` does not hold what a summary needs.
    """
    index, count = run_end["index"], run_end["event_count"]
    if not isinstance(index, int) or not isinstance(count, int) or not 1 <= count <= index + 1:
        raise ValueError("run_end has no valid index and event_count")
    spec, run_id = run_end["spec"], run_end["run_id"]
    found = {}
    for outcome in run_end["outcomes"]:
        cohort = outcome["cohort"]
        summary = {
            "merkle_root": head.root,
            "tree_size": head.tree_size,
            "head": head.sequence,
            "model_type": outcome["model_type"],
            "promoted": outcome["promoted"],
            "metrics": outcome["metrics"],
            "timestamp": head.timestamp,
            "spec": spec,
            "cohort": cohort,
            "run_id": run_id,
            "events": {"first": index - count + 1, "count": count},
            **{k: outcome[k] for k in ("model_path", "error") if k in outcome},
        }
        found[training_summary_file(str(spec), str(cohort), str(run_id))] = summary
    return found


def write_summaries(directory: Path, head: TreeHead, run_end: Mapping[str, Any]) -> list[Path]:
    """Write one summary per cohort and point ``training_summary.json`` at the last."""
    written = []
    for name, summary in summaries_of(run_end, head).items():
        path = directory / SUMMARIES_DIR / name
        atomic_write_json(path, summary)
        written.append(path)
        atomic_write_json(directory / LATEST_SUMMARY, summary)
    return written
