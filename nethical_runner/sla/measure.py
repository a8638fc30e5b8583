"""Latency SLAs: time a trained model, summarise the timings, judge them against targets.

The old script took the "p95" of four stage timings. Here the default scope times what a service
would see, ``predict_proba`` calls on validation rows, with enough calls for a percentile to mean
something, and every number says how many samples and which percentile method it rests on. The
seed's measure (the four stage timings as the sample) remains available as ``scope: stages``,
and each stage can carry its own budget.

Nothing here writes files or knows about pytest: :mod:`nethical_runner.sla.report` writes the
reports and :mod:`nethical_runner.checks.collect` turns every target into a test item.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from nethical_runner._words import cohort_named
from nethical_runner.metrics.bootstrap import PERCENTILE_METHOD as PERCENTILE_METHOD
from nethical_runner.metrics.bootstrap import bootstrap, percentile_interval
from nethical_runner.metrics.intervals import Interval
from nethical_runner.spec.config import SlaConfig
from nethical_runner.spec.yaml_source import KeyPath, format_key

Status = Literal["compliant", "warning", "inconclusive", "breach"]
Clock = Callable[[], int]

CLOCK_NAME = "time.perf_counter_ns"
BOOTSTRAP_RESAMPLES = 2000
INTERVAL_METHOD = "percentile-bootstrap"
_BOOTSTRAP_CHUNK = 1 << 22  # resampled values held in memory at once
SCRIPT_TARGETS_MS = {"p95": 220.0, "p99": 500.0, "avg": 100.0}
STATISTICS = {  # statistic -> description, in report order
    "p50": "50th percentile latency",
    "p95": "95th percentile latency",
    "p99": "99th percentile latency",
    "avg": "average latency",
    "max": "maximum latency",
}
_PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
_SEVERITY: dict[Status, int] = {"compliant": 0, "warning": 1, "inconclusive": 1, "breach": 2}


@dataclass(frozen=True)
class Target:
    """One bound: ``sla[p95]`` <= 220 ms, or ``sla[stage.training]`` <= 5000 ms."""

    name: str  # the item name: "p95" or "stage.training"
    key: KeyPath  # where the bound is (or would be) written: ("sla", "p95_ms")
    limit_ms: float
    description: str
    declared: bool  # False for the old script's targets, applied when a section lists none

    @property
    def stage(self) -> str | None:
        """The pipeline stage a budget bounds, None for a latency statistic."""
        return self.name.removeprefix("stage.") if self.name.startswith("stage.") else None

    @property
    def report_name(self) -> str:
        """The old script's naming in reports: ``p95_latency``; stage budgets as
        ``training_stage``."""
        return f"{self.stage}_stage" if self.stage else f"{self.name}_latency"


def declared_targets(config: SlaConfig) -> list[Target]:
    """The targets a section declares: latency statistics first, then stage budgets.

    A section listing no latency target gets the old script's (p95 220, p99 500, avg 100 ms); one
    that lists any gets exactly those, so a stricter p95 never meets a default p99 below it.
    """
    written = {
        name: limit for name in STATISTICS if (limit := getattr(config, f"{name}_ms")) is not None
    }
    limits = written or SCRIPT_TARGETS_MS
    targets = [
        Target(name, ("sla", f"{name}_ms"), limits[name], STATISTICS[name], bool(written))
        for name in STATISTICS
        if name in limits
    ]
    for key, limit in config.stages.model_dump().items():
        if limit is not None:
            stage = key.removesuffix("_ms")
            description = f"{stage} stage wall-clock time"
            targets.append(
                Target(f"stage.{stage}", ("sla", "stages", key), limit, description, True)
            )
    return targets


def classify(actual_ms: float, limit_ms: float, warn_margin: float) -> Status:
    """The old script's bands: compliant up to the target, warning up to ``warn_margin`` above
    it."""
    if actual_ms <= limit_ms:
        return "compliant"
    if actual_ms <= limit_ms * (1.0 + warn_margin):
        return "warning"
    return "breach"


def judge(
    actual_ms: float,
    limit_ms: float,
    warn_margin: float,
    interval_ms: tuple[float, float] | None = None,
) -> Status:
    """:func:`classify` on the point value; with a confidence interval, on the interval: compliant
    when all of it is within the target, :func:`classify` (warning band or breach) when all of it
    is above, and ``inconclusive`` when it straddles the target."""
    if interval_ms is None:
        return classify(actual_ms, limit_ms, warn_margin)
    if interval_ms[1] <= limit_ms:
        return "compliant"
    if interval_ms[0] > limit_ms:
        return classify(max(actual_ms, interval_ms[0]), limit_ms, warn_margin)
    return "inconclusive"


def time_predictions(
    predict: Callable[[NDArray[Any]], object],
    rows: NDArray[Any],
    *,
    calls: int,
    warmup: int,
    batch_size: int,
    clock: Clock = time.perf_counter_ns,
) -> NDArray[np.float64]:
    """Milliseconds of each of ``calls`` calls of ``predict`` on ``batch_size`` rows, timed after
    ``warmup`` untimed calls (first calls pay for caches and lazy imports a service pays once).

    Batches walk through ``rows`` in order and wrap around, so every call sees real validation
    rows however few there are. All batches are sliced before the clock starts; only the call
    itself is timed, one call per sample, since a latency percentile is over single calls.
    """
    n = rows.shape[0]
    if n == 0:
        raise ValueError("no validation rows to time predictions on")
    total = (warmup + calls) * batch_size
    offsets = np.arange(warmup + calls) * batch_size
    if total <= n:
        pool = np.ascontiguousarray(rows[:total])
    else:  # wrap around: a ring long enough that a batch starting anywhere in it is contiguous
        pool = np.take(rows, np.arange(n + batch_size) % n, axis=0)
        offsets %= n
    batches = [pool[offset : offset + batch_size] for offset in offsets.tolist()]
    for batch in batches[:warmup]:
        predict(batch)
    elapsed = np.empty(calls, dtype=np.int64)
    for index, batch in enumerate(batches[warmup:]):
        start = clock()
        predict(batch)
        elapsed[index] = clock() - start
    return elapsed / 1e6


def summarise(samples_ms: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    """p50, p95, p99, average and maximum along the last axis: of one sample (0-d arrays), or
    of many bootstrap resamples at once (one value per row)."""
    quantiles = np.percentile(
        samples_ms, list(_PERCENTILES.values()), axis=-1, method=PERCENTILE_METHOD
    )
    summary = {name: np.asarray(quantiles[index]) for index, name in enumerate(_PERCENTILES)}
    summary["avg"] = np.asarray(samples_ms.mean(axis=-1))
    summary["max"] = np.asarray(samples_ms.max(axis=-1))
    return summary


def bootstrap_intervals(
    samples_ms: NDArray[np.float64],
    confidence: float,
    seed: int,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> dict[str, tuple[float, float]]:
    """Percentile-bootstrap intervals of every statistic of :func:`summarise`, each chunk of
    resamples summarised row-wise, so the cost is a few numpy calls whatever the count."""
    draws = bootstrap(
        lambda drawn: summarise(samples_ms[drawn]),
        np.random.default_rng(seed),
        samples_ms.size,
        resamples,
        _BOOTSTRAP_CHUNK,
    )
    return {name: percentile_interval(values, confidence) for name, values in draws.items()}


@dataclass(frozen=True)
class TargetResult:
    target: Target
    actual_ms: float
    status: Status
    interval_ms: tuple[float, float] | None
    warn_margin: float

    @property
    def warning_limit_ms(self) -> float:
        return self.target.limit_ms * (1.0 + self.warn_margin)

    @property
    def margin_ms(self) -> float:
        """Headroom below the target; negative when the target is exceeded."""
        return self.target.limit_ms - self.actual_ms


@dataclass(frozen=True)
class SlaVerdict:
    """What a target's test item does: pass or fail, and the message and warning it shows."""

    passed: bool
    message: str
    warning: str | None
    properties: dict[str, Any]
    inconclusive: bool = False  # the interval straddles the target
    interval: Interval | None = None


