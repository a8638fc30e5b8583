"""What data a cohort declares, named by content before any row is parsed.

The controller must know which data a cohort will train on before it hands the cohort to a
worker: the result cache and the task key are both keyed by it, and a worker that reads other
bytes under the same path (a stale copy on another machine) must be caught rather than trusted.
Parsing the table on the controller only to hash its rows would load every table twice, so the
identity is the SHA-256 of the file the cohort reads (the declared CSV or Parquet file, or the
Kaggle file in the local cache), with the configuration that selects rows and columns keyed
beside it; a synthetic cohort is identified by its configuration alone, which fixes every row
it generates.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from nethical_runner.data import DataUnavailable, table_path
from nethical_runner.data.kaggle import fetch_dataset, find_file
from nethical_runner.spec.config import DataConfig

SYNTHETIC = "synthetic"
_BLOCK = 1024 * 1024


def data_identity(config: DataConfig, *, root: Path, cache_dir: Path) -> str:
    """``sha256:<hex>`` of the file the cohort reads, ``synthetic``, or ``synthetic fallback:
    <reason>`` when the declared data is unavailable and the spec falls back.

    Raises what loading the data would raise for a missing or misplaced file, so that a cohort
    fails with the same reason whether it is trained here or elsewhere.
    """
    try:
        if config.table is not None:  # csv or parquet
            return file_digest(table_path(config, root))
        if config.source == "kaggle":
            assert config.kaggle is not None
            source = config.kaggle
            folder = fetch_dataset(
                source.dataset,
                version=source.version,
                cache_dir=cache_dir,
                timeout_s=source.timeout_s,
            )
            return file_digest(find_file(folder, source.file))
    except DataUnavailable as unavailable:
        if config.fallback != "synthetic":
            raise
        return f"{SYNTHETIC} fallback: {unavailable}"
    return SYNTHETIC


def file_digest(path: Path) -> str:
    """The file's SHA-256, read in blocks (constant memory); computed once per process for a
    file whose size, modification time and inode are unchanged."""
    found = path.stat()
    return _digest(path, found.st_size, found.st_mtime_ns, found.st_ino)


@functools.lru_cache(maxsize=256)
def _digest(path: Path, size: int, mtime_ns: int, inode: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"
