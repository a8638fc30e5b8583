"""Rules across keys of the ``drift`` and ``slices`` sections, checked at collection.

Bounds with nothing to compare, duplicate slice ids, and slice columns that a cohort's data
cannot have are spec errors with a line, not surprises after training. Columns are known
without reading data for synthetic rows (the generator's names) and for tables that list
their ``features``; other tables are checked once read.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nethical_runner.data import synthetic
from nethical_runner.models import build_model
from nethical_runner.spec.config import DriftConfig, MetricBounds, RunConfig, SliceConfig
from nethical_runner.spec.yaml_source import KeyPath

if TYPE_CHECKING:
    from nethical_runner.spec.loader import Cohort


def _declares(bounds: MetricBounds | None) -> bool:
    return bounds is not None and bool(bounds.model_dump(exclude_none=True))


def drift_problems(
    drift: DriftConfig | None,
    slices: Sequence[SliceConfig],
    cohorts: Sequence[Cohort],
    estimator_prefixes: tuple[str, ...],
) -> list[tuple[KeyPath, str]]:
    """Rules across keys, as (key path, message): bounds with nothing to compare, duplicate
    slice ids, and slice columns that the cohorts' data cannot have (where the columns are
    known without reading any data)."""
    problems: list[tuple[KeyPath, str]] = []
    if drift is not None:
        if _declares(drift.max_spread) and len(cohorts) < 2 and drift.group is None:
            problems.append(
                (
                    ("drift", "max_spread"),
                    "compares cohorts, but the spec has only one; declare cohorts, or a "
                    "drift.group to compare with the cohorts of earlier runs",
                )
            )
        if _declares(drift.max_slice_spread) and not slices:
            problems.append((("drift", "max_slice_spread"), "compares slices; declare slices"))
    first_use: dict[str, int] = {}
    for index, declared in enumerate(slices):
        first = first_use.setdefault(declared.id, index)
        if first != index:
            message = f"duplicate slice id {declared.id!r} (first used by slices[{first}])"
            problems.append((("slices", index, "id"), message))
        problem = _column_problem(declared.where.column, cohorts, estimator_prefixes)
        if problem:
            problems.append((("slices", index, "where", "column"), problem))
    return problems


def _column_problem(
    column: str, cohorts: Sequence[Cohort], estimator_prefixes: tuple[str, ...]
) -> str | None:
    for cohort in cohorts:
        names = known_feature_names(cohort.config, estimator_prefixes)
        if names is not None and column not in names:
            close = difflib.get_close_matches(column, names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"features: {', '.join(names)}"
            return f"{column!r} is not a feature of cohort {cohort.id}'s data ({hint})"
    return None


def known_feature_names(
    config: RunConfig, estimator_prefixes: tuple[str, ...]
) -> tuple[str, ...] | None:
    """The feature columns a cohort will train on, when known without reading data: the
    synthetic generator's names, or the listed ``features`` of a table. None otherwise (the
    columns are then checked when the data is loaded)."""
    data = config.data
    table = data.csv if data.source == "csv" else data.kaggle if data.source == "kaggle" else None
    if table is not None:
        return tuple(table.features) if table.features else None
    try:
        model = build_model(
            config.model.type, config.model.params, config.model.estimator, estimator_prefixes
        )
    except Exception:  # reported by the model's own validation
        return None
    kind = model.synthetic_kind(model.params)
    return synthetic.generate(kind, 10, data.label_noise, 0)[2]