@dataclass(frozen=True)
class SlaResult:
    """One cohort's SLA measurement and the status of each of its targets."""

    spec_name: str
    cohort_id: str
    run_id: str
    config: SlaConfig
    samples_ms: NDArray[np.float64]
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]] | None
    stage_ms: dict[str, float]
    targets: tuple[TargetResult, ...]
    rows_available: int
    bootstrap_seed: int
    timestamp: str
    xdist_worker_count: int | None
    xdist_worker: str | None
    measured_on: str = "controller"  # or the worker holding the resource the section names
    report_path: Path | None = None
    documentation_path: Path | None = None

    @property
    def sample_count(self) -> int:
        return int(self.samples_ms.size)

    @property
    def overall_status(self) -> Status:
        """The worst status of any target, as the old script's report had it."""
        statuses = [t.status for t in self.targets] or ["compliant"]
        return max(statuses, key=_SEVERITY.__getitem__)

    @property
    def sla_met(self) -> bool:
        return self.overall_status != "breach"

    @property
    def failed(self) -> bool:
        """A breach that fails its item (``on_breach: fail``)."""
        return not self.sla_met and self.config.on_breach == "fail"

    def target(self, name: str) -> TargetResult:
        for found in self.targets:
            if found.target.name == name:
                return found
        known = ", ".join(t.target.name for t in self.targets)
        raise KeyError(f"no SLA target {name!r} (known: {known})")

    def sample_description(self) -> str:
        """What one sample is: ``predict_proba on 1 row`` or ``pipeline stage``."""
        if self.config.scope == "stages":
            return "pipeline stage timing"
        rows = self.config.batch_size
        return f"predict_proba on {rows} row{'s' if rows != 1 else ''}"

    def verdict(self, name: str) -> SlaVerdict:
        """A breach fails (or warns with ``on_breach: warn``); a warning passes with a warning."""
        found = self.target(name)
        message = self._describe(found)
        inconclusive = found.status == "inconclusive"
        if inconclusive:
            passed = self.config.on_inconclusive == "warn"
        else:
            passed = found.status != "breach" or self.config.on_breach == "warn"
        warning = message if passed and found.status != "compliant" else None
        properties: dict[str, Any] = {
            "metric": found.target.report_name + "_ms",
            "value": found.actual_ms,
            "threshold": found.target.limit_ms,
            "status": found.status,
        }
        if found.target.stage is None:
            properties["sample_count"] = self.sample_count
            properties["percentile_method"] = PERCENTILE_METHOD
        interval = None
        if found.interval_ms is not None and self.config.confidence is not None:
            low, high = found.interval_ms
            interval = Interval(
                low, high, self.config.confidence, INTERVAL_METHOD, self.sample_count
            )
        return SlaVerdict(passed, message, warning, properties, inconclusive, interval)

    def _describe(self, found: TargetResult) -> str:
        target = found.target
        what = f"{target.stage} stage" if target.stage else f"{target.name} latency"
        relation = "<=" if found.actual_ms <= target.limit_ms else ">"
        text = f"{what} {_ms(found.actual_ms)} ms {relation} {_ms(target.limit_ms)} ms"
        if found.interval_ms is not None:
            level = _percent(self.config.confidence or 0.0)
            low, high = found.interval_ms
            text += f", {level} interval {_ms(low)}-{_ms(high)} ms"
        status: str = found.status
        if found.status == "inconclusive":
            status = "inconclusive: the interval straddles the target"
            if self.config.on_inconclusive == "warn":
                status += ", reported as a warning (on_inconclusive: warn)"
        elif found.status == "warning":
            band = _percent(self.config.warn_margin)
            status = f"warning: within the {band} band above the target"
        elif found.status == "breach" and self.config.on_breach == "warn":
            status = "breach, reported as a warning (on_breach: warn)"
        if target.stage:
            context = f"{cohort_named(self.cohort_id)}, one timing of the stage"
        else:
            context = (
                f"{cohort_named(self.cohort_id)}, {self.sample_count} samples of "
                f"{self.sample_description()}, numpy {PERCENTILE_METHOD!r} percentiles"
            )
        default = "" if target.declared else " (seed default)"
        return f"sla {format_key(target.key[1:])}{default}: {text} ({status}; {context})"


