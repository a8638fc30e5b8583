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
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import Field, model_validator

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

_N_TOKEN_IDS = 257
_MAX_TOKEN_ID = _N_TOKEN_IDS - 1
_EMBEDDINGS = ("value_w", "position", "token_embedding")
_LN_EPS = 1e-5
# Added to attention scores of padding keys: large enough that exp() underflows to exactly zero,
# finite so that a row whose keys are all padding gets uniform weights instead of NaN.
_MASK_FILL = -1e9
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715
_MAX_PREDICT_ROWS = 4096
# Float64 elements of cached activations allowed per prediction chunk (about 64 MB): long token
# sequences get smaller chunks because attention grows with the square of the sequence length.
_PREDICT_BUDGET = 1 << 23

Cache = dict[str, Any]


class SimpleTransformerParams(ModelParams):
    d_model: int = Field(16, ge=4, le=256, description="Width of every token representation.")
    heads: int = Field(2, ge=1, le=64, description="Attention heads; must divide d_model.")
    layers: int = Field(1, ge=1, le=8, description="Number of encoder blocks.")
    learning_rate: float = Field(3e-3, gt=0.0, le=1.0, description="Adam step size.")
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

    def __init__(self, params: SimpleTransformerParams | None = None) -> None:
        super().__init__(params)
        self._n_features = 0
        self._shapes: dict[str, tuple[int, ...]] = {}
        # All parameters live in one flat vector and ``_p`` holds named views into it, so an Adam
        # step is a few vectorised operations rather than a loop over arrays.
        self._theta = np.zeros(0)
        self._p: dict[str, np.ndarray] = {}
        self._input_mean = np.zeros(0)
        self._input_scale = np.ones(0)
        self._platt = np.array([1.0, 0.0])

    def with_token_columns(self, token_columns: int) -> SimpleTransformerModel:
        params = self.params.model_copy(update={"token_columns": token_columns})
        return SimpleTransformerModel(params)

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
        z, ids, mask = self._encode(X)

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
        for epoch in range(1, epochs + 1):
            order = rng.permutation(X.shape[0])
            for start in range(0, X.shape[0], batch_size):
                rows = order[start : start + batch_size]
                logits, cache = self._forward(z[rows], ids[rows], mask[rows])
                dlogits = (sigmoid(logits) - labels[rows]) / rows.size
                optimiser.step(self._theta, self._flatten(self._backward(cache, dlogits)))
            if on_epoch is not None:
                on_epoch(epoch, epochs)

        self._platt = fit_platt(self._logits(z, ids, mask), labels)
        return self

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        self._require_parameters()
        X = self._check_X(X, n_features=self._n_features)
        slope, intercept = self._platt
        return as_two_columns(sigmoid(slope * self._logits(*self._encode(X)) + intercept))

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
        loss = float(np.mean(np.logaddexp(0.0, logits) - labels * logits))
        return loss, self._backward(cache, (sigmoid(logits) - labels) / labels.size)

    def get_state(self) -> dict[str, np.ndarray]:
        self._require_parameters()
        state = {name: view.copy() for name, view in self._p.items()}
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
        self._theta = np.zeros(sum(math.prod(shape) for shape in shapes.values()))
        self._p = {}
        offset = 0
        for name, shape in shapes.items():
            size = math.prod(shape)
            self._p[name] = self._theta[offset : offset + size].reshape(shape)
            offset += size

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

    def _encode(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Standardised numeric values, integer token ids, and the 0/1 mask of real tokens."""
        n_numeric = self._n_numeric
        z = (X[:, :n_numeric] - self._input_mean) / self._input_scale
        ids = X[:, n_numeric:].astype(np.intp)
        mask = np.ones(X.shape)
        mask[:, n_numeric:] = ids > 0
        return z, ids, mask

    def _logits(self, z: np.ndarray, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Raw logits computed in row chunks, so memory stays bounded for any number of rows."""
        if z.shape[0] == 0:
            return np.zeros(0)
        tokens = self._n_features
        d = self.params.d_model
        per_row = self.params.layers * (
            self.params.heads * tokens * tokens + tokens * d * (self.params.ff_multiplier + 8)
        )
        chunk = int(np.clip(_PREDICT_BUDGET // per_row, 1, _MAX_PREDICT_ROWS))
        return np.concatenate(
            [
                self._forward(z[i : i + chunk], ids[i : i + chunk], mask[i : i + chunk])[0]
                for i in range(0, z.shape[0], chunk)
            ]
        )

    def _forward(
        self, z: np.ndarray, ids: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, Cache]:
        """Raw logits, plus every intermediate that ``_backward`` needs (none is recomputed)."""
        p = self._p
        n_numeric = self._n_numeric
        batch, tokens = mask.shape
        d = self.params.d_model
        h: np.ndarray = np.empty((batch, tokens, d))
        if n_numeric:
            h[:, :n_numeric] = z[:, :, None] * p["value_w"] + p["position"][:n_numeric]
        if self.params.token_columns:
            h[:, n_numeric:] = p["token_embedding"][ids] + p["position"][n_numeric:]
        key_bias = np.where(mask > 0, 0.0, _MASK_FILL)[:, None, None, :]
        h = h.reshape(batch * tokens, d)
        blocks = []
        for layer in range(self.params.layers):
            h, block_cache = self._block_forward(f"block{layer}.", h, key_bias, batch, tokens)
            blocks.append(block_cache)
        out, final_ln = _layer_norm(h, p["final_ln_gain"], p["final_ln_bias"])
        pool_weights = mask / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        pooled = np.einsum("bt,btd->bd", pool_weights, out.reshape(batch, tokens, d))
        logits = pooled @ p["head_w"] + p["head_b"]
        cache = {
            "z": z,
            "ids": ids,
            "blocks": blocks,
            "final_ln": final_ln,
            "pool_weights": pool_weights,
            "pooled": pooled,
        }
        return logits, cache

    def _backward(self, cache: Cache, dlogits: np.ndarray) -> dict[str, np.ndarray]:
        """Parameter gradients by the chain rule, given the loss gradient w.r.t. each logit."""
        p = self._p
        pool_weights = cache["pool_weights"]
        batch, tokens = pool_weights.shape
        d = self.params.d_model
        grads: dict[str, np.ndarray] = {
            "head_w": cache["pooled"].T @ dlogits,
            "head_b": np.asarray(dlogits.sum()),
        }
        dpooled = dlogits[:, None] * p["head_w"]
        dout = (pool_weights[:, :, None] * dpooled[:, None, :]).reshape(batch * tokens, d)
        dh, grads["final_ln_gain"], grads["final_ln_bias"] = _layer_norm_backward(
            dout, p["final_ln_gain"], cache["final_ln"]
        )
        for layer in reversed(range(self.params.layers)):
            dh = self._block_backward(f"block{layer}.", dh, cache["blocks"][layer], grads)
        dh = dh.reshape(batch, tokens, d)
        n_numeric = self._n_numeric
        grads["position"] = dh.sum(axis=0)
        if n_numeric:
            grads["value_w"] = np.einsum("bj,bjd->jd", cache["z"], dh[:, :n_numeric])
        if self.params.token_columns:
            token_grad = np.zeros((_N_TOKEN_IDS, d))
            np.add.at(token_grad, cache["ids"].ravel(), dh[:, n_numeric:].reshape(-1, d))
            grads["token_embedding"] = token_grad
        return {name: grads[name] for name in self._shapes}

    def _block_forward(
        self, prefix: str, h: np.ndarray, key_bias: np.ndarray, batch: int, tokens: int
    ) -> tuple[np.ndarray, Cache]:
        """One pre-LN block on ``h`` of shape ``(batch * tokens, d)``."""
        p = self._p
        d = self.params.d_model
        heads = self.params.heads
        width = d // heads
        a, ln1 = _layer_norm(h, p[prefix + "ln1_gain"], p[prefix + "ln1_bias"])
        qkv = a @ p[prefix + "attn_qkv_w"] + p[prefix + "attn_qkv_b"]
        q, k, v = qkv.reshape(batch, tokens, 3, heads, width).transpose(2, 0, 3, 1, 4)
        scale = width**-0.5
        scores = _stacked_matmul(q, k.swapaxes(-1, -2)) * scale + key_bias
        scores -= scores.max(axis=-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=-1, keepdims=True)
        context = _stacked_matmul(probs, v).transpose(0, 2, 1, 3).reshape(batch * tokens, d)
        h = h + context @ p[prefix + "attn_out_w"] + p[prefix + "attn_out_b"]
        c, ln2 = _layer_norm(h, p[prefix + "ln2_gain"], p[prefix + "ln2_bias"])
        u = c @ p[prefix + "ff_in_w"] + p[prefix + "ff_in_b"]
        t = np.tanh(_GELU_C * (u + _GELU_A * u * u * u))
        gelu = 0.5 * u * (1.0 + t)
        h = h + gelu @ p[prefix + "ff_out_w"] + p[prefix + "ff_out_b"]
        cache = {
            "ln1": ln1,
            "a": a,
            "q": q,
            "k": k,
            "v": v,
            "probs": probs,
            "context": context,
            "ln2": ln2,
            "c": c,
            "u": u,
            "t": t,
            "gelu": gelu,
        }
        return h, cache

    def _block_backward(
        self, prefix: str, dh: np.ndarray, cache: Cache, grads: dict[str, np.ndarray]
    ) -> np.ndarray:
        """Gradient w.r.t. the block input; parameter gradients are written into ``grads``."""
        p = self._p
        d = self.params.d_model
        batch, heads, tokens, width = cache["q"].shape

        # Feed-forward branch; ``dh`` also flows unchanged through the residual connection.
        grads[prefix + "ff_out_w"] = cache["gelu"].T @ dh
        grads[prefix + "ff_out_b"] = dh.sum(axis=0)
        dgelu = dh @ p[prefix + "ff_out_w"].T
        u, t = cache["u"], cache["t"]
        du = dgelu * (
            0.5 * (1.0 + t) + 0.5 * u * (1.0 - t * t) * _GELU_C * (1.0 + 3.0 * _GELU_A * u * u)
        )
        grads[prefix + "ff_in_w"] = cache["c"].T @ du
        grads[prefix + "ff_in_b"] = du.sum(axis=0)
        dh_ln2, grads[prefix + "ln2_gain"], grads[prefix + "ln2_bias"] = _layer_norm_backward(
            du @ p[prefix + "ff_in_w"].T, p[prefix + "ln2_gain"], cache["ln2"]
        )
        dh = dh + dh_ln2

        # Attention branch.
        grads[prefix + "attn_out_w"] = cache["context"].T @ dh
        grads[prefix + "attn_out_b"] = dh.sum(axis=0)
        dcontext = (dh @ p[prefix + "attn_out_w"].T).reshape(batch, tokens, heads, width)
        dcontext = dcontext.transpose(0, 2, 1, 3)
        q, k, v, probs = cache["q"], cache["k"], cache["v"], cache["probs"]
        dprobs = _stacked_matmul(dcontext, v.swapaxes(-1, -2))
        dv = _stacked_matmul(probs.swapaxes(-1, -2), dcontext)
        dscores = probs * (dprobs - (dprobs * probs).sum(axis=-1, keepdims=True))
        dscores *= width**-0.5
        dq = _stacked_matmul(dscores, k)
        dk = _stacked_matmul(dscores.swapaxes(-1, -2), q)
        dqkv = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(batch * tokens, 3 * d)
        grads[prefix + "attn_qkv_w"] = cache["a"].T @ dqkv
        grads[prefix + "attn_qkv_b"] = dqkv.sum(axis=0)
        dh_ln1, grads[prefix + "ln1_gain"], grads[prefix + "ln1_bias"] = _layer_norm_backward(
            dqkv @ p[prefix + "attn_qkv_w"].T, p[prefix + "ln1_gain"], cache["ln1"]
        )
        return dh + dh_ln1


def _stacked_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` over stacks of matrices, with both operands made C-contiguous first.

    numpy hands contiguous stacks to BLAS but may multiply transposed or sliced views in a generic
    loop; for 257-token sequences that loop is ten times slower than copying.
    """
    return np.matmul(np.ascontiguousarray(a), np.ascontiguousarray(b))


def _layer_norm(
    x: np.ndarray, gain: np.ndarray, bias: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    centred = x - x.mean(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + _LN_EPS)
    normed = centred * inv_std
    return normed * gain + bias, (normed, inv_std)


def _layer_norm_backward(
    dy: np.ndarray, gain: np.ndarray, cache: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    normed, inv_std = cache
    dnormed = dy * gain
    dx = inv_std * (
        dnormed
        - dnormed.mean(axis=-1, keepdims=True)
        - normed * (dnormed * normed).mean(axis=-1, keepdims=True)
    )
    return dx, (dy * normed).sum(axis=0), dy.sum(axis=0)
