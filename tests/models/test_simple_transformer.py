"""The numpy transformer: exact gradients, real learning, determinism and a pickle-free state."""

from __future__ import annotations

import io

import numpy as np
import pytest
from pydantic import ValidationError
from sklearn.linear_model import LogisticRegression

from nethical_runner.models import simple_transformer
from nethical_runner.models.simple_transformer import SimpleTransformerModel

Params = SimpleTransformerModel.Params


def expected_calibration_error(p_positive: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Row-weighted mean gap between observed rate and mean probability, per equal-width bin."""
    which = np.minimum((p_positive * bins).astype(int), bins - 1)
    return sum(
        np.mean(which == b) * abs(y[which == b].mean() - p_positive[which == b].mean())
        for b in range(bins)
        if np.any(which == b)
    )


def byte_tokens(texts: list[bytes], width: int) -> np.ndarray:
    """Token columns as the data layer encodes them: byte + 1, then 0-padding to ``width``."""
    ids = np.zeros((len(texts), width))
    for row, text in enumerate(texts):
        ids[row, : len(text)] = np.frombuffer(text, dtype=np.uint8).astype(float) + 1.0
    return ids


def xor_data(seed: int, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 3))  # the third column is noise
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


# ----------------------------------------------------------------------------- gradients


def numerical_gradient(
    model: SimpleTransformerModel, X: np.ndarray, y: np.ndarray, name: str, indices: np.ndarray
) -> np.ndarray:
    """Central differences of the loss for the given flat indices of one parameter array."""
    eps = 1e-6
    state = model.get_state()
    flat = state[name].reshape(-1)  # a view: editing it edits ``state``
    out = np.empty(indices.size)
    for k, i in enumerate(indices):
        original = flat[i]
        flat[i] = original + eps
        model.set_state(state)
        loss_plus = model.loss_and_gradients(X, y)[0]
        flat[i] = original - eps
        model.set_state(state)
        loss_minus = model.loss_and_gradients(X, y)[0]
        flat[i] = original
        out[k] = (loss_plus - loss_minus) / (2 * eps)
    model.set_state(state)
    return out


@pytest.mark.parametrize(
    ("n_numeric", "token_columns"), [(3, 0), (3, 4), (0, 4)], ids=["numeric", "mixed", "text"]
)
def test_every_gradient_matches_central_differences(n_numeric: int, token_columns: int) -> None:
    rng = np.random.default_rng(7)
    numeric = rng.normal(size=(6, n_numeric))
    # Trailing padding, interior padding, a full row and an all-padding row.
    tokens = np.zeros((6, 0))
    if token_columns:
        tokens = byte_tokens([b"ab", b"", b"hey!", b"z", b"q", b"abc"], token_columns)
        tokens[4, 2] = 120.0
    X = np.hstack([numeric, tokens])
    y = np.array([0, 1, 1, 0, 1, 0])
    # Float64 runs the same code as float32 training, with rounding far below the central
    # differences' own error, so the tolerances can stay tight.
    model = SimpleTransformerModel(
        Params(d_model=6, heads=2, layers=2, ff_multiplier=2, token_columns=token_columns),
        dtype=np.float64,
    )
    model.initialise(X.shape[1], seed=3)
    # Move every learned array off its initial value (unit gains, zero biases) so that no
    # gradient term vanishes by symmetry and escapes the check.
    state = model.get_state()
    for name in state:
        if name not in ("input_mean", "input_scale", "platt"):
            state[name] = state[name] + rng.normal(0.0, 0.3, size=state[name].shape)
    model.set_state(state)

    _, gradients = model.loss_and_gradients(X, y)
    learned = set(state) - {"input_mean", "input_scale", "platt"}
    assert set(gradients) == learned
    for name, analytic in gradients.items():
        assert analytic.shape == state[name].shape, name
        flat = analytic.reshape(-1)
        if name == "token_embedding":
            # Only rows of tokens that occur can matter; the padding row must not, as padding is
            # masked out of attention and pooling.
            used = np.unique(tokens[tokens > 0]).astype(int)
            assert not analytic[np.setdiff1d(np.arange(analytic.shape[0]), used)].any()
            indices = (used[:, None] * analytic.shape[1] + np.arange(analytic.shape[1])).ravel()
        else:
            indices = np.arange(flat.size)
        numeric_grad = numerical_gradient(model, X, y, name, indices)
        np.testing.assert_allclose(flat[indices], numeric_grad, rtol=1e-6, atol=1e-8, err_msg=name)
        error = np.linalg.norm(flat[indices] - numeric_grad) / (
            np.linalg.norm(flat[indices]) + np.linalg.norm(numeric_grad)
        )
        assert error < 1e-6, (name, error)


def test_float32_runs_the_float64_computation_to_float32_rounding() -> None:
    """Training computes in float32; the gradients checked above in float64 are the same code."""
    X, y = xor_data(seed=2, n=64)
    wide = SimpleTransformerModel(Params(layers=2), dtype=np.float64)
    wide.initialise(X.shape[1], seed=1)
    narrow = SimpleTransformerModel(Params(layers=2))
    narrow.set_state(wide.get_state())
    wide_loss, wide_grads = wide.loss_and_gradients(X, y)
    narrow_loss, narrow_grads = narrow.loss_and_gradients(X, y)
    assert narrow.dtype == np.float32
    assert narrow_loss == pytest.approx(wide_loss, rel=1e-5)
    for name, gradient in wide_grads.items():
        scale = np.abs(gradient).max()
        np.testing.assert_allclose(narrow_grads[name], gradient, atol=1e-4 * scale, err_msg=name)


def test_only_float32_and_float64_are_accepted_dtypes() -> None:
    with pytest.raises(ValueError, match="float32 or float64"):
        SimpleTransformerModel(dtype=np.float16)


# ------------------------------------------------------------------------------ learning


def test_learns_xor_that_a_linear_model_cannot_and_is_calibrated() -> None:
    X, y = xor_data(seed=0)
    split = int(0.8 * len(y))
    X_train, X_test, y_train, y_test = X[:split], X[split:], y[:split], y[split:]

    linear = LogisticRegression().fit(X_train, y_train)
    assert linear.score(X_test, y_test) < 0.6

    model = SimpleTransformerModel().fit(X_train, y_train, epochs=10, batch_size=32, seed=0)
    proba = model.predict_proba(X_test)
    assert proba.shape == (len(y_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all((proba >= 0) & (proba <= 1))
    accuracy = np.mean((proba[:, 1] > 0.5) == y_test)
    assert accuracy >= 0.85
    assert expected_calibration_error(proba[:, 1], y_test) <= 0.08


def test_learns_a_label_carried_by_one_byte_of_a_text_field() -> None:
    rng = np.random.default_rng(1)
    width = 8
    alphabet = list(b"abcdefgxyz")
    texts = [
        bytes(rng.choice(alphabet, size=rng.integers(1, width + 1)).tolist()) for _ in range(1500)
    ]
    y = np.array([b"x" in text for text in texts], dtype=int)
    X = np.column_stack([rng.normal(size=len(texts)), byte_tokens(texts, width)])
    model = SimpleTransformerModel(Params(token_columns=width))
    model.fit(X[:1200], y[:1200], epochs=8, batch_size=32, seed=0)
    majority = max(y[1200:].mean(), 1 - y[1200:].mean())
    accuracy = np.mean((model.predict_proba(X[1200:])[:, 1] > 0.5) == y[1200:])
    assert majority < 0.75
    assert accuracy >= 0.95


# ---------------------------------------------------------------------- determinism, state


def small_problem() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    numeric = rng.normal(size=(300, 2))
    texts = [bytes(rng.integers(97, 100, size=rng.integers(0, 6)).tolist()) for _ in range(300)]
    return np.hstack([numeric, byte_tokens(texts, 5)]), (numeric[:, 0] > 0).astype(int)


def fitted(seed: int) -> SimpleTransformerModel:
    X, y = small_problem()
    model = SimpleTransformerModel(Params(layers=2, token_columns=5))
    return model.fit(X, y, epochs=2, batch_size=16, seed=seed)


def test_same_seed_reproduces_and_another_seed_differs() -> None:
    X, _ = small_problem()
    first, again, other = fitted(seed=11), fitted(seed=11), fitted(seed=12)
    np.testing.assert_array_equal(first.predict_proba(X), again.predict_proba(X))
    for name, array in first.get_state().items():
        np.testing.assert_array_equal(array, again.get_state()[name], err_msg=name)
    assert not np.array_equal(first.get_state()["position"], other.get_state()["position"])
    assert not np.array_equal(first.predict_proba(X), other.predict_proba(X))


def test_state_round_trips_through_npz_without_pickle() -> None:
    X, _ = small_problem()
    model = fitted(seed=4)
    state = model.get_state()
    assert all(
        isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.number) for a in state.values()
    )
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as archive:
        loaded = {name: archive[name] for name in archive.files}

    restored = SimpleTransformerModel(Params(layers=2, token_columns=5))
    restored.set_state(loaded)
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))


def test_a_float64_state_from_before_float32_training_still_loads() -> None:
    """Model files hold float64 arrays, as they did when the model computed in float64: such a
    state loads into the float32 model and predicts what the float64 computation does."""
    X, _ = small_problem()
    params = Params(layers=2, token_columns=5)
    old = SimpleTransformerModel(params, dtype=np.float64)
    old.set_state(fitted(seed=4).get_state())
    state = old.get_state()
    assert all(array.dtype == np.float64 for array in state.values())
    restored = SimpleTransformerModel(params)
    restored.set_state(state)
    np.testing.assert_allclose(restored.predict_proba(X), old.predict_proba(X), atol=1e-5)


def test_platt_scaling_from_a_sample_of_rows_matches_all_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above _PLATT_ROWS training rows the calibration is fitted to a seeded sample of them."""
    X, y = xor_data(seed=3, n=3000)
    full = SimpleTransformerModel().fit(X, y, epochs=2, batch_size=64, seed=0)
    monkeypatch.setattr(simple_transformer, "_PLATT_ROWS", 1000)
    sampled = SimpleTransformerModel().fit(X, y, epochs=2, batch_size=64, seed=0)
    again = SimpleTransformerModel().fit(X, y, epochs=2, batch_size=64, seed=0)
    # The same weights, as the sample is drawn after the last step; another Platt fit.
    np.testing.assert_array_equal(sampled.get_state()["head_w"], full.get_state()["head_w"])
    assert not np.array_equal(sampled.get_state()["platt"], full.get_state()["platt"])
    gap = np.abs(sampled.predict_proba(X)[:, 1] - full.predict_proba(X)[:, 1])
    assert gap.mean() < 0.02
    np.testing.assert_array_equal(sampled.predict_proba(X), again.predict_proba(X))


def test_chunked_prediction_matches_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    X, _ = small_problem()
    model = fitted(seed=4)
    whole = model.predict_proba(X)
    monkeypatch.setattr(simple_transformer, "_MAX_PREDICT_ROWS", 7)
    # Same rows through matrices of other sizes: BLAS may sum in another order, hence rtol, a
    # few float32 roundings wide.
    np.testing.assert_allclose(model.predict_proba(X), whole, rtol=1e-5, atol=0.0)


def test_set_state_rejects_a_state_of_another_shape() -> None:
    state = fitted(seed=4).get_state()
    with pytest.raises(ValueError, match="state keys"):
        SimpleTransformerModel(Params(layers=1, token_columns=5)).set_state(state)
    state["head_w"] = state["head_w"][:-1]
    with pytest.raises(ValueError, match="head_w"):
        SimpleTransformerModel(Params(layers=2, token_columns=5)).set_state(state)


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "params",
    [
        {"d_model": 16, "depth": 2},
        {"d_model": 2},
        {"d_model": 512},
        {"heads": 0},
        {"layers": 0},
        {"layers": 9},
        {"learning_rate": 0.0},
        {"learning_rate": 2.0},
        {"weight_decay": -0.1},
        {"ff_multiplier": 0},
        {"token_columns": -1},
        {"d_model": "16"},
    ],
)
def test_invalid_params_are_rejected(params: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Params.model_validate(params)


def test_heads_must_divide_d_model() -> None:
    with pytest.raises(ValidationError, match=r"d_model \(10\) must be divisible by heads \(4\)"):
        Params(d_model=10, heads=4)
    assert Params(d_model=12, heads=4).heads == 4


def test_bad_inputs_raise_clear_errors() -> None:
    model = SimpleTransformerModel(Params(token_columns=2))
    with pytest.raises(RuntimeError, match="no parameters"):
        model.predict_proba(np.zeros((1, 3)))
    good_X, good_y = np.array([[0.5, 98.0, 0.0], [1.5, 99.0, 100.0]]), np.array([0, 1])
    fit = {"epochs": 1, "batch_size": 2, "seed": 0}
    # Shape, finiteness and label checks are the shared ones of ``models.base``; the token-id and
    # column-count checks are this model's own.
    with pytest.raises(ValueError):
        model.fit(good_X[0], good_y, **fit)
    with pytest.raises(ValueError):
        model.fit(np.where(good_X == 0.5, np.nan, good_X), good_y, **fit)
    with pytest.raises(ValueError):
        model.fit(good_X, np.array([0, 2]), **fit)
    with pytest.raises(ValueError):
        model.fit(good_X, np.array([0, 1, 1]), **fit)
    with pytest.raises(ValueError, match="token ids"):
        model.fit(np.where(good_X == 99.0, 257.0, good_X), good_y, **fit)
    with pytest.raises(ValueError, match="token ids"):
        model.fit(np.where(good_X == 99.0, 9.5, good_X), good_y, **fit)
    with pytest.raises(ValueError, match="token_columns"):
        model.fit(good_X[:, :1], good_y, **fit)
    model.fit(good_X, good_y, **fit)
    with pytest.raises(ValueError):
        model.predict_proba(good_X[:, :2])
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(good_X, good_y, epochs=1, batch_size=0, seed=0)
