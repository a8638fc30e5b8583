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


MAX_SHOWN_DECIMALS = 12


def threshold_text(limit: float) -> str:
    """A threshold as the spec wrote it: the shortest text that reads back as the same float
    (``0.98602``, ``0.8``, ``220``), where ``:g`` would cut ``0.9860251`` to six digits."""
    short = f"{limit:g}"
    return short if float(short) == limit else repr(float(limit))


def shown_against(value: float, limit: float) -> str:
    """``value`` for a message comparing it with ``limit``: four significant digits, but never
    fewer decimals than the threshold is written with, and more while rounding would make a
    different value read as the threshold itself. So 0.986 against 0.98602 is ``0.98600``,
    and 0.9860199 against it ``0.986020``, never ``0.986 < 0.98602`` or ``0.98602 < 0.98602``."""
    limit_text, short = threshold_text(limit), f"{value:.4g}"
    decimals = max(_decimals(short), _decimals(limit_text))
    shown = short if decimals == _decimals(short) else f"{value:.{decimals}f}"
    while value != limit and float(shown) == float(limit_text) and decimals < MAX_SHOWN_DECIMALS:
        decimals += 1
        shown = f"{value:.{decimals}f}"
    return shown


def _decimals(text: str) -> int:
    """Digits after the point of a number's text, exponent included (``1e-05``: 5)."""
    mantissa, _, exponent = text.partition("e")
    after = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return max(0, after - int(exponent or 0))


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
