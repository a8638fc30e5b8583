"""The promotion gate: thresholds on validation metrics, every bound inclusive.

Each threshold is decided on evidence (:mod:`nethical_runner.metrics.decide`): with the gate's
``confidence`` on the two-sided interval at that level, otherwise on the point value, checked
against its 95% interval so that a verdict within noise says so. A model is promoted when every
threshold passes (an inconclusive one only with ``on_inconclusive: warn``). A metric that cannot
be computed (ROC AUC on single-class validation data) fails its threshold.

ECE is decided on its debiased value: the plain binned ECE of a small sample is biased upward
by label noise, and would fail calibrated models. The plain value is reported beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from nethical_runner.metrics.decide import (
    NOISE_LEVEL,
    Judgement,
    judge_interval,
    judge_point,
    noise_note,
    shown_against,
    threshold_text,
)
from nethical_runner.metrics.intervals import Interval
from nethical_runner.spec.config import GateConfig

THRESHOLD_PREFIXES = ("min_", "max_")
# The metrics record's key each gated metric is decided on, where it is not the metric itself.
DECIDED_ON = {"ece": "ece_debiased"}


def decided_value(metric: str, metrics: Mapping[str, Any]) -> float | None:
    value = metrics.get(DECIDED_ON.get(metric, metric))
    return None if value is None else float(value)


@dataclass(frozen=True)
class Threshold:
    key: str  # the spec key, e.g. "min_accuracy"
    metric: str  # the metric it bounds, e.g. "accuracy"
    bound: Literal["min", "max"]
    value: float


@dataclass(frozen=True)
class Verdict:
    threshold: Threshold
    actual: float | None  # the value decided on (the debiased ECE for ece)
    decision: Judgement
    interval: Interval | None  # decided on (with confidence) or checked for noise (without)
    on_interval: bool  # decided on the interval rather than the point value
    inconclusive_passes: bool = False  # on_inconclusive: warn
    plain: float | None = None  # the plain binned ECE, reported beside the debiased one

    @property
    def passed(self) -> bool:
        inconclusive = self.decision == "inconclusive"
        return self.decision == "pass" or (inconclusive and self.inconclusive_passes)

    @property
    def noise(self) -> str | None:
        """For a point decision, the warning that its interval straddles the threshold."""
        t = self.threshold
        if self.on_interval or self.interval is None or self.actual is None:
            return None
        if judge_interval(self.interval, t.value, t.bound) != "inconclusive":
            return None
        return noise_note(self.actual, t.value, self.interval)

    def record(self) -> dict[str, Any]:
        """The verdict as plain data, for the metrics file and the audit log."""
        return {
            "key": self.threshold.key,
            "threshold": self.threshold.value,
            "actual": self.actual,
            "decision": self.decision,
            "passed": self.passed,
            "interval": None if self.interval is None else self.interval.record(),
        }

    def describe(self) -> str:
        """``accuracy 0.812 < 0.85 (95% wilson interval ...)`` or ``ece 0.031 <= 0.08``."""
        t = self.threshold
        if self.actual is None:
            return f"{t.metric} is undefined on this validation data (needs both classes)"
        shown = shown_against(self.actual, t.value)
        if self.plain is not None:
            shown += f" (debiased; binned {shown_against(self.plain, t.value)})"
        name = t.metric
        if self.on_interval and self.interval is not None:
            good, bad = (">=", "<") if t.bound == "min" else ("<=", ">")
            where = {
                "pass": f"is entirely {good}",
                "fail": f"is entirely {bad}",
                "inconclusive": "straddles",
            }[self.decision]
            return (
                f"{name} {shown}: the {self.interval.describe()} {where} {threshold_text(t.value)}"
            )
        holds = judge_point(self.actual, t.value, t.bound) == "pass"
        good, bad = (">=", "<") if t.bound == "min" else ("<=", ">")
        relation = good if holds else bad
        text = f"{name} {shown} {relation} {threshold_text(t.value)}"
        if self.interval is not None:
            text += f" ({self.interval.describe()})"
        return text


def thresholds(gate: GateConfig) -> list[Threshold]:
    """The thresholds a gate declares, in the order of the spec format."""
    found: list[Threshold] = []
    for key, value in gate.model_dump().items():
        if value is not None and key.startswith(THRESHOLD_PREFIXES):
            prefix, metric = key.split("_", 1)
            bound: Literal["min", "max"] = "min" if prefix == "min" else "max"
            found.append(Threshold(key, metric, bound, value))
    return found


def interval_level(gate: GateConfig) -> float:
    """The level of the intervals the gate reads: its confidence, or the noise check's 95%."""
    return gate.confidence if gate.confidence is not None else NOISE_LEVEL


def judge(
    threshold: Threshold,
    gate: GateConfig,
    metrics: Mapping[str, Any],
    intervals: Mapping[str, Interval],
) -> Verdict:
    actual = decided_value(threshold.metric, metrics)
    plain = metrics.get("ece") if threshold.metric == "ece" else None
    interval = intervals.get(threshold.metric)
    on_interval = gate.confidence is not None
    warn = gate.on_inconclusive == "warn"
    if actual is None:
        return Verdict(threshold, None, "fail", None, on_interval, warn)
    if on_interval and interval is not None:
        decision = judge_interval(interval, threshold.value, threshold.bound)
    else:
        decision = judge_point(actual, threshold.value, threshold.bound)
    return Verdict(threshold, actual, decision, interval, on_interval, warn, plain)


def decide(
    gate: GateConfig, metrics: Mapping[str, Any], intervals: Mapping[str, Interval]
) -> list[Verdict]:
    return [judge(t, gate, metrics, intervals) for t in thresholds(gate)]
