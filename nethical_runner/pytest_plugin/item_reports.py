"""How a check item's outcome reads in pytest's reports.

Written onto the report itself (``TestReport.longrepr``, public report data) rather than
through ``repr_failure``, whose return type and skip-location switch are private to pytest:
a missed threshold reads as its message and the threshold's place, without a traceback, and a
skipped check points at the threshold's line, as a skip mark on a test function points at the
function.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

from nethical_runner.pytest_plugin.items import CheckFailed, CheckItem


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    made = yield
    if not isinstance(item, CheckItem) or call.when != "call" or call.excinfo is None:
        return
    report: pytest.TestReport = made.get_result()
    error = call.excinfo.value
    if report.skipped and isinstance(report.longrepr, tuple):
        path, line, _ = item.reportinfo()
        report.longrepr = (os.fspath(path), (line or 0) + 1, report.longrepr[2])
    elif isinstance(error, CheckFailed):
        report.longrepr = item.failure_message(error)
