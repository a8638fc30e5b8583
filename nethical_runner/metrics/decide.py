"""Deciding a bound on evidence: the three decisions every interval-based check reaches.

A bound is decided on a two-sided interval of the measured value: ``pass`` when the whole
interval lies on the good side of the threshold, ``fail`` when it lies on the bad side, and
``inconclusive`` when it straddles the threshold, which means the validation rows cannot tell
the two apart at the level asked for. Bounds are inclusive, so an interval that ends exactly
at the threshold is on the good side.
"""

from __future__ import annotations

from typing import Literal

from nethical_runner.metrics.intervals import Interval, rows_to_decide

Judgement = Literal["pass", "fail", "inconclusive"]
Bound = Literal["min", "max"]
NOISE_LEVEL = 0.95  # the interval a point decision is checked against for its noise warning


def on_good_side(value: float, limit: float, bound: Bound) -> bool:
    return value >= limit if bound == "min" else value <= limit


def judge_point(value: float, limit: float, bound: Bound) -> Judgement:
    return "pass" if on_good_side(value, limit, bound) else "fail"


def judge_interval(interval: Interval, limit: float, bound: Bound) -> Judgement:
    """``pass`` when all of ``interval`` is on the good side of ``limit``, ``fail`` when all
    of it is on the bad side, ``inconclusive`` otherwise."""
    near, far = (interval.low, interval.high) if bound == "min" else (interval.high, interval.low)
    if on_good_side(near, limit, bound):
        return "pass"
    if not on_good_side(far, limit, bound):
        return "fail"
    return "inconclusive"


def noise_note(value: float, limit: float, interval: Interval) -> str:
    """The warning of a point decision whose interval straddles its threshold."""
    rows = rows_to_decide(value, limit, interval)
    needed = f"; about {rows} validation rows would decide it" if rows else ""
    return f"within noise: the {interval.describe()} straddles {limit:g}{needed}"
