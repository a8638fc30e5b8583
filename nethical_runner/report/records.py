"""Plain-data records of what a check and a cohort produced, built where the item ran.

Under pytest-xdist the controller that prints the summary and writes ``results.json`` never
trains anything: models, splits and ``SpecResult`` objects live in the workers. So each check
item's report carries a record made of JSON types only (the attribute :data:`RECORD_ATTRIBUTE`,
serialised by pytest with the report as any extra report attribute is) and the controller
merges the records; without xdist the same records take the same path inside one process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nethical_runner._escape import clip
from nethical_runner.checks.check import Check
from nethical_runner.checks.collect import Judged
from nethical_runner.checks.outcome import Decision, Outcome
from nethical_runner.metrics.gate import thresholds
from nethical_runner.report.record_types import CheckRecord, CohortRecord, ReportRecord
from nethical_runner.report.reliability import ece_of, reliability_bins
from nethical_runner.run.results import CohortFailure, CohortResult, SpecResult
from nethical_runner.sla.measure import declared_targets
from nethical_runner.spec import Spec
from nethical_runner.spec.yaml_source import format_key, value_at

RECORD_ATTRIBUTE = "nethical_record"
SLA_STATISTICS = ("p50", "p95", "p99", "avg", "max")


def location(spec: Spec, check: Check) -> dict[str, Any]:
    """Where the check's threshold is written: file, line, column and key."""
    mark = spec.mark_of(check.key)
    return {
        "file": spec.path.as_posix(),
        "line": mark.line,
        "column": mark.column,
        "key": format_key(check.key) or None,
    }


def check_record(
    spec: Spec,
    check: Check,
    *,
    nodeid: str,
    outcome: str,
    decision: Outcome | None,
    message: str,
    warning: str | None,
    properties: dict[str, Any],
    order: int,
) -> CheckRecord:
    """A check's result: its id, pytest's outcome beside the check's own decision and the
    interval it was decided on, metric, value, threshold, message and location.

    ``decision`` is the check's outcome where it was judged; an item that errored before
    judging has none and records the decision ``fail``."""
    where = location(spec, check)
    return {
        "id": nodeid,
        "spec": spec.name,
        "cohort": check.cohort_id,
        "kind": check.kind,
        "name": check.name,
        "check": check.label,
        "outcome": outcome,
        "decision": Decision.FAIL.value if decision is None else decision.decision.value,
        "interval": None
        if decision is None or decision.interval is None
        else decision.interval.record(),
        "message": clip(message),  # bounded however long a message its source wrote
        "warning": None if warning is None else clip(warning),
        "metric": properties.get("metric"),
        "value": plain(properties.get("value")),
        "threshold": plain(properties.get("threshold")),
        "data_source": properties.get("data_source"),
        "properties": {name: plain(value) for name, value in properties.items()},
        "order": order,
        "file": where["file"],
        "line": where["line"],
        "column": where["column"],
        "key": where["key"],
    }


def check_properties(
    spec: Spec, check: Check, outcome: Outcome | None, result: SpecResult | None
) -> dict[str, Any]:
    """The check's own properties, completed with what every JUnit item should carry: its
    metric, threshold and data source, and where the threshold is written."""
    found = dict(outcome.properties) if outcome is not None else {}
    found.setdefault("metric", check.name)
    threshold = _threshold(spec, check)
    if threshold is not None:
        found.setdefault("threshold", threshold)
    source = _data_source(spec, check, result)
    if source is not None:
        found.setdefault("data_source", source)
    where = location(spec, check)
    found.setdefault("spec_location", f"{where['file']}:{where['line']}:{where['column']}")
    return found


def _threshold(spec: Spec, check: Check) -> float | None:
    """The number written at the check's key, or the default bound (the old script's gate and SLA
    targets apply where nothing is written)."""
    value = value_at(spec.document.data, check.key) if check.key else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if check.cohort_id is None:
        return None
    config = spec.cohort(check.cohort_id).config
    if check.kind == "gate":
        return next((t.value for t in thresholds(config.gate) if t.metric == check.name), None)
    if check.kind == "sla" and config.sla is not None:
        targets = declared_targets(config.sla)
        return next((t.limit_ms for t in targets if t.name == check.name), None)
    return None


