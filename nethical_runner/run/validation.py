"""Rules that a spec file cannot decide alone: the cohorts' data files and slice columns.

A data file that is missing or lacks a declared column, a ``chunk_rows`` for a model that
cannot train from chunks, a slice on a column the data cannot have: each is a spec error with
a line, not a surprise after training. Data files are judged by their header only (see
:mod:`nethical_runner.data.declared`). Slice columns are known without reading data for
synthetic rows (the generator's names) and for tables that list their ``features``; other
tables are checked once read.
"""

from __future__ import annotations

import difflib

from nethical_runner._words import cohort_named
from nethical_runner.data import synthetic
from nethical_runner.data.declared import declared_data_problems
from nethical_runner.models import REGISTRY, TrainsFromChunks
from nethical_runner.spec.loader import Cohort, Spec
from nethical_runner.spec.yaml_source import KeyPath


def data_problems(spec: Spec) -> list[tuple[KeyPath, str]]:
    """Each cohort's data section against the file system and the model, as (key path,
    message); a problem of the base spec's data that every cohort shares is given once, at the
    key where it is written (a cohort's override, or the base)."""
    problems: list[tuple[KeyPath, str]] = []
    judged: dict[str, list[tuple[KeyPath, str]]] = {}  # cohorts sharing a data section
    for cohort in spec.cohorts:
        data = cohort.config.data
        section = data.model_dump_json()
        if section not in judged:  # its file's header read once, however many cohorts
            judged[section] = declared_data_problems(data, spec.root)
        found = list(judged[section])
        chunk_rows = data.chunk_rows
        if chunk_rows and not isinstance(cohort.model, TrainsFromChunks):
            found.append(((data.source, "chunk_rows"), _cannot_stream(cohort)))
        for key, message in found:
            located = _written_at(spec, cohort, ("data", *key))
            if (located, message) not in problems:
                problems.append((located, message))
    return problems


def _cannot_stream(cohort: Cohort) -> str:
    able = sorted(name for name, kind in REGISTRY.items() if issubclass(kind, TrainsFromChunks))
    return (
        f"{cohort.model.type_name} cannot train from chunks (types that can: "
        f"{', '.join(able)}); drop chunk_rows to load the whole table"
    )


def _written_at(spec: Spec, cohort: Cohort, key: KeyPath) -> KeyPath:
    """Where ``key`` of a cohort's merged configuration is written: in the cohort's override
    when the deepest written part of it is there, else in the base spec."""
    marks = spec.document.marks
    for cut in range(len(key), 0, -1):
        if cohort.origin and (*cohort.origin, *key[:cut]) in marks:
            return (*cohort.origin, *key)
        if key[:cut] in marks:
            return key
    return key


def slice_column_problems(spec: Spec) -> list[tuple[KeyPath, str]]:
    """Each slice whose column a cohort's data cannot have, as (key path, message)."""
    problems: list[tuple[KeyPath, str]] = []
    for index, declared in enumerate(spec.slices):
        problem = _column_problem(declared.where.column, spec)
        if problem:
            problems.append((("slices", index, "where", "column"), problem))
    return problems


def _column_problem(column: str, spec: Spec) -> str | None:
    for cohort in spec.cohorts:
        names = known_feature_names(cohort)
        if names is not None and column not in names:
            close = difflib.get_close_matches(column, names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"features: {', '.join(names)}"
            return f"{column!r} is not a feature of {cohort_named(cohort.id)}'s data ({hint})"
    return None


def known_feature_names(cohort: Cohort) -> tuple[str, ...] | None:
    """The feature columns a cohort will train on, when known without reading data: the
    synthetic generator's names for its model, or the listed ``features`` of a table. None
    otherwise (the columns are then checked when the data is loaded)."""
    data = cohort.config.data
    table = data.kaggle if data.source == "kaggle" else data.table
    if table is not None:
        return tuple(table.features) if table.features else None
    return synthetic.feature_names(cohort.model.synthetic_kind(cohort.model.params))
