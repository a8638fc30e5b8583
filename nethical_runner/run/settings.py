"""Where a run writes and what identifies it: chosen by the front end, never by a spec."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from nethical_runner.drift.baseline import accepted_reason
from nethical_runner.run.cache import ResultCache


def new_run_id() -> str:
    """UTC time plus random bits: sortable, and unique across runs and parallel workers."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def default_cache_dir() -> Path:
    """``$NETHICAL_CACHE_DIR``, else the user's cache folder: downloads outlive output roots."""
    if os.environ.get("NETHICAL_CACHE_DIR"):
        return Path(os.environ["NETHICAL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nethical-runner"


@dataclass(frozen=True)
class RunSettings:
    out_dir: Path
    run_id: str = field(default_factory=new_run_id)
    cache_dir: Path = field(default_factory=default_cache_dir)
    sla_dir: Path | None = None  # SLA reports; <out_dir>/sla when None
    audit_dir: Path | None = None  # the audit log's folder; <out_dir>/audit when None
    result_cache: ResultCache | None = None  # skip training an unchanged cohort when set
    # Runs sharing a session (the workers of one pytest-xdist run) never baseline each other.
    session: str | None = None
    drift_dir: Path | None = None  # drift reports and history; <out_dir>/drift when None
    champion_dir: Path | None = None  # where champions are found; <out_dir>/models/current
    # Why this run is the new drift baseline (--accept-baseline); None: it is one if it passes.
    accept_baseline: str | None = None

    def __post_init__(self) -> None:
        accepted_reason(self.accept_baseline)  # an empty reason is refused, not a silent act
