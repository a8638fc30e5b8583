"""Logistic regression trained by mini-batch gradient descent.

``epochs`` passes over the training rows in shuffled mini-batches of ``batch_size``, with Adam
steps on the L2-regularised log loss. Written with numpy rather than scikit-learn's
``SGDClassifier.partial_fit`` because the per-call input validation of the latter dominates the
cost of small batches (a million rows at batch 32 is 31,250 calls per epoch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

if TYPE_CHECKING:
    from scipy import sparse

from nethical_runner.models.base import (
    Model,
    ModelParams,
    as_two_columns,
    check_features,
    check_labels,
    sigmoid,
    standardizer,
)


class LogisticParams(ModelParams):
    learning_rate: float = Field(0.05, gt=0.0, le=10.0, description="Adam step size.")
    l2: float = Field(1e-4, ge=0.0, le=10.0, description="L2 penalty on the weights.")


class LogisticModel(Model):
    type_name = "logistic"
    Params = LogisticParams
    params: LogisticParams

    def fit(
        self, X: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, seed: int
    ) -> LogisticModel:
        X = check_features(X)
        labels = check_labels(y, X.shape[0])
        self.mean_, self.scale_ = standardizer(X)
        coef, intercept = fit_logistic(
            (X - self.mean_) / self.scale_,
            labels,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            learning_rate=self.params.learning_rate,
            l2=self.params.l2,
        )
        self.coef_, self.intercept_ = coef, np.array(intercept)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        X = check_features(X, self.coef_.size)
        return ((X - self.mean_) / self.scale_) @ self.coef_ + self.intercept_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return as_two_columns(sigmoid(self.decision_function(X)))

    def get_state(self) -> dict[str, np.ndarray]:
        return {
            "mean": self.mean_,
            "scale": self.scale_,
            "coef": self.coef_,
            "intercept": self.intercept_,
        }

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.mean_, self.scale_ = state["mean"], state["scale"]
        self.coef_, self.intercept_ = state["coef"], state["intercept"]


def fit_logistic(
    X: np.ndarray | sparse.csr_matrix,
    labels: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    learning_rate: float,
    l2: float,
) -> tuple[np.ndarray, float]:
    """Weights and bias of L2-regularised logistic regression by mini-batch Adam.

    Works on dense arrays and on CSR matrices alike (the anomaly model's hashed n-grams), since
    a batch only needs row slicing and a transposed product.
    """
    n, d = X.shape
    theta = np.zeros(d + 1)  # weights then bias
    first_moment = np.zeros_like(theta)
    second_moment = np.zeros_like(theta)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    penalty = np.append(np.full(d, l2), 0.0)
    rng = np.random.default_rng(seed)
    step = 0
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            Xb = X[batch]
            error = sigmoid(Xb @ theta[:-1] + theta[-1]) - labels[batch]
            grad = np.append(Xb.T @ error, error.sum()) / batch.size + penalty * theta
            step += 1
            first_moment = beta1 * first_moment + (1 - beta1) * grad
            second_moment = beta2 * second_moment + (1 - beta2) * grad * grad
            corrected_first = first_moment / (1 - beta1**step)
            corrected_second = second_moment / (1 - beta2**step)
            theta -= learning_rate * corrected_first / (np.sqrt(corrected_second) + eps)
    return theta[:-1].copy(), float(theta[-1])
