"""``summary.md``: the run summary as markdown for a pull-request comment or a CI job page.

Written next to ``results.json`` and appended to ``$GITHUB_STEP_SUMMARY`` when GitHub Actions
sets it. It leads with the verdict and the table (failures first), then lists each failed
check with the spec line of its threshold, the warnings (passes on fallback data, SLA warning
bands, cohorts missing from a baseline), spec errors, and the reliability diagrams.

Every value is escaped where it lands (:mod:`nethical_runner._escape`): names, messages and
file names may come from a pull request, so none may carry HTML, markdown syntax or a line
break, and each message is cut to a bounded length (GitHub keeps at most 1 MiB of a step
summary).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from nethical_runner import __version__
from nethical_runner._escape import clip, markdown, markdown_code
from nethical_runner.report.run_report import FAIL, RunReport, headline, table_rows


def summary_markdown(
    report: RunReport,
    *,
    run_id: str,
    diagrams: Mapping[tuple[str, str], str],
    diagrams_skipped: str | None,
) -> str:
    verdict = "failed" if report.failed else "passed"
    lines = [f"## nethical-runner {verdict}: {markdown(headline(report))}", ""]
    headers, cells, _notes = table_rows(report, detail_width=None)  # a page wraps its cells
    if cells:
        lines += _table(headers, [[_bold_failure(cell) for cell in row] for row in cells])
    checks = report.sorted_checks()
    failed = [c for c in checks if c["outcome"] in ("failed", "error")]
    if failed:
        lines += ["### Failed checks", ""]
        lines += _table(
            ["check", "decision", "value", "interval", "threshold", "message", "threshold at"],
            [
                [
                    markdown_code(_label(c)),
                    markdown(c["decision"]),
                    _value(c["value"]),
                    _interval(c["interval"]),
                    _value(c["threshold"]),
                    _text(c["message"]),
                    markdown_code(f"{c['file']}:{c['line']}"),
                ]
                for c in failed
            ],
        )
    decided = [c for c in checks if c["interval"] is not None and c not in failed]
    if decided:
        lines += ["### Evidence", ""]
        lines += _table(
            ["check", "decision", "value", "interval", "threshold"],
            [
                [
                    markdown_code(_label(c)),
                    markdown(c["decision"]),
                    _value(c["value"]),
                    _interval(c["interval"]),
                    _value(c["threshold"]),
                ]
                for c in decided
            ],
        )
    rates = _error_rates(checks)
    if rates:
        lines += ["### Error rates", "", *rates, ""]
    warned = [(c, c["warning"]) for c in checks if c["warning"] and c["outcome"] == "passed"]
    if warned:
        lines += ["### Warnings", ""]
        lines += [f"- {markdown_code(_label(c))}: {_text(warning)}" for c, warning in warned]
        lines += [""]
    if report.errors:
        lines += ["### Spec errors", ""]
        lines += [f"- {markdown_code(_where(e))}: {_text(e['message'])}" for e in report.errors]
        lines += [""]
    lines += _diagrams(report, diagrams, diagrams_skipped)
    lines += [f"<sub>nethical-runner {__version__}, run {run_id}; details in results.json</sub>"]
    return "\n".join(lines) + "\n"


def _diagrams(
    report: RunReport, diagrams: Mapping[tuple[str, str], str], skipped: str | None
) -> list[str]:
    if skipped is not None:
        return [f"Reliability diagrams skipped: {markdown(skipped)}.", ""]
    if not diagrams:
        return []
    lines = ["### Reliability diagrams", ""]
    for row in sorted(report.rows(), key=lambda r: (r.file, r.spec, r.index)):
        path = diagrams.get((row.spec, row.cohort))
        if path is not None and row.record is not None:
            reliability = row.record["reliability"]
            bins = len(reliability["bins"])
            lines.append(
                f"- [{markdown(f'{row.spec} / {row.cohort}')}]({quote(path, safe='/@')}): ECE "
                f"{reliability['ece']:.4f} over {bins} bins "
                f"({markdown(str(reliability['confidence']))} confidence)"
            )
    return [*lines, ""]


def _label(check: Mapping[str, Any]) -> str:
    return "::".join(part for part in (check["spec"], check["cohort"], check["check"]) if part)


def _where(error: Mapping[str, Any]) -> str:
    if error["line"] is None:
        return str(error["file"])
    return f"{error['file']}:{error['line']}:{error['column']}"


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return markdown(clip(str(value), 200))


def _interval(interval: Mapping[str, Any] | None) -> str:
    """``0.81-0.86 (95% wilson, 200 rows)``."""
    if interval is None:
        return "-"
    level = f"{float(interval['level']) * 100:.4g}%"
    return (
        f"{_value(interval['low'])} to {_value(interval['high'])} ({level} "
        f"{markdown(str(interval['method']))}, {interval['rows']} rows)"
    )


def _error_rates(checks: list[Any]) -> list[str]:
    """Each spec's statement of what its drift checks together are expected to do."""
    found: dict[str, str] = {}
    for check in checks:
        note = check["properties"].get("error_rate")
        if check["kind"] == "drift" and isinstance(note, str):
            found.setdefault(check["spec"], note)
    return [f"- {markdown_code(spec)}: {_text(note)}" for spec, note in sorted(found.items())]


def _bold_failure(cell: str) -> str:
    return f"**{cell}**" if cell == FAIL else markdown(cell)


def _text(text: str) -> str:
    """A message as one line of literal markdown: our own line breaks become spaces, then
    everything is escaped and the length bounded."""
    return markdown(clip(" ".join(text.split())))


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """``rows`` hold escaped markdown; a pipe in a cell (escaped text or a code span) is
    escaped for the table, as GFM reads ``\\|`` in both."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*lines, ""]
