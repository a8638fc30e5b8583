"""The checks a spec's ``drift`` section declares, listed from the spec alone.

Kept apart from the measurement so that collection, which trains nothing, can list them; the
section's rules across keys are checked with the rest of the spec (``spec/driftrules.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from nethical_runner.spec.yaml_source import KeyPath

if TYPE_CHECKING:
    from nethical_runner.spec import Spec
    from nethical_runner.spec.config import DriftConfig, MetricBounds

DEFAULT_MAX_SPREAD = {"accuracy": 0.05, "ece": 0.03}  # the bounds `drift: {}` gets

Kind = Literal["spread", "vs_previous", "slices"]


@dataclass(frozen=True)
class DriftCheck:
    """One bound: ``drift[accuracy]`` (spread across cohorts), ``drift[accuracy.vs_previous]``
    (against the previous run) or ``drift[slice.accuracy]`` (across one cohort's slices)."""

    kind: Kind
    metric: str
    limit: float
    key: KeyPath  # where the bound is written, or the drift section for a default
    declared: bool
    cohort_id: str | None = None  # set for slice checks, which are per cohort

    @property
    def name(self) -> str:
        if self.kind == "vs_previous":
            return f"{self.metric}.vs_previous"
        if self.kind == "slices":
            return f"slice.{self.metric}"
        return self.metric

    @property
    def spec_key(self) -> str:
        """``max_spread.accuracy``: the key a message names."""
        section = {"spread": "max_spread", "vs_previous": "max_drop", "slices": "max_slice_spread"}
        return f"{section[self.kind]}.{self.metric}"


def spread_limits(config: DriftConfig) -> tuple[dict[str, float], bool]:
    """The cross-cohort bounds and whether they were written (else the defaults apply)."""
    if config.max_spread is None:
        return dict(DEFAULT_MAX_SPREAD), False
    return bounds_of(config.max_spread), True


def bounds_of(bounds: MetricBounds | None) -> dict[str, float]:
    """The metrics a bounds mapping lists, in report order; none for an absent section."""
    return {} if bounds is None else bounds.model_dump(exclude_none=True)


def compares_cohorts(spec: Spec) -> bool:
    """Whether there is anything to compare across: several cohorts, or a group whose earlier
    runs supply more."""
    return len(spec.cohorts) > 1 or (spec.drift is not None and spec.drift.group is not None)


def declared_checks(spec: Spec) -> list[DriftCheck]:
    """Every drift check of ``spec``: spreads, then drops, then each cohort's slice spreads.

    Only a written ``drift`` section declares checks; default spreads are left out when the
    spec has a single cohort and no group, since there is nothing to spread across.
    """
    config = spec.drift
    if config is None:
        return []
    checks = []
    limits, written = spread_limits(config)
    if written or compares_cohorts(spec):
        for metric, limit in limits.items():
            key = ("drift", "max_spread", metric) if written else ("drift",)
            checks.append(DriftCheck("spread", metric, limit, key, written))
    for metric, limit in bounds_of(config.max_drop).items():
        checks.append(DriftCheck("vs_previous", metric, limit, ("drift", "max_drop", metric), True))
    for cohort in spec.cohorts:
        for metric, limit in bounds_of(config.max_slice_spread).items():
            key = ("drift", "max_slice_spread", metric)
            checks.append(DriftCheck("slices", metric, limit, key, True, cohort.id))
    return checks
