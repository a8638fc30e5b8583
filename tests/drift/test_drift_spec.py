"""The drift and slices sections: every problem at once, with line, column and key."""

from __future__ import annotations

import textwrap

import pytest

from conftest import SpecWriter
from nethical_runner.run.loading import load_spec
from nethical_runner.spec import SpecError

BASE = """\
version: 1
name: small
model: {type: logistic}
training: {epochs: 2}
data: {samples: 800}
gate: {min_accuracy: 0.5}
"""


def problems(write_spec: SpecWriter, extra: str) -> list[str]:
    path = write_spec(BASE + textwrap.dedent(extra), "small.yaml")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return [str(p).removeprefix(f"{path}:") for p in caught.value.problems]


def test_bad_drift_and_slice_input_is_a_spec_error_with_line_and_key(
    write_spec: SpecWriter,
) -> None:
    assert problems(
        write_spec,
        """\
        slices:
          - {id: a, where: {column: severity_max, equals: 1, in: [1]}}
          - {id: b, where: {colum: severity_max, between: [1, 0]}}
          - {id: C, where: {column: severity_max, in: []}}
        drift:
          max_spread: {acuracy: 0.05, ece: 1.5}
          min_samples: 0
          confidence: 1.0
          baseline: best
          group: Not A Name
        """,
    ) == [
        "8:20: slices[0].where: give exactly one of equals, in, between",
        "9:20: slices[1].where.column: required key is missing",
        "9:21: slices[1].where.colum: unknown key (did you mean 'column'?)",
        "9:51: slices[1].where.between: low 1 is above high 0",
        "10:10: slices[2].id: 'C' must match ^[a-z0-9][a-z0-9_.-]*$ (lowercase letters, digits, "
        "_ . -)",
        "10:47: slices[2].where.in: needs at least 1 item(s), got 0",
        "12:16: drift.max_spread.acuracy: unknown key (did you mean 'accuracy'?)",
        "12:36: drift.max_spread.ece: 1.5 is above the maximum 1.0",
        "13:16: drift.min_samples: 0 is below the minimum 1",
        "14:15: drift.confidence: 1.0 must be below 1.0",
        "15:13: drift.baseline: 'best' is not one of 'previous'",
        "16:10: drift.group: 'Not A Name' must match ^[a-z0-9][a-z0-9_.-]*$ (lowercase letters, "
        "digits, _ . -)",
    ]


def test_rules_across_keys_point_at_the_key_that_cannot_work(write_spec: SpecWriter) -> None:
    assert problems(
        write_spec,
        """\
        slices:
          - {id: a, where: {column: severity_max, between: [0, 0.5]}}
          - {id: a, where: {column: severty_max, equals: 1}}
          - {id: b, where: {column: radius, equals: 1}}
        drift:
          max_spread: {accuracy: 0.05}
        """,
    ) == [
        "9:10: slices[1].id: duplicate slice id 'a' (first used by slices[0])",
        "9:29: slices[1].where.column: 'severty_max' is not a feature of cohort default's data "
        "(did you mean 'severity_max'?)",
        "10:29: slices[2].where.column: 'radius' is not a feature of cohort default's data "
        "(features: violation_count, severity_max, recency_score, frequency_score, "
        "context_risk)",
        "12:15: drift.max_spread: compares cohorts, but the spec has only one; declare cohorts, "
        "or a drift.group to compare with the cohorts of earlier runs",
    ]
    assert problems(write_spec, "drift: {max_slice_spread: {accuracy: 0.1}}\n") == [
        "7:27: drift.max_slice_spread: compares slices; declare slices"
    ]


def test_a_misspelt_condition_is_hinted_by_its_yaml_name(write_spec: SpecWriter) -> None:
    assert problems(write_spec, "slices: [{id: a, where: {column: severity_max, inn: [1]}}]\n") == [
        "7:48: slices[0].where.inn: unknown key (did you mean 'in'?)"
    ]
