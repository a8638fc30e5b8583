"""Bootstrap resampling in memory-bounded chunks, and percentile intervals of its results.

Latency SLAs and drift checks both resample with replacement and take percentile intervals;
they draw here, so a seed gives the same resamples in both and a change to the drawing is made
once. Resamples are drawn as index matrices, a chunk of rows at a time, and the statistic of a
chunk is computed row-wise by the caller's numpy code: memory stays bounded and nothing loops
over resamples in Python. The draws of a seed are fixed: one ``rng.integers(0, n, (rows, n))``
call per chunk, chunks in order, so intervals and verdicts stay the same from release to release.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr, ndtri

PERCENTILE_METHOD: Final = "linear"  # numpy's default, named so a numpy change cannot move it

Statistic = Callable[[NDArray[np.int64]], Mapping[str, NDArray[np.float64]]]
CountStatistic = Callable[[NDArray[np.float64]], Mapping[str, NDArray[np.float64]]]


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


def stratified_counts(
    rng: np.random.Generator, sizes: Sequence[int], resamples: int, max_cells: int
) -> Iterator[NDArray[np.float64]]:
    """``resamples`` stratified resamples as rows of counts, in chunks of at most ``max_cells``
    counts (and at least one row).

    The items are the strata laid end to end (``sizes[0]`` items of the first, then the
    second...), and each stratum is resampled on its own, so every resample holds exactly
    ``sizes[k]`` draws from stratum k: resampling positives and negatives apart keeps the class
    balance of the validation rows. The draws of a seed are fixed: per chunk, one
    ``rng.integers(0, sizes[k], (rows, sizes[k]))`` call per stratum, strata in order.
    """
    if not sizes or min(sizes) < 1:
        raise ValueError("cannot resample an empty stratum")
    n = int(sum(sizes))
    per_chunk = max(1, max_cells // n)
    for start in range(0, resamples, per_chunk):
        rows = min(per_chunk, resamples - start)
        yield np.hstack([draw_counts(rng.integers(0, k, size=(rows, k)), k) for k in sizes])


def stratified_bootstrap(
    statistic: CountStatistic,
    rng: np.random.Generator,
    sizes: Sequence[int],
    resamples: int,
    max_cells: int,
) -> dict[str, NDArray[np.float64]]:
    """Every named value ``statistic`` computes from a chunk of count rows (see
    :func:`stratified_counts`), on each of ``resamples`` resamples, joined in draw order."""
    parts: dict[str, list[NDArray[np.float64]]] = {}
    for counts in stratified_counts(rng, sizes, resamples, max_cells):
        for name, values in statistic(counts).items():
            parts.setdefault(name, []).append(values)
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def bca_interval(
    estimate: float,
    resampled: NDArray[np.float64],
    jackknife: Sequence[NDArray[np.float64]],
    level: float,
) -> tuple[float, float]:
    """Bias-corrected and accelerated bootstrap interval (Efron & Tibshirani 1993, ch. 14).

    ``resampled``: the statistic on each resample; ``jackknife``: per independently resampled
    sample (stratum), the statistic with each of its items left out. As
    ``scipy.stats.bootstrap(method="BCa")`` computes it for several samples: z0 is the normal
    quantile of the mid-rank share of resamples below ``estimate``; the acceleration is
    a = sum_k sum_i U_ki^3 / n_k^3 / (6 (sum_k sum_i U_ki^2 / n_k^2)^(3/2)) with
    U_ki = (n_k - 1)(mean_i jackknife_k - jackknife_ki); the ends are numpy ``linear``
    percentiles at Phi(z0 + (z0 + z) / (1 - a (z0 + z))) for z = the normal quantiles of
    (1 -/+ level) / 2.

    Where scipy returns NaN, this stays defined: all resamples equal gives [estimate,
    estimate]; an estimate outside every resample has its share held to the nearest share a
    mid-rank can take (1 / 2B, or 1 - 1 / 2B); a sample of one item, or jackknife values all
    equal, adds nothing to the acceleration (a = 0 when nothing does).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    if np.all(resampled == resampled[0]):
        return estimate, estimate
    share = min(
        max(_percentile_of_score(resampled, estimate), 0.5 / resampled.size),
        1.0 - 0.5 / resampled.size,
    )
    z0 = float(ndtri(share))
    a = _acceleration(jackknife)
    z = float(ndtri((1.0 - level) / 2.0))
    shares = [float(ndtr(z0 + (z0 + q) / (1.0 - a * (z0 + q)))) for q in (z, -z)]
    low, high = np.percentile(
        resampled, [100.0 * shares[0], 100.0 * shares[1]], method=PERCENTILE_METHOD
    )
    return float(low), float(high)


def _percentile_of_score(samples: NDArray[np.float64], score: float) -> float:
    """Mid-rank share of ``samples`` below ``score`` (scipy's ``_percentile_of_score``)."""
    below = np.count_nonzero(samples < score) + np.count_nonzero(samples <= score)
    return below / (2.0 * samples.size)


def _acceleration(jackknife: Sequence[NDArray[np.float64]]) -> float:
    cubes = squares = 0.0
    for values in jackknife:
        n = values.size
        if n < 2:
            continue
        u = (n - 1.0) * (values.mean() - values)
        cubes += float(np.sum(u**3)) / n**3
        squares += float(np.sum(u**2)) / n**2
    return cubes / (6.0 * squares**1.5) if squares > 0 else 0.0
