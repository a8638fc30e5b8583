"""A content-addressed cache of training results, so an unchanged spec is not retrained.

The key covers everything that can change what training produces: the cohort's effective
configuration, the SHA-256 of the data actually loaded (so an edited CSV or a new Kaggle
version is a miss), the package version and the source of the package itself (so a changed
model or generator is a miss). A hit serves the saved model and its validation metrics;
everything measured about the running machine (SLA latency) is still measured fresh.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nethical_runner import __version__
from nethical_runner._files import atomic_write_bytes, atomic_write_json
from nethical_runner.spec.config import RunConfig

PACKAGE_ROOT = Path(__file__).parents[1]


@functools.cache
def code_digest() -> str:
    """SHA-256 over every source file of the package: any code change invalidates the cache."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(config: RunConfig, data_fingerprint: str, estimator_prefixes: tuple[str, ...]) -> str:
    material = {
        "config": config.model_dump(mode="json"),
        "data": data_fingerprint,
        "estimator_prefixes": list(estimator_prefixes),
        "version": __version__,
        "code": code_digest(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class CachedTraining:
    model_npz: bytes
    metrics: dict[str, Any]
    stage_ms: dict[str, float]  # the training and validation timings of the run that trained


class ResultCache:
    """Entries under ``<root>/<key[:2]>/<key>``: the model ``.npz`` and a JSON record written
    after it, so a record never points at a missing or half-written model."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / key[:2]
        return folder / f"{key}.npz", folder / f"{key}.json"

    def load(self, key: str) -> CachedTraining | None:
        model_path, record_path = self._paths(key)
        try:
            record = json.loads(record_path.read_text())
            model_npz = model_path.read_bytes()
        except (OSError, ValueError):
            return None
        if hashlib.sha256(model_npz).hexdigest() != record.get("model_sha256"):
            return None  # damaged entry: retrain rather than trust it
        return CachedTraining(model_npz, record["metrics"], record["stage_ms"])

    def store(self, key: str, entry: CachedTraining) -> None:
        model_path, record_path = self._paths(key)
        atomic_write_bytes(model_path, entry.model_npz)
        atomic_write_json(
            record_path,
            {
                "metrics": entry.metrics,
                "stage_ms": entry.stage_ms,
                "model_sha256": hashlib.sha256(entry.model_npz).hexdigest(),
            },
        )