def measure(
    config: SlaConfig,
    *,
    predict: Callable[[NDArray[Any]], object],
    rows: NDArray[Any],
    stage_ms: Mapping[str, float],
    seed: int,
    spec_name: str,
    cohort_id: str,
    run_id: str,
    clock: Clock = time.perf_counter_ns,
    samples: NDArray[np.float64] | None = None,
    measured_on: str = "controller",
) -> SlaResult:
    """Measure a trained cohort under ``config`` and judge every declared target. ``samples``
    are latencies already timed elsewhere (``measured_on``: a worker holding the resource the
    section names); without them, inference is timed here."""
    stages = dict(stage_ms)
    if samples is None and config.scope == "inference":
        samples = time_predictions(
            predict,
            rows,
            calls=config.calls,
            warmup=config.warmup,
            batch_size=config.batch_size,
            clock=clock,
        )
    elif samples is None:
        samples = np.fromiter(stages.values(), dtype=np.float64, count=len(stages))
    metrics = {name: float(value) for name, value in summarise(samples).items()}
    intervals = (
        bootstrap_intervals(samples, config.confidence, seed)
        if config.confidence is not None
        else None
    )
    results = []
    for target in declared_targets(config):
        if target.stage is not None:
            actual, interval = stages[target.stage], None
        else:
            actual = metrics[target.name]
            interval = intervals[target.name] if intervals is not None else None
        status = judge(actual, target.limit_ms, config.warn_margin, interval)
        results.append(TargetResult(target, actual, status, interval, config.warn_margin))
    worker_count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    return SlaResult(
        spec_name=spec_name,
        cohort_id=cohort_id,
        run_id=run_id,
        config=config,
        samples_ms=samples,
        metrics=metrics,
        intervals=intervals,
        stage_ms=stages,
        targets=tuple(results),
        rows_available=int(rows.shape[0]),
        bootstrap_seed=seed,
        timestamp=datetime.now(timezone.utc).isoformat(),
        xdist_worker_count=int(worker_count) if worker_count.isdigit() else None,
        xdist_worker=os.environ.get("PYTEST_XDIST_WORKER"),
        measured_on=measured_on,
    )


def _percent(share: float) -> str:
    """``0.95`` -> ``95%``, ``0.975`` -> ``97.5%``."""
    return f"{share * 100:g}%"


def _ms(value: float) -> str:
    """Milliseconds readable at any scale: ``0.0213``, ``1.5``, ``220``, ``12345``."""
    return f"{value:.4g}" if abs(value) < 10_000 else f"{value:.0f}"
