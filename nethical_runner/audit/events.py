"""Audit events: what a training run records, and the guarantees every event gets.

An event is a flat JSON object: the envelope (``type``, ``index``, ``run_id``, ``spec``,
``cohort``, ``timestamp``) plus the fields of its type. The builders below say what each type
holds, so the pipeline records an event in one line and the content is decided in one place.

Events carry descriptions, counts, metrics, paths and hashes, never configuration values that
could be credentials. As a second line of defence, every string is scrubbed of the values of
environment variables whose names look secret (``KAGGLE_KEY``, ``NETHICAL_AUDIT_KEY``, tokens,
passwords) before it is stored: an exception message that happens to quote a key must not put
that key into an append-only log, where it could never be removed again.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from nethical_runner import __version__
from nethical_runner.data import Dataset, Split
from nethical_runner.metrics.gate import Verdict
from nethical_runner.spec import RunConfig, Spec
from nethical_runner.spec.config import SplitConfig

ENVELOPE = ("type", "index", "run_id", "spec", "cohort", "timestamp")
REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8  # shorter values ("true", "1") would scrub innocent text
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)


def now() -> str:
    """UTC, with its offset written out, so timestamps compare across machines."""
    return datetime.now(timezone.utc).isoformat()


def secret_values(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Values of secret-looking environment variables, longest first (so a secret containing
    another is scrubbed whole)."""
    env = os.environ if environ is None else environ
    found = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= MIN_SECRET_LENGTH}
    return tuple(sorted(found, key=len, reverse=True))


def json_safe(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``value`` as plain JSON data (numpy scalars and arrays, paths and tuples converted),
    with every secret replaced by ``[redacted]``.

    Raises ValueError for NaN or infinite floats and for objects JSON cannot hold: the log must
    be readable by any JSON parser, and a silently stringified object is not evidence.
    """
    secrets = tuple(secrets)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, PurePath):
        value = value.as_posix()
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} cannot be stored in an audit event (not valid JSON)")
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, Mapping):
        return {json_safe(str(k), secrets): json_safe(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item, secrets) for item in value]
    raise ValueError(f"{type(value).__name__} cannot be stored in an audit event")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def relative_to(path: Path, root: Path) -> str:
    """``path`` below the output root when it is there, so events read the same on any machine."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


# --- Builders: the fields of each event type ----------------------------------------------


def training_start(spec: Spec, config: RunConfig) -> dict[str, Any]:
    return {
        "spec_path": spec.path.as_posix(),
        "spec_sha256": spec.sha256,
        "model_type": config.model.type,
        "params": dict(config.model.params),
        "seed": config.training.seed,
        "epochs": config.training.epochs,
        "batch_size": config.training.batch_size,
        "nethical_runner_version": __version__,
    }


def data_loaded(dataset: Dataset, config: RunConfig) -> dict[str, Any]:
    data_seed = config.data.seed if config.data.seed is not None else config.training.seed
    return {
        "source": dataset.source,
        "description": dataset.description,
        "rows": dataset.rows,
        "features": list(dataset.feature_names),
        "sha256": dataset.fingerprint,
        "data_seed": data_seed,
    }


def data_split(config: SplitConfig, split: Split) -> dict[str, Any]:
    return {
        "method": config.method,
        "train_fraction": config.train_fraction,
        "train_rows": split.train_rows,
        "validation_rows": int(split.y_val.size),
    }


def training_completed(config: RunConfig, stage_ms: Mapping[str, float]) -> dict[str, Any]:
    return {
        "epochs": config.training.epochs,
        "batch_size": config.training.batch_size,
        "duration_ms": round(stage_ms["training"], 3),
    }


def validation_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {"metrics": dict(metrics)}


def gate_decision(verdicts: Iterable[Verdict], promoted: bool) -> dict[str, Any]:
    return {
        "promoted": promoted,
        "thresholds": [
            {
                "key": v.threshold.key,
                "threshold": v.threshold.value,
                "actual": v.actual,
                "passed": v.passed,
            }
            for v in verdicts
        ],
    }


def model_saved(out_dir: Path, model_path: Path, metrics_path: Path) -> dict[str, Any]:
    return {
        "path": relative_to(model_path, out_dir),
        "sha256": file_sha256(model_path),
        "bytes": model_path.stat().st_size,
        "metrics_path": relative_to(metrics_path, out_dir),
        "metrics_sha256": file_sha256(metrics_path),
    }


def report_files(out_dir: Path, *paths: Path | None) -> dict[str, Any]:
    """Paths and SHA-256 of report files (SLA, drift), so a report edited later is detectable."""
    files = [path for path in paths if path is not None]
    return {
        "files": [
            {"path": relative_to(path, out_dir), "sha256": file_sha256(path)} for path in files
        ]
    }


def training_failed(error: BaseException) -> dict[str, Any]:
    return {"error": f"{type(error).__name__}: {error}"}
