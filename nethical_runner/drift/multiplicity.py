"""Many drift checks, honest error rates.

Each drift check fails only when its whole interval lies beyond its bound, so when nothing
drifted it raises a false alarm at most (1 - confidence) / 2 of the time. A spec with many
spread, slice and vs_previous checks multiplies that: the summary states the expected number of
false alarms, and ``drift: {false_discovery_rate: q}`` replaces the per-check rule by
Benjamini-Hochberg control across the spec's checks, so that among the checks that fail, the
expected share of false alarms is at most q.

Under control an exceeded bound fails only when its check is among the discoveries; the other
exceeded bounds are inconclusive. Every vs_previous cohort is one hypothesis.
"""

from __future__ import annotations

from dataclasses import replace

from nethical_runner.drift.comparison import Comparison, Drop
from nethical_runner.drift.result import DriftResult
from nethical_runner.drift.stats import Status, discoveries

BEYOND: tuple[Status, ...] = ("inconclusive", "drift")


def _p_value(item: Comparison | Drop) -> float | None:
    if isinstance(item, Comparison):
        return None if item.stats is None else item.stats.p_value
    return item.p_value


def _decided(item: Comparison | Drop, discovered: bool) -> Comparison | Drop:
    if item.status not in BEYOND:
        return item
    status: Status = "drift" if discovered else "inconclusive"
    return replace(item, status=status)


def control_false_discoveries(result: DriftResult) -> DriftResult:
    """``result`` with Benjamini-Hochberg decisions across its declared checks (unchanged when
    the spec does not ask for them)."""
    rate = result.config.false_discovery_rate
    if rate is None:
        return result
    tested = [item for item in _declared_items(result) if _p_value(item) is not None]
    found = discoveries([p for item in tested if (p := _p_value(item)) is not None], rate)
    verdicts = {id(item): hit for item, hit in zip(tested, found, strict=True)}

    def decided(item: Comparison | Drop) -> Comparison | Drop:
        return _decided(item, verdicts[id(item)]) if id(item) in verdicts else item

    comparisons = {m: decided(c) for m, c in result.comparisons.items()}
    drops = {m: tuple(decided(d) for d in found) for m, found in result.drops.items()}
    slices = {
        cohort: {m: decided(c) for m, c in by_metric.items()}
        for cohort, by_metric in result.slice_comparisons.items()
    }
    return replace(
        result,
        comparisons=comparisons,  # type: ignore[arg-type]
        drops=drops,  # type: ignore[arg-type]
        slice_comparisons=slices,  # type: ignore[arg-type]
    )


def _declared_items(result: DriftResult) -> list[Comparison | Drop]:
    """The comparisons and drops that the spec's checks judge, one hypothesis each."""
    items: list[Comparison | Drop] = []
    for check in result.checks:
        if check.kind == "spread":
            items.append(result.comparisons[check.metric])
        elif check.kind == "slices" and check.cohort_id is not None:
            by_metric = result.slice_comparisons.get(check.cohort_id, {})
            items.extend([by_metric[check.metric]] if check.metric in by_metric else [])
        elif check.kind == "vs_previous":
            items.extend(result.drops.get(check.metric, ()))
    return items


def error_rate_note(result: DriftResult) -> str | None:
    """What a reader should expect of the spec's drift checks taken together, for two or more
    of them with an interval."""
    judged = [item for item in _declared_items(result) if _p_value(item) is not None]
    if len(judged) < 2:
        return None
    rate = result.config.false_discovery_rate
    level = result.config.confidence
    if rate is not None:
        return (
            f"{len(judged)} drift comparisons under Benjamini-Hochberg control: among the "
            f"ones that fail, at most {rate:g} are expected to be false alarms"
        )
    each = (1.0 - level) / 2.0
    expected = len(judged) * each
    at_least_one = 1.0 - (1.0 - each) ** len(judged)
    return (
        f"{len(judged)} drift comparisons, each failing only beyond its {level:.0%} interval: "
        f"with no drift at all, at most {expected:.2g} false alarms are expected per run (at "
        f"most {at_least_one:.0%} chance of one or more if independent); set "
        "drift.false_discovery_rate to control them together"
    )
