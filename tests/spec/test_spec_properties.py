"""Property tests of the spec loader: generated specs load, mutated specs fail *well*.

Whatever a pull request puts into a spec file, ``load_spec`` either returns a validated spec or
raises ``SpecError`` whose every problem names the file, a line inside it and a key path; it
never raises anything else and never takes long. Three generators attack it:

* valid specs, written out by a small emitter that records the line of every key, must load and
  keep their values;
* the same specs with one value replaced by junk, a key deleted or an unknown key added must
  fail at the mutated key, on the line where the mutation was written;
* the YAML text with random edits (brackets, anchors, tabs, NUL bytes, cut lines) and plain
  random bytes must end in a located ``SpecError`` or a valid spec.

Each property runs a few dozen examples in the default run and a thousand or more under
``-m slow``; a per-example deadline turns a hang into a failure.
"""

from __future__ import annotations

import importlib
import re
import tempfile
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nethical_runner.spec import Spec, SpecError, load_spec
from nethical_runner.spec.yaml_source import KeyPath, format_key

BUDGETS = [
    pytest.param(40, id="quick"),
    pytest.param(1500, id="thorough", marks=pytest.mark.slow),
]
DEADLINE = timedelta(seconds=3)
GATE_KEYS = ["max_ece", "min_accuracy", "min_precision", "min_recall", "min_f1", "min_auc"]
GATE_KEYS += ["max_brier"]
MODEL_TYPES = ["heuristic", "logistic", "simple_transformer", "anomaly", "correlation"]
# Estimator paths a hostile or careless spec might name; imported up front (see ``warm``) so
# that the first example to name one is not charged with scikit-learn's import time.
ESTIMATORS = [
    "sklearn.linear_model.LogisticRegression",
    "sklearn.ensemble.StackingClassifier",
    "sklearn.ensemble.VotingClassifier",
    "sklearn.linear_model.LinearRegression",
    "sklearn.datasets.fetch_openml",
    "sklearn.svm",
    "sklearn..svm.SVC",
    "os.system",
    "builtins.eval",
    "subprocess.Popen",
]
NASTY = [
    None, True, False, 0, -1, 2**64, 10**50, 1e308, -1e-320, float("nan"), float("inf"), "",
    "yes", "on", "~", "null", "sklearn", "../../etc/passwd", "/etc/passwd", "a" * 300,
    *ESTIMATORS, [], {}, [None], {"": None}, {"type": "sklearn", "estimator": ESTIMATORS[1]},
]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def warm() -> None:
    for path in ESTIMATORS:
        with suppress(Exception):
            importlib.import_module(path.rpartition(".")[0])


def check_settings(budget: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=budget,
        deadline=DEADLINE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- valid specs --------------------------------------------------------------------------------

names = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,30}", fullmatch=True)
probability = st.floats(0.0, 1.0)


@st.composite
def sla_sections(draw: st.DrawFn) -> dict[str, Any]:
    ordered = sorted(draw(st.lists(st.floats(0.001, 1e6), min_size=4, max_size=4)))
    keys = ("p50_ms", "p95_ms", "p99_ms", "max_ms")
    chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=4))
    section: dict[str, Any] = {key: ordered[keys.index(key)] for key in keys if key in chosen}
    section.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "avg_ms": st.floats(0.001, 1e6),
                    "scope": st.sampled_from(["inference", "stages"]),
                    "calls": st.integers(10, 1_000_000),
                    "warmup": st.integers(0, 1_000_000),
                    "batch_size": st.integers(1, 1_000_000),
                    "warn_margin": st.floats(0.0, 10.0),
                    "on_breach": st.sampled_from(["fail", "warn"]),
                    "confidence": st.floats(0.0, 1.0, exclude_min=True, exclude_max=True),
                },
            )
        )
    )
    return section


training = st.fixed_dictionaries(
    {},
    optional={
        "epochs": st.integers(1, 100_000),
        "batch_size": st.integers(1, 10_000_000),
        "seed": st.integers(0, 2**32 - 1),
    },
)
split = st.fixed_dictionaries(
    {},
    optional={
        "train_fraction": st.floats(0.0, 1.0, exclude_min=True, exclude_max=True),
        "method": st.sampled_from(["temporal", "stratified"]),
    },
)
data = st.fixed_dictionaries(
    {},
    optional={
        "source": st.just("synthetic"),
        "samples": st.integers(10, 100_000_000),
        "label_noise": st.floats(0.0, 0.5),
        "seed": st.integers(0, 2**32 - 1),
        "split": split,
    },
)
sections = {
    "training": training,
    "data": data,
    "metrics": st.fixed_dictionaries(
        {},
        optional={
            "ece_bins": st.integers(1, 1000),
            "ece_confidence": st.sampled_from(["positive", "top_label"]),
            "decision_threshold": probability,
        },
    ),
    "gate": st.fixed_dictionaries(
        {},
        optional={key: probability for key in GATE_KEYS},
    ),
    "sla": sla_sections(),
    "audit": st.fixed_dictionaries(
        {}, optional={"enabled": st.booleans(), "chunk_size": st.integers(1, 1_000_000)}
    ),
    "cohorts": st.lists(
        st.fixed_dictionaries({"id": names}, optional={"training": training}),
        min_size=1,
        max_size=4,
        unique_by=lambda cohort: cohort["id"],
    ),
}


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "version": 1,
        "name": draw(names),
        "model": {"type": draw(st.sampled_from(MODEL_TYPES))},
    }
    for key in draw(st.lists(st.sampled_from(list(sections)), unique=True)):
        spec[key] = draw(sections[key])
    return spec


