"""Seeded synthetic data, generated with vectorised numpy (no per-row Python).

The generators follow the script this replaces: its five risk features with the label rule
``violation_count + severity_max > 1``. Unlike the original, logistic noise of scale
``label_noise`` is added to the score before the rule is applied: rows near the boundary get
uncertain labels, so no model can score 100% and a gate measures something, while the true
probability stays a smooth function of the features that a calibrated model can match.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

RISK_FEATURES = (
    "violation_count",
    "severity_max",
    "recency_score",
    "frequency_score",
    "context_risk",
)

Generator = Callable[
    [int, float, np.random.Generator], tuple[np.ndarray, np.ndarray, tuple[str, ...]]
]


def risk_features(
    samples: int, label_noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Uniform risk scores in [0, 1); positive when violation_count + severity_max > 1."""
    X = rng.random((samples, len(RISK_FEATURES)))
    score = X[:, 0] + X[:, 1] + _logistic_noise(samples, label_noise, rng)
    return X, (score > 1.0).astype(np.int64), RISK_FEATURES


def _logistic_noise(samples: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    return rng.logistic(0.0, scale, samples) if scale > 0 else np.zeros(samples)


GENERATORS: dict[str, Generator] = {"risk": risk_features}


def generate(
    kind: str, samples: int, label_noise: float, seed: int
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Features, labels and feature names of ``samples`` rows from generator ``kind``."""
    return GENERATORS[kind](samples, label_noise, np.random.default_rng(seed))
