"""The run summary: records of every check and cohort merged into one table and one document.

Rows are one per spec and cohort, failures first, so the first lines of a CI log say what
broke. The same merged data feeds the terminal table, ``results.json`` (machine readable, the
baseline format of ``--nethical-baseline``) and ``summary.md`` (see
:mod:`nethical_runner.report.markdown`). Everything is ordered by spec file, declared cohort
order and collection order, never by which pytest-xdist worker finished first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nethical_runner import __version__
from nethical_runner._escape import terminal
from nethical_runner._words import counted
from nethical_runner.checks.baseline import RESULTS_FORMAT
from nethical_runner.report.record_types import (
    CheckRecord,
    CohortRecord,
    ReportRecord,
    SpecErrorRecord,
)
from nethical_runner.spec.yaml_source import Problem

KIND_COLUMNS = ("gate", "sla", "drift")  # always shown; other kinds get a column when present
COLUMN_TITLES = {"gate": "gate", "sla": "SLA", "drift": "drift"}
FAIL, WARN, PASS, SKIP, NONE = "FAIL", "warn", "pass", "skip", "-"
_RANK = {FAIL: 0, WARN: 1, PASS: 2, SKIP: 3, NONE: 4}
STATUS_WORDS = {FAIL: "failed", WARN: "warning", PASS: "passed", SKIP: "skipped", NONE: "unchecked"}
TABLE_WIDTH = 120  # the terminal table's aim: "model on data" is cut to fit it...
DETAIL_WIDTHS = (12, 48)  # ...to no fewer and no more characters than these; notes hold all


@dataclass
class RunReport:
    """Records received from check items (here or from xdist workers), merged."""

    checks: dict[str, CheckRecord] = field(default_factory=dict)
    cohorts: dict[tuple[str, str], CohortRecord] = field(default_factory=dict)
    runs: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    errors: list[SpecErrorRecord] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.checks and not self.errors

    def add(self, record: ReportRecord) -> None:
        """Merge one report's record: a check and the cohorts it brought along."""
        check = record.get("check")
        if check is not None:
            self.checks[check["id"]] = check
        for cohort in record.get("cohorts", ()):
            key = (cohort["spec"], cohort["cohort"])
            self.runs.setdefault(key, set()).add(cohort["run_id"])
            kept = self.cohorts.get(key)
            # two workers may both train a spec; keep one, chosen by run id, not arrival order
            if kept is None or cohort["run_id"] < kept["run_id"]:
                self.cohorts[key] = cohort

    def add_spec_errors(self, errors: Iterable[SpecErrorRecord]) -> None:
        """Located problems of a spec file that failed validation: ``file``, ``line``,
        ``column``, ``message`` each (see :func:`spec_error_records`)."""
        self.errors.extend(errors)

    def add_collection_error(self, nodeid: str, text: str) -> None:
        """A file that could not be collected for a reason other than a located problem."""
        self.errors.append({"file": nodeid, "line": None, "column": None, "message": text})

    def sorted_checks(self) -> list[CheckRecord]:
        return sorted(self.checks.values(), key=lambda c: (c["file"], c["order"], c["id"]))

    def totals(self) -> dict[str, int]:
        outcomes = [c["outcome"] for c in self.checks.values()]
        return {
            "checks": len(outcomes),
            "passed": outcomes.count("passed"),
            "failed": outcomes.count("failed") + outcomes.count("error"),
            "skipped": outcomes.count("skipped"),
            "inconclusive": sum(
                1 for c in self.checks.values() if c.get("decision") == "inconclusive"
            ),
            "warnings": sum(
                1 for c in self.checks.values() if c["warning"] and c["outcome"] == "passed"
            ),
            "specs": len({c["spec"] for c in self.checks.values()}),
            "cohorts": len(self.rows()),
            "errors": len(self.errors),
        }

    @property
    def failed(self) -> bool:
        totals = self.totals()
        return bool(totals["failed"] or totals["errors"])

    def extra_kinds(self) -> list[str]:
        """Check kinds beyond gate/SLA/drift (``regression``, ``audit``...), in first-seen
        collection order."""
        kinds = (c["kind"] for c in self.sorted_checks())
        return [k for k in dict.fromkeys(kinds) if k not in KIND_COLUMNS]

    def rows(self) -> list[Row]:
        """One row per spec and cohort, failures first, then warnings, then passes."""
        checks = self.sorted_checks()
        by_spec: dict[str, list[CheckRecord]] = {}
        for check in checks:
            by_spec.setdefault(check["spec"], []).append(check)
        keys = dict.fromkeys([*self.cohorts, *((c["spec"], c["cohort"]) for c in checks)])
        rows = [
            Row(
                spec,
                cohort,
                self.cohorts.get((spec, cohort)),
                [c for c in by_spec.get(spec, ()) if c["cohort"] in (cohort, None)],
            )
            for spec, cohort in keys
            if cohort is not None  # cross-cohort checks count towards every row of their spec
        ]
        if not rows:  # only cross-cohort checks ran and no cohort came along
            rows = [Row(spec, "-", None, found) for spec, found in by_spec.items()]
        return sorted(rows, key=Row.sort_key)