def _data_source(spec: Spec, check: Check, result: SpecResult | None) -> str | None:
    if check.cohort_id is None:
        return None
    found = result.cohorts.get(check.cohort_id) if result is not None else None
    if isinstance(found, CohortResult):
        return found.dataset.label
    declared = spec.cohort(check.cohort_id).config.data.source
    return f"{declared} (not loaded)" if isinstance(found, CohortFailure) else None


def cohort_record(spec: Spec, cohort_id: str, result: SpecResult, out_dir: Path) -> CohortRecord:
    """What the summary shows of one cohort: model, data, metrics, latency, calibration."""
    cohort = spec.cohort(cohort_id)
    config = cohort.config
    record: CohortRecord = {
        "spec": spec.name,
        "file": spec.path.as_posix(),
        "spec_sha256": spec.sha256,
        "cohort": cohort_id,
        "cohort_index": [c.id for c in spec.cohorts].index(cohort_id),
        "model_type": config.model.type,
        "model": cohort.model.display_name(),
        "declared_source": config.data.source,
        "run_id": result.run_id,
        "training": "failed",
        "error": None,
    }
    trained = result.cohorts[cohort_id]
    if isinstance(trained, CohortFailure):
        record["error"] = clip(trained.reason)
        return record
    dataset = trained.dataset
    probabilities = trained.validation_probabilities
    bins = reliability_bins(
        trained.split.y_val,
        probabilities,
        config.metrics.ece_bins,
        config.metrics.ece_confidence,
    )
    record["training"] = "trained"
    record["data"] = {
        "source": dataset.source,
        "label": dataset.label,
        "fallback_reason": dataset.fallback_reason,
        "description": dataset.description,
        "rows": dataset.rows,
        "train_rows": trained.split.train_rows,
        "validation_rows": int(trained.split.y_val.size),
        "sha256": dataset.fingerprint,
    }
    record["metrics"] = {name: plain(value) for name, value in trained.metrics.items()}
    record["intervals"] = {name: found.record() for name, found in trained.intervals.items()}
    record["promoted"] = trained.promoted
    record["model_file"] = _relative(trained.model_path, out_dir)
    record["metrics_file"] = _relative(trained.metrics_path, out_dir)
    record["stage_ms"] = {name: float(ms) for name, ms in trained.stage_ms.items()}
    record["trained_on"] = dict(trained.trained_on)
    record["sla"] = _sla(trained, out_dir)
    record["reliability"] = {
        "confidence": config.metrics.ece_confidence,
        "ece": ece_of(bins),
        "bins": bins,
    }
    return record


def _sla(trained: CohortResult, out_dir: Path) -> dict[str, Any] | None:
    measured = trained.sla
    if measured is None:
        return None
    return {
        **{f"{name}_ms": measured.metrics[name] for name in SLA_STATISTICS},
        "status": measured.overall_status,
        "samples": measured.sample_count,
        "scope": measured.config.scope,
        "report_file": _relative(measured.report_path, out_dir) if measured.report_path else None,
    }


def _relative(path: Path, root: Path) -> str:
    """A path under the output root as written inside it; any other path as it is."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def plain(value: Any) -> Any:
    """numpy scalars as Python numbers, so records are JSON and pass through execnet."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    return value


def node_id(shown_path: str, spec: Spec, check: Check) -> str:
    """The id pytest gives the check's item: ``specs/x.yaml::x::alpha::gate[accuracy]``."""
    scope = [shown_path, spec.name, *([check.cohort_id] if check.cohort_id else [])]
    return "::".join([*scope, check.label])


def run_records(
    spec: Spec, result: SpecResult, judged: list[Judged], *, shown_path: str, out_dir: Path
) -> list[ReportRecord]:
    """The records a pytest session would have sent for ``spec``'s items, for a front end that
    judged the checks itself: one per check, then its cohorts."""
    records: list[ReportRecord] = []
    for order, entry in enumerate(judged):
        check, outcome = entry.check, entry.outcome
        properties = check_properties(spec, check, outcome, result)
        record = check_record(
            spec,
            check,
            nodeid=node_id(shown_path, spec, check),
            outcome=outcome.item_outcome,
            decision=outcome,
            message=outcome.message,
            warning=outcome.warning,
            properties=properties,
            order=order,
        )
        records.append({"check": record, "cohorts": []})
    cohorts = [cohort_record(spec, c.id, result, out_dir) for c in spec.cohorts]
    records.append({"check": None, "cohorts": cohorts})
    return records
