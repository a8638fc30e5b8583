"""The shapes of the plain records that travel from where a check ran to where the run
summary is written (a pytest-xdist worker to its controller, or within one process).

They are ``TypedDict``s rather than classes because they must stay JSON: pytest serialises
them with the test report, and ``results.json`` is made of them.
"""

from __future__ import annotations

from typing import Any, TypedDict

from typing_extensions import NotRequired


class CheckRecord(TypedDict):
    id: str  # the pytest node id
    spec: str
    cohort: str | None  # None for a check across cohorts
    kind: str
    name: str
    check: str  # ``kind[name]``
    outcome: str  # passed | failed | skipped | error: what the pytest item did
    decision: str  # pass | fail | inconclusive | skip: what the check decided
    interval: dict[str, Any] | None  # {low, high, level, method, rows}: what it decided on
    message: str
    warning: str | None
    metric: Any
    value: Any
    threshold: Any
    data_source: Any
    properties: dict[str, Any]
    order: int
    file: str
    line: int
    column: int
    key: str | None


class CohortRecord(TypedDict):
    spec: str
    file: str
    spec_sha256: str
    cohort: str
    cohort_index: int
    model_type: str
    model: NotRequired[str]  # the type, or sklearn:Pipeline(StandardScaler, LogisticRegression)
    declared_source: str
    run_id: str
    training: str  # trained | failed
    error: str | None
    # only for a cohort that trained:
    data: NotRequired[dict[str, Any]]
    metrics: NotRequired[dict[str, Any]]
    intervals: NotRequired[dict[str, dict[str, Any]]]  # metric -> {low, high, level, method, rows}
    promoted: NotRequired[bool]
    model_file: NotRequired[str]
    metrics_file: NotRequired[str]
    stage_ms: NotRequired[dict[str, float]]
    trained_on: NotRequired[dict[str, str]]  # executor, host, pid, worker address
    sla: NotRequired[dict[str, Any] | None]
    reliability: NotRequired[dict[str, Any]]


class ReportRecord(TypedDict):
    """What one check item's report carries: its check and the cohorts it brought along."""

    check: CheckRecord | None
    cohorts: list[CohortRecord]


class SpecErrorRecord(TypedDict):
    file: str
    line: int | None
    column: int | None
    message: str
