"""The baseline a regression check compares with: the ``results.json`` of an earlier run
(typically the main branch's CI), matched by spec name and cohort id.

A baseline that does not exist is an error unless the run says it may be missing
(``--nethical-baseline-missing skip``): the first run of a CI workflow has no earlier run to
restore, and its regression items are skipped with "no baseline yet". Only a path with nothing
at it counts as missing; a file that is there but cannot be read, is not JSON, is too large or
is not a ``results.json`` is an error under every policy, as is a link pointing nowhere, so a
broken baseline never passes as a first run.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nethical_runner.metrics.intervals import Interval

RESULTS_FORMAT = 1  # the version of results.json, written by the report and read back here
MAX_BASELINE_BYTES = 256 * 1024 * 1024  # a results.json of thousands of cohorts is a few MB


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
    missing: str | None = None  # why there is none yet (allowed to be missing); no cohorts then

    def cohort(self, spec: str, cohort: str) -> BaselineCohort | None:
        return self.cohorts.get((spec, cohort))


def load_baseline(path: Path, missing: str = "error") -> Baseline:
    """Read a ``results.json``; refuse anything that is not one, with the reason. With
    ``missing="skip"`` a path with nothing at it is a baseline that does not exist yet
    (``"error"``, the default: it cannot be read like any other)."""
    if missing == "skip" and not os.path.lexists(path):
        why = f"no baseline yet: {path} does not exist (a missing baseline is allowed)"
        return Baseline(path, None, {}, missing=why)
    hint = " (a missing baseline is an error unless allowed)" if missing == "error" else ""
    document = read_results(path, hint)
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


def read_results(path: Path, hint: str = "") -> dict[str, Any]:
    """A ``results.json`` as a document of this format, read with a bound on its size;
    :class:`BaselineError` with the reason for anything else. Its content is untrusted."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BASELINE_BYTES + 1)
    except OSError as error:
        raise BaselineError(f"{path}: cannot read: {error.strerror}{hint}") from None
    if len(data) > MAX_BASELINE_BYTES:
        raise BaselineError(f"{path}: larger than {MAX_BASELINE_BYTES} bytes; not a results.json")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BaselineError(f"{path}: not a JSON file ({error})") from None
    if not isinstance(document, dict) or document.get("format") != RESULTS_FORMAT:
        raise BaselineError(f"{path}: not a nethical-runner results.json (format {RESULTS_FORMAT})")
    return document


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