# --- writing specs with known lines -------------------------------------------------------------


def flow(value: Any) -> str:
    """One-line YAML for ``value`` (PyYAML's own quoting and float spelling)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=2**31, allow_unicode=False)
    return text.removesuffix("\n...\n").rstrip("\n")


Lines = dict[KeyPath, int]


def emit(spec: dict[str, Any], inline: set[KeyPath] | None = None) -> tuple[str, Lines]:
    """Block YAML of ``spec`` and the line each key path is written on; values at ``inline``
    paths are written in flow style on their key's line."""
    inline = inline or set()
    lines: list[str] = []
    line_of: Lines = {}

    def mapping(node: dict[str, Any], indent: int, path: KeyPath) -> None:
        for key, value in node.items():
            here = (*path, key)
            line_of[here] = len(lines) + 1
            prefix = " " * indent + f"{flow(key)}:"
            if here in inline or not isinstance(value, dict | list) or not value:
                lines.append(f"{prefix} {flow(value)}")
            elif isinstance(value, dict):
                lines.append(prefix)
                mapping(value, indent + 2, here)
            else:
                lines.append(prefix)
                for index, item in enumerate(value):
                    line_of[(*here, index)] = len(lines) + 1
                    lines.append(" " * (indent + 2) + f"- {flow(item)}")

    mapping(spec, 0, ())
    return "\n".join(lines) + "\n", line_of


def write(directory: Path, content: str | bytes) -> Path:
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".yaml", delete=False) as handle:
        handle.write(content.encode("utf-8") if isinstance(content, str) else content)
    return Path(handle.name)


def yaml_lines(raw: bytes) -> int:
    """Lines as YAML counts them: CR, LF, CRLF, NEL and the Unicode separators end a line."""
    text = raw.decode("utf-8", "replace")
    return len(re.split("\r\n|[\r\n\x85\u2028\u2029]", text))


def load_or_problems(path: Path) -> Spec | SpecError:
    """``load_spec``'s result, checking the one contract every outcome must keep."""
    lines = yaml_lines(path.read_bytes())
    try:
        return load_spec(path)
    except SpecError as error:
        assert error.problems, "a SpecError names at least one problem"
        for problem in error.problems:
            assert problem.path == path
            assert 1 <= problem.mark.line <= lines, (problem, lines)
            assert problem.mark.column >= 1
            assert isinstance(problem.key, str)
            text = str(problem)
            assert "\n" not in text and text.startswith(f"{path}:{problem.mark.line}:")
        return error


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("specs")


# --- properties --------------------------------------------------------------------------------


@pytest.mark.parametrize("budget", BUDGETS)
def test_generated_valid_specs_load_with_their_values(folder: Path, budget: int) -> None:
    @check_settings(budget)
    @given(valid_specs())
    def check(spec: dict[str, Any]) -> None:
        text, _ = emit(spec)
        loaded = load_or_problems(write(folder, text))
        assert isinstance(loaded, Spec), f"{loaded}\n---\n{text}"
        assert loaded.name == spec["name"]
        declared = [cohort["id"] for cohort in spec.get("cohorts", [])] or ["default"]
        assert [cohort.id for cohort in loaded.cohorts] == declared
        config = loaded.cohorts[0].config.model_dump()
        overrides = spec.get("cohorts", [{}])[0].get("training", {})
        for section in ("training", "data", "metrics", "gate", "sla", "audit"):
            declared = spec.get(section, {}) | (overrides if section == "training" else {})
            for key, value in declared.items():
                if key == "split":
                    assert config[section]["split"] | value == config[section]["split"]
                else:
                    assert config[section][key] == value, (section, key)

    check()


def mutation_targets(spec: dict[str, Any]) -> list[KeyPath]:
    paths: list[KeyPath] = []

    def walk(node: Any, path: KeyPath) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append((*path, key))
                walk(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                paths.append((*path, index))
                walk(value, (*path, index))

    walk(spec, ())
    return paths


def junk() -> st.SearchStrategy[Any]:
    text = st.text(
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=12
    )  # line breaks would move the lines the emitter recorded
    leaves = (
        st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | text
        | st.sampled_from(NASTY)
    )  # fmt: skip
    keys = text | st.sampled_from(["epochs", "type", "params", "id", "min_f1", "p95_ms"])

    def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3)

    return st.recursive(leaves, containers, max_leaves=8)


