"""Saving a trained cohort: its model and metrics record, never overwriting one already there."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from nethical_runner import __version__
from nethical_runner._files import atomic_write_bytes, atomic_write_json
from nethical_runner._names import metrics_file, model_file, pointer_file
from nethical_runner.data import Dataset
from nethical_runner.metrics.gate import Verdict
from nethical_runner.models.base import stamped
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import Cohort, Spec


def save_cohort(
    spec: Spec,
    cohort: Cohort,
    settings: RunSettings,
    trained: bytes,
    dataset: Dataset,
    metrics: dict[str, Any],
    verdicts: list[Verdict],
    promoted: bool,
    extra: dict[str, Any],
) -> tuple[Path, Path]:
    """Write the model (``trained``: its file's bytes, as trained) and the metrics record under
    ``models/current`` or ``models/candidates``.

    File names carry the run id, so nothing already there is ever overwritten, and are built
    by :mod:`nethical_runner._names`, so no other spec or cohort has them; a promotion also
    replaces (atomically) the pair's ``.latest.json`` pointer to its newest promoted model. When a
    write fails (a full disk), the files this call already wrote are removed again, so a cohort
    that failed leaves no model among the promoted ones.
    """
    folder = settings.out_dir / "models" / ("current" if promoted else "candidates")
    names = (spec.name, cohort.id, cohort.config.model.type, settings.run_id)
    model_path = folder / model_file(*names)
    metrics_path = folder / metrics_file(*names)
    record = {
        "spec": spec.name,
        "spec_path": str(spec.path),
        "spec_sha256": spec.sha256,
        "cohort": cohort.id,
        "model_type": cohort.config.model.type,
        "model": cohort.model.display_name(),
        "run_id": settings.run_id,
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "nethical_runner_version": __version__,
        "config": cohort.config.model_dump(mode="json"),
        "training_settings": training_settings(cohort),
        "data": {
            "source": dataset.label,
            "description": dataset.description,
            "rows": dataset.rows,
            "sha256": dataset.fingerprint,
            "features": list(dataset.feature_names),
        },
        "promoted": promoted,
        "gate": [v.record() for v in verdicts],
        **extra,
        "model_file": model_path.name,
        **{k: _plain(v) for k, v in metrics.items()},
    }
    try:
        metadata = {"spec": spec.name, "cohort": cohort.id, "run": settings.run_id}
        atomic_write_bytes(model_path, stamped(trained, metadata))
        atomic_write_json(metrics_path, record)
        if promoted:
            pointer = folder / pointer_file(spec.name, cohort.id)
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


def training_settings(cohort: Cohort) -> dict[str, dict[str, int]]:
    """The spec's ``training`` settings this cohort's model read, and those it did not (a
    model fitted in one call reads no ``epochs``), so a record never implies that a setting
    shaped a model it did not touch."""
    training = cohort.config.training.model_dump()
    read = {"seed", *cohort.model.training_settings()}
    return {
        "applied": {key: value for key, value in training.items() if key in read},
        "ignored": {key: value for key, value in training.items() if key not in read},
    }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
