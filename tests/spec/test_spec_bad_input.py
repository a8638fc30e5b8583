"""Bad spec files, one case each, with the exact message a user sees.

Specs arrive in pull requests, so every way a file can be wrong must end in a ``SpecError``
whose problems read ``file:line:column: key.path: message`` and point at the offending spot:
never another exception, never a hang, never a silently ignored value.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from conftest import SpecWriter
from nethical_runner.spec import SpecError, load_spec
from nethical_runner.spec.yaml_source import MAX_DEPTH, MAX_NODES, MAX_SPEC_BYTES

HEAD = "version: 1\nname: demo\nmodel: {type: logistic}\n"  # lines 1-3 of most cases


def problems(write_spec: SpecWriter, content: str | bytes) -> list[str]:
    """The problems ``load_spec`` reports, with the file shown as ``spec.yaml``."""
    path = write_spec(content.encode() if isinstance(content, str) else content)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    shown = [str(problem) for problem in caught.value.problems]
    assert all(line.startswith(f"{path}:") for line in shown), shown
    return [line.replace(f"{path}:", "spec.yaml:", 1) for line in shown]


# --- files that are not YAML we will read ------------------------------------------------------

UNREADABLE: dict[str, tuple[bytes, list[str]]] = {
    "empty file": (b"", ["spec.yaml:1:1: the file is empty"]),
    "only a comment": (b"# nothing here\n", ["spec.yaml:1:1: the file is empty"]),
    "binary junk": (
        bytes(range(128, 256)) * 4,
        ["spec.yaml:1:1: not UTF-8 text (invalid start byte at byte 0)"],
    ),
    "UTF-16 with a byte order mark": (
        HEAD.encode("utf-16"),
        ["spec.yaml:1:1: not UTF-8 text (invalid start byte at byte 0)"],
    ),
    "Latin-1": (
        HEAD.encode() + "# café\n".encode("latin-1"),
        ["spec.yaml:1:1: not UTF-8 text (invalid continuation byte at byte 51)"],
    ),
    "a NUL byte": (
        HEAD.encode() + b"data: {samples: 1\x000}\n",
        [
            "spec.yaml:4:18: invalid YAML: unacceptable character #x0000 "
            "(special characters are not allowed)"
        ],
    ),
    "an escape character": (
        HEAD.encode() + b"name2: \x1b[31m\n",
        [
            "spec.yaml:4:8: invalid YAML: unacceptable character #x001b "
            "(special characters are not allowed)"
        ],
    ),
    "unclosed flow mapping": (
        HEAD.encode() + b"training: {epochs: 3\n",
        [
            "spec.yaml:5:1: invalid YAML: while parsing a flow mapping expected ',' or '}', "
            "but got '<stream end>'"
        ],
    ),
    "bad indentation": (
        b"version: 1\n  name: demo\n",
        ["spec.yaml:2:7: invalid YAML: mapping values are not allowed here"],
    ),
    "a tab as indentation": (
        HEAD.encode() + b"training:\n\tepochs: 3\n",
        [
            "spec.yaml:5:1: invalid YAML: while scanning for the next token found character "
            "'\\t' that cannot start any token"
        ],
    ),
    "two documents": (
        HEAD.encode() + b"---\nname: other\n",
        [
            "spec.yaml:4:1: invalid YAML: expected a single document in the stream but found "
            "another document"
        ],
    ),
    "an undefined alias": (
        HEAD.encode() + b"training: *nothing\n",
        ["spec.yaml:4:11: invalid YAML: found undefined alias 'nothing'"],
    ),
    "a list at the top": (b"- version: 1\n", ["spec.yaml:1:1: a spec must be a mapping of keys"]),
    "a bare string": (b"hello\n", ["spec.yaml:1:1: a spec must be a mapping of keys"]),
}


@pytest.mark.parametrize("case", UNREADABLE)
def test_a_file_that_is_not_readable_yaml_says_why(write_spec: SpecWriter, case: str) -> None:
    content, expected = UNREADABLE[case]
    assert problems(write_spec, content) == expected


def test_a_utf8_byte_order_mark_is_accepted_and_lines_still_count_from_one(
    write_spec: SpecWriter,
) -> None:
    content = b"\xef\xbb\xbf" + HEAD.encode() + b"gate: {min_f1: 2}\n"
    assert problems(write_spec, content) == [
        "spec.yaml:4:16: gate.min_f1: 2 is above the maximum 1.0"
    ]


def test_a_huge_file_is_refused_without_being_parsed(write_spec: SpecWriter) -> None:
    content = HEAD + "# " + "x" * MAX_SPEC_BYTES + "\n"
    started = time.monotonic()
    assert problems(write_spec, content) == [
        f"spec.yaml:1:1: file is larger than {MAX_SPEC_BYTES} bytes"
    ]
    assert time.monotonic() - started < 2


def test_a_spec_that_is_an_endless_device_is_refused_without_reading_it_all(
    tmp_path: Path,
) -> None:
    """A symlink in a pull request can name ``/dev/zero``: reading it whole never ends."""
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero on this system")
    path = tmp_path / "spec.yaml"
    os.symlink("/dev/zero", path)
    started = time.monotonic()
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:1:1: file is larger than {MAX_SPEC_BYTES} bytes"
    ]
    assert time.monotonic() - started < 2


def test_a_missing_file_and_a_folder_say_so(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path / "absent.yaml")
    absent = tmp_path / "absent.yaml"
    assert str(caught.value) == f"{absent}:1:1: cannot read: No such file or directory"
    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path / "folder.yaml")
    assert str(caught.value) == f"{tmp_path / 'folder.yaml'}:1:1: cannot read: Is a directory"


# --- YAML features that could make the loader explode --------------------------------------------


def test_a_billion_laughs_alias_bomb_is_refused_quickly(write_spec: SpecWriter) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    started = time.monotonic()
    found = problems(write_spec, HEAD + "\n".join(lines) + "\n")
    assert time.monotonic() - started < 5
    expected = f"spec.yaml:4:38: a4[0][6][8][8][4]: more than {MAX_NODES} values (alias expansion?)"
    assert expected in found


def test_an_aliased_mapping_is_validated_where_used_and_located_where_written(
    write_spec: SpecWriter,
) -> None:
    text = HEAD + "gate: &g {min_f1: 0.5}\ncohorts:\n  - {id: a, training: *g}\n"
    assert problems(write_spec, text) == [
        "spec.yaml:4:11: cohorts[0].training.min_f1: unknown key; known keys: epochs, "
        "batch_size, seed"
    ]


@pytest.mark.parametrize(
    ("opening", "closing"), [("[", "]"), ("{a: ", "}")], ids=["sequences", "mappings"]
)
def test_deeply_nested_values_are_refused_not_a_recursion_error(
    write_spec: SpecWriter, opening: str, closing: str
) -> None:
    depth = 5000
    text = HEAD + "training: " + opening * depth + "1" + closing * depth + "\n"
    started = time.monotonic()
    (problem,) = problems(write_spec, text)
    assert time.monotonic() - started < 5
    column = 11 + len(opening) * MAX_DEPTH  # where the first value too deep starts
    inner = "[0]" if opening == "[" else ".a"
    assert problem == (
        f"spec.yaml:4:{column}: training{inner * MAX_DEPTH}: nested more than {MAX_DEPTH} "
        "levels deep"
    )


def test_block_nesting_is_limited_too(write_spec: SpecWriter) -> None:
    lines = [" " * level + f"k{level}:" for level in range(MAX_DEPTH + 5)]
    (problem,) = problems(write_spec, HEAD + "\n".join(lines) + " 1\n")
    path = ".".join(f"k{level}" for level in range(MAX_DEPTH + 1))
    assert problem == (
        f"spec.yaml:{5 + MAX_DEPTH}:{MAX_DEPTH + 2}: {path}: nested more than {MAX_DEPTH} "
        "levels deep"
    )


def test_nesting_inside_a_complex_key_is_limited_too(write_spec: SpecWriter) -> None:
    text = HEAD + "? " + "[" * 5000 + "]" * 5000 + "\n: 1\n"
    (problem,) = problems(write_spec, text)
    column = 3 + MAX_DEPTH
    assert problem == (
        f"spec.yaml:4:{column}: ?{'[0]' * MAX_DEPTH}: nested more than {MAX_DEPTH} levels deep"
    )


def test_a_number_too_long_to_convert_is_a_problem_not_a_crash(write_spec: SpecWriter) -> None:
    text = HEAD + "training: {seed: " + "9" * 5000 + "}\ndata: {samples: 0x" + "f" * 5000 + "}\n"
    assert problems(write_spec, text) == [
        "spec.yaml:4:18: training.seed: '99999999999999999999...' is a number of 5000 "
        "characters, too long to read",
        "spec.yaml:5:17: data.samples: '0xffffffffffffffffff...' is a number of 5002 "
        "characters, too long to read",
    ]


# --- wrong values, each located at its key -----------------------------------------------------

WRONG_VALUES: dict[str, tuple[str, list[str]]] = {
    "version 2": (
        "version: 2\nname: demo\nmodel: {type: logistic}\n",
        ["spec.yaml:1:10: version: 2 is not one of 1"],
    ),
    "version as a string": (
        "version: '1'\nname: demo\nmodel: {type: logistic}\n",
        ["spec.yaml:1:10: version: '1' is not one of 1"],
    ),
    "required keys missing": (
        "gate: {min_f1: 0.5}\n",
        [
            "spec.yaml:1:1: model: required key is missing",
            "spec.yaml:1:1: name: required key is missing",
            "spec.yaml:1:1: version: required key is missing",
        ],
    ),
    "model without a type": (
        "version: 1\nname: demo\nmodel: {params: {}}\n",
        ["spec.yaml:3:8: model.type: required key is missing"],
    ),
    "model type as a list": (
        "version: 1\nname: demo\nmodel: {type: [logistic]}\n",
        [
            "spec.yaml:3:15: model.type: ['logistic'] is not one of 'heuristic', 'logistic', "
            "'simple_transformer', 'anomaly', 'correlation' or 'sklearn'"
        ],
    ),
    "model type in a cohort as a mapping": (
        HEAD + "cohorts: [{id: a, model: {type: {x: 1}}}]\n",
        [
            "spec.yaml:4:33: cohorts[0].model.type: {'x': 1} is not one of 'heuristic', "
            "'logistic', 'simple_transformer', 'anomaly', 'correlation' or 'sklearn'"
        ],
    ),
    "name with a slash": (
        "version: 1\nname: ../../etc\nmodel: {type: logistic}\n",
        [
            "spec.yaml:2:7: name: '../../etc' must match ^[a-z0-9][a-z0-9_.-]*$ "
            "(lowercase letters, digits, _ . -)"
        ],
    ),
    "name too long": (
        f"version: 1\nname: {'a' * 65}\nmodel: {{type: logistic}}\n",
        [f"spec.yaml:2:7: name: '{'a' * 65}': string should have at most 64 characters"],
    ),
    "name as a number": (
        "version: 1\nname: 7\nmodel: {type: logistic}\n",
        ["spec.yaml:2:7: name: expected string, got int 7"],
    ),
    "epochs as a quoted number": (
        HEAD + "training: {epochs: '10'}\n",
        ["spec.yaml:4:20: training.epochs: expected integer, got str '10'"],
    ),
    "epochs as a float": (
        HEAD + "training: {epochs: 10.0}\n",
        ["spec.yaml:4:20: training.epochs: expected integer, got float 10.0"],
    ),
    "epochs as a boolean": (
        HEAD + "training: {epochs: true}\n",
        ["spec.yaml:4:20: training.epochs: expected integer, got bool True"],
    ),
    "epochs too large": (
        HEAD + "training: {epochs: 100001}\n",
        ["spec.yaml:4:20: training.epochs: 100001 is above the maximum 100000"],
    ),
    "negative seed": (
        HEAD + "training: {seed: -1}\n",
        ["spec.yaml:4:18: training.seed: -1 is below the minimum 0"],
    ),
    "a section as a list": (
        HEAD + "training: [10, 32]\n",
        ["spec.yaml:4:11: training: expected mapping, got list [10, 32]"],
    ),
    "a section as a scalar": (
        HEAD + "data: synthetic\n",
        ["spec.yaml:4:7: data: expected mapping, got str 'synthetic'"],
    ),
    "params as a list": (
        "version: 1\nname: demo\nmodel: {type: logistic, params: [1]}\n",
        ["spec.yaml:3:33: model.params: expected mapping, got list [1]"],
    ),
    "NaN threshold": (
        HEAD + "gate: {min_accuracy: .nan}\n",
        ["spec.yaml:4:22: gate.min_accuracy: nan is above the maximum 1.0"],
    ),
    "infinite threshold": (
        HEAD + "gate: {max_ece: .inf}\n",
        ["spec.yaml:4:17: gate.max_ece: inf is above the maximum 1.0"],
    ),
    "negative threshold": (
        HEAD + "gate: {max_brier: -0.1}\n",
        ["spec.yaml:4:19: gate.max_brier: -0.1 is below the minimum 0.0"],
    ),
    "NaN latency target": (
        HEAD + "sla: {p95_ms: .nan}\n",
        ["spec.yaml:4:15: sla.p95_ms: Input should be a finite number"],
    ),
    "zero latency target": (
        HEAD + "sla: {p99_ms: 0}\n",
        ["spec.yaml:4:15: sla.p99_ms: 0 must be above 0.0"],
    ),
    "percentile targets out of order": (
        HEAD + "sla: {p95_ms: 50, p99_ms: 20}\n",
        [
            "spec.yaml:4:27: sla.p99_ms: 20 is below p95_ms 50 (a higher percentile cannot have "
            "a lower target)"
        ],
    ),
    "NaN train fraction": (
        HEAD + "data: {split: {train_fraction: .nan}}\n",
        ["spec.yaml:4:32: data.split.train_fraction: nan must be below 1.0"],
    ),
    "train fraction of one": (
        HEAD + "data: {split: {train_fraction: 1.0}}\n",
        ["spec.yaml:4:32: data.split.train_fraction: 1.0 must be below 1.0"],
    ),
    "unknown split method": (
        HEAD + "data: {split: {method: random}}\n",
        ["spec.yaml:4:24: data.split.method: 'random' is not one of 'temporal' or 'stratified'"],
    ),
    "unknown source": (
        HEAD + "data: {source: s3}\n",
        [
            "spec.yaml:4:16: data.source: 's3' is not one of 'synthetic', 'csv', 'parquet' or "
            "'kaggle'"
        ],
    ),
    "csv source without its section": (
        HEAD + "data: {source: csv}\n",
        ["spec.yaml:4:7: data: source csv needs a csv section"],
    ),
    "fallback for synthetic data": (
        HEAD + "data: {fallback: synthetic}\n",
        ["spec.yaml:4:18: data.fallback: applies only to csv, parquet and kaggle sources"],
    ),
    "csv delimiter of two characters": (
        HEAD + "data: {source: csv, csv: {path: a.csv, delimiter: ';;'}}\n",
        ["spec.yaml:4:51: data.csv.delimiter: ';;': string should have at most 1 character"],
    ),
    "a feature listed twice": (
        HEAD + "data: {source: csv, csv: {path: a.csv, features: [a, b, a]}}\n",
        ["spec.yaml:4:50: data.csv.features: 'a' is listed twice"],
    ),
    "kaggle dataset with a path": (
        HEAD + "data: {source: kaggle, kaggle: {dataset: ../../x, file: a.csv}}\n",
        [
            "spec.yaml:4:42: data.kaggle.dataset: '../../x' must match "
            "^[A-Za-z0-9][A-Za-z0-9_-]*/[A-Za-z0-9][A-Za-z0-9_-]*$ (lowercase letters, digits, "
            "_ . -)"
        ],
    ),
    "kaggle timeout of an hour and a second": (
        HEAD + "data: {source: kaggle, kaggle: {dataset: a/b, file: a.csv, timeout_s: 3601}}\n",
        ["spec.yaml:4:71: data.kaggle.timeout_s: 3601 is above the maximum 3600.0"],
    ),
    "misspelt key": (
        HEAD + "gate: {min_acuracy: 0.9}\n",
        ["spec.yaml:4:8: gate.min_acuracy: unknown key (did you mean 'min_accuracy'?)"],
    ),
    "unknown top-level key": (
        HEAD + "deploy: {to: prod}\n",
        [
            "spec.yaml:4:1: deploy: unknown key; known keys: version, name, model, training, "
            "data, metrics, gate, sla, audit, regression, cohorts, slices, drift"
        ],
    ),
    "empty value": (
        HEAD + "training:\n  epochs:\n",
        ["spec.yaml:5:10: training.epochs: empty value (remove the key to use its default)"],
    ),
    "YAML 1.1 boolean": (
        HEAD + "audit: {enabled: yes}\n",
        [
            "spec.yaml:4:18: audit.enabled: 'yes' is a YAML 1.1 boolean; write true or false, "
            "or quote it"
        ],
    ),
    "YAML 1.1 boolean for a choice": (
        HEAD + "sla: {on_breach: yes}\ndata: {split: {method: off}}\n",
        [
            "spec.yaml:4:18: sla.on_breach: 'yes' is read as a boolean (YAML 1.1); on_breach "
            "takes 'fail' or 'warn'",
            "spec.yaml:5:24: data.split.method: 'off' is read as a boolean (YAML 1.1); method "
            "takes 'temporal' or 'stratified'",
        ],
    ),
    "YAML 1.1 boolean for a choice in a cohort": (
        HEAD + "cohorts:\n  - {id: a, data: {csv: {na: No, path: x.csv}}}\n",
        [
            "spec.yaml:5:25: cohorts[0].data.csv: only read when source is csv",
            "spec.yaml:5:30: cohorts[0].data.csv.na: 'No' is read as a boolean (YAML 1.1); na "
            "takes 'error' or 'drop'",
        ],
    ),
    "YAML 1.1 boolean for a text": (
        HEAD + "data: {source: csv, csv: {path: x.csv, label: yes}}\n",
        [
            "spec.yaml:4:47: data.csv.label: 'yes' is read as a boolean (YAML 1.1); quote it to "
            "mean the text"
        ],
    ),
    "on as a key": (HEAD + "on: push\n", ["spec.yaml:4:1: key 'on' must be a string (quote it)"]),
    "a number as a key": (
        HEAD + "training: {1: 2}\n",
        ["spec.yaml:4:12: training: key '1' must be a string (quote it)"],
    ),
    "a null key": (HEAD + "~: 1\n", ["spec.yaml:4:1: key '~' must be a string (quote it)"]),
    "a complex key": (
        HEAD + "? [a, b]\n: 1\n",
        ["spec.yaml:4:3: only plain keys are allowed (no merge keys)"],
    ),
    "a merge key": (
        HEAD + "training: {<<: {epochs: 3}}\n",
        ["spec.yaml:4:12: training: only plain keys are allowed (no merge keys)"],
    ),
    "a nested duplicate key": (
        HEAD + "gate:\n  min_f1: 0.5\n  min_f1: 0.1\n",
        ["spec.yaml:6:3: gate.min_f1: duplicate key (first defined on line 5)"],
    ),
    "a python tag": (
        HEAD + "training: !!python/object/apply:os.system ['true']\n",
        [
            "spec.yaml:4:11: training: tag 'tag:yaml.org,2002:python/object/apply:os.system' "
            "is not allowed"
        ],
    ),
    "a python name tag": (
        HEAD + "name2: !!python/name:os.system ''\n",
        ["spec.yaml:4:8: name2: tag 'tag:yaml.org,2002:python/name:os.system' is not allowed"],
    ),
    "a local tag": (
        HEAD + "training: !include other.yaml\n",
        ["spec.yaml:4:11: training: tag '!include' is not allowed"],
    ),
    "a binary value": (
        HEAD + "training: {seed: !!binary aGVsbG8=}\n",
        ["spec.yaml:4:18: training.seed: tag 'tag:yaml.org,2002:binary' is not allowed"],
    ),
    "a timestamp": (
        HEAD + "training: {seed: 2024-01-01}\n",
        ["spec.yaml:4:18: training.seed: tag 'tag:yaml.org,2002:timestamp' is not allowed"],
    ),
    "a set": (
        HEAD + "training: !!set {a, b}\n",
        ["spec.yaml:4:11: training: tag 'tag:yaml.org,2002:set' is not allowed"],
    ),
    "cohorts as a mapping": (
        HEAD + "cohorts: {id: a}\n",
        ["spec.yaml:4:10: cohorts: expected list, got dict {'id': 'a'}"],
    ),
    "a cohort as a string": (
        HEAD + "cohorts: [alpha]\n",
        ["spec.yaml:4:11: cohorts[0]: expected mapping, got str 'alpha'"],
    ),
    "a cohort without an id": (
        HEAD + "cohorts: [{training: {seed: 1}}]\n",
        ["spec.yaml:4:11: cohorts[0].id: required key is missing"],
    ),
    "a cohort overriding the gate": (
        HEAD + "cohorts: [{id: a, gate: {min_f1: 0.1}}]\n",
        ["spec.yaml:4:19: cohorts[0].gate: unknown key; known keys: id, training, data, model"],
    ),
    "a cohort override with a wrong type": (
        HEAD + "cohorts: [{id: a, model: [1]}]\n",
        ["spec.yaml:4:26: cohorts[0].model: expected mapping, got list [1]"],
    ),
    "a cohort override out of range": (
        HEAD + "cohorts:\n  - id: a\n  - id: b\n    training: {batch_size: 0}\n",
        ["spec.yaml:7:28: cohorts[1].training.batch_size: 0 is below the minimum 1"],
    ),
    "sklearn estimator outside sklearn": (
        "version: 1\nname: demo\nmodel: {type: sklearn, estimator: os.system}\n",
        [
            "spec.yaml:3:35: model.estimator: 'os.system' is outside the allowed module "
            "prefixes (sklearn.)"
        ],
    ),
    "sklearn estimator that is not a path": (
        "version: 1\nname: demo\nmodel: {type: sklearn, estimator: 'sklearn.svm.SVC()'}\n",
        [
            "spec.yaml:3:35: model.estimator: 'sklearn.svm.SVC()' is not an import path like "
            "sklearn.svm.SVC"
        ],
    ),
    "sklearn function, not a class": (
        "version: 1\nname: demo\n"
        "model: {type: sklearn, estimator: sklearn.datasets.fetch_openml}\n",
        [
            "spec.yaml:3:35: model.estimator: 'sklearn.datasets.fetch_openml' is not a "
            "scikit-learn estimator"
        ],
    ),
    "sklearn meta-estimator needing estimators": (
        "version: 1\nname: demo\n"
        "model: {type: sklearn, estimator: sklearn.ensemble.StackingClassifier}\n",
        ["spec.yaml:3:35: model.estimator: StackingClassifier needs the parameter(s) estimators"],
    ),
    "sklearn regressor": (
        "version: 1\nname: demo\n"
        "model: {type: sklearn, estimator: sklearn.linear_model.LinearRegression}\n",
        [
            "spec.yaml:3:35: model.estimator: 'sklearn.linear_model.LinearRegression' is not a "
            "scikit-learn classifier"
        ],
    ),
}


@pytest.mark.parametrize("case", WRONG_VALUES)
def test_a_wrong_value_is_named_at_its_key_and_line(write_spec: SpecWriter, case: str) -> None:
    text, expected = WRONG_VALUES[case]
    assert problems(write_spec, text) == expected


def test_every_problem_of_a_file_is_reported_in_one_error(write_spec: SpecWriter) -> None:
    text = (
        "version: 1\nname: Demo\nmodel: {type: logistic, params: {C: -1}}\n"
        "training: {epochs: 0, seed: yes}\ndata: {samples: 5, source: csv}\n"
        "gate: {min_f1: 2}\nsla: {p95_ms: -1}\n"
    )
    assert problems(write_spec, text) == [
        "spec.yaml:2:7: name: 'Demo' must match ^[a-z0-9][a-z0-9_.-]*$ (lowercase letters, "
        "digits, _ . -)",
        "spec.yaml:3:37: model.params.C: -1 must be above 0.0",
        "spec.yaml:4:20: training.epochs: 0 is below the minimum 1",
        "spec.yaml:4:29: training.seed: 'yes' is a YAML 1.1 boolean; write true or false, or "
        "quote it",
        "spec.yaml:5:17: data.samples: 5 is below the minimum 10",
        "spec.yaml:6:16: gate.min_f1: 2 is above the maximum 1.0",
        "spec.yaml:7:15: sla.p95_ms: -1 must be above 0.0",
    ]


# --- aliases that loop or nest, tags on text they cannot read, YAML 1.1 numbers --------------


def test_an_alias_inside_its_own_anchor_is_a_cycle_not_a_recursion_error(
    write_spec: SpecWriter,
) -> None:
    started = time.monotonic()
    found = problems(write_spec, HEAD + "training: &a [*a, *a]\n")
    assert time.monotonic() - started < 5
    assert found == [
        "spec.yaml:4:11: training[0]: the value contains itself through an alias",
        "spec.yaml:4:11: training[1]: the value contains itself through an alias",
    ]


def test_a_chain_of_anchors_nesting_thousands_deep_is_refused(write_spec: SpecWriter) -> None:
    """Each anchor is one level deeper than the last, written where it is never built (under a
    refused tag), so only the last alias expands: 3000 levels from a few lines."""
    chain = [f"  - &a{i} [{f'*a{i - 1}' if i else 1}]" for i in range(3000)]
    text = HEAD + "hidden: !x\n" + "\n".join(chain) + "\ntraining: *a2999\n"
    started = time.monotonic()
    found = problems(write_spec, text)
    assert time.monotonic() - started < 5
    path = "training" + "[0]" * MAX_DEPTH
    line = 5 + 2999 - MAX_DEPTH  # the anchor whose value is the first one too deep
    assert f"spec.yaml:{line}:5: {path}: nested more than {MAX_DEPTH} levels deep" in found


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('!!int "abc"', "'abc' is not a valid !!int"),
        ('!!int ""', "'' is not a valid !!int"),
        ("!!int _", "'_' is not a valid !!int"),
        ('!!float "abc"', "'abc' is not a valid !!float"),
        ('!!bool "abc"', "'abc' is not a valid !!bool; write true or false"),
        ('!!map "abc"', "tag !!map does not fit a plain value"),
        ("!!map [1]", "tag !!map does not fit a sequence"),
        ("!!seq {a: 1}", "tag !!seq does not fit a mapping"),
        ("!!str [1]", "tag !!str does not fit a sequence"),
    ],
)
def test_a_core_tag_on_a_value_it_cannot_read_is_located(
    write_spec: SpecWriter, value: str, message: str
) -> None:
    assert problems(write_spec, HEAD + f"training: {{epochs: {value}}}\n") == [
        f"spec.yaml:4:20: training.epochs: {message}"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1:30", "'1:30' is a YAML 1.1 sexagesimal number (read as 90); write 90, or quote it"),
        ("-1:30", "'-1:30' is a YAML 1.1 sexagesimal number (read as -90); write -90, or quote it"),
        (
            "1:30.5",
            "'1:30.5' is a YAML 1.1 sexagesimal number (read as 90.5); write 90.5, or quote it",
        ),
        (
            "010",
            "'010' is a YAML 1.1 octal number (read as 8); write 10 without the leading zero "
            "or 8 for the octal value, or quote it",
        ),
        (
            "-0_10",
            "'-0_10' is a YAML 1.1 octal number (read as -8); write -10 without the leading "
            "zero or -8 for the octal value, or quote it",
        ),
        (
            '!!int "010"',
            "'010' is a YAML 1.1 octal number (read as 8); write 10 without the leading zero "
            "or 8 for the octal value, or quote it",
        ),
    ],
)
def test_yaml_11_number_forms_are_refused_saying_what_to_write(
    write_spec: SpecWriter, value: str, message: str
) -> None:
    assert problems(write_spec, HEAD + f"training: {{epochs: {value}}}\n") == [
        f"spec.yaml:4:20: training.epochs: {message}"
    ]


def test_decimal_and_hex_numbers_are_still_read(write_spec: SpecWriter) -> None:
    text = HEAD + "training: {epochs: 0x10, batch_size: 1_000, seed: 0}\n"
    training = load_spec(write_spec(text.encode())).cohorts[0].config.training
    assert (training.epochs, training.batch_size, training.seed) == (16, 1000, 0)
