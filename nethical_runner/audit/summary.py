"""``training_summary.json``: the seed's per-run summary, tied to the tree head that logged it.

One summary per trained cohort (the seed trained one model per run), under
``summaries/training_summary_<spec>__<cohort>_<run>.json``, and a copy of the newest as
``training_summary.json``. Each keeps the seed's fields (``merkle_root``, ``model_type``,
``promoted``, ``metrics``, ``timestamp``) and names its head (``head``, ``tree_size``), so a
summary is also a receipt: ``verify`` checks that the head it names is still in the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nethical_runner._files import atomic_write_json
from nethical_runner.audit.events import json_safe, now, relative_to
from nethical_runner.audit.formats import LATEST_SUMMARY, SUMMARIES_DIR, TreeHead

if TYPE_CHECKING:
    from nethical_runner.run.pipeline import CohortFailure, CohortResult

METRIC_FIELDS = ("accuracy", "precision", "recall", "f1", "auc", "brier", "ece", "samples")


def write_summaries(
    directory: Path,
    head: TreeHead,
    *,
    spec_name: str,
    run_id: str,
    first_index: int,
    event_count: int,
    cohorts: Mapping[str, Mapping[str, Any]],
    secrets: tuple[str, ...],
) -> list[Path]:
    """Write one summary per cohort and point ``training_summary.json`` at the last one.

    ``cohorts`` maps a cohort id to its outcome: ``model_type``, ``promoted``, ``metrics``,
    and ``model_path`` or ``error``.
    """
    written = []
    for cohort_id, outcome in cohorts.items():
        summary = {
            "merkle_root": head.root,
            "tree_size": head.tree_size,
            "head": head.sequence,
            "model_type": outcome.get("model_type"),
            "promoted": bool(outcome.get("promoted")),
            "metrics": outcome.get("metrics"),
            "timestamp": now(),
            "spec": spec_name,
            "cohort": cohort_id,
            "run_id": run_id,
            "events": {"first": first_index, "count": event_count},
            **({"model_path": outcome["model_path"]} if "model_path" in outcome else {}),
            **({"error": outcome["error"]} if "error" in outcome else {}),
        }
        path = (
            directory / SUMMARIES_DIR / f"training_summary_{spec_name}__{cohort_id}_{run_id}.json"
        )
        atomic_write_json(path, json_safe(summary, secrets))
        written.append(path)
        atomic_write_json(directory / LATEST_SUMMARY, json_safe(summary, secrets))
    return written


def cohort_outcome(
    result: CohortResult | CohortFailure, model_type: str, out_dir: Path
) -> dict[str, Any]:
    """The summary fields of a trained cohort, or of one that could not be trained."""
    from nethical_runner.run.pipeline import CohortFailure  # the pipeline imports the audit package

    if isinstance(result, CohortFailure):
        return {
            "model_type": model_type,
            "promoted": False,
            "metrics": None,
            "error": result.reason,
        }
    return {
        "model_type": result.model_type,
        "promoted": result.promoted,
        "metrics": {name: result.metrics.get(name) for name in METRIC_FIELDS},
        "model_path": relative_to(result.model_path, out_dir),
    }
