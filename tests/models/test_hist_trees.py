"""The correlation type's boosted trees as plain arrays: scikit-learn's own probabilities to the
last bit, after save and load too, tampered files refused, and no skops (nor torch) imported
by a correlation run."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from nethical_runner.data import synthetic
from nethical_runner.models import ModelFileError, create_model, load_model
from nethical_runner.models.base import estimator_to_array, read_npz
from nethical_runner.models.correlation import CorrelationModel
from nethical_runner.models.hist_trees import HistTrees, trees_state

ROOT = Path(__file__).parents[2]
PARAMS = {"max_iter": 30, "max_leaf_nodes": 15}


def hgb(seed: int = 7) -> HistGradientBoostingClassifier:
    """The estimator CorrelationModel fits, with PARAMS."""
    return HistGradientBoostingClassifier(
        max_iter=30, learning_rate=0.1, max_leaf_nodes=15, l2_regularization=0.0,
        early_stopping=False, random_state=seed,
    )  # fmt: skip


@pytest.fixture(scope="module")
def rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y, _ = synthetic.generate("correlation", 3000, 0.05, seed=11)
    return X[:2400], y[:2400], X[2400:]


@pytest.fixture(scope="module")
def fitted(rows) -> CorrelationModel:
    X, y, _ = rows
    model = create_model("correlation", PARAMS)
    assert isinstance(model, CorrelationModel)
    return model.fit(X, y, epochs=1, batch_size=1, seed=7)


def test_probabilities_match_scikit_learn_bit_for_bit_after_save_and_load(rows, fitted) -> None:
    X, y, X_val = rows
    expected = hgb().fit(X, y).predict_proba(X_val)
    assert np.array_equal(fitted.predict_proba(X_val), expected)
    loaded, _ = load_model(fitted.to_npz_bytes())
    assert np.array_equal(loaded.predict_proba(X_val), expected)


def test_trees_follow_scikit_learn_on_missing_values_and_values_equal_to_thresholds() -> None:
    rng = np.random.default_rng(5)
    X = np.round(rng.normal(size=(4000, 4)), 1)  # few distinct values: many exact ties
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1] * X[:, 2]) > 0).astype(np.int64)
    estimator = hgb().fit(X, y)
    state = trees_state(estimator)
    inner = ~state["node_is_leaf"]
    X_test = rng.normal(size=(3000, 4))
    X_test[rng.random(X_test.shape) < 0.2] = np.nan
    picked = rng.integers(0, inner.sum(), 1000)  # rows sitting exactly on split thresholds
    X_test[np.arange(1000), state["node_feature"][inner][picked]] = state["node_threshold"][inner][
        picked
    ]
    assert state["node_missing_left"][inner].any() and not state["node_missing_left"].all()
    trees = HistTrees(state, n_features=4)
    assert np.array_equal(trees.positive_proba(X_test), estimator.predict_proba(X_test)[:, 1])


def _set(key: str, index: int, value: float) -> Callable[[dict[str, np.ndarray]], None]:
    def tamper(state: dict[str, np.ndarray]) -> None:
        state[key] = state[key].copy()
        inner = np.flatnonzero(~state["node_is_leaf"])
        state[key][inner[index] if key.startswith("node_") else index] = value

    return tamper


def _retype(key: str, dtype: type[np.generic]) -> Callable[[dict[str, np.ndarray]], None]:
    def tamper(state: dict[str, np.ndarray]) -> None:
        state[key] = state[key].astype(dtype)

    return tamper


def _drop(key: str) -> Callable[[dict[str, np.ndarray]], None]:
    def tamper(state: dict[str, np.ndarray]) -> None:
        del state[key]

    return tamper


TAMPERED = {
    "child beyond its tree": (_set("node_left", 0, 10_000), "node_left"),
    "child pointing back up (a cycle)": (_set("node_right", 3, 0), "node_right"),
    "negative child": (_set("node_left", 2, -1), "node_left"),
    "feature out of range": (_set("node_feature", 1, 5), "feature"),
    "NaN threshold": (_set("node_threshold", 0, np.nan), "NaN"),
    "wrong dtype": (_retype("node_left", np.int32), "int64"),
    "float offsets": (_retype("tree_offsets", np.float64), "int64"),
    "offsets past the nodes": (_set("tree_offsets", -1, 10**6), "offsets"),
    "missing array": (_drop("node_is_leaf"), "node_is_leaf"),
    "infinite baseline": (_set("baseline", 0, np.inf), "baseline"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_model_file_is_refused(fitted, case: str) -> None:
    tamper, said = TAMPERED[case]
    meta, arrays = read_npz(io.BytesIO(fitted.to_npz_bytes()))
    tamper(arrays)
    with pytest.raises(ModelFileError, match=said):
        load_model(npz_bytes(meta, arrays))


def test_a_model_file_of_an_earlier_version_with_a_skops_estimator_still_loads(rows) -> None:
    X, y, X_val = rows
    estimator = hgb().fit(X, y)
    meta = {"type": "correlation", "params": PARAMS, "metadata": {}, "features": None}
    old = {"n_features": np.array(X.shape[1]), "estimator": estimator_to_array(estimator)}
    loaded, _ = load_model(npz_bytes(meta, old))
    assert np.array_equal(loaded.predict_proba(X_val), estimator.predict_proba(X_val))


PROBE = """
import json, sys
from nethical_runner.cli.main import main
status = main(sys.argv[1:])
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"skops", "torch", "dask", "pytest"})
print(json.dumps({"status": status, "imported": heavy}))
"""


def test_a_correlation_train_imports_neither_skops_nor_torch(tmp_path: Path) -> None:
    command = [sys.executable, "-c", PROBE, "train", "--model-type", "correlation",
               "--num-samples", "2000", "--out", str(tmp_path)]  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=tmp_path, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"status": 0, "imported": []}


def npz_bytes(meta: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """A model file holding exactly these arrays and header."""
    buffer = io.BytesIO()
    members = dict(arrays)
    members["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(buffer, **members)
    return buffer.getvalue()
