"""Drift history: what each run measured, kept in the drift folder for later runs to compare.

Every run writes its own file, ``history/<spec>/<run id>.json``, atomically and never
rewritten, so parallel runs and pytest-xdist workers cannot corrupt each other's records and
no lock is needed; a reader sees whole files only. Later runs read these files to find a
cohort's baseline (the same cohort in the latest earlier run of the same spec that may serve
as one: see :mod:`nethical_runner.drift.baseline`) and the other cohorts of a drift group.

Fields are only ever added, never changed, so ``FORMAT`` stays 1 and a record reads both in
older runners (which ignore the new fields) and newer ones (which give a missing field its
old meaning: a record without ``baseline_eligible`` is a baseline).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path
from typing import Any

from nethical_runner._files import atomic_write_json

FORMAT = 1
HISTORY_FOLDER = "history"


@dataclass(frozen=True)
class Recorded:
    """One cohort as an earlier run recorded it."""

    spec: str
    cohort: str
    run_id: str
    session: str
    group: str | None
    recorded_at: str  # ISO 8601 UTC with microseconds: sorts in time order
    entry: Mapping[str, Any]  # metrics, standard errors, samples, model type, violations
    eligible: bool = True  # whether it may be a baseline: its drift checks passed, or accepted

    @property
    def order(self) -> tuple[str, str]:
        return (self.recorded_at, self.run_id)


@dataclass(frozen=True)
class HistoryView:
    """Every readable record in a drift folder, and how many files could not be read."""

    records: tuple[Recorded, ...]
    unreadable: tuple[str, ...]

    def baseline(self, spec: str, cohort: str, session: str) -> Recorded | None:
        """The latest eligible record of ``cohort`` of ``spec`` from another session."""
        return next((r for r in self._earlier(spec, cohort, session) if r.eligible), None)

    def passed_over(self, spec: str, cohort: str, session: str) -> tuple[str, ...]:
        """The runs, latest first, whose records of ``cohort`` are later than its baseline but
        failed their drift checks (every earlier run, when there is no baseline)."""
        later = takewhile(lambda r: not r.eligible, self._earlier(spec, cohort, session))
        return tuple(r.run_id for r in later)

    def _earlier(self, spec: str, cohort: str, session: str) -> list[Recorded]:
        """The records of ``cohort`` of ``spec`` from other sessions, latest first."""
        found = [
            r
            for r in self.records
            if r.spec == spec and r.cohort == cohort and r.session != session
        ]
        return sorted(found, key=lambda r: r.order, reverse=True)

    def group_members(self, group: str, exclude: Iterable[tuple[str, str]]) -> list[Recorded]:
        """The latest record of every (spec, cohort) of ``group`` other than ``exclude``, in
        the order they were first recorded."""
        skip = set(exclude)
        latest: dict[tuple[str, str], Recorded] = {}
        first: dict[tuple[str, str], tuple[str, str]] = {}
        for record in sorted(self.records, key=lambda r: r.order):
            identity = (record.spec, record.cohort)
            if record.group != group or identity in skip:
                continue
            latest[identity] = record
            first.setdefault(identity, record.order)
        return sorted(latest.values(), key=lambda r: first[(r.spec, r.cohort)])


def read_history(folder: Path, specs: Iterable[str] | None = None) -> HistoryView:
    """Records under ``folder/history``, of ``specs`` only when given (else of every spec)."""
    root = folder / HISTORY_FOLDER
    if specs is None:
        paths = sorted(root.glob("*/*.json"))
    else:
        paths = sorted(path for spec in specs for path in (root / spec).glob("*.json"))
    records: list[Recorded] = []
    unreadable: list[str] = []
    for path in paths:
        try:
            records.extend(_parse(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            unreadable.append(str(path))
    return HistoryView(tuple(records), tuple(unreadable))


def _parse(payload: Mapping[str, Any]) -> list[Recorded]:
    if payload["format"] != FORMAT:
        raise ValueError(f"unknown history format {payload['format']!r}")
    eligible = payload.get("baseline_eligible", True)
    if not isinstance(eligible, bool):
        raise ValueError(f"baseline_eligible is {eligible!r}, not true or false")
    return [
        Recorded(
            spec=str(payload["spec"]),
            cohort=str(cohort),
            run_id=str(payload["run_id"]),
            session=str(payload["session"]),
            group=payload.get("group"),
            recorded_at=str(payload["recorded_at"]),
            entry=entry,
            eligible=eligible,
        )
        for cohort, entry in payload["cohorts"].items()
    ]


def write_record(
    folder: Path,
    *,
    spec: str,
    spec_sha256: str,
    run_id: str,
    session: str,
    group: str | None,
    recorded_at: str,
    cohorts: Mapping[str, Mapping[str, Any]],
    baseline: Mapping[str, Any],
) -> Path:
    """Record this run's cohorts under a name no other run uses, with ``baseline``: the
    fields saying whether it may be a later run's baseline."""
    path = record_path(folder, spec, run_id)
    atomic_write_json(
        path,
        {
            "format": FORMAT,
            "spec": spec,
            "spec_sha256": spec_sha256,
            "run_id": run_id,
            "session": session,
            "group": group,
            "recorded_at": recorded_at,
            "cohorts": cohorts,
            **baseline,
        },
    )
    return path


def record_path(folder: Path, spec: str, run_id: str) -> Path:
    """Where :func:`write_record` puts a run's record, known before it is written."""
    return folder / HISTORY_FOLDER / spec / f"{run_id}.json"
