"""Coordinated multi-agent activity: gradient-boosted trees on the old script's correlation
features.

Attacks show up as interactions (many agents *and* high time correlation, or high entropy
variance *and* moderate similarity) that trees capture and a linear score does not. Trained
with log loss, scikit-learn's histogram gradient boosting gives probabilities that are already
close to calibrated; ``epochs`` and ``batch_size`` do not apply to it (``max_iter`` sets the
number of boosting rounds).

The fitted trees are kept as plain arrays (:mod:`nethical_runner.models.hist_trees`), not as a
skops estimator, and predictions come from those arrays from the moment ``fit`` returns, so a
loaded model scores exactly as the one that was trained. Files of earlier versions, which
held a skops estimator, still load (skops is imported for them alone).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from nethical_runner.models.base import (
    Model,
    ModelFileError,
    ModelParams,
    as_two_columns,
    check_features,
    check_labels,
    estimator_from_array,
)
from nethical_runner.models.hist_trees import HistTrees, check_trees_state, trees_state
from nethical_runner.models.sklearn_estimator import DEFAULT_ALLOWED_PREFIXES


class CorrelationParams(ModelParams):
    max_iter: int = Field(100, ge=1, le=10_000, description="Boosting rounds.")
    learning_rate: float = Field(0.1, gt=0.0, le=1.0, description="Shrinkage per round.")
    max_leaf_nodes: int = Field(31, ge=2, le=1024, description="Leaves per tree.")
    l2_regularization: float = Field(0.0, ge=0.0, le=1e4, description="L2 on leaf values.")


class CorrelationModel(Model):
    type_name = "correlation"
    Params = CorrelationParams
    params: CorrelationParams
    n_features_: np.ndarray
    state_: dict[str, np.ndarray]
    trees_: HistTrees

    @classmethod
    def synthetic_kind(cls, params: ModelParams) -> str:
        return "correlation"

    def fit(
        self, X: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, seed: int
    ) -> CorrelationModel:
        X = check_features(X)
        check_labels(y, X.shape[0])  # validated, but passed on as given: no float copy
        self.n_features_ = np.array(X.shape[1])
        from sklearn.ensemble import HistGradientBoostingClassifier  # heavy: only when used

        estimator = HistGradientBoostingClassifier(
            max_iter=self.params.max_iter,
            learning_rate=self.params.learning_rate,
            max_leaf_nodes=self.params.max_leaf_nodes,
            l2_regularization=self.params.l2_regularization,
            early_stopping=False,
            random_state=seed,
        ).fit(X, y)
        self._use(trees_state(estimator))
        return self

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        return as_two_columns(self.trees_.positive_proba(check_features(X, int(self.n_features_))))

    def get_state(self) -> dict[str, np.ndarray]:
        return {"n_features": self.n_features_, **self.state_}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        n_features = state["n_features"]
        if n_features.shape != () or n_features.dtype.kind not in "iu" or n_features < 1:
            raise ModelFileError("n_features must be one positive integer")
        if "estimator" in state:  # saved by an earlier version, as a skops estimator
            trees = trees_state(_skops_estimator(state["estimator"]))
        else:
            trees = {key: value for key, value in state.items() if key != "n_features"}
        self.n_features_ = n_features
        check_trees_state(
            trees, int(n_features), self.params.max_iter, 2 * self.params.max_leaf_nodes - 1
        )
        self._use(trees)

    def _use(self, state: dict[str, np.ndarray]) -> None:
        """Predict from these (checked) arrays from now on."""
        self.state_ = state
        self.trees_ = HistTrees(state, int(self.n_features_))


def _skops_estimator(blob: np.ndarray) -> Any:
    """The HistGradientBoostingClassifier that model files of earlier versions stored with
    skops (imported only for such a file), so a champion saved before still loads."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    estimator = estimator_from_array(blob, DEFAULT_ALLOWED_PREFIXES)
    if not isinstance(estimator, HistGradientBoostingClassifier):
        raise ModelFileError(f"the stored estimator is a {type(estimator).__name__}")
    return estimator
