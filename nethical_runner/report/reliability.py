"""Reliability diagrams: per-bin confidence against observed frequency, as data and as a PNG.

The bins are exactly those of the ECE the gate checks (both come from
:func:`nethical_runner.metrics.calibration.bin_confidences`), so the diagram
shows where the gated number comes from: ECE is the count-weighted sum of each bar's distance
from the diagonal. The bin table is plain data that travels from pytest-xdist workers to the
controller and into ``results.json``; drawing needs matplotlib, an optional extra
(``.[plot]``), and without it only the picture is missing.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from nethical_runner._files import atomic_write_bytes
from nethical_runner.metrics.calibration import Confidence, bin_confidences

PLOT_EXTRA = "python -m pip install 'matplotlib>=3.7', or '.[plot]' in a checkout"


def reliability_bins(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    n_bins: int = 15,
    confidence: Confidence = "positive",
) -> list[dict[str, Any]]:
    """One entry per bin: its edges, row count, mean confidence and observed frequency
    (``None`` for an empty bin), from the same binning as the gated ECE."""
    table = bin_confidences(y_true, y_prob, n_bins, confidence).totals()
    means = table.mean_confidence.tolist()
    observed = table.observed.tolist()
    return [
        {
            "lower": index / n_bins,
            "upper": (index + 1) / n_bins,
            "count": count,
            "mean_confidence": means[index] if count else None,
            "observed": observed[index] if count else None,
        }
        for index, count in enumerate(table.counts.astype(np.int64).tolist())
    ]


def ece_of(bins: Sequence[Mapping[str, Any]]) -> float:
    """The ECE a bin table stands for: sum of (n_b / n) * |observed - confidence|."""
    total = sum(b["count"] for b in bins)
    if total == 0:
        return 0.0
    return float(
        sum(b["count"] * abs(b["observed"] - b["mean_confidence"]) for b in bins if b["count"])
        / total
    )


def matplotlib_missing() -> str | None:
    """Why diagrams cannot be drawn here, or ``None`` when they can."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return f"matplotlib is not installed ({PLOT_EXTRA})"
    return None


def draw(record: Mapping[str, Any], title: str) -> bytes:
    """The PNG of one cohort's reliability record (``bins``, ``confidence``, ``ece``).

    Uses matplotlib's object API with the Agg canvas, never pyplot, so drawing neither needs a
    display nor changes the backend of a user's own plotting; the PNG carries no software or
    date metadata, so the same numbers give the same bytes.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    bins = [b for b in record["bins"] if b["count"]]
    width = 1.0 / len(record["bins"])
    positive = record["confidence"] == "positive"
    figure = Figure(figsize=(5.0, 6.0), dpi=100)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.08}
    )
    top.plot([0, 1], [0, 1], linestyle="--", color="0.5", linewidth=1, label="perfect calibration")
    top.bar(
        [b["lower"] for b in bins],
        [b["observed"] for b in bins],
        width=width,
        align="edge",
        edgecolor="black",
        color="#4c72b0",
        label="observed frequency" if positive else "accuracy",
    )
    top.bar(
        [b["lower"] for b in bins],
        [b["mean_confidence"] - b["observed"] for b in bins],
        bottom=[b["observed"] for b in bins],
        width=width,
        align="edge",
        edgecolor="#c44e52",
        color="#c44e52",
        alpha=0.35,
        hatch="//",
        label="gap to the bin's mean confidence",
    )
    top.set_xlim(0.0, 1.0)
    top.set_ylim(0.0, 1.0)
    top.set_ylabel("fraction positive" if positive else "accuracy")
    top.set_title(f"{title}\nECE {record['ece']:.4f} ({len(record['bins'])} bins)", fontsize=10)
    top.legend(loc="upper left", fontsize=8)
    bottom.bar(
        [b["lower"] for b in bins],
        [b["count"] for b in bins],
        width=width,
        align="edge",
        edgecolor="black",
        color="0.7",
    )
    bottom.set_xlabel("predicted probability of class 1" if positive else "top-label confidence")
    bottom.set_ylabel("rows")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def write_diagram(path: Path, record: Mapping[str, Any], title: str) -> Path:
    atomic_write_bytes(path, draw(record, title))
    return path
