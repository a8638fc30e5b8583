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

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from nethical_runner.checks.baseline import BaselineError, load_baseline
from nethical_runner.pytest_plugin.items import (
    BASELINE_KEY,
    SESSION_KEY,
    CheckFailed,
    CheckItem,
    SpecFile,
)
from nethical_runner.report.outputs import Written, publish, summary_lines
from nethical_runner.report.record_types import CohortRecord, ReportRecord
from nethical_runner.report.records import (
    RECORD_ATTRIBUTE,
    check_properties,
    check_record,
    cohort_record,
)
from nethical_runner.report.run_report import RunReport, spec_error_records

SPEC_ERRORS_ATTRIBUTE = "nethical_spec_errors"


def configure(config: pytest.Config) -> None:
    """Load the baseline (a usage error if it is unusable) and register the hooks."""
    path = config.getoption("--nethical-baseline")
    missing = config.getoption("--nethical-baseline-missing")
    if missing is not None and not path:
        raise pytest.UsageError(
            "--nethical-baseline-missing is for a run with --nethical-baseline PATH"
        )
    try:
        baseline = load_baseline(Path(path), missing or "error") if path else None
        config.stash[BASELINE_KEY] = baseline
    except BaselineError as error:
        raise pytest.UsageError(f"--nethical-baseline: {error}") from None
    config.pluginmanager.register(ReportPlugin(config), "nethical-report")


class ReportPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.report = RunReport()
        self.order: dict[str, int] = {}
        self.sent: set[tuple[str, str, str]] = set()  # cohorts already sent from this process
        self.written: Written | None = None

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
    ) -> ReportRecord:
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
            known = isinstance(error, CheckFailed)
            message = str(error) if known else call.excinfo.exconly()
            warning = None
        else:
            message, warning = outcome, None
        check = check_record(
            item.spec,
            item.check,
            nodeid=item.nodeid,
            outcome=outcome,
            decision=found,
            message=message,
            warning=warning,
            properties=properties,
            order=self.order.get(item.nodeid, len(self.order)),
        )
        return {"check": check, "cohorts": self._cohorts(item)}

    def _cohorts(self, item: CheckItem) -> list[CohortRecord]:
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

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, Any, None]:
        """A spec file that failed validation carries its problems as data on its report, so
        the controller reads them without parsing the text pytest shows."""
        made = yield
        if isinstance(collector, SpecFile) and collector.problems:
            report = made.get_result()
            setattr(report, SPEC_ERRORS_ATTRIBUTE, spec_error_records(collector.problems))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if self.is_worker or not report.failed:
            return
        errors = getattr(report, SPEC_ERRORS_ATTRIBUTE, None)
        if errors is not None:
            self.report.add_spec_errors(errors)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker or self.report.empty:
            return
        settings = self.config.stash[SESSION_KEY].settings
        self.written = publish(self.report, settings.out_dir, settings.run_id)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or self.report.empty:
            return
        terminalreporter.write_sep("=", "nethical-runner summary")
        lines = summary_lines(
            self.report, self.written, invocation_dir=self.config.invocation_params.dir
        )
        for line, is_error in lines:
            terminalreporter.write_line(line, red=is_error)
