"""Writing a run's summary: ``results.json``, ``summary.md``, reliability diagrams, the
GitHub step summary, and the lines a terminal shows at the end.

Both front ends end a run here, so a pytest session and ``nethical-runner run`` leave the same
files and print the same table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from nethical_runner._escape import terminal
from nethical_runner._files import atomic_create_text, atomic_write_json, atomic_write_text
from nethical_runner._names import diagram_file
from nethical_runner.report import github
from nethical_runner.report.markdown import summary_markdown
from nethical_runner.report.reliability import matplotlib_missing, write_diagram
from nethical_runner.report.run_report import RunReport, headline, results_document, terminal_table

RELIABILITY_FOLDER = "reliability"
IGNORE_FILE, IGNORE_ALL = ".gitignore", "*\n"  # an output root keeps itself out of git
DIAGRAMS_SWITCH = "NETHICAL_DIAGRAMS"  # "0": draw no reliability diagrams


@dataclass(frozen=True)
class Written:
    """What a run wrote, for the terminal summary; ``error`` when something could not be."""

    results: Path | None
    summary: Path | None
    diagrams: Mapping[tuple[str, str], str]
    diagrams_skipped: str | None
    error: str | None = None


def publish(report: RunReport, out_dir: Path, run_id: str) -> Written:
    """Write ``results.json``, ``summary.md`` and the diagrams under ``out_dir``, and append the
    summary to ``$GITHUB_STEP_SUMMARY`` when GitHub Actions sets it. Never raises for a file
    that cannot be written: the run's verdict stands, and :attr:`Written.error` says what is
    missing."""
    try:
        ignore_output_root(out_dir, Path.cwd())
        diagrams, skipped = draw_diagrams(report, out_dir)
        document = results_document(
            report, run_id=run_id, diagrams=diagrams, diagrams_skipped=skipped
        )
        atomic_write_json(out_dir / "results.json", document)
        text = summary_markdown(report, run_id=run_id, diagrams=diagrams, diagrams_skipped=skipped)
        atomic_write_text(out_dir / "summary.md", text)
    except (OSError, ValueError) as error:  # ValueError: a value JSON or UTF-8 cannot hold
        return Written(None, None, {}, None, f"cannot write the run summary to {out_dir}: {error}")
    written = Written(out_dir / "results.json", out_dir / "summary.md", diagrams, skipped)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        try:
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(text + "\n")
        except OSError as error:
            return replace(written, error=f"cannot append to $GITHUB_STEP_SUMMARY: {error}")
    return written


def ignore_output_root(out_dir: Path, invocation_dir: Path) -> bool:
    """Put a ``.gitignore`` of ``*`` in the output root, so that models, reports and the audit
    log never end up in a commit by ``git add .``. Never replaces one that is there (a user
    who wants outputs committed edits it, and the edit is kept), and never writes into a
    root that holds the project: a folder with ``.git`` in it, or the folder the run was
    started from or one above it (``--out .``). Whether it was written."""
    root, here = out_dir.resolve(), invocation_dir.resolve()
    if here.is_relative_to(root) or (root / ".git").exists():
        return False
    return atomic_create_text(root / IGNORE_FILE, IGNORE_ALL)


def draw_diagrams(
    report: RunReport, out_dir: Path
) -> tuple[dict[tuple[str, str], str], str | None]:
    """A PNG per trained cohort, named by spec and cohort so that summary links stay valid;
    returns the paths (relative to ``out_dir``) and why none were drawn, if so."""
    trained = [row for row in report.rows() if row.trained and row.record is not None]
    if not trained:
        return {}, None
    missing = diagrams_turned_off() or matplotlib_missing()
    if missing is not None:
        return {}, missing
    drawn = {}
    for row in trained:
        assert row.record is not None
        relative = f"{RELIABILITY_FOLDER}/{diagram_file(row.spec, row.cohort)}"
        source = row.data_source if len(row.data_source) <= 40 else row.data_source[:37] + "..."
        title = f"{row.spec} / {row.cohort} ({row.model}, {source} data)"
        write_diagram(out_dir / relative, row.record["reliability"], title)
        drawn[(row.spec, row.cohort)] = relative
    return drawn, None


def diagrams_turned_off() -> str | None:
    """Why no diagram is drawn although matplotlib is there: ``NETHICAL_DIAGRAMS=0``. Drawing
    costs a few tenths of a second a cohort, which a job that never looks at them can save;
    the bins stay in ``results.json`` either way."""
    if os.environ.get(DIAGRAMS_SWITCH, "").strip() == "0":
        return f"turned off ({DIAGRAMS_SWITCH}=0)"
    return None


def summary_lines(
    report: RunReport, written: Written | None, *, invocation_dir: Path
) -> list[tuple[str, bool]]:
    """The end-of-run lines, each with whether it is an error (shown in red): the table, the
    headline, where the files went, and on GitHub Actions the annotations. Each line is
    escaped for a terminal (the annotations for the runner), so the only workflow commands
    a run prints are its annotations."""
    lines: list[tuple[str, bool]] = []
    if report.checks:
        lines.append((terminal_table(report), False))
    lines.append((headline(report), False))
    if written is not None:
        if written.results is not None:
            lines.append((terminal(f"results: {written.results}"), False))
        if written.summary is not None:
            lines.append((terminal(f"summary: {written.summary}"), False))
        if written.diagrams_skipped:
            skipped = f"reliability diagrams skipped: {written.diagrams_skipped}"
            lines.append((terminal(skipped), False))
        if written.error:
            lines.append((terminal(written.error), True))
    if github.enabled():
        for line in github.check_annotations(
            report.sorted_checks(),
            report.errors,
            invocation_dir=invocation_dir,
            workspace=os.environ.get("GITHUB_WORKSPACE"),
        ):
            lines.append((line, False))
    return lines
