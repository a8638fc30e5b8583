"""A content-addressed cache of trained models, so an unchanged spec is not retrained.

The cache only ever saves time; it never decides a verdict. Its folder (pytest's cache) is
writable by whoever can write the checkout or restore a CI cache, and the key below is
computable by anyone, so an entry is a hint, not a fact. It therefore holds the trained model
alone (with the training time of the run that fitted it, which is informational): every hit is
validated again on this run's validation rows, so an edited entry can at most swap in another
model, which is then judged on its own predictions. Only a model of the type and parameters
the spec declares, loaded under the project's own estimator prefixes, is accepted; anything
else, unreadable or too large, is a miss and the cohort is retrained.

The key covers everything that can change what training produces: the cohort's effective
configuration, the SHA-256 of the data file it reads (so an edited CSV or a new Kaggle version
is a miss; see :mod:`nethical_runner.data.identity`), the package's version and source (so a
changed model or generator is a miss), and the versions of Python and of the libraries that
read data and fit and store models (another pandas may parse differently, another numpy, scipy
or scikit-learn may fit differently; skops files are not promised to load across versions).
The same key names the cohort's task on a cluster, so identical cohorts train once there.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import io
import json
import platform
import zipfile
from pathlib import Path
from typing import Any

from nethical_runner import __version__
from nethical_runner._files import atomic_write_bytes
from nethical_runner.models import Model, load_model
from nethical_runner.spec.config import RunConfig

PACKAGE_ROOT = Path(__file__).parents[1]
KEYED_DISTRIBUTIONS = ("numpy", "pandas", "scikit-learn", "scipy", "skops")
MAX_ENTRY_BYTES = 256 * 1024 * 1024  # far above any model a spec trains; bounds read and unzip


@functools.cache
def code_digest() -> str:
    """SHA-256 over every source file of the package: any code change invalidates the cache."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def runtime_versions() -> dict[str, str]:
    """Python's and the model libraries' versions, read from package metadata (no imports)."""
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return {"python": python} | {n: importlib.metadata.version(n) for n in KEYED_DISTRIBUTIONS}


def environment() -> dict[str, Any]:
    """What, besides a cohort's configuration and data, decides what its training produces:
    keyed here, and compared by every worker with its own before it trains."""
    return {"version": __version__, "code": code_digest(), "versions": runtime_versions()}


def key_material(
    config: RunConfig, data_identity: str, estimator_prefixes: tuple[str, ...]
) -> dict[str, Any]:
    return {
        "config": config.model_dump(mode="json"),
        "data": data_identity,
        "estimator_prefixes": list(estimator_prefixes),
        **environment(),
    }


def cache_key(config: RunConfig, data_identity: str, estimator_prefixes: tuple[str, ...]) -> str:
    material = key_material(config, data_identity, estimator_prefixes)
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


class ResultCache:
    """One ``.npz`` model file per entry, under ``<root>/<key[:2]>/<key>.npz``, written
    atomically so a reader never sees half an entry."""

    def __init__(self, root: Path, max_entry_bytes: int = MAX_ENTRY_BYTES) -> None:
        self.root = root
        self.max_entry_bytes = max_entry_bytes

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def load(self, key: str, like: Model, allowed_prefixes: tuple[str, ...]) -> bytes | None:
        """The model file stored under ``key`` (its metadata holding the training time of the
        run that fitted it), if it is of ``like``'s type and parameters and loads under
        ``allowed_prefixes`` (the project's, as for any model file); otherwise None."""
        data = self._read(key)
        if data is None:
            return None
        try:
            model, metadata = load_model(data, allowed_prefixes)
            float(metadata["training_ms"])
        except Exception:  # whatever is wrong with an entry, retraining is the answer
            return None
        if _identity(model) != _identity(like):
            return None
        return data

    def store(self, key: str, model_file: bytes) -> None:
        """``model_file``: a model file whose metadata holds ``training_ms``."""
        atomic_write_bytes(self._path(key), model_file)

    def _read(self, key: str) -> bytes | None:
        """The entry's bytes, read no further than the limit, and only if unzipping them stays
        within it too (the sizes a zip declares bound what Python's zipfile inflates)."""
        try:
            with self._path(key).open("rb") as handle:
                data = handle.read(self.max_entry_bytes + 1)
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                expanded = sum(member.file_size for member in archive.infolist())
        except (OSError, zipfile.BadZipFile, ValueError):
            return None
        if max(len(data), expanded) > self.max_entry_bytes:
            return None
        return data


def _identity(model: Model) -> tuple[str, Any]:
    return model.type_name, model.params.model_dump(mode="json")
