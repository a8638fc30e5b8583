"""Anomaly detection on action sequences, or on numeric rows with an isolation forest.

Sequences (the default): every unigram, bigram and trigram of actions is hashed into a fixed
feature space and logistic regression is trained on those counts by mini-batch Adam. Hashing
means an action never seen in training still lands in a feature, and n-grams rather than whole
sequences mean a new ordering of known steps is scored from its parts, unlike the script this
replaces, which could only recognise sequences it had memorised.

Rows are hashed once, a chunk at a time, into a compact array of two-byte ids that every
epoch reuses (chunks in random order each epoch, rows shuffled within a chunk, each batch a
slice of its shuffled chunk): hashing again each epoch took a third to a half of the training at a
million rows, and the ids of 800,000 training sequences take about 110 MB, while a chunk is
widened to the index type only while it is trained on.

The weights come out of the Adam steps underconfident (few steps at large batches: 320 at
10,000 rows and batch 256), so Platt scaling (Platt, 1999) fitted on the score each training
row got in the last epoch maps them to probabilities; being monotone it leaves the ranking,
and the ROC AUC, as trained.

Numeric rows (``method: isolation_forest``): scikit-learn's IsolationForest scores how easily a
row is isolated, and Platt scaling fitted on the training rows turns that score into a
probability.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from nethical_runner.models.base import (
    EPOCH_SETTINGS,
    Model,
    ModelParams,
    as_two_columns,
    check_features,
    check_labels,
    estimator_from_array,
    estimator_to_array,
    fit_platt,
    sigmoid,
)
from nethical_runner.models.capabilities import EpochCallback, TrainsInEpochs
from nethical_runner.models.optim import Adam

_FOLD_PRIME = 1_000_003
_CHUNK_ROWS = 16_384
_PLATT_ROWS = 65_536


class AnomalyParams(ModelParams):
    method: Literal["ngram", "isolation_forest"] = Field(
        "ngram", description="ngram: action sequences; isolation_forest: numeric rows."
    )
    ngram_max: int = Field(3, ge=1, le=4, description="Longest n-gram of actions counted.")
    hash_bits: int = Field(13, ge=8, le=22, description="Hashed feature space of 2**bits.")
    learning_rate: float = Field(0.05, gt=0.0, le=10.0, description="Adam step size.")
    l2: float = Field(1e-5, ge=0.0, le=10.0, description="L2 penalty on the weights.")
    n_estimators: int = Field(200, ge=10, le=5000, description="Trees of the isolation forest.")


class AnomalyModel(Model, TrainsInEpochs):
    type_name = "anomaly"
    Params = AnomalyParams
    params: AnomalyParams

    @classmethod
    def synthetic_kind(cls, params: ModelParams) -> str:
        assert isinstance(params, AnomalyParams)
        return "sequence" if params.method == "ngram" else "outliers"

    def training_settings(self) -> frozenset[str]:
        return frozenset() if self.params.method == "isolation_forest" else EPOCH_SETTINGS

    def fit(
        self, X: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, seed: int
    ) -> AnomalyModel:
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
    ) -> AnomalyModel:
        labels = check_labels(y, X.shape[0])
        self.n_features_ = np.array(X.shape[1])
        if self.params.method == "isolation_forest":
            return self._fit_forest(check_features(X), labels, seed)
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {epochs}")
        tokens = _check_tokens(X)
        ids, row_weight = self._hashed(tokens)
        size = 1 << self.params.hash_bits
        theta = np.zeros(size + 2)  # hashed weights, an always-zero slot for padding, bias
        optimiser = Adam(theta.size, self.params.learning_rate)
        penalty = np.full(theta.size, self.params.l2)
        penalty[size:] = 0.0  # neither the padding slot nor the bias is penalised
        scratch = np.empty(theta.size)
        seen_scores = np.empty(labels.size)  # each row's score in the last epoch, for Platt
        rng = np.random.default_rng(seed)
        starts = np.arange(0, labels.size, _CHUNK_ROWS)
        for epoch in range(1, epochs + 1):
            for chunk_start in rng.permutation(starts):
                rows = chunk_start + rng.permutation(min(_CHUNK_ROWS, labels.size - chunk_start))
                # The chunk's rows in their shuffled order, so that every batch is a slice, and
                # its ids as the index type, which ``take`` and ``bincount`` use without a cast.
                chunk_ids = ids[rows].astype(np.intp)
                chunk_weight, chunk_labels = row_weight[rows], labels[rows]
                chunk_scores = np.empty(rows.size)
                for start in range(0, rows.size, batch_size):
                    batch = slice(start, start + batch_size)
                    batch_ids, batch_weight = chunk_ids[batch], chunk_weight[batch]
                    scores = theta.take(batch_ids).sum(axis=1)
                    scores *= batch_weight
                    scores += theta[-1]
                    chunk_scores[batch] = scores
                    # The logistic function as 0.5 + 0.5 tanh(s / 2): free of overflow, like
                    # base.sigmoid, in three operations on the batch instead of masked halves.
                    error = np.tanh(scores * 0.5)
                    error *= 0.5
                    error += 0.5 - chunk_labels[batch]
                    error /= scores.size
                    grad: np.ndarray = np.bincount(
                        batch_ids.ravel(),
                        weights=np.repeat(error * batch_weight, batch_ids.shape[1]),
                        minlength=theta.size,
                    )
                    grad += np.multiply(penalty, theta, out=scratch)
                    grad[size] = 0.0
                    grad[-1] = error.sum()
                    optimiser.step(theta, grad)
                seen_scores[rows] = chunk_scores
            if on_epoch is not None:
                on_epoch(epoch, epochs)
        self.theta_ = theta
        # Platt scaling on the scores each row got in the last epoch, before the step on its own
        # batch: the weights come out of a few hundred Adam steps underconfident (at batch 256
        # the fitted slope is about 4), and a monotone map fixes that without changing the
        # ranking. Two parameters need no more than a strided sample of the rows.
        stride = -(-labels.size // _PLATT_ROWS)
        self.platt_ = fit_platt(seen_scores[::stride], labels[::stride])
        return self

    def _fit_forest(self, X: np.ndarray, labels: np.ndarray, seed: int) -> AnomalyModel:
        from sklearn.ensemble import IsolationForest  # heavy: only when used

        forest = IsolationForest(n_estimators=self.params.n_estimators, random_state=seed)
        self.forest_ = forest.fit(X)
        self.platt_ = fit_platt(-forest.score_samples(X), labels)
        return self

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        if X.ndim != 2 or X.shape[1] != int(self.n_features_):
            raise ValueError(f"model was trained on {int(self.n_features_)} columns")
        if self.params.method == "isolation_forest":
            slope, intercept = self.platt_
            scores = -self.forest_.score_samples(check_features(X))
            return as_two_columns(sigmoid(slope * scores + intercept))
        tokens = _check_tokens(X)
        slope, intercept = self.platt_
        p = np.empty(tokens.shape[0])
        for start in range(0, tokens.shape[0], _CHUNK_ROWS):
            ids, row_weight = self._ngrams(tokens[start : start + _CHUNK_ROWS])
            scores = self.theta_[ids].sum(axis=1) * row_weight + self.theta_[-1]
            p[start : start + ids.shape[0]] = sigmoid(slope * scores + intercept)
        return as_two_columns(p)

    def _hashed(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_ngrams` of every row, hashed a chunk at a time into one array of the
        narrowest unsigned type that holds an id, so that the epochs reuse it instead of hashing
        every row again: two bytes an n-gram at the default 2**13 features."""
        windows = sum(
            tokens.shape[1] - order + 1
            for order in range(1, min(self.params.ngram_max, tokens.shape[1]) + 1)
        )
        kind = np.uint16 if self.params.hash_bits < 16 else np.uint32
        ids = np.empty((tokens.shape[0], windows), dtype=kind)
        row_weight = np.empty(tokens.shape[0])
        for start in range(0, tokens.shape[0], _CHUNK_ROWS):
            chunk = slice(start, start + _CHUNK_ROWS)
            ids[chunk], row_weight[chunk] = self._ngrams(tokens[chunk], kind)
        return ids, row_weight

    def _ngrams(
        self, tokens: np.ndarray, id_type: type[np.unsignedinteger] | type[np.intp] = np.intp
    ) -> tuple[np.ndarray, np.ndarray]:
        """Hashed ids (of ``id_type``) of every n-gram window of each row (windows touching
        padding point at the always-zero slot), and each row's weight 1/sqrt(complete windows),
        so that long sequences do not score high for their length alone.

        An n-gram is folded into one number column by column (``h * P + next``) and mixed by
        Fibonacci hashing; byte-sized token ids (every synthetic sequence) fold in 32-bit
        arithmetic, which is twice as fast as 64-bit.
        """
        bits = self.params.hash_bits
        narrow = tokens.dtype == np.uint8 or int(tokens.max(initial=0)) < 256
        kind, width = (np.uint32, 32) if narrow else (np.uint64, 64)
        multiplier = kind(0x9E3779B1 if narrow else 0x9E3779B97F4A7C15)
        prime, shift = kind(_FOLD_PRIME), kind(width - bits)
        wide = tokens.astype(kind)
        present = tokens > 0
        ids_parts, valid_parts = [], []
        columns = tokens.shape[1]
        for order in range(1, min(self.params.ngram_max, columns) + 1):
            span = columns - order + 1
            folded = wide[:, :span].copy()
            valid = present[:, :span].copy()
            for offset in range(1, order):
                folded *= prime
                folded += wide[:, offset : offset + span]
                valid &= present[:, offset : offset + span]
            folded += kind(order)
            folded *= multiplier
            folded >>= shift
            ids_parts.append(folded)
            valid_parts.append(valid)
        ids = np.concatenate(ids_parts, axis=1, dtype=id_type, casting="unsafe")  # < 2**bits
        valid = np.concatenate(valid_parts, axis=1)
        ids[~valid] = 1 << bits  # the zero slot
        row_weight = 1.0 / np.sqrt(np.maximum(valid.sum(axis=1), 1))
        return ids, row_weight

    def get_state(self) -> dict[str, np.ndarray]:
        if self.params.method == "isolation_forest":
            return {
                "n_features": self.n_features_,
                "forest": estimator_to_array(self.forest_),
                "platt": self.platt_,
            }
        return {"n_features": self.n_features_, "theta": self.theta_, "platt": self.platt_}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.n_features_ = state["n_features"]
        self.platt_ = state["platt"]
        if self.params.method == "isolation_forest":
            self.forest_ = estimator_from_array(state["forest"], ("sklearn.",))
        else:
            self.theta_ = state["theta"]


def _check_tokens(X: np.ndarray) -> np.ndarray:
    """Token ids as given (any integer or integral float dtype), without a float64 copy."""
    if X.ndim != 2:
        raise ValueError(f"sequence data must be a 2-D array of token ids, got shape {X.shape}")
    if np.issubdtype(X.dtype, np.integer):
        if X.size and X.min() < 0:
            raise ValueError("token ids must be non-negative")
        return X
    if not np.all(np.isfinite(X)) or np.any(X < 0) or np.any(np.round(X) != X):
        raise ValueError("sequence columns must hold non-negative integer token ids")
    return X.astype(np.int64)
