"""Load a spec file into validated, per-cohort run configurations.

Validation runs at collection, before anything trains, and reports every problem of a file at
once, each as ``file:line:col: key.path: message``. Cohort overrides are merged into the base
spec and validated as a whole, and an error inside an override points at the override's line.
A layer above adds the rules that need more than the spec as :data:`SpecRule` functions, whose
problems are reported with the file's own (see :mod:`nethical_runner.run.loading`).
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError

from nethical_runner._escape import brief, clip, terminal
from nethical_runner.models import REGISTRY, Model, build_model
from nethical_runner.models.sklearn_estimator import DEFAULT_ALLOWED_PREFIXES, EstimatorError
from nethical_runner.spec.config import DriftConfig, RunConfig, SliceConfig, SpecDocument
from nethical_runner.spec.drift_rules import drift_problems
from nethical_runner.spec.ignored_settings import ignored_settings
from nethical_runner.spec.yaml_source import (
    Document,
    KeyPath,
    Mark,
    Problem,
    SpecSyntaxError,
    format_key,
    read_spec_bytes,
    read_yaml,
)

DEFAULT_COHORT = "default"
SPEC_LEVEL_KEYS = ("cohorts", "slices", "drift")  # about all cohorts, not part of any one


class SpecError(Exception):
    """Every problem found in one spec file."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.mark.line, p.mark.column, p.key))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Cohort:
    """One training run of a spec: its id and its fully merged configuration."""

    id: str
    config: RunConfig
    origin: KeyPath  # where the cohort is declared, () for the implicit default cohort
    model: Model  # untrained, built (and so validated) once at collection

    def new_model(self) -> Model:
        """A fresh, untrained copy for one run: models learn in place."""
        return type(self.model)(self.model.params)


@dataclass(frozen=True)
class Spec:
    """A validated spec file."""

    path: Path
    name: str
    cohorts: tuple[Cohort, ...]
    document: Document
    sha256: str
    estimator_prefixes: tuple[str, ...] = DEFAULT_ALLOWED_PREFIXES
    root: Path = field(default_factory=Path.cwd)  # data paths are relative to it
    drift: DriftConfig | None = None
    slices: tuple[SliceConfig, ...] = ()
    # Valid keys that change nothing (see nethical_runner.spec.ignored_settings), located.
    warnings: tuple[Problem, ...] = ()

    def mark_of(self, key: KeyPath) -> Mark:
        return self.document.mark_of(key)

    def cohort(self, cohort_id: str) -> Cohort:
        return next(c for c in self.cohorts if c.id == cohort_id)


SpecRule = Callable[[Spec], Iterable[tuple[KeyPath, str]]]
"""A rule checked once a spec is otherwise valid: its problems as (key path, message)."""


@dataclass(frozen=True)
class _Context:
    """What every check of one file needs to turn a key path into a located problem."""

    path: Path
    document: Document
    estimator_prefixes: tuple[str, ...]

    def problem(
        self, key: KeyPath, message: str, detail: Any = None, *, at_key: bool = False
    ) -> Problem:
        """A located problem; an unknown key points at the key, anything else at the value."""
        at_key = at_key or (detail is not None and detail["type"] == "extra_forbidden")
        doc = self.document
        mark = doc.key_mark_of(key) if at_key else doc.mark_of(key)
        return Problem(self.path, mark, format_key(key), message)


def load_spec(
    path: Path,
    estimator_prefixes: tuple[str, ...] = DEFAULT_ALLOWED_PREFIXES,
    root: Path | None = None,
    rules: Sequence[SpecRule] = (),
) -> Spec:
    """Read and validate ``path``; raise :class:`SpecError` with every problem found.

    ``estimator_prefixes`` are the module prefixes a ``sklearn`` model may import from, and
    ``root`` the project root that data paths are relative to (the working directory when
    absent): the caller's configuration decides both, never the spec. ``rules`` are checked
    too, once the spec is otherwise valid.
    """
    name_problem = file_name_problem(path)
    if name_problem is not None:
        raise SpecError([name_problem])
    try:
        raw = read_spec_bytes(path)  # once, bounded: the hash is of the bytes that were parsed
        document = read_yaml(path, raw)
    except OSError as error:
        raise SpecError([Problem(path, Mark(1, 1), "", f"cannot read: {error.strerror}")]) from None
    except SpecSyntaxError as error:
        raise SpecError(error.problems) from None
    digest = hashlib.sha256(raw).hexdigest()
    return build_spec(path, document, digest, estimator_prefixes, root or Path.cwd(), rules)


def file_name_problem(path: Path) -> Problem | None:
    """A spec's file name is shown in every message, record and audit event about it, so it
    must read the same on a terminal: UTF-8 (a Linux name can be any bytes, which no audit
    event, JSON string or markdown file can hold), printable, and no workflow command. Such a
    file is refused, named with its odd characters as escapes (``bad\\xff.yaml``)."""
    written = os.fspath(path)
    shown = terminal(written)
    if shown == written:
        return None
    message = "the file name is not printable UTF-8 text (shown with escapes); rename the file"
    return Problem(Path(shown), Mark(1, 1), "", message)