@dataclass(frozen=True)
class Row:
    spec: str
    cohort: str
    record: CohortRecord | None
    checks: list[CheckRecord]

    @property
    def trained(self) -> bool:
        return self.record is not None and self.record["training"] == "trained"

    def status(self, kinds: Iterable[str] | None = None) -> str:
        """The worst outcome of this row's checks (of ``kinds`` only, when given)."""
        chosen = [c for c in self.checks if kinds is None or c["kind"] in kinds]
        if kinds is None and self.record is not None and not self.trained:
            return FAIL
        return status_of(chosen)

    @property
    def file(self) -> str:
        if self.record is not None:
            return str(self.record["file"])
        return str(self.checks[0]["file"]) if self.checks else ""

    @property
    def index(self) -> int:
        """Declared position of the cohort in its spec."""
        if self.record is not None:
            return int(self.record["cohort_index"])
        return min((int(c["order"]) for c in self.checks), default=0)

    def sort_key(self) -> tuple[Any, ...]:
        return (_RANK[self.status()], self.file, self.spec, self.index)

    def metric(self, name: str) -> float | None:
        if self.record is None or not self.trained:
            return None
        value = self.record["metrics"].get(name)
        return float(value) if value is not None else None

    @property
    def p95_ms(self) -> float | None:
        sla = self.record.get("sla") if self.record is not None and self.trained else None
        return float(sla["p95_ms"]) if sla else None

    @property
    def model(self) -> str:
        if self.record is None:
            return "-"
        return str(self.record.get("model", self.record["model_type"]))  # older records: type

    @property
    def data_source(self) -> str:
        if self.record is None:
            return "-"
        if not self.trained:
            return f"{self.record['declared_source']} (training failed)"
        return str(self.record["data"]["label"])


def status_of(checks: Sequence[Mapping[str, Any]]) -> str:
    outcomes = [c["outcome"] for c in checks]
    if any(o in ("failed", "error") for o in outcomes):
        return FAIL
    if any(c["warning"] for c in checks if c["outcome"] == "passed"):
        return WARN
    if "passed" in outcomes:
        return PASS
    return SKIP if outcomes else NONE


def number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def table_rows(
    report: RunReport, *, detail_width: int | None
) -> tuple[list[str], list[list[str]], list[str]]:
    """Headers, cells and notes of the summary table, shared by the terminal and markdown.

    The model and its data share one column, cut at ``detail_width`` (None: never): a cut
    cell ends in a note number, and the note under the table holds the whole of it (rows
    with the same model and data share a note), so a table of long estimator names and
    Kaggle fallback reasons stays within a terminal's width."""
    extra = report.extra_kinds()
    headers = ["spec", "cohort", "model on data", "accuracy", "ECE", "p95 ms"]
    headers += [COLUMN_TITLES[k] for k in KIND_COLUMNS] + extra
    cells: list[list[str]] = []
    notes: dict[str, int] = {}
    for row in report.rows():
        detail = f"{row.model} on {row.data_source}" if row.record is not None else "-"
        if detail_width is not None and len(detail) > detail_width:
            note = f"model {row.model}, data {row.data_source}"
            mark = f"[{notes.setdefault(note, len(notes) + 1)}]"
            detail = detail[: max(1, detail_width - 3 - len(mark))] + "..." + mark
        cells.append(
            [
                row.spec,
                row.cohort,
                detail,
                number(row.metric("accuracy")),
                number(row.metric("ece")),
                milliseconds(row.p95_ms),
                *(row.status([kind]) for kind in (*KIND_COLUMNS, *extra)),
            ]
        )
    return headers, cells, [f"[{n}] {note}" for note, n in notes.items()]


