"""What one run measured about a spec's drift, and how each drift check judges it.

Measuring (:mod:`nethical_runner.drift.measure`) and judging are apart so that a check's
outcome, the report and the command line's summary all read the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nethical_runner._words import cohort_named, cohorts_named
from nethical_runner.drift.baseline import BaselineState
from nethical_runner.drift.comparison import Comparison, Drop, Interval
from nethical_runner.drift.declared import DriftCheck
from nethical_runner.drift.stats import judge
from nethical_runner.drift.text import drop_text, spread_text
from nethical_runner.metrics import intervals
from nethical_runner.spec.config import DriftConfig, SliceConfig

SPREAD_METHOD = "percentile-bootstrap-of-spread"
DROP_METHOD = "normal-approximation-unpaired"


@dataclass(frozen=True)
class Violation:
    """A missed gate threshold, as the old script recorded promotion failures."""

    type: str  # calibration_error, low_accuracy, low_<metric>, high_brier
    severity: str  # high | medium
    metric: str
    value: float | None
    threshold: float
    gate_key: str


@dataclass(frozen=True)
class Group:
    """One cohort as compared: trained in this run, or recorded by an earlier run."""

    label: str  # the cohort id, or spec/cohort where two specs of a group share an id
    spec: str
    cohort: str
    run_id: str
    recorded_at: str
    this_run: bool
    samples: int
    metrics: Mapping[str, float | None]
    intervals: Mapping[str, Interval | None]
    standard_errors: Mapping[str, float | None]
    model_type: str
    data_source: str
    fallback: bool
    promoted: bool | None
    violations: tuple[Violation, ...]

    def record(self) -> dict[str, Any]:
        """What the history keeps of this cohort for later runs."""
        return {
            "metrics": dict(self.metrics),
            "intervals": {k: list(v) if v else None for k, v in self.intervals.items()},
            "standard_errors": dict(self.standard_errors),
            "samples": self.samples,
            "model_type": self.model_type,
            "data_source": self.data_source,
            "fallback": self.fallback,
            "promoted": self.promoted,
            "violations": [asdict(v) for v in self.violations],
        }


@dataclass(frozen=True)
class SliceResult:
    """One cohort's model on one slice of its validation rows."""

    config: SliceConfig
    samples: int
    judged: bool  # at least min_samples rows
    metrics: Mapping[str, float | None]
    intervals: Mapping[str, Interval | None]
    error: str | None = None


@dataclass(frozen=True)
class DriftVerdict:
    """What a drift check's test item does: pass, fail or skip, and what it says."""

    passed: bool
    message: str
    skipped: bool = False
    warning: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    # A bound exceeded within noise: the item passes or fails as on_inconclusive says.
    inconclusive: bool = False
    interval: intervals.Interval | None = None  # of the spread or of the worst drop


@dataclass(frozen=True)
class DriftFailure:
    """Drift could not be measured or written; every drift check fails with the reason."""

    reason: str
    details: str

    def verdict(self, check: DriftCheck) -> DriftVerdict:
        return DriftVerdict(False, f"drift {check.spec_key}: drift tracking failed: {self.reason}")


