"""A fitted binary HistGradientBoostingClassifier as plain arrays, and its predictions.

What scikit-learn's ``predict_proba`` needs from such a model is its baseline log-odds and, per
boosting round, one tree's nodes: which feature a node splits on, the raw threshold (a row goes
left when its value is ``<=`` it), where a missing value goes, the children and each leaf's
value. Those are stored field by field, so a model file needs no skops (whose import walks
scikit-learn's array-API shims, importing PyTorch or Dask wherever they are installed) and no
pickle. The bin edges (``_bin_mapper``) are not stored: they only serve prediction on binned
training data, and the raw thresholds already are the midpoints between them.

A model file is untrusted input, and scikit-learn's tree walk checks no index: every array's
dtype and shape is checked, every split feature must exist, and a child must lie after its
parent inside its own tree, so every walk ends at a leaf.

Prediction goes through scikit-learn's own Cython tree walk (``TreePredictor``, private API:
the result cache is keyed by the scikit-learn version) and adds the trees in the order its
``_raw_predict`` does, then applies the same ``expit``: probabilities are bit-identical to the
fitted estimator's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nethical_runner.models.base import ModelFileError

STATE_DTYPES: dict[str, type[np.generic]] = {
    "baseline": np.float64,  # (1,): log-odds before any tree
    "tree_offsets": np.int64,  # (n_trees + 1,): tree t's nodes are [offsets[t], offsets[t+1])
    "node_value": np.float64,  # leaf value (internal nodes' values are not read)
    "node_feature": np.int64,
    "node_threshold": np.float64,
    "node_missing_left": np.bool_,
    "node_left": np.int64,  # child indices count from the first node of their own tree
    "node_right": np.int64,
    "node_is_leaf": np.bool_,
}
_NODE_FIELDS = {  # state key -> field of scikit-learn's PREDICTOR_RECORD_DTYPE
    "node_value": "value",
    "node_feature": "feature_idx",
    "node_threshold": "num_threshold",
    "node_missing_left": "missing_go_to_left",
    "node_left": "left",
    "node_right": "right",
    "node_is_leaf": "is_leaf",
}


def trees_state(estimator: Any) -> dict[str, np.ndarray]:
    """The arrays above from a fitted binary HistGradientBoostingClassifier on numeric
    features (no categorical splits, which these arrays cannot hold)."""
    if estimator.n_trees_per_iteration_ != 1 or list(estimator.classes_) != [0, 1]:
        raise ValueError("the boosted trees need training labels of both classes 0 and 1")
    if estimator.is_categorical_ is not None and np.any(estimator.is_categorical_):
        raise ValueError("categorical splits are not stored")
    nodes = [round_predictors[0].nodes for round_predictors in estimator._predictors]
    sizes = np.array([len(tree) for tree in nodes], dtype=np.int64)
    joined = np.concatenate(nodes)
    state = {
        "baseline": np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(1),
        "tree_offsets": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
    }
    for key, field in _NODE_FIELDS.items():
        state[key] = joined[field].astype(STATE_DTYPES[key])
    return state


def check_trees_state(
    state: dict[str, np.ndarray], n_features: int, max_trees: int, max_tree_nodes: int
) -> None:
    """Raise :class:`ModelFileError` unless ``state`` is a well-formed set of trees over
    ``n_features`` features, with at most ``max_trees`` trees of ``max_tree_nodes`` nodes."""
    for key, dtype in STATE_DTYPES.items():
        if key not in state:
            raise ModelFileError(f"the boosted trees lack the array {key!r}")
        if state[key].dtype != dtype or state[key].ndim != 1:
            found = f"{state[key].dtype} of shape {state[key].shape}"
            raise ModelFileError(f"{key!r} must be a 1-D {np.dtype(dtype)} array, got {found}")
    offsets = state["tree_offsets"]
    n_nodes = state["node_value"].size
    if any(state[key].size != n_nodes for key in _NODE_FIELDS):
        raise ModelFileError("the node arrays differ in length")
    if state["baseline"].size != 1 or not np.isfinite(state["baseline"][0]):
        raise ModelFileError("the baseline must be one finite value")
    sizes = np.diff(offsets)
    if not 1 <= sizes.size <= max_trees or offsets[0] != 0 or offsets[-1] != n_nodes:
        raise ModelFileError(
            f"the tree offsets must run from 0 to the {n_nodes} nodes over 1 to {max_trees} trees"
        )
    if np.any(sizes < 1) or np.any(sizes > max_tree_nodes):
        raise ModelFileError(f"every tree must hold 1 to {max_tree_nodes} nodes")
    tree = np.repeat(np.arange(sizes.size), sizes)
    local = np.arange(n_nodes) - offsets[:-1][tree]
    inner = ~state["node_is_leaf"]
    for key in ("node_left", "node_right"):  # after the parent: no cycle, every walk ends
        child = state[key][inner]
        if np.any(child <= local[inner]) or np.any(child >= sizes[tree][inner]):
            raise ModelFileError(f"{key!r} points outside its tree or back up it")
    feature = state["node_feature"][inner]
    if np.any(feature < 0) or np.any(feature >= n_features):
        raise ModelFileError(f"a split uses a feature outside the model's {n_features}")
    if np.any(np.isnan(state["node_threshold"][inner])):
        raise ModelFileError("a split threshold is NaN")
    if not np.all(np.isfinite(state["node_value"][~inner])):
        raise ModelFileError("a leaf value is not finite")


class HistTrees:
    """Predictions of stored trees (checked by :func:`check_trees_state` first)."""

    def __init__(self, state: dict[str, np.ndarray], n_features: int) -> None:
        from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
        from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

        self.baseline = float(state["baseline"][0])
        offsets = state["tree_offsets"]
        records = np.zeros(offsets[-1], dtype=PREDICTOR_RECORD_DTYPE)
        leaf = state["node_is_leaf"]
        for key, field in _NODE_FIELDS.items():
            records[field] = state[key]
        for field in ("feature_idx", "left", "right"):  # never read at a leaf: not trusted there
            records[field][leaf] = 0
        no_categories = np.zeros((0, 8), dtype=np.uint32)
        self.trees = [
            TreePredictor(nodes, no_categories, no_categories)
            for nodes in np.split(records, offsets[1:-1])
        ]
        self.known_categories = no_categories
        self.feature_map = np.zeros(n_features, dtype=np.uint32)

    def positive_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of class 1 for each row of a float64 matrix of the trained width."""
        from scipy.special import expit
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

        threads = _openmp_effective_n_threads()
        raw = np.zeros(X.shape[0])
        raw += self.baseline
        for tree in self.trees:  # in boosting order, as scikit-learn sums them
            raw += tree.predict(X, self.known_categories, self.feature_map, threads)
        return np.asarray(expit(raw))
