"""Anomaly detection on action sequences, or on numeric rows with an isolation forest.

Sequences (the default): every unigram, bigram and trigram of actions is hashed into a fixed
feature space, and logistic regression is trained on those counts by mini-batch Adam. Hashing
means an action never seen in training still lands in a feature, and n-grams rather than whole
sequences mean a new ordering of known steps is scored from its parts, unlike the script this
replaces, which could only recognise sequences it had memorised.

Numeric rows (``method: isolation_forest``): scikit-learn's IsolationForest scores how easily a
row is isolated, and Platt scaling fitted on the training rows turns that score into a
probability.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field
from scipy import sparse
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression

from nethical_runner.models.base import (
    Model,
    ModelParams,
    as_two_columns,
    check_features,
    check_labels,
    estimator_from_array,
    estimator_to_array,
    sigmoid,
)
from nethical_runner.models.logistic import fit_logistic

_HASH_MULTIPLIERS = np.array([0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F], dtype=np.uint64)


class AnomalyParams(ModelParams):
    method: Literal["ngram", "isolation_forest"] = Field(
        "ngram", description="ngram: action sequences; isolation_forest: numeric rows."
    )
    ngram_max: int = Field(3, ge=1, le=4, description="Longest n-gram of actions counted.")
    hash_bits: int = Field(14, ge=8, le=22, description="Hashed feature space of 2**bits.")
    learning_rate: float = Field(0.05, gt=0.0, le=10.0, description="Adam step size.")
    l2: float = Field(1e-5, ge=0.0, le=10.0, description="L2 penalty on the weights.")
    n_estimators: int = Field(200, ge=10, le=5000, description="Trees of the isolation forest.")


class AnomalyModel(Model):
    type_name = "anomaly"
    Params = AnomalyParams
    params: AnomalyParams

    @classmethod
    def synthetic_kind(cls, params: ModelParams) -> str:
        assert isinstance(params, AnomalyParams)
        return "sequence" if params.method == "ngram" else "outliers"

    def fit(
        self, X: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, seed: int
    ) -> AnomalyModel:
        X = check_features(X)
        labels = check_labels(y, X.shape[0])
        self.n_features_ = np.array(X.shape[1])
        if self.params.method == "isolation_forest":
            forest = IsolationForest(n_estimators=self.params.n_estimators, random_state=seed)
            forest.fit(X)
            self.forest_ = forest
            scores = -forest.score_samples(X)
            platt = LogisticRegression(C=1e4).fit(scores[:, None], labels)
            self.platt_ = np.array([platt.coef_[0, 0], platt.intercept_[0]])
            return self
        coef, intercept = fit_logistic(
            self._ngrams(X),
            labels,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            learning_rate=self.params.learning_rate,
            l2=self.params.l2,
        )
        self.coef_, self.intercept_ = coef, np.array(intercept)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = check_features(X, int(self.n_features_))
        if self.params.method == "isolation_forest":
            slope, intercept = self.platt_
            return as_two_columns(sigmoid(slope * -self.forest_.score_samples(X) + intercept))
        return as_two_columns(sigmoid(self._ngrams(X) @ self.coef_ + self.intercept_))

    def _ngrams(self, tokens: np.ndarray) -> sparse.csr_matrix:
        """Hashed n-gram counts, log-scaled and L2-normalised per row so that sequence length
        does not decide the score on its own."""
        if np.any(tokens < 0) or np.any(tokens != np.round(tokens)):
            raise ValueError("sequence columns must hold non-negative integer token ids")
        ids = tokens.astype(np.uint64)
        n, width = ids.shape
        size = 1 << self.params.hash_bits
        rows, cols = [], []
        for order in range(1, self.params.ngram_max + 1):
            if order > width:
                break
            windows = np.lib.stride_tricks.sliding_window_view(ids, order, axis=1)
            complete = np.all(windows > 0, axis=2)
            hashed = (windows * _HASH_MULTIPLIERS[:order]).sum(axis=2) + np.uint64(order)
            hashed = (hashed ^ (hashed >> np.uint64(15))) % np.uint64(size)
            row_index = np.broadcast_to(np.arange(n)[:, None], complete.shape)
            rows.append(row_index[complete])
            cols.append(hashed[complete].astype(np.int64))
        counts = sparse.csr_matrix(
            (np.ones(sum(r.size for r in rows)), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n, size),
        )
        counts.sum_duplicates()
        counts.data = np.log1p(counts.data)
        norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.csr_matrix(sparse.diags(1.0 / norms) @ counts)

    def get_state(self) -> dict[str, np.ndarray]:
        if self.params.method == "isolation_forest":
            return {
                "n_features": self.n_features_,
                "forest": estimator_to_array(self.forest_),
                "platt": self.platt_,
            }
        return {"n_features": self.n_features_, "coef": self.coef_, "intercept": self.intercept_}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.n_features_ = state["n_features"]
        if self.params.method == "isolation_forest":
            self.forest_ = estimator_from_array(state["forest"], ("sklearn.",))
            self.platt_ = state["platt"]
        else:
            self.coef_, self.intercept_ = state["coef"], state["intercept"]
