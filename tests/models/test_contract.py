"""The contract every registered model type keeps, checked for each entry of ``REGISTRY``.

Like scikit-learn's ``check_estimator``: a type is tested the moment it is registered, with its
default params (or the small ones below, where the defaults are slow or incomplete) on rows of
its own synthetic kind. Small data and few epochs keep the whole file to a few seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from threadpoolctl import threadpool_limits

from nethical_runner.data import synthetic
from nethical_runner.models import (
    CAPABILITIES,
    REGISTRY,
    Model,
    ModelParams,
    ReadsText,
    TrainsFromChunks,
    create_model,
    load_model,
)

TRAIN_ROWS, TEST_ROWS = 1200, 400
EPOCHS, BATCH, SEED = 4, 32, 7
# Params per type where ``{}`` is not enough (sklearn needs an estimator) or too slow; a type
# absent here is tested with its defaults. Extra entries cover params that change the data kind.
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "sklearn": [
        {"estimator": "sklearn.ensemble.HistGradientBoostingClassifier", "params": {"max_iter": 20}}
    ],
    "correlation": [{"max_iter": 20}],
    "anomaly": [{}, {"method": "isolation_forest", "n_estimators": 10}],
    "simple_transformer": [{"d_model": 8}],
}
CASES = [
    pytest.param(name, params, id=f"{name}-{i}" if len(VARIANTS.get(name, [])) > 1 else name)
    for name in REGISTRY
    for i, params in enumerate(VARIANTS.get(name, [{}]))
]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Small fits finish faster on one thread than waiting for busy cores (OpenMP's trees)."""
    with threadpool_limits(1):
        yield


