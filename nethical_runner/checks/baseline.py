"""The baseline a regression check compares with: the ``results.json`` of an earlier run
(typically the main branch's CI), matched by spec name and cohort id."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nethical_runner.metrics.intervals import Interval

RESULTS_FORMAT = 1  # the version of results.json, written by the report and read back here


class BaselineError(Exception):
    """The baseline file cannot be used."""


@dataclass(frozen=True)
class BaselineCohort:
    metrics: dict[str, float | None]
    data_source: str | None
    trained: bool
    intervals: dict[str, Interval]  # empty in results.json files written before intervals


@dataclass(frozen=True)
class Baseline:
    path: Path
    run_id: str | None
    cohorts: dict[tuple[str, str], BaselineCohort]

    def cohort(self, spec: str, cohort: str) -> BaselineCohort | None:
        return self.cohorts.get((spec, cohort))


def load_baseline(path: Path) -> Baseline:
    """Read a ``results.json``; refuse anything that is not one, with the reason."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BaselineError(f"{path}: cannot read: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BaselineError(f"{path}: not a JSON file ({error})") from None
    if not isinstance(document, dict) or document.get("format") != RESULTS_FORMAT:
        raise BaselineError(f"{path}: not a nethical-runner results.json (format {RESULTS_FORMAT})")
    cohorts: dict[tuple[str, str], BaselineCohort] = {}
    try:
        for spec in document["specs"]:
            for cohort in spec["cohorts"]:
                trained = cohort.get("training") == "trained"
                data = cohort.get("data") or {}
                cohorts[(spec["name"], cohort["cohort"])] = BaselineCohort(
                    metrics=dict(cohort.get("metrics") or {}),
                    data_source=data.get("label"),
                    trained=trained,
                    intervals=_intervals(cohort.get("intervals") or {}),
                )
    except (KeyError, TypeError, ValueError) as error:
        raise BaselineError(f"{path}: malformed results ({error!r} missing or wrong)") from None
    return Baseline(path, document.get("run_id"), cohorts)


def _intervals(found: dict[str, Any]) -> dict[str, Interval]:
    """The recorded intervals, checked to be numbers in order (the file is untrusted)."""
    intervals = {}
    for metric, entry in found.items():
        low, high, level = (float(entry[k]) for k in ("low", "high", "level"))
        if not (math.isfinite(low) and math.isfinite(high) and low <= high and 0 < level < 1):
            raise ValueError(f"interval of {metric} is not an interval")
        intervals[str(metric)] = Interval(
            low, high, level, str(entry["method"]), int(entry["rows"])
        )
    return intervals
