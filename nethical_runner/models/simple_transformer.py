"""A small transformer encoder for tabular rows and short byte strings, in plain numpy.

Plain numpy because the runner must train the same model, bit for bit, on any machine without a
deep-learning framework, and a model of a few thousand weights does not need one. Every gradient is
written out by hand, so ``loss_and_gradients`` is public: a test checks each one against finite
differences.

Each column of ``X`` is one token. Numeric column ``j``, standardised with training statistics to
``z_j``, becomes ``z_j * value_w[j] + position[j]``: the position (feature-id) embedding doubles as
the per-feature bias of the value embedding, since a separate bias would be the same function with a
redundant parameter. The last ``token_columns`` columns hold byte tokens (0 is padding, ``b + 1`` is
byte ``b``) and become ``token_embedding[id] + position[j]``. Padding is masked out of the attention
keys and of the mean pooling that feeds the logistic head.

Blocks are pre-LN (``h + MHA(LN(h))``, then ``h + FFN(LN(h))``, and one final layer norm) because
pre-LN trains stably without learning-rate warm-up. The feed-forward uses the tanh form of GELU,
which is smooth, so a finite-difference check never straddles a kink the way it can with ReLU.

The model computes in float32 (``dtype``): a batch is a few thousand token rows of 16 to 64
columns, so a step costs memory traffic and per-call overhead rather than arithmetic, and float32
halves the traffic. Every small tensor operation is chosen for that regime: q, k and v come from
one fused product, layer-norm gains and biases and the attention scale are folded into the next
weight matrix instead of touching every row, and sums over short axes are matrix-vector products.
The same code runs in float64 for the finite-difference check. States are stored as float64.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import DTypeLike
from pydantic import Field, model_validator
from threadpoolctl import ThreadpoolController

from nethical_runner.models.base import (
    EPOCH_SETTINGS,
    Model,
    ModelParams,
    as_two_columns,
    check_features,
    check_labels,
    fit_platt,
    sigmoid,
    standardizer,
)
from nethical_runner.models.capabilities import EpochCallback, ReadsText, TrainsInEpochs
from nethical_runner.models.optim import Adam

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_CONTROLLER: ThreadpoolController | None = None
_N_TOKEN_IDS = 257
_MAX_TOKEN_ID = _N_TOKEN_IDS - 1
_EMBEDDINGS = ("value_w", "position", "token_embedding")
_LN_EPS = 1e-5
# Added to attention scores of padding keys: large enough that exp() underflows to exactly zero,
# finite so that a row whose keys are all padding gets uniform weights instead of NaN.
_MASK_FILL = -1e9
# Up to this many keys, a row maximum is a loop of whole-array maxima (see _last_axis_max).
_LOOPED_MAX_COLUMNS = 64
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715
# Rows per prediction chunk: a chunk's activations should stay in cache, and larger chunks were
# several times slower per row.
_MAX_PREDICT_ROWS = 512
# Training rows whose logits the Platt scaling is fitted to, at most.
_PLATT_ROWS = 1 << 16
# Elements of cached activations allowed per prediction chunk (about 64 MB in float64): long token
# sequences get smaller chunks because attention grows with the square of the sequence length.
_PREDICT_BUDGET = 1 << 23

Cache = dict[str, Any]


class SimpleTransformerParams(ModelParams):
    d_model: int = Field(16, ge=4, le=256, description="Width of every token representation.")
    heads: int = Field(2, ge=1, le=64, description="Attention heads; must divide d_model.")
    layers: int = Field(1, ge=1, le=8, description="Number of encoder blocks.")
    learning_rate: float = Field(
        1e-2, gt=0.0, le=1.0, description="Adam step size at the start of training."
    )
    schedule: Literal["cosine", "constant"] = Field(
        "cosine",
        description="Step size over training: 'cosine' decays it from learning_rate to zero "
        "along half a cosine, 'constant' keeps it.",
    )
    weight_decay: float = Field(
        0.0, ge=0.0, le=1.0, description="Decoupled (AdamW) decay of the weight matrices."
    )
    ff_multiplier: int = Field(
        2, ge=1, le=8, description="Feed-forward hidden width as a multiple of d_model."
    )
    token_columns: int = Field(
        0, ge=0, le=4096, description="How many trailing columns of X are byte-token ids."
    )

    @model_validator(mode="after")
    def _heads_divide_d_model(self) -> SimpleTransformerParams:
        if self.d_model % self.heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by heads ({self.heads}) so that "
                "every attention head has the same width"
            )
        return self


class SimpleTransformerModel(Model, ReadsText, TrainsInEpochs):
    """Binary classifier: pre-LN transformer blocks over one token per column, mean pooled."""

    type_name = "simple_transformer"
    Params = SimpleTransformerParams
    params: SimpleTransformerParams

    def __init__(
        self, params: SimpleTransformerParams | None = None, *, dtype: DTypeLike = np.float32
    ) -> None:
        super().__init__(params)
        # What every activation, weight and gradient is computed in. Training and prediction use
        # float32 (half the memory traffic of float64, and BLAS's faster sgemm); float64 runs
        # the very same code, for the finite-difference check of the gradients.
        self.dtype = np.dtype(dtype)
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self._n_features = 0
        self._shapes: dict[str, tuple[int, ...]] = {}
        # All parameters live in one flat vector and ``_p`` holds named views into it, so an Adam
        # step is a few vectorised operations rather than a loop over arrays.
        self._theta = np.zeros(0, self.dtype)
        self._p: dict[str, np.ndarray] = {}
        self._input_mean = np.zeros(0)
        self._input_scale = np.ones(0)
        self._platt = np.array([1.0, 0.0])

    def with_token_columns(self, token_columns: int) -> SimpleTransformerModel:
        params = self.params.model_copy(update={"token_columns": token_columns})
        return SimpleTransformerModel(params, dtype=self.dtype)

    def initialise(self, n_features: int, seed: int) -> None:
        """Random parameters for ``n_features`` columns, as ``fit`` starts; no standardisation."""
        self._initialise(n_features, np.random.default_rng(seed))

    def training_settings(self) -> frozenset[str]:
        return EPOCH_SETTINGS

    def fit(
        self, X: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, seed: int
    ) -> SimpleTransformerModel:
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
    ) -> SimpleTransformerModel:
        if epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {epochs}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        X = self._check_X(X, n_features=None)
        if X.shape[0] == 0:
            raise ValueError("cannot fit on zero rows")
        labels = check_labels(y, X.shape[0])
        rng = np.random.default_rng(seed)
        self._initialise(X.shape[1], rng)
        self._input_mean, self._input_scale = standardizer(X[:, : self._n_numeric])
        z, ids = self._encode(X)

        # Decoupled (AdamW) decay shrinks the weight matrices only; biases, gains and
        # embeddings are not decayed.
        optimiser = Adam(
            self._theta.size,
            self.params.learning_rate,
            weight_decay=self.params.weight_decay,
            decay_mask=np.concatenate(
                [
                    np.full(math.prod(shape), float(name.endswith("_w")))
                    for name, shape in self._shapes.items()
                ]
            ),
        )
        gradient = np.zeros_like(self._theta)
        views = self._views(gradient)
        steps = epochs * -(-X.shape[0] // batch_size)
        step_labels = labels.astype(self.dtype)
        with _one_blas_thread():
            for epoch in range(1, epochs + 1):
                order = rng.permutation(X.shape[0])
                for start in range(0, X.shape[0], batch_size):
                    rows = order[start : start + batch_size]
                    optimiser.learning_rate = self._learning_rate(optimiser.steps, steps)
                    logits, cache = self._forward(z[rows], ids[rows])
                    # The logistic function as a tanh: overflow-free without the masks of
                    # base.sigmoid, and in dtype.
                    dlogits = np.tanh(0.5 * logits)
                    dlogits *= 0.5 / rows.size
                    dlogits += (0.5 - step_labels[rows]) / rows.size
                    for name, value in self._backward(cache, dlogits).items():
                        views[name][...] = value
                    optimiser.step(self._theta, gradient)
                if on_epoch is not None:
                    on_epoch(epoch, epochs)
            # Platt's two parameters are settled long before a million rows: a seeded sample
            # saves a forward pass over every training row (a third of a one-epoch fit).
            platt_rows: slice | np.ndarray = slice(None)
            if X.shape[0] > _PLATT_ROWS:
                platt_rows = np.sort(rng.choice(X.shape[0], _PLATT_ROWS, replace=False))
            logits = self._logits(z[platt_rows], ids[platt_rows]).astype(np.float64)
        self._platt = fit_platt(logits, labels[platt_rows])
        return self

    def _learning_rate(self, step: int, steps: int) -> float:
        """Step size of 0-based step ``step`` of ``steps``. A cosine decay to zero (Loshchilov and
        Hutter, 2017, without restarts) lets the last steps settle into a minimum rather than
        jump around it, which matters most when a small data set gives few hundred steps
        (benchmarks/digits.py: 0.944 accuracy against 0.914 with a constant 0.01)."""
        if self.params.schedule == "constant":
            return self.params.learning_rate
        return self.params.learning_rate * 0.5 * (1.0 + math.cos(math.pi * step / steps))

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        self._require_parameters()
        X = self._check_X(X, n_features=self._n_features)
        slope, intercept = self._platt
        logits = self._logits(*self._encode(X)).astype(np.float64)
        return as_two_columns(sigmoid(slope * logits + intercept))

    def loss_and_gradients(
        self, X: np.ndarray, y: np.ndarray
    ) -> tuple[float, dict[str, np.ndarray]]:
        """Mean binary cross-entropy of the raw logits, and its gradient for every parameter.

        Weight decay is decoupled from the loss and Platt scaling is fitted after training, so
        neither appears here: this is exactly the objective the Adam steps descend.
        """
        self._require_parameters()
        X = self._check_X(X, n_features=self._n_features)
        labels = check_labels(y, X.shape[0])
        logits, cache = self._forward(*self._encode(X))
        wide = logits.astype(np.float64)
        loss = float(np.mean(np.logaddexp(0.0, wide) - labels * wide))
        dlogits = ((sigmoid(wide) - labels) / labels.size).astype(self.dtype)
        grads = self._backward(cache, dlogits)
        return loss, {name: np.asarray(grads[name], np.float64) for name in self._shapes}

    def get_state(self) -> dict[str, np.ndarray]:
        self._require_parameters()
        state = {name: view.astype(np.float64) for name, view in self._p.items()}
        state["input_mean"] = self._input_mean.copy()
        state["input_scale"] = self._input_scale.copy()
        state["platt"] = self._platt.copy()
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        if "position" not in state:
            raise ValueError("state has no 'position' array; it is not a simple_transformer state")
        n_features = int(np.shape(state["position"])[0])
        self._check_feature_count(n_features)
        shapes = self._parameter_shapes(n_features)
        n_numeric = n_features - self.params.token_columns
        expected = {
            **shapes,
            "input_mean": (n_numeric,),
            "input_scale": (n_numeric,),
            "platt": (2,),
        }
        if set(state) != set(expected):
            missing = sorted(set(expected) - set(state))
            extra = sorted(set(state) - set(expected))
            raise ValueError(f"state keys do not match: missing {missing}, unexpected {extra}")
        arrays: dict[str, np.ndarray] = {}
        for name, shape in expected.items():
            array = np.asarray(state[name])
            if array.shape != shape:
                raise ValueError(f"state[{name!r}] has shape {array.shape}, expected {shape}")
            if not (np.issubdtype(array.dtype, np.number) and np.isfinite(array).all()):
                raise ValueError(f"state[{name!r}] must contain finite numbers")
            arrays[name] = array.astype(np.float64)
        if not (arrays["input_scale"] > 0).all():
            raise ValueError("state['input_scale'] must be positive")
        self._n_features = n_features
        self._set_layout(shapes)
        self._theta[:] = self._flatten(arrays)
        self._input_mean = arrays["input_mean"]
        self._input_scale = arrays["input_scale"]
        self._platt = arrays["platt"]

    @property
    def _n_numeric(self) -> int:
        return self._n_features - self.params.token_columns

    def _parameter_shapes(self, n_features: int) -> dict[str, tuple[int, ...]]:
        d = self.params.d_model
        hidden = d * self.params.ff_multiplier
        n_numeric = n_features - self.params.token_columns
        shapes: dict[str, tuple[int, ...]] = {}
        if n_numeric:
            shapes["value_w"] = (n_numeric, d)
        shapes["position"] = (n_features, d)
        if self.params.token_columns:
            shapes["token_embedding"] = (_N_TOKEN_IDS, d)
        for layer in range(self.params.layers):
            shapes |= {
                f"block{layer}.ln1_gain": (d,),
                f"block{layer}.ln1_bias": (d,),
                f"block{layer}.attn_qkv_w": (d, 3 * d),
                f"block{layer}.attn_qkv_b": (3 * d,),
                f"block{layer}.attn_out_w": (d, d),
                f"block{layer}.attn_out_b": (d,),
                f"block{layer}.ln2_gain": (d,),
                f"block{layer}.ln2_bias": (d,),
                f"block{layer}.ff_in_w": (d, hidden),
                f"block{layer}.ff_in_b": (hidden,),
                f"block{layer}.ff_out_w": (hidden, d),
                f"block{layer}.ff_out_b": (d,),
            }
        shapes |= {"final_ln_gain": (d,), "final_ln_bias": (d,), "head_w": (d,), "head_b": ()}
        return shapes

    def _set_layout(self, shapes: dict[str, tuple[int, ...]]) -> None:
        self._shapes = shapes
        self._theta = np.zeros(sum(math.prod(shape) for shape in shapes.values()), self.dtype)
        self._p = self._views(self._theta)

    def _views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Named arrays that are views into ``flat``, in the layout of ``_shapes``."""
        views = {}
        offset = 0
        for name, shape in self._shapes.items():
            size = math.prod(shape)
            views[name] = flat[offset : offset + size].reshape(shape)
            offset += size
        return views

    def _flatten(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.ravel(arrays[name]) for name in self._shapes])

    def _initialise(self, n_features: int, rng: np.random.Generator) -> None:
        self._check_feature_count(n_features)
        self._n_features = n_features
        self._set_layout(self._parameter_shapes(n_features))
        # Unit-variance embeddings, fan-in scaled matrices, and residual-branch outputs shrunk
        # with depth so that the residual stream starts close to the embeddings themselves.
        depth_scale = 1.0 / math.sqrt(2.0 * self.params.layers)
        for name, view in self._p.items():
            if name.endswith("_gain"):
                view[...] = 1.0
            elif name.endswith(("_b", "_bias")):
                view[...] = 0.0
            else:
                std = 1.0 if name in _EMBEDDINGS else view.shape[0] ** -0.5
                if name.endswith(("attn_out_w", "ff_out_w")):
                    std *= depth_scale
                # Drawn in float64 whatever the dtype, so a seed gives the same initial weights.
                view[...] = rng.normal(0.0, std, size=view.shape)
        self._input_mean = np.zeros(self._n_numeric)
        self._input_scale = np.ones(self._n_numeric)
        self._platt = np.array([1.0, 0.0])

    def _check_feature_count(self, n_features: int) -> None:
        if n_features < max(self.params.token_columns, 1):
            raise ValueError(
                f"X has {n_features} columns; the model needs at least one, and at least "
                f"token_columns ({self.params.token_columns})"
            )

    def _require_parameters(self) -> None:
        if not self._p:
            raise RuntimeError(
                "simple_transformer model has no parameters yet: call fit, initialise or set_state"
            )

    def _check_X(self, X: np.ndarray, n_features: int | None) -> np.ndarray:
        X = check_features(X, n_features)
        self._check_feature_count(X.shape[1])
        tokens = X[:, X.shape[1] - self.params.token_columns :]
        if tokens.size and not (
            (tokens == np.round(tokens)).all()
            and tokens.min() >= 0
            and tokens.max() <= _MAX_TOKEN_ID
        ):
            raise ValueError(
                f"the last {self.params.token_columns} columns of X are token ids and must be "
                f"integers in [0, {_MAX_TOKEN_ID}] (0 = padding, byte value + 1 otherwise)"
            )
        return X

    def _encode(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Standardised numeric values (in ``dtype``) and integer token ids (0 = padding)."""
        n_numeric = self._n_numeric
        z = ((X[:, :n_numeric] - self._input_mean) / self._input_scale).astype(self.dtype)
        return z, X[:, n_numeric:].astype(np.intp)

    def _logits(self, z: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Raw logits computed in row chunks, so memory stays bounded for any number of rows."""
        if z.shape[0] == 0:
            return np.zeros(0, self.dtype)
        tokens = self._n_features
        d = self.params.d_model
        per_row = self.params.layers * (
            self.params.heads * tokens * tokens + tokens * d * (self.params.ff_multiplier + 8)
        )
        chunk = int(np.clip(_PREDICT_BUDGET // per_row, 1, _MAX_PREDICT_ROWS))
        with _one_blas_thread():
            return np.concatenate(
                [
                    self._forward(z[i : i + chunk], ids[i : i + chunk])[0]
                    for i in range(0, z.shape[0], chunk)
                ]
            )

    def _forward(self, z: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, Cache]:
        """Raw logits, plus every intermediate that ``_backward`` needs (none is recomputed)."""
        p = self._p
        n_numeric = self._n_numeric
        batch, tokens = z.shape[0], self._n_features
        d = self.params.d_model
        h = np.empty((batch, tokens, d), self.dtype)
        if n_numeric:
            np.multiply(z[:, :, None], p["value_w"], out=h[:, :n_numeric])
            h[:, :n_numeric] += p["position"][:n_numeric]
        if self.params.token_columns:
            np.add(p["token_embedding"][ids], p["position"][n_numeric:], out=h[:, n_numeric:])
        key_bias, pool_weights = self._mask_terms(ids, batch)
        h = h.reshape(batch * tokens, d)
        blocks = []
        for layer in range(self.params.layers):
            h, block_cache = self._block_forward(f"block{layer}.", h, key_bias, batch, tokens)
            blocks.append(block_cache)
        normed, inv_std = _normalise(h)
        normed3 = normed.reshape(batch, tokens, d)
        if pool_weights is None:
            pooled_normed = np.matmul(self._unit(tokens, 1.0 / tokens), normed3)
            weight_sum = self._unit(batch, 1.0)
        else:
            pooled_normed = np.matmul(pool_weights[:, None, :], normed3)[:, 0]
            weight_sum = pool_weights @ self._unit(tokens, 1.0)
        # The final layer norm's gain and bias commute with the pooling, so they are applied to
        # ``batch`` pooled rows rather than to every token.
        gain, bias = p["final_ln_gain"], p["final_ln_bias"]
        pooled = pooled_normed * gain + np.multiply.outer(weight_sum, bias)
        logits = pooled @ p["head_w"] + p["head_b"]
        cache = {
            "z": z,
            "ids": ids,
            "blocks": blocks,
            "final_ln": (normed, inv_std),
            "pool_weights": pool_weights,
            "weight_sum": weight_sum,
            "pooled_normed": pooled_normed,
            "pooled": pooled,
        }
        return logits, cache

    def _mask_terms(
        self, ids: np.ndarray, batch: int
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Attention bias of padding keys and mean-pooling weights; None for numeric-only rows,
        whose tokens are all real, so that their steps skip both."""
        if not self.params.token_columns:
            return None, None
        n_numeric = self._n_numeric
        real = np.ones((batch, self._n_features), self.dtype)
        real[:, n_numeric:] = ids > 0
        key_bias = np.where(real > 0, 0.0, _MASK_FILL).astype(self.dtype)[:, None, None, :]
        pool_weights = real / np.maximum(real @ self._unit(self._n_features, 1.0), 1.0)[:, None]
        return key_bias, pool_weights

    def _unit(self, size: int, value: float) -> np.ndarray:
        """A constant vector: a matrix-vector product with it sums a small trailing axis several
        times faster than numpy's reductions do."""
        return np.full(size, value, self.dtype)

    def _backward(self, cache: Cache, dlogits: np.ndarray) -> dict[str, np.ndarray]:
        """Parameter gradients by the chain rule, given the loss gradient w.r.t. each logit."""
        p = self._p
        normed, _ = cache["final_ln"]
        tokens, d = self._n_features, self.params.d_model
        batch = normed.shape[0] // tokens
        grads: dict[str, np.ndarray] = {
            "head_w": dlogits @ cache["pooled"],
            "head_b": np.asarray(dlogits.sum()),
        }
        dpooled = np.multiply.outer(dlogits, p["head_w"])
        grads["final_ln_gain"] = p["head_w"] * (dlogits @ cache["pooled_normed"])
        grads["final_ln_bias"] = p["head_w"] * (dlogits @ cache["weight_sum"])
        dpooled_normed = dpooled * p["final_ln_gain"]
        dpooled_normed -= (dpooled_normed @ self._unit(d, 1.0 / d))[:, None]
        pool_weights = cache["pool_weights"]
        dnormed = np.empty((batch, tokens, d), self.dtype)
        if pool_weights is None:
            dnormed[...] = (dpooled_normed / tokens)[:, None, :]
        else:
            np.multiply(pool_weights[:, :, None], dpooled_normed[:, None, :], out=dnormed)
        dh = _normalise_backward(dnormed.reshape(batch * tokens, d), cache["final_ln"])
        for layer in reversed(range(self.params.layers)):
            dh = self._block_backward(f"block{layer}.", dh, cache["blocks"][layer], grads)
        dh3 = dh.reshape(batch, tokens, d)
        n_numeric = self._n_numeric
        grads["position"] = np.matmul(
            self._unit(batch, 1.0), dh.reshape(batch, tokens * d)
        ).reshape(tokens, d)
        if n_numeric:
            z = cache["z"]
            grads["value_w"] = np.matmul(z.T[:, None, :], dh3[:, :n_numeric].transpose(1, 0, 2))[
                :, 0
            ]
        if self.params.token_columns:
            # One weighted count per (token id, dimension) pair: np.add.at does the same sums
            # one element at a time.
            flat = (cache["ids"][:, :, None] * d + np.arange(d)).ravel()
            grads["token_embedding"] = (
                np.bincount(flat, weights=dh3[:, n_numeric:].ravel(), minlength=_N_TOKEN_IDS * d)
                .reshape(_N_TOKEN_IDS, d)
                .astype(self.dtype)
            )
        return grads

    def _block_forward(
        self, prefix: str, h: np.ndarray, key_bias: np.ndarray | None, batch: int, tokens: int
    ) -> tuple[np.ndarray, Cache]:
        """One pre-LN block on ``h`` of shape ``(batch * tokens, d)``."""
        p = self._p
        d = self.params.d_model
        heads = self.params.heads
        width = d // heads
        normed1, inv1 = _normalise(h)
        qkv = _affine_linear(
            normed1, p[prefix + "ln1_gain"], p[prefix + "ln1_bias"],
            p[prefix + "attn_qkv_w"], p[prefix + "attn_qkv_b"], self._qkv_scale(),
        )  # fmt: skip
        q, k, v = _heads(qkv, batch, tokens, heads, width)
        scores = q @ k.swapaxes(-1, -2)
        if key_bias is not None:
            scores += key_bias
        scores -= _last_axis_max(scores)
        probs = np.exp(scores, out=scores)
        probs /= _last_axis_sum(probs, self._unit(tokens, 1.0))
        context = np.empty((batch, tokens, heads, width), self.dtype)
        np.matmul(probs, v, out=context.transpose(0, 2, 1, 3))
        context = context.reshape(batch * tokens, d)
        h = _linear_residual(context, p[prefix + "attn_out_w"], p[prefix + "attn_out_b"], h)
        normed2, inv2 = _normalise(h)
        u = _affine_linear(
            normed2, p[prefix + "ln2_gain"], p[prefix + "ln2_bias"],
            p[prefix + "ff_in_w"], p[prefix + "ff_in_b"], None,
        )  # fmt: skip
        # GELU's tanh form, with its factor 0.5 moved onto ff_out_w: gelu2 = 2 * gelu(u).
        t = u * u
        t *= _GELU_C * _GELU_A
        t += _GELU_C
        t *= u
        np.tanh(t, out=t)
        gelu2 = t + 1.0
        gelu2 *= u
        h = _linear_residual(gelu2, 0.5 * p[prefix + "ff_out_w"], p[prefix + "ff_out_b"], h)
        cache = {
            "ln1": (normed1, inv1),
            "q": q,
            "k": k,
            "v": v,
            "probs": probs,
            "context": context,
            "ln2": (normed2, inv2),
            "u": u,
            "t": t,
            "gelu2": gelu2,
        }
        return h, cache

    def _block_backward(
        self, prefix: str, dh: np.ndarray, cache: Cache, grads: dict[str, np.ndarray]
    ) -> np.ndarray:
        """Gradient w.r.t. the block input; parameter gradients are written into ``grads``."""
        p = self._p
        d = self.params.d_model
        batch, heads, tokens, width = cache["q"].shape
        sum_rows = self._unit(dh.shape[0], 1.0)

        # Feed-forward branch; ``dh`` also flows unchanged through the residual connection.
        ff_out_w = p[prefix + "ff_out_w"]
        grads[prefix + "ff_out_w"] = 0.5 * (cache["gelu2"].T @ dh)
        grads[prefix + "ff_out_b"] = sum_rows @ dh
        du = dh @ (0.5 * ff_out_w.T)
        u, t = cache["u"], cache["t"]
        # d gelu2 / du = (1 + t) + u (1 - t^2) C (1 + 3 A u^2)
        slope = t * t
        np.subtract(1.0, slope, out=slope)
        slope *= u
        curve = u * u
        curve *= 3.0 * _GELU_A * _GELU_C
        curve += _GELU_C
        slope *= curve
        slope += t
        slope += 1.0
        du *= slope
        dnormed2 = _affine_linear_backward(
            du, cache["ln2"][0], p[prefix + "ln2_gain"], p[prefix + "ln2_bias"],
            p[prefix + "ff_in_w"], None, grads, prefix,
            ("ln2_gain", "ln2_bias", "ff_in_w", "ff_in_b"), sum_rows,
        )  # fmt: skip
        dh = dh + _normalise_backward(dnormed2, cache["ln2"])

        # Attention branch.
        grads[prefix + "attn_out_w"] = cache["context"].T @ dh
        grads[prefix + "attn_out_b"] = sum_rows @ dh
        dcontext = (dh @ p[prefix + "attn_out_w"].T).reshape(batch, tokens, heads, width)
        dcontext = dcontext.transpose(0, 2, 1, 3)
        q, k, v, probs = cache["q"], cache["k"], cache["v"], cache["probs"]
        dscores = dcontext @ v.swapaxes(-1, -2)
        dqkv = np.empty((batch, tokens, 3, heads, width), self.dtype)
        np.matmul(probs.swapaxes(-1, -2), dcontext, out=dqkv[:, :, 2].transpose(0, 2, 1, 3))
        dscores -= _last_axis_sum(dscores * probs, self._unit(tokens, 1.0))
        dscores *= probs
        np.matmul(dscores, k, out=dqkv[:, :, 0].transpose(0, 2, 1, 3))
        np.matmul(dscores.swapaxes(-1, -2), q, out=dqkv[:, :, 1].transpose(0, 2, 1, 3))
        dnormed1 = _affine_linear_backward(
            dqkv.reshape(batch * tokens, 3 * d), cache["ln1"][0], p[prefix + "ln1_gain"],
            p[prefix + "ln1_bias"], p[prefix + "attn_qkv_w"], self._qkv_scale(), grads, prefix,
            ("ln1_gain", "ln1_bias", "attn_qkv_w", "attn_qkv_b"), sum_rows,
        )  # fmt: skip
        return dh + _normalise_backward(dnormed1, cache["ln1"])

    def _qkv_scale(self) -> np.ndarray:
        """Per-column factor of the fused q/k/v projection: attention's 1/sqrt(width) is folded
        into the query columns, so the scores need no scaling of their own."""
        d = self.params.d_model
        scale = np.ones(3 * d, self.dtype)
        scale[:d] = (d // self.params.heads) ** -0.5
        return scale


def _one_blas_thread() -> Any:
    """BLAS limited to one thread: each product here takes tens of microseconds, less than
    waking a second thread costs, and on busy cores the waits made steps several times slower.
    The controller is built once, as finding the loaded BLAS libraries takes milliseconds."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def _heads(
    qkv: np.ndarray, batch: int, tokens: int, heads: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queries, keys and values as ``(batch, heads, tokens, width)`` views of the fused rows."""
    split = qkv.reshape(batch, tokens, 3, heads, width).transpose(2, 0, 3, 1, 4)
    return split[0], split[1], split[2]


def _last_axis_max(x: np.ndarray) -> np.ndarray:
    """Maximum over the last axis, kept as an axis of length 1.

    numpy reduces a short trailing axis element by element, dozens of times slower than a
    whole-array maximum per column; past a few dozen columns the reduction is the faster one.
    """
    columns = x.shape[-1]
    if columns > _LOOPED_MAX_COLUMNS:
        return x.max(axis=-1, keepdims=True)
    out = x[..., :1].copy()
    for column in range(1, columns):
        np.maximum(out, x[..., column : column + 1], out=out)
    return out


def _last_axis_sum(x: np.ndarray, ones: np.ndarray) -> np.ndarray:
    """Sum over the last axis of a contiguous array, kept as an axis of length 1: one
    matrix-vector product, where numpy's reduction or a stacked product is many times slower."""
    return (x.reshape(-1, x.shape[-1]) @ ones).reshape(*x.shape[:-1], 1)


def _normalise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Layer norm without its gain and bias, and the inverse standard deviation of each row."""
    mean_d = np.full(x.shape[-1], 1.0 / x.shape[-1], x.dtype)
    centred = x - (x @ mean_d)[:, None]
    variance = np.einsum("ij,ij->i", centred, centred) * mean_d[0]
    inv_std = 1.0 / np.sqrt(variance + _LN_EPS)
    centred *= inv_std[:, None]
    return centred, inv_std


def _normalise_backward(
    dnormed_centred: np.ndarray, ln: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Gradient w.r.t. the input of ``_normalise``, given the gradient w.r.t. its output with
    each row's mean already subtracted (the callers get it so for free, see
    ``_affine_linear_backward``): ``inv_std * (g - normed * mean(g * normed))``."""
    normed, inv_std = ln
    projection = np.einsum("ij,ij->i", dnormed_centred, normed) * (1.0 / normed.shape[-1])
    dx = normed * projection[:, None]
    np.subtract(dnormed_centred, dx, out=dx)
    dx *= inv_std[:, None]
    return dx


def _affine_linear(
    normed: np.ndarray,
    gain: np.ndarray,
    bias: np.ndarray,
    weight: np.ndarray,
    weight_bias: np.ndarray,
    scale: np.ndarray | None,
) -> np.ndarray:
    """``((normed * gain + bias) @ weight + weight_bias) * scale`` with the layer norm's gain and
    bias (and the column scale) folded into the small weight matrix, not applied to every row."""
    folded_w = gain[:, None] * weight
    folded_b = bias @ weight + weight_bias
    if scale is not None:
        folded_w *= scale
        folded_b *= scale
    out = normed @ folded_w
    out += folded_b
    return out


def _affine_linear_backward(
    dout: np.ndarray,
    normed: np.ndarray,
    gain: np.ndarray,
    bias: np.ndarray,
    weight: np.ndarray,
    scale: np.ndarray | None,
    grads: dict[str, np.ndarray],
    prefix: str,
    names: tuple[str, str, str, str],
    sum_rows: np.ndarray,
) -> np.ndarray:
    """Gradients of ``_affine_linear``'s four parameters into ``grads``; returns d normed with
    each row's mean subtracted, which ``_normalise_backward`` needs: centring the small folded
    weight matrix's columns does that instead of a pass over every row.

    With ``G = normed.T @ dout`` and ``S`` the column sums of ``dout``, every parameter gradient
    is a product of small matrices: d weight = s (gain G + bias S), d gain = rowsum(weight s G),
    d bias = (weight s) S, d weight_bias = s S.
    """
    gram = normed.T @ dout
    col_sum = sum_rows @ dout
    scaled_w = weight if scale is None else weight * scale
    gain_name, bias_name, weight_name, weight_bias_name = (prefix + name for name in names)
    d_weight = gain[:, None] * gram + np.multiply.outer(bias, col_sum)
    grads[weight_name] = d_weight if scale is None else d_weight * scale
    grads[weight_bias_name] = col_sum if scale is None else col_sum * scale
    grads[gain_name] = np.einsum("ij,ij->i", scaled_w, gram)
    grads[bias_name] = scaled_w @ col_sum
    folded_w = gain[:, None] * scaled_w
    folded_w -= folded_w.mean(axis=0)
    return dout @ folded_w.T


def _linear_residual(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, residual: np.ndarray
) -> np.ndarray:
    """``residual + x @ weight + bias`` as one fresh array, without temporaries."""
    out = x @ weight
    out += bias
    out += residual
    return out