def build_spec(
    path: Path,
    document: Document,
    sha256: str,
    estimator_prefixes: tuple[str, ...] = DEFAULT_ALLOWED_PREFIXES,
    root: Path | None = None,
    rules: Sequence[SpecRule] = (),
) -> Spec:
    """Validate an already parsed document (also used by the CLI for flag-built specs)."""
    data = document.data
    if not isinstance(data, dict):
        problem = Problem(path, Mark(1, 1), "", "a spec must be a mapping of keys")
        raise SpecError([*document.problems, problem])
    context = _Context(path, document, estimator_prefixes)
    problems = _with_boolean_hints(document)
    parsed = _validate(SpecDocument, data, (), context, problems)
    base = {key: value for key, value in data.items() if key not in SPEC_LEVEL_KEYS}
    declared = _declared_cohorts(data)
    # Each cohort's model is built once here, and kept: it is what the cohort will train
    # (a fresh copy per run). Without declared cohorts the base is the one cohort.
    base_model = None if declared else _check_model(base, (), context, problems)
    cohorts: list[Cohort] = []
    first_use: dict[str, int] = {}
    for index, override in declared:
        origin: KeyPath = ("cohorts", index)
        cohort_id = override["id"]
        if cohort_id in first_use:
            first = first_use[cohort_id]
            message = f"duplicate cohort id {brief(cohort_id)} (first used by cohorts[{first}])"
            problems.append(context.problem((*origin, "id"), message))
            continue
        first_use[cohort_id] = index
        merged = _merge(base, {k: v for k, v in override.items() if k != "id"})
        found: list[Problem] = []
        config = _validate(RunConfig, merged, origin, context, found)
        model = _check_model(merged, origin, context, found)
        if config is not None:
            _check_consistency(config, origin, context, found)
        problems.extend(p for p in found if p not in problems)
        if config is not None and model is not None and not found:
            cohorts.append(Cohort(cohort_id, config, origin, model))
    if problems or parsed is None:
        raise SpecError(problems)
    if not parsed.cohorts:
        config = RunConfig.model_validate(base)
        _check_consistency(config, (), context, problems)
        if problems or base_model is None:
            raise SpecError(problems)
        cohorts.append(Cohort(DEFAULT_COHORT, config, (), base_model))
    spec = Spec(
        path, parsed.name, tuple(cohorts), document, sha256, estimator_prefixes,
        root or Path.cwd(), parsed.drift, tuple(parsed.slices),
        tuple(ignored_settings(path, document, cohorts)),
    )  # fmt: skip
    across = drift_problems(spec.drift, spec.slices, len(spec.cohorts))
    for rule in rules:
        across.extend(rule(spec))
    if across:
        raise SpecError([context.problem(key, message) for key, message in across])
    return spec


def _with_boolean_hints(document: Document) -> list[Problem]:
    """The document's problems, a refused YAML 1.1 boolean told in the terms of its key: the
    values a choice takes (``on_breach: yes`` -> fail or warn), or to quote a text; "write
    true or false" only where the key takes a boolean."""
    by_key = {format_key(key): key for key in document.yaml11_booleans}
    problems = []
    for problem in document.problems:
        key = by_key.get(problem.key) if problem.key else None
        if key is not None:
            hint = _boolean_hint(key, document.yaml11_booleans[key])
            if hint:
                problem = Problem(problem.path, problem.mark, problem.key, hint)
        problems.append(problem)
    return problems


def _boolean_hint(key: KeyPath, written: str) -> str | None:
    """What to write instead of a YAML 1.1 boolean at ``key``; None to keep "true or false"."""
    if len(key) >= 2 and key[0] == "cohorts" and isinstance(key[1], int):
        annotation = _annotation(RunConfig, key[2:])  # an override is the base spec's shape
    else:
        annotation = _annotation(SpecDocument, key)
    read = f"{brief(written)} is read as a boolean (YAML 1.1)"
    choices = [arg for arg in _literal_args(annotation) if isinstance(arg, str)]
    if choices:
        listed = ", ".join(repr(c) for c in choices[:-1]) + f" or {choices[-1]!r}"
        if len(choices) == 1:
            listed = repr(choices[0])
        return f"{read}; {key[-1]} takes {listed}"
    kinds = set(get_args(annotation)) or {annotation}
    if str in kinds:
        return f"{read}; quote it to mean the text"
    return None


def _annotation(model: type[BaseModel], loc: KeyPath) -> Any:
    """The type of the field at ``loc`` inside ``model`` (None when it is not a field)."""
    current: Any = model
    annotation: Any = None
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a list: the list's model, unwrapped below
        model_class = _unwrap(current)
        if not _is_model(model_class):
            return None
        found = next(
            (f for n, f in model_class.model_fields.items() if (f.alias or n) == part), None
        )
        if found is None:
            return None
        annotation = current = found.annotation
    return annotation


def _literal_args(annotation: Any) -> tuple[Any, ...]:
    """The values of a ``Literal[...]`` (also inside ``X | None``), else ()."""
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    for arg in get_args(annotation):
        if get_origin(arg) is Literal:
            return get_args(arg)
    return ()


