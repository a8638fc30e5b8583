"""Bootstrap resampling in memory-bounded chunks, and percentile intervals of its results.

Latency SLAs and drift checks both resample with replacement and take percentile intervals;
they draw here, so a seed gives the same resamples in both and a change to the drawing is made
once. Resamples are drawn as index matrices, a chunk of rows at a time, and the statistic of a
chunk is computed row-wise by the caller's numpy code: memory stays bounded and nothing loops
over resamples in Python. The draws of a seed are fixed: one ``rng.integers(0, n, (rows, n))``
call per chunk, chunks in order, so intervals and verdicts stay the same from release to release.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Final

import numpy as np
from numpy.typing import NDArray

PERCENTILE_METHOD: Final = "linear"  # numpy's default, named so a numpy change cannot move it

Statistic = Callable[[NDArray[np.int64]], Mapping[str, NDArray[np.float64]]]


def resample_indices(
    rng: np.random.Generator, n: int, resamples: int, max_cells: int
) -> Iterator[NDArray[np.int64]]:
    """``resamples`` bootstrap resamples of ``n`` items as rows of item indices, in chunks of
    at most ``max_cells`` indices (and at least one row)."""
    if n < 1:
        raise ValueError("cannot resample an empty sample")
    per_chunk = max(1, max_cells // n)
    for start in range(0, resamples, per_chunk):
        yield rng.integers(0, n, size=(min(per_chunk, resamples - start), n))


def draw_counts(drawn: NDArray[np.int64], n: int) -> NDArray[np.float64]:
    """Index rows as counts: row r, column i says how often item i was drawn in resample r, so
    that a sum over a resample is a matrix product with the counts."""
    rows = drawn.shape[0]
    offset = drawn + (np.arange(rows) * n)[:, None]
    return np.bincount(offset.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


def bootstrap(
    statistic: Statistic,
    rng: np.random.Generator,
    n: int,
    resamples: int,
    max_cells: int,
) -> dict[str, NDArray[np.float64]]:
    """Every named value ``statistic`` computes, on each of ``resamples`` resamples.

    ``statistic`` takes a chunk of index rows (see :func:`resample_indices`) and returns one
    value per row under each name; the chunks are joined in draw order.
    """
    parts: dict[str, list[NDArray[np.float64]]] = {}
    for drawn in resample_indices(rng, n, resamples, max_cells):
        for name, values in statistic(drawn).items():
            parts.setdefault(name, []).append(values)
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def percentile_interval(samples: NDArray[np.float64], confidence: float) -> tuple[float, float]:
    """The central ``confidence`` share of ``samples``, by numpy's ``linear`` percentiles."""
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(samples, [tail, 100.0 - tail], method=PERCENTILE_METHOD)
    return float(low), float(high)
