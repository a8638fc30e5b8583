"""A value is shown with at least the decimals of the threshold it is compared with, and with
more while rounding would make it read as the threshold: never "accuracy 0.986 < 0.98602"."""

from __future__ import annotations

import re

import pytest

from conftest import SpecWriter
from nethical_runner.metrics.decide import shown_against, threshold_text


@pytest.mark.parametrize(
    ("value", "limit", "shown"),
    [
        (0.986, 0.98602, "0.98600"),  # the complaint: as many decimals as the threshold
        (0.9860199, 0.98602, "0.9860199"),  # not "0.98602 < 0.98602"
        (0.98602, 0.98602, "0.98602"),
        (0.975, 0.85, "0.975"),  # four significant digits stay
        (0.12345678, 0.1, "0.1235"),
        (0.3, 0.05, "0.30"),
        (0.0, 0.01, "0.00"),
        (1e-06, 1e-05, "1e-06"),
    ],
)
def test_shown_against_its_threshold(value: float, limit: float, shown: str) -> None:
    assert shown_against(value, limit) == shown


def test_a_threshold_is_shown_as_written() -> None:
    assert [threshold_text(x) for x in (0.98602, 0.8, 220.0, 0.9860251, 1e-05)] == [
        "0.98602", "0.8", "220", "0.9860251", "1e-05",
    ]  # fmt: skip


def test_the_gate_message_of_the_complaint(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    """A real gate just above what a model reaches: its message shows the threshold's digits."""
    write_spec(
        "version: 1\nname: digits\nmodel: {type: heuristic}\ndata: {samples: 1000}\n"
        "gate: {min_accuracy: 0.99999}\n",
        "specs/digits.yaml",
    )
    result = pytester.runpytest("specs/")
    message = next(line for line in result.outlines if "gate min_accuracy: accuracy" in line)
    found = re.search(r"accuracy (\d\.(\d+)) < 0\.99999 ", message)
    assert found is not None and len(found[2]) >= 5, message
