"""The three decisions on an interval, inclusive bounds, and the noise warning."""

from __future__ import annotations

import pytest

from nethical_runner.metrics.decide import judge_interval, judge_point, noise_note
from nethical_runner.metrics.intervals import WILSON, Interval


def interval(low: float, high: float) -> Interval:
    return Interval(low, high, 0.95, WILSON, 200)


@pytest.mark.parametrize(
    ("low", "high", "bound", "decision"),
    [
        (0.86, 0.90, "min", "pass"),
        (0.85, 0.90, "min", "pass"),  # inclusive: an end on the threshold is on the good side
        (0.80, 0.849, "min", "fail"),
        (0.80, 0.90, "min", "inconclusive"),
        (0.01, 0.08, "max", "pass"),
        (0.081, 0.2, "max", "fail"),
        (0.05, 0.2, "max", "inconclusive"),
    ],
)
def test_an_interval_passes_fails_or_straddles(
    low: float, high: float, bound: str, decision: str
) -> None:
    limit = 0.85 if bound == "min" else 0.08
    assert judge_interval(interval(low, high), limit, bound) == decision  # type: ignore[arg-type]


def test_a_point_is_decided_inclusively() -> None:
    assert judge_point(0.85, 0.85, "min") == "pass" and judge_point(0.849, 0.85, "min") == "fail"
    assert judge_point(0.08, 0.08, "max") == "pass" and judge_point(0.0801, 0.08, "max") == "fail"


def test_the_noise_note_gives_the_interval_and_the_rows_that_would_decide() -> None:
    note = noise_note(0.86, 0.85, interval(0.80, 0.92))
    assert note == (
        "within noise: the 95% wilson interval 0.8 to 0.92 over 200 rows straddles 0.85; "
        "about 7200 validation rows would decide it"
    )
    assert noise_note(0.85, 0.85, interval(0.80, 0.90)).endswith("straddles 0.85")
