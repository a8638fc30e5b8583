"""SLA reports: the old script's JSON report and SLA documentation, plus a terminal summary.

The JSON keeps every field of the old script's report (``timestamp``, ``overall_status``,
``sla_met``, ``p95_latency_ms``, ``p95_target_ms``, ``metrics``, ``targets``) so that anything
reading the old script's files reads these, and adds what the old script's numbers lacked: the
sample count and percentile method behind each statistic, bootstrap intervals, per-stage timings
and budgets, and the environment the numbers were measured in. Both files are written
atomically, under names carrying spec, cohort and run id (:mod:`nethical_runner._names`), so
runs, parallel workers and other specs' cohorts never collide.
"""

from __future__ import annotations

import dataclasses
import platform
from pathlib import Path
from typing import Any

import numpy as np

from nethical_runner import __version__
from nethical_runner._files import atomic_write_json, atomic_write_text
from nethical_runner._names import sla_documentation_file, sla_report_file
from nethical_runner.sla.measure import (
    BOOTSTRAP_RESAMPLES,
    CLOCK_NAME,
    PERCENTILE_METHOD,
    STATISTICS,
    SlaResult,
)
from nethical_runner.spec.yaml_source import format_key


def write_reports(result: SlaResult, folder: Path) -> SlaResult:
    """Write ``sla_report_<spec>@<cohort>@<run>.json`` and ``sla_documentation_<...>.md``;
    return ``result`` with both paths filled in."""
    names = (result.spec_name, result.cohort_id, result.run_id)
    report_path = folder / sla_report_file(*names)
    documentation_path = folder / sla_documentation_file(*names)
    atomic_write_json(report_path, report(result))
    atomic_write_text(documentation_path, documentation(result))
    return dataclasses.replace(
        result, report_path=report_path, documentation_path=documentation_path
    )


def report(result: SlaResult) -> dict[str, Any]:
    """The JSON report: the old script's fields first in meaning, then the detail they lacked."""
    p95_target = next((t.target.limit_ms for t in result.targets if t.target.name == "p95"), None)
    config = result.config
    return {
        "timestamp": result.timestamp,
        "overall_status": result.overall_status,
        "sla_met": result.sla_met,
        "p95_latency_ms": result.metrics["p95"],
        "p95_target_ms": p95_target,
        "metrics": {
            **{f"{name}_latency_ms": result.metrics[name] for name in STATISTICS},
            "sample_count": result.sample_count,
            "percentile_method": PERCENTILE_METHOD,
            "unit": "ms",
        },
        "targets": {
            found.target.report_name: {
                "target": found.target.limit_ms,
                "actual": found.actual_ms,
                "status": found.status,
                "description": found.target.description,
                "check": f"sla[{found.target.name}]",
                "spec_key": format_key(found.target.key),
                "declared": found.target.declared,
                "warning_limit": found.warning_limit_ms,
                "margin_ms": found.margin_ms,
                "interval": list(found.interval_ms) if found.interval_ms else None,
            }
            for found in result.targets
        },
        "breaches": [t.target.report_name for t in result.targets if t.status == "breach"],
        "warnings": [t.target.report_name for t in result.targets if t.status == "warning"],
        "inconclusive": [
            t.target.report_name for t in result.targets if t.status == "inconclusive"
        ],
        "stages": _stages(result),
        "measurement": _measurement(result),
        "policy": {
            "warn_margin": config.warn_margin,
            "on_breach": config.on_breach,
            "confidence": config.confidence,
        },
        "bootstrap": _bootstrap(result),
        "environment": {
            "xdist_worker_count": result.xdist_worker_count,
            "xdist_worker": result.xdist_worker,
            "measured_on": result.measured_on,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
        },
        "spec": result.spec_name,
        "cohort": result.cohort_id,
        "run_id": result.run_id,
        "nethical_runner_version": __version__,
    }


def _stages(result: SlaResult) -> dict[str, dict[str, Any]]:
    """Every stage's timing, and its budget and status where one is declared."""
    budgets = {t.target.stage: t for t in result.targets if t.target.stage is not None}
    stages = {}
    for stage, elapsed in result.stage_ms.items():
        budget = budgets.get(stage)
        stages[stage] = {
            "ms": elapsed,
            "budget_ms": budget.target.limit_ms if budget else None,
            "status": budget.status if budget else None,
        }
    return stages


def _measurement(result: SlaResult) -> dict[str, Any]:
    config = result.config
    if config.scope == "stages":
        return {"scope": "stages", "samples": list(result.stage_ms), "clock": CLOCK_NAME}
    return {
        "scope": "inference",
        "call": "predict_proba",
        "calls": config.calls,
        "warmup": config.warmup,
        "batch_size": config.batch_size,
        "rows_available": result.rows_available,
        "clock": CLOCK_NAME,
    }


def _bootstrap(result: SlaResult) -> dict[str, Any] | None:
    if result.intervals is None:
        return None
    return {
        "method": "percentile bootstrap",
        "confidence": result.config.confidence,
        "resamples": BOOTSTRAP_RESAMPLES,
        "seed": result.bootstrap_seed,
        "intervals": {
            f"{name}_latency_ms": list(interval) for name, interval in result.intervals.items()
        },
    }