def _declared_cohorts(data: Mapping[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """Cohort entries well-formed enough to merge; the others are reported by the schema."""
    declared = data.get("cohorts")
    if not isinstance(declared, list):
        return []
    return [
        (index, entry)
        for index, entry in enumerate(declared)
        if isinstance(entry, dict) and isinstance(entry.get("id"), str)
    ]


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of mappings; an override's value replaces anything that is not a mapping."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validate(
    model: type[BaseModel],
    data: dict[str, Any],
    origin: KeyPath,
    context: _Context,
    problems: list[Problem],
) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        for detail in error.errors(include_url=False):
            loc = tuple(detail["loc"])
            message = _message(detail, model, loc)
            problems.append(context.problem(_located(context, origin, loc), message, detail))
        return None


def _check_model(
    config: Mapping[str, Any],
    origin: KeyPath,
    context: _Context,
    problems: list[Problem],
) -> Model | None:
    """Model parameters are validated by the chosen type itself (its pydantic parameter model,
    or scikit-learn's own checks for ``sklearn``)."""
    model = config.get("model")
    if not isinstance(model, Mapping) or not isinstance(model.get("type"), str):
        return None  # the schema already reports a missing type or one that is not a name
    if model["type"] not in REGISTRY:
        return None  # and an unknown one
    params, estimator = model.get("params", {}), model.get("estimator")
    if not isinstance(params, Mapping) or not isinstance(estimator, str | None):
        return None
    model_class = REGISTRY[model["type"]]
    try:
        return build_model(model["type"], dict(params), estimator, context.estimator_prefixes)
    except ValidationError as error:
        for detail in error.errors(include_url=False):
            loc = ("model", "params", *detail["loc"])
            message = _message(detail, model_class.Params, tuple(detail["loc"]))
            problems.append(context.problem(_located(context, origin, loc), message, detail))
    except EstimatorError as error:
        where = _located(context, origin, ("model", *error.key))
        problems.append(context.problem(where, str(error), at_key=error.unknown))
    except ValueError as error:
        where = _located(context, origin, ("model", "estimator"))
        problems.append(context.problem(where, str(error)))
    return None


def _check_consistency(
    config: RunConfig, origin: KeyPath, context: _Context, problems: list[Problem]
) -> None:
    """Rules that span several keys, checked once each key is valid on its own."""
    for key, message in config.data.consistency_problems():
        where = _located(context, origin, ("data", *key))
        problem = context.problem(where, message)
        if problem not in problems:
            problems.append(problem)


def _located(context: _Context, origin: KeyPath, loc: KeyPath) -> KeyPath:
    """Where ``loc`` of a cohort's merged config was written: in the override, or in the base."""
    return (*origin, *loc) if origin and (*origin, *loc) in context.document.marks else loc


def _message(detail: Any, model: type[BaseModel], loc: KeyPath) -> str:
    kind, ctx, value = detail["type"], detail.get("ctx", {}), detail.get("input")
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f"; known keys: {', '.join(known)}"
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    if kind == "less_than_equal":
        return f"{brief(value)} is above the maximum {ctx['le']!r}"
    if kind == "greater_than_equal":
        return f"{brief(value)} is below the minimum {ctx['ge']!r}"
    if kind == "less_than":
        return f"{brief(value)} must be below {ctx['lt']!r}"
    if kind == "greater_than":
        return f"{brief(value)} must be above {ctx['gt']!r}"
    if kind == "literal_error":
        return f"{brief(value)} is not one of {ctx['expected']}"
    if kind == "string_pattern_mismatch":
        return f"{brief(value)} must match {ctx['pattern']} (lowercase letters, digits, _ . -)"
    if kind == "too_short":
        return f"needs at least {ctx['min_length']} item(s), got {ctx['actual_length']}"
    if kind == "too_long":
        return f"takes at most {ctx['max_length']} item(s), got {ctx['actual_length']}"
    if kind in {"string_too_long", "string_too_short"}:
        return f"{brief(value)}: {detail['msg'].lower()}"
    if kind.endswith("_type"):
        expected = kind.removesuffix("_type")
        expected = {"dict": "mapping", "model": "mapping", "int": "integer"}.get(expected, expected)
        return f"expected {expected}, got {type(value).__name__} {brief(value)}"
    message = clip(str(detail["msg"]), 500)  # pydantic's own text may quote the input
    return message.removeprefix("Value error, ")


def _known_keys(model: type[BaseModel], loc: KeyPath) -> list[str]:
    """Field names of the section at ``loc`` inside ``model``, for "did you mean" hints."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if _is_model(current) else None
        if field is None:
            return []
        current = _unwrap(field.annotation)
    if not _is_model(current):
        return []
    return [field.alias or name for name, field in current.model_fields.items()]  # as written


def _unwrap(annotation: Any) -> Any:
    """The model class inside ``X | None`` or ``list[X]``."""
    for arg in (annotation, *get_args(annotation)):
        if _is_model(arg):
            return arg
        if get_origin(arg) is list:
            return _unwrap(get_args(arg)[0])
    return annotation


def _is_model(candidate: Any) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)