@dataclass(frozen=True)
class Fitted:
    model: Model
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def rows(model: Model, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    kind = model.synthetic_kind(model.params)
    X, y, _ = synthetic.generate(kind, samples, 0.05, seed)
    return X, y


def fit(model: Model, X: np.ndarray, y: np.ndarray) -> Model:
    return model.fit(X, y, epochs=EPOCHS, batch_size=BATCH, seed=SEED)


_TRAINED: dict[tuple[str, str], Fitted] = {}


def trained(type_name: str, params: dict[str, Any]) -> Fitted:
    """One trained model per case, shared by the tests that only read it."""
    key = (type_name, repr(params))
    if key not in _TRAINED:
        model = create_model(type_name, params)
        X, y = rows(model, TRAIN_ROWS + TEST_ROWS, seed=1)
        fit(model, X[:TRAIN_ROWS], y[:TRAIN_ROWS])
        _TRAINED[key] = Fitted(
            model, X[:TRAIN_ROWS], y[:TRAIN_ROWS], X[TRAIN_ROWS:], y[TRAIN_ROWS:]
        )
    return _TRAINED[key]


def assert_probabilities(p: np.ndarray, n: int) -> None:
    assert p.shape == (n, 2)
    assert p.dtype.kind == "f"
    assert np.all(np.isfinite(p)) and np.all((p >= 0.0) & (p <= 1.0))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def accuracy(model: Model, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((model.predict_proba(X)[:, 1] >= 0.5) == y))


def assert_learns(model: Model, X: np.ndarray, y: np.ndarray) -> None:
    """Clearly above always predicting the majority class: a third of the headroom, at least."""
    majority = max(float(np.mean(y)), 1.0 - float(np.mean(y)))
    assert accuracy(model, X, y) >= majority + (1.0 - majority) / 3


@pytest.mark.parametrize("type_name", list(REGISTRY))
def test_the_type_is_registered_under_its_name_with_strict_params(type_name: str) -> None:
    model_class = REGISTRY[type_name]
    assert model_class.type_name == type_name
    assert issubclass(model_class.Params, ModelParams)
    assert model_class.Params.model_config.get("extra") == "forbid"


@pytest.mark.parametrize(("type_name", "params"), CASES)
def test_params_are_validated_up_front(type_name: str, params: dict[str, Any]) -> None:
    model = REGISTRY[type_name].from_params(params)
    assert type(model) is REGISTRY[type_name] and isinstance(model.params, model.Params)
    with pytest.raises(ValidationError, match="no_such_param"):
        REGISTRY[type_name].from_params({**params, "no_such_param": 1})
    for name in model.Params.model_fields:
        with pytest.raises(ValidationError, match=name):
            REGISTRY[type_name].from_params({**params, name: [[]]})


@pytest.mark.parametrize(("type_name", "params"), CASES)
def test_fit_then_predict_proba_gives_two_probability_columns(
    type_name: str, params: dict[str, Any]
) -> None:
    case = trained(type_name, params)
    assert_probabilities(case.model.predict_proba(case.X_train), TRAIN_ROWS)


@pytest.mark.parametrize(("type_name", "params"), CASES)
def test_the_same_seed_gives_identical_probabilities(
    type_name: str, params: dict[str, Any]
) -> None:
    case = trained(type_name, params)
    again = fit(create_model(type_name, params), case.X_train, case.y_train)
    np.testing.assert_array_equal(
        again.predict_proba(case.X_test), case.model.predict_proba(case.X_test)
    )


@pytest.mark.parametrize(("type_name", "params"), CASES)
def test_a_saved_model_loads_with_identical_probabilities(
    type_name: str, params: dict[str, Any]
) -> None:
    case = trained(type_name, params)
    loaded, metadata = load_model(case.model.to_npz_bytes({"cohort": "c"}))
    assert type(loaded) is type(case.model) and loaded.params == case.model.params
    assert metadata == {"cohort": "c"}
    np.testing.assert_array_equal(
        loaded.predict_proba(case.X_test), case.model.predict_proba(case.X_test)
    )


@pytest.mark.parametrize(("type_name", "params"), CASES)
def test_feature_names_are_saved_and_a_data_frame_is_checked_against_them(
    type_name: str, params: dict[str, Any]
) -> None:
    case = trained(type_name, params)
    named, _ = load_model(case.model.to_npz_bytes())
    assert named.feature_names is None  # fitted on a bare array: nothing to check a frame by
    names = tuple(f"f{i}" for i in range(case.X_test.shape[1]))
    named.feature_names = names
    loaded, _ = load_model(named.to_npz_bytes())
    assert loaded.feature_names == names
    expected = case.model.predict_proba(case.X_test)
    frame = pd.DataFrame(case.X_test, columns=list(names))
    np.testing.assert_array_equal(loaded.predict_proba(frame), expected)
    np.testing.assert_array_equal(loaded.predict_proba(case.X_test), expected)
    order = ", ".join(repr(name) for name in names)
    with pytest.raises(ValueError) as caught:
        loaded.predict_proba(frame[list(reversed(names))])
    assert str(caught.value) == (
        "the DataFrame holds the model's features in another order; the model expects the "
        f"columns in this order: {order} (select them with frame[list(model.feature_names)])"
    )
    with pytest.raises(ValueError, match=r"^the DataFrame lacks the model's feature\(s\) 'f0';"):
        loaded.predict_proba(frame.drop(columns="f0"))
    with pytest.raises(ValueError, match=r"has column\(s\) the model was not trained on: 'extra';"):
        loaded.predict_proba(frame.assign(extra=1.0))
    np.testing.assert_array_equal(loaded.predict_proba(frame[list(loaded.feature_names)]), expected)


@pytest.mark.parametrize(("type_name", "params"), CASES)
def test_unseen_rows_are_scored_and_a_wrong_width_is_refused(
    type_name: str, params: dict[str, Any]
) -> None:
    case = trained(type_name, params)
    unseen, _ = rows(case.model, 50, seed=99)
    assert_probabilities(case.model.predict_proba(unseen), 50)
    width = case.X_train.shape[1]
    for wrong in (unseen[:, :-1], np.hstack([unseen, unseen[:, :1]])):
        with pytest.raises(ValueError, match=f"trained on {width} "):
            case.model.predict_proba(wrong)


@pytest.mark.parametrize(("type_name", "params"), CASES)
def test_the_model_learns_its_own_synthetic_data(type_name: str, params: dict[str, Any]) -> None:
    case = trained(type_name, params)
    assert_learns(case.model, case.X_test, case.y_test)


@pytest.mark.parametrize("type_name", list(REGISTRY))
@pytest.mark.parametrize("capability", CAPABILITIES, ids=lambda c: c.__name__)
def test_a_capability_is_declared_exactly_when_its_methods_are_implemented(
    type_name: str, capability: type
) -> None:
    model_class = REGISTRY[type_name]
    methods = [name for name in vars(capability) if not name.startswith("_")]
    implemented = all(
        callable(getattr(model_class, name, None))
        and getattr(model_class, name) is not getattr(capability, name)
        for name in methods
    )
    assert (capability in model_class.__mro__) == implemented


def declaring(capability: type) -> list[Any]:
    return [case for case in CASES if issubclass(REGISTRY[case.values[0]], capability)]


@pytest.mark.parametrize(("type_name", "params"), declaring(TrainsFromChunks))
def test_a_model_that_trains_from_chunks_learns_from_them(
    type_name: str, params: dict[str, Any]
) -> None:
    model = create_model(type_name, params)
    assert isinstance(model, TrainsFromChunks)
    case = trained(type_name, params)
    pieces = np.array_split(np.arange(TRAIN_ROWS), 3)
    model.fit_chunks(
        lambda: ((case.X_train[i], case.y_train[i]) for i in pieces),
        epochs=EPOCHS,
        batch_size=BATCH,
        seed=SEED,
    )
    assert_learns(model, case.X_test, case.y_test)


@pytest.mark.parametrize(("type_name", "params"), declaring(ReadsText))
def test_a_model_that_reads_text_learns_from_byte_tokens(
    type_name: str, params: dict[str, Any]
) -> None:
    model = create_model(type_name, params)
    assert isinstance(model, ReadsText)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, TRAIN_ROWS + TEST_ROWS)
    words = np.array([list(b"ls -l"), list(b"rm -r")], dtype=np.float64) + 1.0  # byte + 1
    X = np.hstack([rng.normal(size=(y.size, 2)), words[y]])  # only the text carries the label
    reading = model.with_token_columns(words.shape[1])
    assert type(reading) is type(model)
    fit(reading, X[:TRAIN_ROWS], y[:TRAIN_ROWS])
    assert_probabilities(reading.predict_proba(X[TRAIN_ROWS:]), TEST_ROWS)
    assert_learns(reading, X[TRAIN_ROWS:], y[TRAIN_ROWS:])
