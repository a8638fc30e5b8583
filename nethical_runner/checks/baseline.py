"""The baseline a regression check compares with: the ``results.json`` of an earlier run
(typically the main branch's CI), matched by spec name and cohort id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

RESULTS_FORMAT = 1  # the version of results.json, written by the report and read back here


class BaselineError(Exception):
    """The baseline file cannot be used."""


@dataclass(frozen=True)
class BaselineCohort:
    metrics: dict[str, float | None]
    data_source: str | None
    trained: bool


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
                )
    except (KeyError, TypeError) as error:
        raise BaselineError(f"{path}: malformed results ({error!r} missing or wrong)") from None
    return Baseline(path, document.get("run_id"), cohorts)
