"""Coordinated multi-agent activity: gradient-boosted trees on the old script's correlation
features.

Attacks show up as interactions (many agents *and* high time correlation, or high entropy
variance *and* moderate similarity) that trees capture and a linear score does not. Trained
with log loss, scikit-learn's histogram gradient boosting gives probabilities that are already
close to calibrated; ``epochs`` and ``batch_size`` do not apply to it (``max_iter`` sets the
number of boosting rounds).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from nethical_runner.models.base import ModelParams, check_features, check_labels
from nethical_runner.models.sklearn_estimator import EstimatorBacked


class CorrelationParams(ModelParams):
    max_iter: int = Field(100, ge=1, le=10_000, description="Boosting rounds.")
    learning_rate: float = Field(0.1, gt=0.0, le=1.0, description="Shrinkage per round.")
    max_leaf_nodes: int = Field(31, ge=2, le=1024, description="Leaves per tree.")
    l2_regularization: float = Field(0.0, ge=0.0, le=1e4, description="L2 on leaf values.")


class CorrelationModel(EstimatorBacked):
    type_name = "correlation"
    Params = CorrelationParams
    params: CorrelationParams

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

        self.estimator_ = HistGradientBoostingClassifier(
            max_iter=self.params.max_iter,
            learning_rate=self.params.learning_rate,
            max_leaf_nodes=self.params.max_leaf_nodes,
            l2_regularization=self.params.l2_regularization,
            early_stopping=False,
            random_state=seed,
        ).fit(X, y)
        return self
