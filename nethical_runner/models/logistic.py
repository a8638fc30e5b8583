"""Logistic regression trained by mini-batch gradient descent.

``epochs`` passes over the training rows in shuffled mini-batches of ``batch_size``, with Adam
steps on the L2-regularised log loss. Written with numpy rather than scikit-learn's
``SGDClassifier.partial_fit`` because the per-call input validation of the latter dominates the
cost of small batches (a million rows at batch 32 is 31,250 calls per epoch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from pydantic import Field

from nethical_runner.models.base import (
    Model,
    ModelParams,
    as_two_columns,
    check_features,
    check_labels,
    sigmoid,
)
from nethical_runner.models.capabilities import (
    Chunks,
    EpochCallback,
    TrainsFromChunks,
    TrainsInEpochs,
)
from nethical_runner.models.optim import Adam


class LogisticParams(ModelParams):
    learning_rate: float = Field(0.05, gt=0.0, le=10.0, description="Adam step size.")
    l2: float = Field(1e-4, ge=0.0, le=10.0, description="L2 penalty on the weights.")


class LogisticModel(Model, TrainsFromChunks, TrainsInEpochs):
    type_name = "logistic"
    Params = LogisticParams
    params: LogisticParams

    def fit(
        self, X: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, seed: int
    ) -> LogisticModel:
        return self.fit_epochs(X, y, epochs=epochs, batch_size=batch_size, seed=seed, on_epoch=None)

    def fit_epochs(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        epochs: int,
        batch_size: int,
        seed: int,
        on_epoch: EpochCallback | None,
    ) -> LogisticModel:
        return self.fit_chunks(
            lambda: iter([(X, y)]),
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            on_epoch=on_epoch,
        )

    def fit_chunks(
        self,
        chunks: Chunks,
        *,
        epochs: int,
        batch_size: int,
        seed: int,
        on_epoch: EpochCallback | None = None,
    ) -> LogisticModel:
        """Train on data too large for memory: ``chunks()`` yields (features, labels) pieces
        and is called once for the scaling statistics and once per epoch."""
        self.mean_, self.scale_ = streaming_standardizer(chunks)

        def standardized() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for X, y in chunks():
                yield (check_features(X) - self.mean_) / self.scale_, check_labels(y, len(X))

        coef, intercept = fit_logistic_pieces(
            standardized,
            self.mean_.size,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            learning_rate=self.params.learning_rate,
            l2=self.params.l2,
            on_epoch=on_epoch,
        )
        self.coef_, self.intercept_ = coef, np.array(intercept)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        X = check_features(X, self.coef_.size)
        return ((X - self.mean_) / self.scale_) @ self.coef_ + self.intercept_

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
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


def fit_logistic_pieces(
    pieces: Callable[[], Iterator[tuple[Any, np.ndarray]]],
    n_features: int,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    learning_rate: float,
    l2: float,
    on_epoch: EpochCallback | None = None,
) -> tuple[np.ndarray, float]:
    """Weights and bias of L2-regularised logistic regression by mini-batch Adam, over data
    that arrives in pieces (chunks of a file larger than memory): each epoch walks the pieces
    in order and shuffles the rows within each piece. With a single piece this is ordinary
    mini-batch training over a full shuffle."""
    theta = np.zeros(n_features + 1)  # weights then bias
    optimiser = Adam(theta.size, learning_rate)
    penalty = np.append(np.full(n_features, l2), 0.0)
    rng = np.random.default_rng(seed)
    for epoch in range(1, epochs + 1):
        for X, labels in pieces():
            order = rng.permutation(labels.size)
            for start in range(0, labels.size, batch_size):
                batch = order[start : start + batch_size]
                Xb = X[batch]
                error = sigmoid(Xb @ theta[:-1] + theta[-1]) - labels[batch]
                grad = np.append(Xb.T @ error, error.sum()) / batch.size + penalty * theta
                optimiser.step(theta, grad)
        if on_epoch is not None:
            on_epoch(epoch, epochs)
    return theta[:-1].copy(), float(theta[-1])


def streaming_standardizer(chunks: Chunks) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale over all chunks in one pass (Chan et al.'s pairwise update of means and
    squared deviations), numerically as good as computing them on the whole table."""
    count, mean, squares = 0, np.zeros(0), np.zeros(0)
    for X, _ in chunks():
        X = check_features(X)
        n_b, mean_b = X.shape[0], X.mean(axis=0)
        squares_b = ((X - mean_b) ** 2).sum(axis=0)
        if count == 0:
            count, mean, squares = n_b, mean_b, squares_b
            continue
        delta = mean_b - mean
        total = count + n_b
        mean = mean + delta * n_b / total
        squares = squares + squares_b + delta**2 * count * n_b / total
        count = total
    if count == 0:
        raise ValueError("no training rows")
    scale = np.sqrt(squares / count)
    scale[scale == 0] = 1.0
    return mean, scale
