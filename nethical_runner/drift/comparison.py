"""The two kinds of drift measurement: a metric's spread across groups, and a cohort's drop
since its baseline.

They live apart from :mod:`nethical_runner.drift.result`, which judges checks with them, so that
:mod:`nethical_runner.drift.text` can word them without importing the judging.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from nethical_runner.drift.stats import SpreadStats, Status, judge, spread

Interval = tuple[float, float]


@dataclass(frozen=True)
class Comparison:
    """One metric across groups: the cohorts, or the slices of one cohort."""

    metric: str
    values: Mapping[str, float | None]
    samples: Mapping[str, int]
    not_judged: Mapping[str, str]  # label -> why it is reported and not compared
    stats: SpreadStats | None  # None with fewer than two groups to compare
    limit: float | None
    status: Status | None  # None without a limit or without two groups

    @property
    def judged(self) -> tuple[str, ...]:
        return tuple(label for label in self.values if label not in self.not_judged)

    @classmethod
    def of(
        cls,
        metric: str,
        values: Mapping[str, float | None],
        samples: Mapping[str, int],
        not_judged: Mapping[str, str],
        draws: Mapping[str, Mapping[str, np.ndarray]],
        limit: float | None,
        confidence: float,
    ) -> Comparison:
        """The spread of ``metric`` over the groups that can be judged (from each one's
        resampled values in ``draws``), and its status against ``limit``."""
        judged = {k: v for k, v in values.items() if k not in not_judged and v is not None}
        stats = None
        if len(judged) >= 2:
            found = {k: draws[k][metric] for k in judged}
            stats = spread(judged, found, metric, confidence, limit)
        status = None
        if stats is not None and limit is not None:
            status = judge(stats.spread, limit, stats.interval)
        return cls(metric, dict(values), dict(samples), dict(not_judged), stats, limit, status)


@dataclass(frozen=True)
class Drop:
    """One cohort's metric against its baseline, the same cohort in an earlier run."""

    cohort: str
    metric: str
    baseline_run: str
    before: float | None
    after: float | None
    change: float | None  # how much worse: a fall, or a rise for ece; None when undefined
    interval: Interval | None
    limit: float | None
    status: Status | None
    p_value: float | None = None  # of "within the bound", for false discovery rate control
