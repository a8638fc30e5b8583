"""Logistic regression: mini-batch Adam, then an exact solve of the same objective.

The objective is scikit-learn's ``LogisticRegression`` with its L2 penalty: the summed log loss
of the standardised rows plus ``||w||**2 / (2 * C)``, the intercept not penalised. ``epochs``
passes of Adam over the training rows in shuffled mini-batches of ``batch_size`` bring the
weights near its minimum; Newton's method then finishes from there, a pass over the rows per
step (each chunk of a file larger than memory read once per step), until the predicted decrease
of the mean loss is below :data:`NEWTON_TOLERANCE`.

Why both: the last iterate of constant-step Adam is noisy. On a table no linear model can
learn (two features whose signs' XOR is the label) the honest answer is about 0.5 everywhere,
and a last iterate a few hundredths off it failed ``max_ece: 0.08`` for 7 seeds in 10; a
decaying step or iterate averaging shrinks that noise only as fast as the number of steps
grows. Newton's method converges quadratically near the minimum, so two to four passes reach
the exact solution whatever the seed, and the probabilities are scikit-learn's to a few
decimals. Adam's mini-batches are kept in front because they make the first passes cheap on
large tables and give Newton a start where the log loss is already nearly quadratic.

Written with numpy rather than scikit-learn's ``SGDClassifier.partial_fit`` because the per-call
input validation of the latter dominates the cost of small batches (a million rows at batch 32
is 31,250 calls per epoch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from pydantic import Field

from nethical_runner.models.base import (
    EPOCH_SETTINGS,
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

Pieces = Callable[[], Iterator[tuple[Any, np.ndarray]]]
NEWTON_TOLERANCE = 1e-12
"""Stop when Newton's step promises to lower the mean log loss by less than this."""
MAX_NEWTON_STEPS = 50
MAX_NEWTON_FEATURES = 2048
"""Widest table solved exactly: the Hessian has ``(features + 1) ** 2`` entries (33 MB here)."""


class LogisticParams(ModelParams):
    C: float = Field(
        1.0,
        gt=0.0,
        le=1e12,
        description="Inverse strength of the L2 penalty on the summed log loss, as "
        "scikit-learn's LogisticRegression C.",
    )
    learning_rate: float = Field(
        0.05, gt=0.0, le=10.0, description="Adam step size of the mini-batch passes."
    )


class LogisticModel(Model, TrainsFromChunks, TrainsInEpochs):
    type_name = "logistic"
    Params = LogisticParams
    params: LogisticParams

    def training_settings(self) -> frozenset[str]:
        return EPOCH_SETTINGS

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
        and is called once for the scaling statistics, once per epoch and once per Newton
        step."""
        rows, self.mean_, self.scale_ = streaming_standardizer(chunks)

        def standardized() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for X, y in chunks():
                yield (check_features(X) - self.mean_) / self.scale_, check_labels(y, len(X))

        penalty = 1.0 / self.params.C
        theta = adam_passes(
            standardized,
            self.mean_.size,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            learning_rate=self.params.learning_rate,
            l2=penalty / rows,
            on_epoch=on_epoch,
        )
        if self.mean_.size <= MAX_NEWTON_FEATURES:
            theta = newton_solve(standardized, theta, penalty, rows)
        self.coef_, self.intercept_ = theta[:-1].copy(), np.array(theta[-1])
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


def adam_passes(
    pieces: Pieces,
    n_features: int,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    learning_rate: float,
    l2: float,
    on_epoch: EpochCallback | None = None,
) -> np.ndarray:
    """Weights then bias after ``epochs`` passes of mini-batch Adam on the mean log loss plus
    ``l2 / 2 * ||w||**2``, over data that arrives in pieces (chunks of a file larger than
    memory): each epoch walks the pieces in order and shuffles the rows within each piece. With
    a single piece this is ordinary mini-batch training over a full shuffle."""
    theta = np.zeros(n_features + 1)
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
    return theta


def newton_solve(pieces: Pieces, theta: np.ndarray, penalty: float, rows: int) -> np.ndarray:
    """The minimum of the summed log loss plus ``penalty / 2 * ||w||**2`` (bias unpenalised),
    by damped Newton steps from ``theta``, each a pass over the rows.

    Every pass evaluates the objective, its gradient and Hessian at one point. A point that
    does not lower the objective (possible only far from the minimum) is replaced by half the
    step towards it, so the iteration can never diverge; at the minimum the predicted decrease
    ``g' H^-1 g / 2`` per row falls below :data:`NEWTON_TOLERANCE` and the pass that measured
    it is the last.
    """
    penalised = np.append(np.ones(theta.size - 1), 0.0)
    current = theta.copy()
    best: tuple[float, np.ndarray] | None = None  # objective and Newton step at the best point
    best_theta = current
    step_size = 1.0
    for _ in range(MAX_NEWTON_STEPS):
        loss, grad, hessian = _loss_gradient_hessian(pieces, current)
        loss += 0.5 * penalty * float(current[:-1] @ current[:-1])
        grad += penalty * penalised * current
        hessian[np.diag_indices_from(hessian)] += penalty * penalised
        if best is not None and not loss < best[0]:
            step_size /= 2.0  # overshot: try half the way from the best point
            current = best_theta - step_size * best[1]
            continue
        try:
            step = np.linalg.solve(hessian, grad)
        except np.linalg.LinAlgError:  # a singular Hessian: only an unpenalised one can be
            step = np.linalg.lstsq(hessian, grad, rcond=None)[0]
        best, best_theta, step_size = (loss, step), current, 1.0
        if 0.5 * float(grad @ step) / rows < NEWTON_TOLERANCE:
            return current
        current = current - step
    return best_theta


def _loss_gradient_hessian(
    pieces: Pieces, theta: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Summed log loss at ``theta`` over all pieces, with its gradient and Hessian."""
    loss, grad = 0.0, np.zeros(theta.size)
    hessian = np.zeros((theta.size, theta.size))
    for X, labels in pieces():
        z = X @ theta[:-1] + theta[-1]
        p = sigmoid(z)
        loss += float(np.sum(np.logaddexp(0.0, z) - labels * z))
        error = p - labels
        weight = p * (1.0 - p)
        grad[:-1] += X.T @ error
        grad[-1] += error.sum()
        weighted = X * weight[:, None]
        hessian[:-1, :-1] += weighted.T @ X
        column = weighted.sum(axis=0)
        hessian[:-1, -1] += column
        hessian[-1, :-1] += column
        hessian[-1, -1] += weight.sum()
    return loss, grad, hessian


def streaming_standardizer(chunks: Chunks) -> tuple[int, np.ndarray, np.ndarray]:
    """Row count, mean and scale over all chunks in one pass (Chan et al.'s pairwise update of
    means and squared deviations), numerically as good as computing them on the whole table."""
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
    return count, mean, scale