def get(spec: Any, path: KeyPath) -> Any:
    for part in path:
        spec = spec[part]
    return spec


@pytest.mark.parametrize("budget", BUDGETS)
def test_a_mutated_spec_fails_at_the_mutated_key_and_line(folder: Path, budget: int) -> None:
    @check_settings(budget)
    @given(valid_specs(), st.data())
    def check(spec: dict[str, Any], data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(mutation_targets(spec)), label="path")
        operation = data.draw(st.sampled_from(["replace", "delete", "add key"]), label="op")
        parent, last = get(spec, path[:-1]), path[-1]
        if operation == "replace":
            parent[last] = data.draw(junk(), label="value")
            mutated: KeyPath | None = path
        elif operation == "delete" or not isinstance(get(spec, path), dict):
            if isinstance(parent, list) and len(parent) == 1:
                return  # an empty cohort list is written as [] in flow style, not deleted
            del parent[last]
            mutated = None
        else:
            name = data.draw(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), label="key")
            if name in get(spec, path):
                return
            get(spec, path)[name] = data.draw(junk(), label="value")
            mutated = (*path, name)
        text, line_of = emit(spec, inline={mutated} if mutated else set())
        outcome = load_or_problems(write(folder, text))
        if isinstance(outcome, Spec):
            return  # the junk happened to be valid (a number in range, a deleted optional key)
        top = format_key(path[:1])
        keys = [problem.key for problem in outcome.problems]
        assert any(key == top or key.startswith((f"{top}.", f"{top}[")) for key in keys), (
            f"no problem under {top!r}: {keys}\n---\n{text}"
        )
        if mutated is None:
            return
        shown = format_key(mutated)
        written = next(line_of[mutated[:cut]] for cut in range(len(mutated), 0, -1)
                       if mutated[:cut] in line_of)  # fmt: skip
        for problem in outcome.problems:
            if problem.key == shown or problem.key.startswith((f"{shown}.", f"{shown}[")):
                assert problem.mark.line == written, f"{problem}\n---\n{text}"

    check()


EDIT_CHARACTERS = "[]{}:,-&*!|>'\"#%@?\t\n \x00\x1b\x85\u2028\ufeffé"


@pytest.mark.parametrize("budget", BUDGETS)
def test_randomly_edited_yaml_text_fails_with_located_problems(folder: Path, budget: int) -> None:
    @check_settings(budget)
    @given(valid_specs(), st.data())
    def check(spec: dict[str, Any], data: st.DataObject) -> None:
        text, _ = emit(spec)
        for _ in range(data.draw(st.integers(1, 4), label="edits")):
            at = data.draw(st.integers(0, len(text)), label="at")
            kind = data.draw(st.sampled_from(["insert", "delete", "duplicate line", "cut"]))
            if kind == "insert":
                piece = data.draw(st.text(st.sampled_from(EDIT_CHARACTERS), min_size=1, max_size=6))
                text = text[:at] + piece + text[at:]
            elif kind == "delete":
                text = text[:at] + text[at + data.draw(st.integers(1, 10)) :]
            elif kind == "duplicate line":
                lines = text.splitlines(keepends=True)
                if lines:
                    index = data.draw(st.integers(0, len(lines) - 1))
                    lines.insert(index, lines[index])
                text = "".join(lines)
            else:
                text = text[:at]
        load_or_problems(write(folder, text))

    check()


@pytest.mark.parametrize("budget", BUDGETS)
def test_random_bytes_fail_with_located_problems(folder: Path, budget: int) -> None:
    @check_settings(budget)
    @given(st.binary(max_size=4000) | st.binary(max_size=400).map(b"version: 1\n".__add__))
    def check(raw: bytes) -> None:
        load_or_problems(write(folder, raw))

    check()


@pytest.mark.parametrize("budget", BUDGETS)
def test_anchors_and_aliases_anywhere_stay_bounded(folder: Path, budget: int) -> None:
    """Aliases to any section, nested in any section, many times over: the node count stops
    the expansion, and the file still fails (or loads) quickly with located problems."""

    @check_settings(max(budget // 5, 20))  # each example composes up to 20,000 nodes
    @given(valid_specs(), st.integers(1, 12), st.integers(2, 30), st.data())
    def check(spec: dict[str, Any], levels: int, fan: int, data: st.DataObject) -> None:
        text, _ = emit(spec)
        lines = [f"x0: &x0 [{', '.join(['0'] * fan)}]"]
        lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * fan)}]" for i in range(1, levels)]
        where = data.draw(st.sampled_from(["training", "gate", "cohorts", "bomb"]))
        if where != "bomb":
            lines.append(f"{where}2: *x{levels - 1}")
        load_or_problems(write(folder, text + "\n".join(lines) + "\n"))

    check()
