"""The promotion gate: thresholds on validation metrics, every bound inclusive.

A model is promoted when every declared threshold holds: ``max_*`` bounds pass when the metric is
less than or equal to the threshold, ``min_*`` bounds when it is greater than or equal. A metric
that cannot be computed (ROC AUC on single-class validation data) fails its threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nethical_runner.spec.config import GateConfig


@dataclass(frozen=True)
class Threshold:
    key: str  # the spec key, e.g. "min_accuracy"
    metric: str  # the metric it bounds, e.g. "accuracy"
    bound: Literal["min", "max"]
    value: float


@dataclass(frozen=True)
class Verdict:
    threshold: Threshold
    actual: float | None
    passed: bool

    def describe(self) -> str:
        """``accuracy 0.812 < 0.85`` or ``ece 0.031 <= 0.08``."""
        t = self.threshold
        if self.actual is None:
            return f"{t.metric} is undefined on this validation data (needs both classes)"
        if t.bound == "min":
            relation = ">=" if self.passed else "<"
        else:
            relation = "<=" if self.passed else ">"
        return f"{t.metric} {self.actual:.4g} {relation} {t.value:g}"


def thresholds(gate: GateConfig) -> list[Threshold]:
    """The thresholds a gate declares, in the order of the spec format."""
    found: list[Threshold] = []
    for key, value in gate.model_dump().items():
        if value is not None:
            prefix, metric = key.split("_", 1)
            bound: Literal["min", "max"] = "min" if prefix == "min" else "max"
            found.append(Threshold(key, metric, bound, value))
    return found


def judge(threshold: Threshold, metrics: dict[str, float | int | None]) -> Verdict:
    actual = metrics.get(threshold.metric)
    if actual is None:
        return Verdict(threshold, None, False)
    if threshold.bound == "min":
        return Verdict(threshold, float(actual), actual >= threshold.value)
    return Verdict(threshold, float(actual), actual <= threshold.value)


def decide(gate: GateConfig, metrics: dict[str, float | int | None]) -> list[Verdict]:
    return [judge(t, metrics) for t in thresholds(gate)]