def terminal_table(report: RunReport) -> str:
    """The table for a terminal, and the notes of the cells it cut: every cell escaped, so
    none can break its line. Columns are two spaces apart and as wide as their widest cell;
    the model-and-data column takes what is left of :data:`TABLE_WIDTH`."""
    headers, cells, _ = table_rows(report, detail_width=None)
    widths = [
        max(len(terminal(cell)) for cell in column) for column in zip(headers, *cells, strict=True)
    ]
    others = sum(widths) - widths[2] + 2 * (len(widths) - 1)
    low, high = DETAIL_WIDTHS
    headers, cells, notes = table_rows(
        report, detail_width=min(high, max(low, TABLE_WIDTH - others))
    )
    shown = [[terminal(cell) for cell in row] for row in [headers, *cells]]
    widths = [max(len(cell) for cell in column) for column in zip(*shown, strict=True)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in shown]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join([*lines, *(terminal(note) for note in notes)])


def headline(report: RunReport) -> str:
    """``2 failed, 10 passed, 1 warning (3 specs, 5 cohorts)``."""
    totals = report.totals()
    parts = [f"{totals['failed']} failed"] if totals["failed"] else []
    parts.append(f"{totals['passed']} passed")
    if totals["warnings"]:
        parts.append(f"{totals['warnings']} with warnings")
    if totals["skipped"]:
        parts.append(f"{totals['skipped']} skipped")
    if totals["inconclusive"]:
        parts.append(f"{totals['inconclusive']} inconclusive")
    if totals["errors"]:
        parts.append(counted(totals["errors"], "spec error"))
    specs, cohorts = totals["specs"], totals["cohorts"]
    return f"{', '.join(parts)} ({counted(specs, 'spec')}, {counted(cohorts, 'cohort')})"


def results_document(
    report: RunReport,
    *,
    run_id: str,
    diagrams: Mapping[tuple[str, str], str],
    diagrams_skipped: str | None,
) -> dict[str, Any]:
    """``results.json``: per spec and cohort its data, metrics and every check."""
    checks = report.sorted_checks()
    by_spec: dict[str, list[Row]] = {}
    for row in report.rows():
        by_spec.setdefault(row.spec, []).append(row)
    specs = []
    for spec, rows in by_spec.items():
        rows.sort(key=lambda r: r.index)
        record = next((r.record for r in rows if r.record is not None), None)
        cohorts = [_cohort_entry(report, row, diagrams) for row in rows if row.cohort != "-"]
        specs.append(
            {
                "name": spec,
                "file": rows[0].file,
                "sha256": record["spec_sha256"] if record is not None else None,
                "status": STATUS_WORDS[status_of([c for c in checks if c["spec"] == spec])],
                "cohorts": cohorts,
                "checks": [c for c in checks if c["spec"] == spec and c["cohort"] is None],
            }
        )
    specs.sort(key=lambda entry: (entry["file"], entry["name"]))
    return {
        "format": RESULTS_FORMAT,
        "tool": "nethical-runner",
        "version": __version__,
        "run_id": run_id,
        "outcome": "failed" if report.failed else "passed",
        "totals": report.totals(),
        "specs": specs,
        "errors": report.errors,
        "reliability_diagrams": {"skipped": diagrams_skipped, "count": len(diagrams)},
    }


def _cohort_entry(
    report: RunReport, row: Row, diagrams: Mapping[tuple[str, str], str]
) -> dict[str, Any]:
    entry: dict[str, Any] = (
        dict(row.record) if row.record is not None else {"spec": row.spec, "cohort": row.cohort}
    )
    entry["status"] = STATUS_WORDS[row.status()]
    entry["runs"] = sorted(report.runs.get((row.spec, row.cohort), ()))
    entry["diagram"] = diagrams.get((row.spec, row.cohort))
    entry["checks"] = [c for c in row.checks if c["cohort"] == row.cohort]
    return entry


def spec_error_records(problems: Iterable[Problem]) -> list[SpecErrorRecord]:
    """A spec file's problems as plain records, which travel from pytest-xdist workers."""
    return [
        {
            "file": problem.path.as_posix(),
            "line": problem.mark.line,
            "column": problem.mark.column,
            "message": f"{problem.key}: {problem.message}" if problem.key else problem.message,
        }
        for problem in problems
    ]
