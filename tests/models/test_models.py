"""Every model type: it learns, generalises, is deterministic and survives save -> load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from conftest import SpecWriter
from nethical_runner.data import synthetic
from nethical_runner.metrics.classification import classification_metrics
from nethical_runner.models import REGISTRY, SCRIPT_TYPES, Model, create_model, load_model
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.results import CohortResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import SpecError, load_spec

BREAST_CANCER = Path(__file__).parents[2] / "specs" / "data" / "breast_cancer.csv"
HGB = "sklearn.ensemble.HistGradientBoostingClassifier"
TABULAR = {
    "heuristic": {},
    "logistic": {},
    "simple_transformer": {},
    "correlation": {},
    "sklearn": {"estimator": HGB, "params": {"max_iter": 50}},
}


def fit(model_type: str, params: dict, X: np.ndarray, y: np.ndarray, seed: int = 42) -> Model:
    return create_model(model_type, params).fit(X, y, epochs=10, batch_size=32, seed=seed)


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    frame = pd.read_csv(BREAST_CANCER)
    y = frame.pop("target").to_numpy()
    X = frame.to_numpy(dtype=np.float64)
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, train_size=int(0.8 * y.size), stratify=y, random_state=42
    )
    return X_train, X_val, y_train, y_val


@pytest.mark.parametrize("model_type", list(TABULAR))
def test_tabular_types_pass_the_default_gate_on_real_data(breast_cancer, model_type) -> None:
    X_train, X_val, y_train, y_val = breast_cancer
    model = fit(model_type, TABULAR[model_type], X_train, y_train)
    metrics = classification_metrics(y_val, model.predict_proba(X_val)[:, 1])
    assert metrics["accuracy"] >= 0.85
    assert metrics["ece"] <= 0.08


@pytest.mark.parametrize(
    ("model_type", "params"),
    [*((t, {}) for t in SCRIPT_TYPES), ("anomaly", {"method": "isolation_forest"})],
)
def test_each_type_passes_its_gate_on_its_own_synthetic_data_without_being_perfect(
    write_spec: SpecWriter, tmp_path: Path, model_type: str, params: dict
) -> None:
    spec_path = write_spec(
        f"version: 1\nname: s\nmodel: {{type: {model_type}, params: {params or {}}}}\n"
    )
    (cohort,) = run_spec(load_spec(spec_path), RunSettings(tmp_path / "out")).cohorts.values()
    assert isinstance(cohort, CohortResult), cohort
    assert cohort.promoted
    assert 0.85 <= cohort.metrics["accuracy"] < 0.995
    assert cohort.metrics["ece"] <= 0.08


@pytest.mark.parametrize("model_type", [*SCRIPT_TYPES, "sklearn"])
def test_same_seed_same_predictions_and_save_load_round_trip(
    tmp_path: Path, model_type: str
) -> None:
    params = TABULAR.get(model_type, {})
    kind = create_model(model_type, params).synthetic_kind(create_model(model_type, params).params)
    X, y, _ = synthetic.generate(kind, 400, 0.05, seed=3)
    first, second = fit(model_type, params, X, y), fit(model_type, params, X, y)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    first.save(tmp_path / "m.npz", metadata={"k": "v"})
    loaded, metadata = load_model(tmp_path / "m.npz")
    assert metadata == {"k": "v"} and type(loaded) is REGISTRY[model_type]
    np.testing.assert_array_equal(loaded.predict_proba(X), first.predict_proba(X))


def test_the_transformer_learns_an_interaction_a_linear_model_cannot() -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (4000, 3))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    linear = fit("logistic", {}, X[:3200], y[:3200])
    transformer = fit("simple_transformer", {}, X[:3200], y[:3200])
    linear_metrics = classification_metrics(y[3200:], linear.predict_proba(X[3200:])[:, 1])
    deep_metrics = classification_metrics(y[3200:], transformer.predict_proba(X[3200:])[:, 1])
    assert linear_metrics["accuracy"] < 0.6
    assert deep_metrics["accuracy"] >= 0.85 and deep_metrics["ece"] <= 0.08


def test_held_out_action_sequences_never_occur_in_training() -> None:
    X, _, _ = synthetic.generate("sequence", 10_000, 0.05, seed=42)
    training = {row.tobytes() for row in X[:8000]}
    assert not any(row.tobytes() in training for row in X[8000:])


def test_the_anomaly_model_scores_unseen_actions_and_orderings() -> None:
    X, y, _ = synthetic.generate("sequence", 4000, 0.05, seed=1)
    model = fit("anomaly", {}, X, y)
    unseen = np.zeros((2, X.shape[1]))
    unseen[0, :4] = [1, 2, 3, 4]  # known normal actions
    unseen[1, :4] = [1, 2, 999, 4]  # an action id never seen in training
    probabilities = model.predict_proba(unseen)[:, 1]
    assert np.all((probabilities > 0) & (probabilities < 1))
    attack = synthetic.ACTIONS.index("exfiltrate")
    reordered = unseen[0].copy()
    reordered[:4] = [attack, 3, 2, 1]
    assert model.predict_proba(reordered[None, :])[0, 1] > probabilities[0]


def test_epochs_change_what_the_transformer_and_anomaly_models_learn() -> None:
    X, y, _ = synthetic.generate("risk", 600, 0.05, seed=0)
    for model_type, data in (("simple_transformer", X), ("anomaly", None)):
        if data is None:
            data, y_seq, _ = synthetic.generate("sequence", 600, 0.05, seed=0)
        labels = y if model_type == "simple_transformer" else y_seq
        one = create_model(model_type).fit(data, labels, epochs=1, batch_size=32, seed=0)
        five = create_model(model_type).fit(data, labels, epochs=5, batch_size=32, seed=0)
        assert not np.allclose(one.predict_proba(data), five.predict_proba(data))


def model_spec(write_spec: SpecWriter, model: str) -> Path:
    return write_spec(f"version: 1\nname: s\nmodel:\n{model}", "s.yaml")


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            "  type: sklearn\n  estimator: os.system\n",
            "5:14: model.estimator: 'os.system' is outside the allowed module prefixes (sklearn.)",
        ),
        (
            "  type: sklearn\n  estimator: sklearn.cluster.KMeans\n",
            "5:14: model.estimator: 'sklearn.cluster.KMeans' is not a scikit-learn classifier",
        ),
        (
            "  type: sklearn\n  estimator: sklearn.nothing.Here\n",
            "5:14: model.estimator: 'sklearn.nothing.Here' cannot be imported",
        ),
        (
            f"  type: sklearn\n  estimator: {HGB}\n  params: {{max_iter: 0}}\n",
            "6:22: model.params.max_iter: The 'max_iter' parameter of "
            "HistGradientBoostingClassifier must be an int in the range [1, inf). Got 0 instead.",
        ),
        (
            f"  type: sklearn\n  estimator: {HGB}\n  params: {{max_itter: 5}}\n",
            "6:12: model.params.max_itter: unknown parameter of HistGradientBoostingClassifier",
        ),
        ("  type: sklearn\n", "4:9: model.type: type sklearn needs an estimator import path"),
        (
            f"  type: logistic\n  estimator: {HGB}\n",
            "5:14: model.estimator: estimator is only for type sklearn",
        ),
        (
            "  type: simple_transformer\n  params: {d_model: 10, heads: 4}\n",
            "5:11: model.params: d_model (10) must be divisible by heads (4)",
        ),
        (
            "  type: anomaly\n  params: {method: markov}\n",
            "5:20: model.params.method: 'markov' is not one of 'ngram' or 'isolation_forest'",
        ),
    ],
)
def test_model_sections_are_validated_per_type(
    write_spec: SpecWriter, model: str, expected: str
) -> None:
    path = model_spec(write_spec, model)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    (problem,) = caught.value.problems
    assert str(problem).startswith(f"{path}:{expected}")


def test_the_project_can_allow_other_estimator_prefixes(write_spec: SpecWriter) -> None:
    path = model_spec(write_spec, "  type: sklearn\n  estimator: tests.test_models.Nothing\n")
    with pytest.raises(SpecError, match="outside the allowed module prefixes"):
        load_spec(path)
    with pytest.raises(SpecError, match="cannot be imported"):
        load_spec(path, ("sklearn.", "tests."))
