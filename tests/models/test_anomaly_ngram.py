"""The n-gram anomaly model on its own synthetic sequences: calibrated as trained, not just
ranked well, at the batch size the benchmark uses."""

from __future__ import annotations

import numpy as np
import pytest

from nethical_runner.data import synthetic
from nethical_runner.data.synthetic import _RightSearch
from nethical_runner.metrics.classification import classification_metrics
from nethical_runner.models import create_model


@pytest.mark.parametrize("seed", [1, 42])
def test_ngram_scores_are_calibrated_at_batch_256_on_10k_rows(seed: int) -> None:
    # 10,000 rows, 80% trained for 10 epochs at batch 256: 320 Adam steps, after which the
    # weights alone gave an ECE of 0.086 (seed 42) and 0.075 (seed 1), above the default gate's
    # 0.08; Platt scaling on the last epoch's scores brings it to about 0.02-0.03 and, being
    # monotone, leaves the ROC AUC (0.991 and 0.992) where it was.
    X, y, _ = synthetic.generate("sequence", 10_000, 0.05, seed=seed)
    model = create_model("anomaly").fit(X[:8000], y[:8000], epochs=10, batch_size=256, seed=seed)
    metrics = classification_metrics(y[8000:], model.predict_proba(X[8000:])[:, 1])
    assert metrics["ece"] <= 0.04
    assert metrics["auc"] >= 0.99
    assert metrics["accuracy"] >= 0.95


def test_ngram_training_is_deterministic_and_survives_its_state() -> None:
    X, y, _ = synthetic.generate("sequence", 3000, 0.05, seed=3)
    first = create_model("anomaly").fit(X, y, epochs=2, batch_size=64, seed=3)
    second = create_model("anomaly").fit(X, y, epochs=2, batch_size=64, seed=3)
    assert np.array_equal(first.predict_proba(X), second.predict_proba(X))
    restored = create_model("anomaly")
    restored.set_state(first.get_state())
    assert np.array_equal(restored.predict_proba(X), first.predict_proba(X))


def test_the_generators_cell_search_finds_what_a_binary_search_finds() -> None:
    rng = np.random.default_rng(0)
    values = np.sort(rng.random(300) * 12.0)
    values[10:14] = values[10]  # repeated values, and keys landing exactly on them
    keys = np.concatenate([rng.random(50_000) * 12.0, values, [0.0, 12.0, 5 / 1024]])
    search = _RightSearch(values, 12.0)
    assert np.array_equal(search(keys), np.searchsorted(values, keys, side="right"))
