"""Spec loading: every problem of a file at once, each with file, line, column and key path."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import SpecWriter
from nethical_runner.spec import SpecDocument, SpecError, load_spec

VALID = """\
version: 1
name: demo
model: {type: logistic}
"""


def problems_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return [str(p) for p in caught.value.problems]


def test_a_minimal_spec_gets_the_seed_defaults(write_spec: SpecWriter) -> None:
    spec = load_spec(write_spec(VALID))
    (cohort,) = spec.cohorts
    assert cohort.id == "default"
    assert cohort.config.training.epochs == 10
    assert cohort.config.training.batch_size == 32
    assert cohort.config.training.seed == 42
    assert cohort.config.data.samples is None  # synthetic: DEFAULT_SYNTHETIC_SAMPLES rows
    assert cohort.config.gate.max_ece == 0.08
    assert cohort.config.gate.min_accuracy == 0.85


def test_a_declared_gate_holds_exactly_its_thresholds(write_spec: SpecWriter) -> None:
    spec = load_spec(write_spec(VALID + "gate: {min_f1: 0.8}\n"))
    gate = spec.cohorts[0].config.gate
    assert gate.min_f1 == 0.8 and gate.max_ece is None and gate.min_accuracy is None


def test_every_problem_is_reported_at_once_with_line_column_and_key(write_spec: SpecWriter) -> None:
    path = write_spec(
        textwrap.dedent("""\
        version: 1
        name: Bad Name
        model:
          type: logistc
        training: {epochs: 0, batch_size: "32"}
        data:
          samples: 5
        gate:
          min_acuracy: 0.9
          max_ece: 1.2
        """),
    )
    assert problems_of(path) == [
        f"{path}:2:7: name: 'Bad Name' must match ^[a-z0-9][a-z0-9_.-]*$ "
        "(lowercase letters, digits, _ . -)",
        f"{path}:4:9: model.type: 'logistc' is not one of 'heuristic', 'logistic', "
        "'simple_transformer', 'anomaly', 'correlation' or 'sklearn'",
        f"{path}:5:20: training.epochs: 0 is below the minimum 1",
        f"{path}:5:35: training.batch_size: expected integer, got str '32'",
        f"{path}:7:12: data.samples: 5 is below the minimum 10",
        f"{path}:9:3: gate.min_acuracy: unknown key (did you mean 'min_accuracy'?)",
        f"{path}:10:12: gate.max_ece: 1.2 is above the maximum 1.0",
    ]


def test_yaml_surprises_are_errors(write_spec: SpecWriter) -> None:
    path = write_spec(
        textwrap.dedent("""\
        version: 1
        name: demo
        model: {type: logistic}
        training:
          epochs: 3
          epochs: 4
          seed:
        data: {samples: yes}
        """),
    )
    assert problems_of(path) == [
        f"{path}:6:3: training.epochs: duplicate key (first defined on line 5)",
        f"{path}:7:8: training.seed: empty value (remove the key to use its default)",
        f"{path}:8:17: data.samples: 'yes' is a YAML 1.1 boolean; write true or false, or quote it",
    ]


def test_an_on_key_is_refused_rather_than_read_as_true(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    (problem,) = problems_of(write_spec(VALID + "on: push\n"))
    assert problem == f"{tmp_path / 'spec.yaml'}:4:1: key 'on' must be a string (quote it)"


def test_python_tags_are_refused_without_being_constructed(write_spec: SpecWriter) -> None:
    text = VALID + "training: !!python/object/apply:os.system ['touch pwned']\n"
    (problem,) = problems_of(write_spec(text))
    assert "training: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed" in (
        problem
    )
    assert not Path("pwned").exists()


def test_an_alias_bomb_is_refused(write_spec: SpecWriter) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    problems = problems_of(write_spec(VALID + "\n".join(lines) + "\n"))
    assert any("alias expansion" in p for p in problems)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\xff\xfe\x00junk", "not UTF-8 text"),
        (b"version: [1\n", "invalid YAML"),
        (b"- just\n- a list\n", "a spec must be a mapping of keys"),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(content)
    (problem,) = problems_of(path)
    assert message in problem and str(path) in problem


def test_cohorts_merge_overrides_and_errors_point_into_the_override(write_spec: SpecWriter) -> None:
    path = write_spec(
        textwrap.dedent("""\
        version: 1
        name: demo
        model: {type: logistic, params: {C: 0.001}}
        training: {epochs: 5}
        cohorts:
          - {id: alpha}
          - {id: beta, training: {seed: 7}, model: {params: {learning_rate: 0.1}}}
        """),
    )
    alpha, beta = load_spec(path).cohorts
    assert (alpha.config.training.seed, beta.config.training.seed) == (42, 7)
    assert beta.config.training.epochs == 5
    assert beta.config.model.params == {"C": 0.001, "learning_rate": 0.1}

    bad = write_spec(
        textwrap.dedent("""\
        version: 1
        name: demo
        model: {type: logistic}
        cohorts:
          - {id: alpha}
          - {id: alpha}
          - {id: Beta}
          - {id: gamma, training: {epochs: -1}, model: {params: {C: -1, momentum: 1}}}
        """),
        "bad.yaml",
    )
    assert problems_of(bad) == [
        f"{bad}:6:10: cohorts[1].id: duplicate cohort id 'alpha' (first used by cohorts[0])",
        f"{bad}:7:10: cohorts[2].id: 'Beta' must match ^[a-z0-9][a-z0-9_.-]*$ "
        "(lowercase letters, digits, _ . -)",
        f"{bad}:8:36: cohorts[3].training.epochs: -1 is below the minimum 1",
        f"{bad}:8:61: cohorts[3].model.params.C: -1 must be above 0.0",
        f"{bad}:8:65: cohorts[3].model.params.momentum: unknown key; known keys: C, learning_rate",
    ]


def test_model_params_are_validated_per_type(write_spec: SpecWriter) -> None:
    path = write_spec(VALID.replace("{type: logistic}", "{type: heuristic, params: {l2: 1}}"))
    (problem,) = problems_of(path)
    assert problem.endswith("model.params.l2: unknown key; known keys: shrinkage")


def test_the_json_schema_lists_sections_defaults_and_model_types() -> None:
    schema = SpecDocument.model_json_schema()
    text = json.dumps(schema)
    assert schema["additionalProperties"] is False
    assert {"version", "name", "model", "training", "data", "gate", "cohorts"} <= set(
        schema["properties"]
    )
    assert '"heuristic"' in text and '"logistic"' in text
    assert schema["$defs"]["TrainingConfig"]["properties"]["epochs"]["default"] == 10
