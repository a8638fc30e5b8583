"""pytest hooks of the run summary: records out of items, one table and one set of files in.

Where an item runs (the only process, or a pytest-xdist worker), its report is given a plain
record of the check and of the cohort(s) it belongs to, and its JUnit properties are completed
(metric, threshold, data source, spec location). Where reports arrive (the only process, or the
xdist controller), records are merged; at the end of the session that process alone writes
``results.json``, ``summary.md`` and the reliability diagrams, appends the summary to
``$GITHUB_STEP_SUMMARY``, prints the table and, on GitHub Actions, the annotations. Workers
write nothing, so there is one table and one file set however many workers ran.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nethical_runner._files import atomic_write_json, atomic_write_text
from nethical_runner.checks.collect import TrainingFailed
from nethical_runner.checks.regression import BaselineError, load_baseline
from nethical_runner.pytest_plugin.items import BASELINE_KEY, SESSION_KEY, CheckFailed, CheckItem
from nethical_runner.report import github as annotations
from nethical_runner.report.markdown import summary_markdown
from nethical_runner.report.records import (
    RECORD_ATTRIBUTE,
    check_properties,
    check_record,
    cohort_record,
)
from nethical_runner.report.reliability import matplotlib_missing, write_diagram
from nethical_runner.report.run_report import RunReport, headline, results_document, terminal_table

SPEC_SUFFIXES = (".yaml", ".yml")
RELIABILITY_FOLDER = "reliability"


def add_options(group: Any) -> None:
    group.addoption(
        "--nethical-baseline",
        metavar="PATH",
        default=None,
        help="results.json of a baseline run (e.g. main's CI): adds regression[<metric>] "
        "items for specs with a regression section",
    )


def configure(config: pytest.Config) -> None:
    """Load the baseline (a usage error if it is unusable) and register the hooks."""
    path = config.getoption("--nethical-baseline")
    try:
        config.stash[BASELINE_KEY] = load_baseline(Path(path)) if path else None
    except BaselineError as error:
        raise pytest.UsageError(f"--nethical-baseline: {error}") from None
    config.pluginmanager.register(ReportPlugin(config), "nethical-report")


@dataclass(frozen=True)
class Written:
    """What the session wrote, for the terminal summary."""

    results: Path
    summary: Path
    diagrams: dict[tuple[str, str], str]
    diagrams_skipped: str | None


class ReportPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.report = RunReport()
        self.order: dict[str, int] = {}
        self.sent: set[tuple[str, str, str]] = set()  # cohorts already sent from this process
        self.written: Written | None = None
        self.write_error: str | None = None

    # --- where items run -------------------------------------------------------------------

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.order = {item.nodeid: index for index, item in enumerate(session.items)}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, Any, None]:
        if not isinstance(item, CheckItem):
            yield
            return
        properties = check_properties(item.spec, item.check, item.outcome, item.spec_result)
        if call.when == "call":
            present = {name for name, _ in item.user_properties}
            for name, value in properties.items():
                if name not in present:
                    item.user_properties.append((name, value))
        made = yield
        report = made.get_result()
        if call.when == "call" or (call.when == "setup" and not report.passed):
            setattr(report, RECORD_ATTRIBUTE, self._record(item, call, report, properties))

    def _record(
        self,
        item: CheckItem,
        call: pytest.CallInfo[None],
        report: pytest.TestReport,
        properties: dict[str, Any],
    ) -> dict[str, Any]:
        if report.skipped:
            outcome = "skipped"
        elif report.failed:
            outcome = "failed" if call.when == "call" else "error"
        else:
            outcome = "passed"
        found = item.outcome
        if found is not None:
            message, warning = found.message, found.warning
        elif call.excinfo is not None:
            error = call.excinfo.value
            known = isinstance(error, CheckFailed | TrainingFailed)
            message = str(error) if known else call.excinfo.exconly()
            warning = None
        else:
            message, warning = outcome, None
        check = check_record(
            item.spec,
            item.check,
            nodeid=item.nodeid,
            outcome=outcome,
            message=message,
            warning=warning,
            properties=properties,
            order=self.order.get(item.nodeid, len(self.order)),
        )
        return {"check": check, "cohorts": self._cohorts(item)}

    def _cohorts(self, item: CheckItem) -> list[dict[str, Any]]:
        """Records of the item's cohort (every cohort for a cross-cohort check) that this
        process has not sent yet: each travels once, with the first report that needs it."""
        result = item.spec_result
        if result is None:
            return []
        wanted = [item.check.cohort_id] if item.check.cohort_id else list(result.cohorts)
        out_dir = self.config.stash[SESSION_KEY].settings.out_dir
        records = []
        for cohort_id in wanted:
            key = (str(item.spec.path), cohort_id, result.run_id)
            if cohort_id in result.cohorts and key not in self.sent:
                self.sent.add(key)
                records.append(cohort_record(item.spec, cohort_id, result, out_dir))
        return records

    # --- where reports arrive --------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, RECORD_ATTRIBUTE, None)
        if record is not None and not self.is_worker:
            self.report.add(record)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if self.is_worker or not report.failed:
            return
        if report.nodeid.split("::")[0].endswith(SPEC_SUFFIXES):
            self.report.add_collection_error(report.nodeid, str(report.longrepr))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker or self.report.empty:
            return
        out_dir = self.config.stash[SESSION_KEY].settings.out_dir
        run_id = self.config.stash[SESSION_KEY].settings.run_id
        try:
            self.written = write_outputs(self.report, out_dir, run_id)
        except OSError as error:
            self.write_error = f"cannot write the run summary to {out_dir}: {error}"
            return
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            try:
                with open(step_summary, "a", encoding="utf-8") as handle:
                    handle.write(self.written.summary.read_text(encoding="utf-8") + "\n")
            except OSError as error:
                self.write_error = f"cannot append to $GITHUB_STEP_SUMMARY: {error}"

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or self.report.empty:
            return
        terminalreporter.write_sep("=", "nethical-runner summary")
        if self.report.checks:
            terminalreporter.write_line(terminal_table(self.report))
        terminalreporter.write_line(headline(self.report))
        written = self.written
        if written is not None:
            terminalreporter.write_line(f"results: {written.results}")
            terminalreporter.write_line(f"summary: {written.summary}")
            if written.diagrams_skipped:
                terminalreporter.write_line(
                    f"reliability diagrams skipped: {written.diagrams_skipped}"
                )
        if self.write_error:
            terminalreporter.write_line(self.write_error, red=True)
        if annotations.enabled():
            for line in annotations.check_annotations(
                self.report.sorted_checks(),
                self.report.errors,
                invocation_dir=self.config.invocation_params.dir,
                workspace=os.environ.get("GITHUB_WORKSPACE"),
            ):
                terminalreporter.write_line(line)


def write_outputs(report: RunReport, out_dir: Path, run_id: str) -> Written:
    """``results.json``, ``summary.md`` and the diagrams under ``out_dir``."""
    diagrams, skipped = draw_diagrams(report, out_dir)
    results = out_dir / "results.json"
    summary = out_dir / "summary.md"
    document = results_document(report, run_id=run_id, diagrams=diagrams, diagrams_skipped=skipped)
    atomic_write_json(results, document)
    text = summary_markdown(report, run_id=run_id, diagrams=diagrams, diagrams_skipped=skipped)
    atomic_write_text(summary, text)
    return Written(results, summary, diagrams, skipped)


def draw_diagrams(
    report: RunReport, out_dir: Path
) -> tuple[dict[tuple[str, str], str], str | None]:
    """A PNG per trained cohort, named by spec and cohort so that summary links stay valid;
    returns the paths (relative to ``out_dir``) and why none were drawn, if so."""
    trained = [row for row in report.rows() if row.trained and row.record is not None]
    if not trained:
        return {}, None
    missing = matplotlib_missing()
    if missing is not None:
        return {}, missing
    drawn = {}
    for row in trained:
        assert row.record is not None
        relative = f"{RELIABILITY_FOLDER}/{row.spec}__{row.cohort}.png"
        source = row.data_source if len(row.data_source) <= 40 else row.data_source[:37] + "..."
        title = f"{row.spec} / {row.cohort} ({row.model}, {source} data)"
        write_diagram(out_dir / relative, row.record["reliability"], title)
        drawn[(row.spec, row.cohort)] = relative
    return drawn, None
