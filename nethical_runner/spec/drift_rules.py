"""Rules across keys of the ``drift`` and ``slices`` sections that the spec alone decides.

Bounds with nothing to compare and duplicate slice ids are spec errors with a line, not
surprises after training. Whether a slice's column exists depends on the cohort's data, which
the spec layer does not read: the run layer adds that rule (:mod:`nethical_runner.run.validation`).
"""

from __future__ import annotations

from collections.abc import Sequence

from nethical_runner.spec.config import DriftConfig, MetricBounds, SliceConfig
from nethical_runner.spec.yaml_source import KeyPath


def drift_problems(
    drift: DriftConfig | None, slices: Sequence[SliceConfig], cohort_count: int
) -> list[tuple[KeyPath, str]]:
    """Bounds with nothing to compare and duplicate slice ids, as (key path, message)."""
    problems: list[tuple[KeyPath, str]] = []
    if drift is not None:
        if _declares(drift.max_spread) and cohort_count < 2 and drift.group is None:
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
    return problems


def _declares(bounds: MetricBounds | None) -> bool:
    return bounds is not None and bool(bounds.model_dump(exclude_none=True))
