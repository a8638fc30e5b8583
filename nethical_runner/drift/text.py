"""How a spread or a drop reads, the same in a failing check, the report and the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nethical_runner._words import cohort_named
from nethical_runner.drift.stats import judge
from nethical_runner.metrics.decide import shown_against, threshold_text

if TYPE_CHECKING:
    from nethical_runner.drift.comparison import Comparison, Drop


def spread_text(comparison: Comparison, limit: float | None, across: str, level: float) -> str:
    """``accuracy spread 0.0712 > 0.05 across cohorts alpha, beta: worst beta 0.861, best alpha
    0.932 (95% bootstrap interval of the spread 0.048-0.094)``."""
    stats = comparison.stats
    assert stats is not None
    values = comparison.values
    spread = stats.spread
    shown = f"{spread:.4g}" if limit is None else shown_against(spread, limit)
    text = f"{comparison.metric} spread {shown}"
    if limit is not None:
        text += f" {'<=' if spread <= limit else '>'} {threshold_text(limit)}"
    text += (
        f" across {across} {', '.join(comparison.judged)}: worst {stats.worst} "
        f"{values[stats.worst]:.4g}, best {stats.best} {values[stats.best]:.4g}"
    )
    if stats.interval is not None:
        low, high = stats.interval
        text += f" ({level * 100:g}% bootstrap interval of the spread {low:.4g}-{high:.4g})"
    status = comparison.status if limit == comparison.limit else None
    if (
        limit is not None
        and (status or judge(stats.spread, limit, stats.interval)) == "inconclusive"
    ):
        text += "; inconclusive: the bound is exceeded within noise"
        if stats.interval is not None and stats.interval[0] > limit:
            text += " (not among the false discovery rate's discoveries)"
        else:
            text += " (the interval reaches below it)"
    return text


def drop_text(drop: Drop, level: float) -> str:
    """``cohort alpha 0.932 -> 0.898 (fell 0.034; 95% interval of the worsening 0.021 to
    0.047) since run R``."""
    if drop.before is None or drop.after is None:
        return (
            f"{cohort_named(drop.cohort)}: {drop.metric} undefined (since run {drop.baseline_run})"
        )
    moved = "rose" if drop.after > drop.before else "fell" if drop.after < drop.before else "held"
    text = f"{cohort_named(drop.cohort)} {drop.before:.4g} -> {drop.after:.4g} ({moved}"
    if moved != "held":
        text += f" {abs(drop.after - drop.before):.4g}"
    if drop.interval is not None:
        low, high = drop.interval
        text += f"; {level * 100:g}% interval of the worsening {low:.4g} to {high:.4g}"
    return f"{text}) since run {drop.baseline_run}"
