"""Heuristic risk scorer: a weighted sum of features against a learned threshold.

The script this replaces used hand-set weights. Here the weights are learned in closed form
(the standardised difference of class means, as in a naive linear discriminant), the decision
threshold is the score that maximises training accuracy, and the probability comes from Platt
scaling of the score fitted on the training rows. It is a single pass over the data, so
``epochs`` and ``batch_size`` have nothing to drive.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from nethical_runner.models.base import (
    Model,
    ModelParams,
    as_two_columns,
    check_features,
    check_labels,
    fit_platt,
    sigmoid,
    standardizer,
)


class HeuristicParams(ModelParams):
    shrinkage: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Pull the learned weights towards equal weights.",
    )


class HeuristicModel(Model):
    type_name = "heuristic"
    Params = HeuristicParams
    params: HeuristicParams

    def fit(
        self, X: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, seed: int
    ) -> HeuristicModel:
        X = check_features(X)
        labels = check_labels(y, X.shape[0])
        if labels.min() == labels.max():
            raise ValueError("training data holds a single class; nothing to separate")
        self.mean_, self.scale_ = standardizer(X)
        Z = (X - self.mean_) / self.scale_
        gap = Z[labels == 1].mean(axis=0) - Z[labels == 0].mean(axis=0)
        pooled_var = 0.5 * (Z[labels == 1].var(axis=0) + Z[labels == 0].var(axis=0)) + 1e-12
        weights = gap / pooled_var
        weights /= np.abs(weights).sum()
        equal = np.sign(gap) / X.shape[1]
        self.weights_ = (1 - self.params.shrinkage) * weights + self.params.shrinkage * equal
        scores = Z @ self.weights_
        self.threshold_ = np.array(_best_threshold(scores, labels))
        self.platt_ = fit_platt(scores - self.threshold_, labels)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        X = check_features(X, self.weights_.size)
        return ((X - self.mean_) / self.scale_) @ self.weights_ - self.threshold_

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        slope, intercept = self.platt_
        return as_two_columns(sigmoid(slope * self.decision_function(X) + intercept))

    def get_state(self) -> dict[str, np.ndarray]:
        return {
            "mean": self.mean_,
            "scale": self.scale_,
            "weights": self.weights_,
            "threshold": self.threshold_,
            "platt": self.platt_,
        }

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.mean_, self.scale_ = state["mean"], state["scale"]
        self.weights_, self.threshold_ = state["weights"], state["threshold"]
        self.platt_ = state["platt"]


def _best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The cut between sorted scores that classifies the most training rows correctly."""
    order = np.argsort(scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    # Cutting after position i predicts 0 for rows <= i and 1 above: correct = negatives below
    # plus positives above.
    negatives_below = np.concatenate([[0.0], np.cumsum(1 - sorted_labels)])
    positives_above = sorted_labels.sum() - np.concatenate([[0.0], np.cumsum(sorted_labels)])
    best = int(np.argmax(negatives_below + positives_above))
    if best == 0:
        return float(sorted_scores[0] - 1e-9)
    if best == scores.size:
        return float(sorted_scores[-1] + 1e-9)
    return float(0.5 * (sorted_scores[best - 1] + sorted_scores[best]))