@dataclass(frozen=True)
class DriftResult:
    """Everything measured about a spec's drift in one run."""

    spec_name: str
    run_id: str
    config: DriftConfig
    folder: Path
    started: str
    finished: str
    groups: tuple[Group, ...]  # this run's cohorts first, then earlier runs' group members
    failed: Mapping[str, str]  # cohort id -> why it could not be trained
    comparisons: Mapping[str, Comparison]  # metric -> across cohorts
    drops: Mapping[str, tuple[Drop, ...]]  # metric -> each cohort that has a baseline
    without_baseline: tuple[str, ...]
    slices: Mapping[str, tuple[SliceResult, ...]]  # cohort id -> its slices
    slice_comparisons: Mapping[str, Mapping[str, Comparison]]  # cohort -> metric -> across
    checks: tuple[DriftCheck, ...]
    bootstrap_seed: int
    resamples: int
    history_unreadable: tuple[str, ...] = ()
    report_path: Path | None = None
    history_path: Path | None = None
    error_rate: str | None = None  # what the spec's drift checks together are expected to do
    baselines: BaselineState = field(default_factory=BaselineState)  # accepted, passed over

    @property
    def this_run(self) -> tuple[Group, ...]:
        return tuple(g for g in self.groups if g.this_run)

    def group(self, label: str) -> Group:
        return next(g for g in self.groups if g.label == label)

    @property
    def drifting(self) -> list[str]:
        """Every comparison whose bound is exceeded beyond bootstrap noise, as
        ``accuracy across cohorts`` or ``accuracy since the previous run (cohort alpha)``."""
        found = [f"{m} across cohorts" for m, c in self.comparisons.items() if c.status == "drift"]
        for metric, drops in self.drops.items():
            found += [
                f"{metric} since the previous run ({cohort_named(d.cohort)})"
                for d in drops
                if d.status == "drift"
            ]
        for cohort, comparisons in self.slice_comparisons.items():
            found += [
                f"{metric} across slices ({cohort_named(cohort)})"
                for metric, comparison in comparisons.items()
                if comparison.status == "drift"
            ]
        return found

    @property
    def has_drift(self) -> bool:
        return bool(self.drifting)

    def verdict(self, check: DriftCheck) -> DriftVerdict:
        if check.kind == "vs_previous":
            return self._drop_verdict(check)
        if check.kind == "slices":
            return self._slice_verdict(check)
        return self._spread_verdict(check)

    def _prefix(self, check: DriftCheck) -> str:
        return f"drift {check.spec_key}" + ("" if check.declared else " (default)")

    def _training_failure(self, check: DriftCheck, cohorts: Sequence[str]) -> DriftVerdict | None:
        """A comparison that lacks a cohort cannot be trusted either way: it fails, saying why."""
        failed = [f"{cohort_named(c)} could not be trained: {self.failed[c]}" for c in cohorts]
        if not failed:
            return None
        return DriftVerdict(False, f"{self._prefix(check)}: {'; '.join(failed)}")

    def _spread_verdict(self, check: DriftCheck) -> DriftVerdict:
        if failure := self._training_failure(check, list(self.failed)):
            return failure
        prefix = self._prefix(check)
        comparison = self.comparisons[check.metric]
        undefined = [g.label for g in self.this_run if g.metrics[check.metric] is None]
        if undefined:
            return DriftVerdict(
                False,
                f"{prefix}: {check.metric} is undefined for {cohorts_named(undefined)} "
                "(its validation rows hold a single class)",
            )
        if comparison.stats is None:
            only = ", ".join(comparison.values) or "none"
            group = f" in drift group {self.config.group!r}" if self.config.group else ""
            return DriftVerdict(
                True,
                f"{prefix}: insufficient cohorts for drift analysis: only {cohort_named(only)} is "
                f"recorded{group} in {self.folder}; a spread needs two",
                skipped=True,
            )
        return self._judged(check, comparison, "cohorts", self.this_run)

    def _slice_verdict(self, check: DriftCheck) -> DriftVerdict:
        cohort = check.cohort_id
        assert cohort is not None  # slice checks are declared per cohort
        if failure := self._training_failure(check, [c for c in self.failed if c == cohort]):
            return failure
        prefix = self._prefix(check)
        errors = [s for s in self.slices[cohort] if s.error]
        if errors:
            text = "; ".join(f"slice {s.config.id}: {s.error}" for s in errors)
            return DriftVerdict(False, f"{prefix}: {text} ({cohort_named(cohort)})")
        comparison = self.slice_comparisons[cohort][check.metric]
        if comparison.stats is None:
            reasons = "; ".join(f"{k}: {v}" for k, v in comparison.not_judged.items())
            return DriftVerdict(
                True,
                f"{prefix}: fewer than two slices of {cohort_named(cohort)} can be judged "
                f"({reasons})",
                skipped=True,
            )
        groups = [g for g in self.this_run if g.cohort == cohort]
        return self._judged(check, comparison, f"slices of {cohort_named(cohort)}", groups)

    def _judged(
        self, check: DriftCheck, comparison: Comparison, across: str, groups: Sequence[Group]
    ) -> DriftVerdict:
        stats = comparison.stats
        assert stats is not None
        status = comparison.status or judge(stats.spread, check.limit, stats.interval)
        text = spread_text(comparison, check.limit, across, self.config.confidence)
        message = f"{self._prefix(check)}: {text}"
        if comparison.not_judged:
            skipped = "; ".join(f"{k}: {v}" for k, v in comparison.not_judged.items())
            message += f"; not judged: {skipped}"
        warning = None
        if status == "ok" and any(g.fallback for g in groups):
            warning = f"passed on synthetic fallback data, not the declared data: {message}"
        properties: dict[str, Any] = {
            "metric": f"{check.metric}_spread",
            "value": stats.spread,
            "threshold": check.limit,
            "worst": stats.worst,
            "best": stats.best,
            "status": status,
            **self._error_rate_properties(),
        }
        if stats.interval is not None:
            properties["interval_low"], properties["interval_high"] = stats.interval
        if stats.p_value is not None:
            properties["p_value"] = stats.p_value
        interval = None
        if stats.interval is not None:
            rows = sum(comparison.samples[label] for label in comparison.judged)
            low, high = stats.interval
            interval = intervals.Interval(low, high, self.config.confidence, SPREAD_METHOD, rows)
        return self._decided(status, message, warning, properties, interval)

    def _decided(
        self,
        status: str,
        message: str,
        warning: str | None,
        properties: dict[str, Any],
        interval: intervals.Interval | None,
    ) -> DriftVerdict:
        """``drift`` fails, ``ok`` passes, ``inconclusive`` does what on_inconclusive says
        (warns by default: drift is not a promotion, and noise is not drift)."""
        inconclusive = status == "inconclusive"
        passes = status == "ok" or (inconclusive and self.config.on_inconclusive == "warn")
        if inconclusive and passes:
            warning = message
        return DriftVerdict(
            passes,
            message,
            warning=warning,
            properties=properties,
            inconclusive=inconclusive,
            interval=interval,
        )

    def _error_rate_properties(self) -> dict[str, Any]:
        return {
            "level": self.config.confidence,
            "false_discovery_rate": self.config.false_discovery_rate,
            "error_rate": self.error_rate,
        }

    def _drop_verdict(self, check: DriftCheck) -> DriftVerdict:
        if failure := self._training_failure(check, list(self.failed)):
            return failure
        prefix = self._prefix(check)
        drops = self.drops[check.metric]
        state = self.baselines
        if state.accepted is not None:
            runs = [d.baseline_run for d in drops]
            return DriftVerdict(True, f"{prefix}: {state.acceptance(runs)}", skipped=True)
        if not drops:
            text = state.no_baseline_yet(self.spec_name, self.without_baseline, self.folder)
            return DriftVerdict(True, f"{prefix}: {text}", skipped=True)
        undefined = [d.cohort for d in drops if d.change is None]
        if undefined:
            return DriftVerdict(
                False,
                f"{prefix}: {check.metric} is undefined for {cohorts_named(undefined)} in "
                "this run or its baseline (validation rows of a single class)",
            )
        statuses = [d.status or judge(d.change or 0.0, check.limit, d.interval) for d in drops]
        breached = [d for d, s in zip(drops, statuses, strict=True) if s == "drift"]
        parts = "; ".join(
            drop_text(d, self.config.confidence) + state.note(d.cohort) for d in breached or drops
        )
        if breached:
            head = f"{check.metric} worsened by more than {check.limit:g} since the previous run"
        else:
            head = f"no cohort's {check.metric} worsened by more than {check.limit:g} beyond noise"
        message = f"{prefix}: {head}: {parts}"
        if self.without_baseline:
            message += f"; no baseline yet for {cohorts_named(self.without_baseline)}"
        worst = max(drops, key=lambda d: d.change or 0.0)
        properties = {
            "metric": f"{check.metric}_drop",
            "value": worst.change,
            "threshold": check.limit,
            "cohort": worst.cohort,
            "baseline_run": worst.baseline_run,
            **self._error_rate_properties(),
        }
        status = "drift" if breached else "inconclusive" if "inconclusive" in statuses else "ok"
        interval = None
        if worst.interval is not None:
            low, high = worst.interval
            rows = next(g.samples for g in self.this_run if g.cohort == worst.cohort)
            interval = intervals.Interval(low, high, self.config.confidence, DROP_METHOD, rows)
        return self._decided(status, message, None, properties, interval)
