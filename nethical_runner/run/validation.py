"""Rules that a spec file cannot decide alone: slice columns against the cohorts' data.

A slice on a column the data cannot have is a spec error with a line, not a surprise after
training. Columns are known without reading data for synthetic rows (the generator's names)
and for tables that list their ``features``; other tables are checked once read.
"""

from __future__ import annotations

import difflib

from nethical_runner._words import cohort_named
from nethical_runner.data import synthetic
from nethical_runner.spec.loader import Cohort, Spec
from nethical_runner.spec.yaml_source import KeyPath


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
    table = data.csv if data.source == "csv" else data.kaggle if data.source == "kaggle" else None
    if table is not None:
        return tuple(table.features) if table.features else None
    return synthetic.feature_names(cohort.model.synthetic_kind(cohort.model.params))