def documentation(result: SlaResult) -> str:
    """The old script's SLA documentation: targets, current performance, compliance guarantees."""
    config = result.config
    band = f"{config.warn_margin * 100:g}%"
    lines = [
        "# SLA Documentation",
        "",
        f"Spec `{result.spec_name}`, cohort `{result.cohort_id}`, run `{result.run_id}`, "
        f"measured {result.timestamp}.",
        "",
        "## Performance Targets",
        "",
        "| Target | Limit | Description | Source |",
        "| --- | --- | --- | --- |",
    ]
    for found in result.targets:
        target = found.target
        source = f"`{format_key(target.key)}`" if target.declared else "seed default"
        lines.append(
            f"| `sla[{target.name}]` | <= {target.limit_ms:g} ms | {target.description} "
            f"| {source} |"
        )
    lines += [
        "",
        f"Up to {band} above a target is a warning; beyond that it is a breach.",
        "",
        "## Current Performance",
        "",
        f"Overall status: **{result.overall_status}** "
        f"(SLA met: {'yes' if result.sla_met else 'no'}).",
        "",
        *_performance_table(result),
        "",
        _measurement_sentence(result),
        "",
        "### Pipeline Stages",
        "",
        "| Stage | Time | Budget | Status |",
        "| --- | --- | --- | --- |",
    ]
    for stage, row in _stages(result).items():
        budget = "-" if row["budget_ms"] is None else f"{row['budget_ms']:g} ms"
        lines.append(f"| {stage} | {row['ms']:.3f} ms | {budget} | {row['status'] or '-'} |")
    lines += ["", "## Compliance Guarantees", "", *_guarantees(result), ""]
    return "\n".join(lines)


def _performance_table(result: SlaResult) -> list[str]:
    limits = {t.target.name: t for t in result.targets if t.target.stage is None}
    interval_column = result.intervals is not None
    level = f"{(result.config.confidence or 0.0) * 100:g}% interval"
    header = "| Metric | Value | Target | Status |" + (f" {level} |" if interval_column else "")
    rows = [header, "| --- | --- | --- | --- |" + (" --- |" if interval_column else "")]
    for name, description in STATISTICS.items():
        found = limits.get(name)
        target = f"<= {found.target.limit_ms:g} ms" if found else "-"
        status = found.status if found else "-"
        row = f"| {description} | {result.metrics[name]:.4f} ms | {target} | {status} |"
        if result.intervals is not None:
            low, high = result.intervals[name]
            row += f" {low:.4f} - {high:.4f} ms |"
        rows.append(row)
    return rows


def _measurement_sentence(result: SlaResult) -> str:
    config = result.config
    method = f"numpy's {PERCENTILE_METHOD!r} method over {result.sample_count} samples"
    if config.scope == "stages":
        return (
            f"Samples: the {result.sample_count} pipeline stage timings; percentiles by {method}."
        )
    return (
        f"Samples: {config.calls} `predict_proba` calls of {config.batch_size} validation "
        f"row(s) each, after {config.warmup} untimed warm-up calls, timed with `{CLOCK_NAME}`; "
        f"percentiles by {method}."
    )


def _guarantees(result: SlaResult) -> list[str]:
    config = result.config
    action = (
        "fails its test item, so `pytest` exits 1"
        if config.on_breach == "fail"
        else "is reported as a pytest warning (`on_breach: warn`)"
    )
    lines = [
        f"- Each target above is a test item of cohort `{result.cohort_id}` in `pytest` runs "
        f"of the spec; a breach {action}.",
        "- A warning passes its item and is shown as a pytest warning.",
        "- The numbers hold for this run on this machine; they are measured afresh on every run.",
    ]
    if config.confidence is not None:
        lines.append(
            f"- A breach is called only when the whole {config.confidence * 100:g}% bootstrap "
            f"interval ({BOOTSTRAP_RESAMPLES} resamples, seed {result.bootstrap_seed}) lies "
            "above the target."
        )
    if result.measured_on != "controller":
        lines.append(f"- Timed on {result.measured_on}, as the section's resource asks.")
    if result.xdist_worker_count is not None:
        lines.append(
            f"- Measured under pytest-xdist with {result.xdist_worker_count} workers, which "
            "share the machine's cores."
        )
    return lines


def summary_lines(result: SlaResult) -> list[str]:
    """A few indented lines for the command line."""
    lines = [
        f"  sla: {result.overall_status} ({result.sample_count} samples of "
        f"{result.sample_description()}, numpy {PERCENTILE_METHOD!r} percentiles)"
    ]
    for name, description in STATISTICS.items():
        lines.append(f"    {description}: {result.metrics[name]:.4f} ms")
    for found in result.targets:
        lines.append(
            f"    sla[{found.target.name}]: {found.status} "
            f"({found.actual_ms:.4f} ms, target {found.target.limit_ms:g} ms)"
        )
    if result.report_path is not None:
        lines.append(f"  sla report saved to {result.report_path}")
    if result.documentation_path is not None:
        lines.append(f"  sla documentation saved to {result.documentation_path}")
    return lines
