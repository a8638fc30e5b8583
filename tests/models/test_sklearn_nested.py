"""scikit-learn as users write it: estimators inside estimators (a Pipeline's steps, a
CalibratedClassifierCV's base estimator), built and validated by scikit-learn at spec load with
each problem at its own key, named in reports, seeded, stored with skops and loaded only when
every class inside is trusted."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from conftest import SpecWriter
from nethical_runner.models import ModelFileError, create_model, load_model
from nethical_runner.models.base import stored_identity
from nethical_runner.run.cache import ResultCache, cache_key
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import SpecError, load_spec

SPECS = Path(__file__).parents[2] / "specs"
SCALE = {"name": "scale", "estimator": "sklearn.preprocessing.StandardScaler"}
LOGISTIC = {"name": "clf", "estimator": "sklearn.linear_model.LogisticRegression"}
PIPELINE = {"estimator": "sklearn.pipeline.Pipeline", "params": {"steps": [SCALE, LOGISTIC]}}
CALIBRATED_SVC = {
    "estimator": "sklearn.calibration.CalibratedClassifierCV",
    "params": {"estimator": {"estimator": "sklearn.svm.SVC"}, "cv": 3},
}


def problems(write_spec: SpecWriter, model: str) -> list[str]:
    path = write_spec(f"version: 1\nname: s\nmodel:\n  type: sklearn\n{model}", "s.yaml")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return [f"{p.mark.line}: {p.key}: {p.message}" for p in caught.value.problems]


def pipeline_of(*steps: str) -> str:
    lines = "".join(f"      - {step}\n" for step in steps)
    return f"  estimator: sklearn.pipeline.Pipeline\n  params:\n    steps:\n{lines}"


SCALE_STEP = "{name: scale, estimator: sklearn.preprocessing.StandardScaler}"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            pipeline_of(
                SCALE_STEP,
                "{name: clf, estimator: sklearn.linear_model.LogisticRegression, params: {C: -1}}",
            ),
            "9: model.params.steps[1].params.C: The 'C' parameter of LogisticRegression must be "
            "a float in the range (0.0, inf]. Got -1 instead.",
        ),
        (
            "  estimator: sklearn.ensemble.RandomForestClassifier\n  params: {n_estimator: 5}\n",
            "6: model.params.n_estimator: unknown parameter of RandomForestClassifier (did you "
            "mean 'n_estimators'?)",
        ),
        (
            "  estimator: sklearn.calibration.CalibratedClassifierCV\n  params:\n    estimator:\n"
            "      estimator: sklearn.ensemble.RandomForestClassifier\n"
            "      params: {n_estimator: 5}\n",
            "9: model.params.estimator.params.n_estimator: unknown parameter of "
            "RandomForestClassifier (did you mean 'n_estimators'?)",
        ),
        (
            pipeline_of(
                SCALE_STEP,
                "{name: clf, estimator: sklearn.linear_model.LogisticRegression, parms: {C: 1}}",
            ),
            "9: model.params.steps[1].parms: unknown key (did you mean 'params'?)",
        ),
        (
            pipeline_of(
                "{name: clf, estimator: sklearn.linear_model.LogisticRegression}", SCALE_STEP
            ),
            "8: model.params.steps: All intermediate steps should be transformers",
        ),
        (
            pipeline_of(SCALE_STEP),
            "5: model.estimator: 'sklearn.pipeline.Pipeline' is not a scikit-learn classifier",
        ),
        (
            pipeline_of("{name: 1, estimator: sklearn.preprocessing.StandardScaler}", SCALE_STEP),
            "8: model.params.steps[0].name: a step's name must be a non-empty string",
        ),
        (
            pipeline_of(SCALE_STEP, "{name: clf, estimator: sklearn.nothing.Here}"),
            "9: model.params.steps[1].estimator: 'sklearn.nothing.Here' cannot be imported",
        ),
        (
            pipeline_of(SCALE_STEP, "{name: clf, estimator: sklearn.svm.SVC, params: [1]}"),
            "9: model.params.steps[1].params: must be a mapping of parameters",
        ),
        (
            "  estimator: sklearn.svm.SVC\n",
            "5: model.estimator: 'sklearn.svm.SVC' has no predict_proba with these parameters",
        ),
        (
            "  estimator: sklearn.calibration.CalibratedClassifierCV\n"
            "  params: {estimator: {estimator: sklearn.svm.SVC}, cv: 1}\n",
            "6: model.params.cv: The 'cv' parameter of CalibratedClassifierCV must be",
        ),
    ],
    ids=[
        "nested value",
        "near miss",
        "nested near miss",
        "step key",
        "step kinds",
        "no classifier at the end",
        "step name",
        "nested import",
        "nested params",
        "SVC without probability",
        "outer param beside a nested one",
    ],
)
def test_a_problem_inside_a_nested_estimator_is_located_at_its_key(
    write_spec: SpecWriter, model: str, expected: str
) -> None:
    (found,) = problems(write_spec, model)
    assert found.startswith(expected)


def test_nesting_and_the_number_of_estimators_are_bounded(write_spec: SpecWriter) -> None:
    deep = "sklearn.svm.SVC"
    inner: dict[str, Any] = {"estimator": deep, "params": {"probability": True}}
    for _ in range(5):
        inner = {"estimator": "sklearn.calibration.CalibratedClassifierCV",
                 "params": {"estimator": inner}}  # fmt: skip
    text = f"  estimator: {inner['estimator']}\n  params: {json.dumps(inner['params'])}\n"
    (found,) = problems(write_spec, text)
    assert "estimators are nested more than 4 deep" in found
    assert "params.estimator.params.estimator.params.estimator.params.estimator.params" in found

    steps = [SCALE_STEP.replace("scale", f"s{i}") for i in range(40)]
    (found,) = problems(write_spec, pipeline_of(*steps, "{name: clf, estimator: x.Y}"))
    assert found.startswith("39: model.params.steps[31].estimator: a model holds at most 32")


def test_a_spec_error_in_a_cohort_override_of_a_nested_estimator_points_at_the_override(
    write_spec: SpecWriter,
) -> None:
    text = (SPECS / "sklearn_pipeline.yaml").read_text()
    text += "cohorts:\n  - id: strong\n    model:\n      type: sklearn\n"
    text += "      estimator: sklearn.pipeline.Pipeline\n      params:\n        steps:\n"
    text += f"          - {SCALE_STEP}\n"
    text += "          - {name: clf, estimator: sklearn.svm.SVC, params: {probablity: true}}\n"
    path = write_spec(text, "s.yaml")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    (found,) = caught.value.problems
    assert found.key == "cohorts[0].model.params.steps[1].params.probablity"
    assert found.mark.line == text.count("\n")
    assert found.message.endswith("(did you mean 'probability'?)")


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("sklearn.yaml", "sklearn:RandomForestClassifier"),
        ("sklearn_pipeline.yaml", "sklearn:Pipeline(StandardScaler, LogisticRegression)"),
        (
            "sklearn_calibrated.yaml",
            "sklearn:CalibratedClassifierCV(Pipeline(StandardScaler, SVC))",
        ),
        ("logistic.yaml", "logistic"),
    ],
)
def test_reports_name_the_estimator(spec: str, name: str) -> None:
    cohort = load_spec(SPECS / spec).cohorts[0]
    assert cohort.model.display_name() == name


def test_a_calibrated_svc_is_named_by_its_base_estimator() -> None:
    assert create_model("sklearn", CALIBRATED_SVC).display_name() == (
        "sklearn:CalibratedClassifierCV(SVC)"
    )


def breast_cancer(rows: int = 300) -> tuple[np.ndarray, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    return X[:rows], y[:rows]


def fitted(declared: dict[str, Any], seed: int = 0) -> Any:
    X, y = breast_cancer()
    return create_model("sklearn", declared).fit(X, y, epochs=1, batch_size=1, seed=seed)


@pytest.mark.parametrize("declared", [PIPELINE, CALIBRATED_SVC], ids=["pipeline", "calibrated"])
def test_a_nested_estimator_saves_and_loads_with_the_same_probabilities(
    tmp_path: Path, declared: dict[str, Any]
) -> None:
    model = fitted(declared)
    model.save(tmp_path / "m.npz")
    loaded, _ = load_model(tmp_path / "m.npz")
    X, _ = breast_cancer()
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.params == model.params
    assert stored_identity(model.to_npz_bytes()) == (
        "sklearn",
        model.params.model_dump(mode="json"),
    )


def with_step_class(model_file: bytes, step: str, module: str, name: str) -> bytes:
    """The model file with one of its pipeline's stored classes renamed, as an attacker would:
    skops' schema is plain JSON in a zip inside the model's ``estimator`` array."""
    archive = np.load(io.BytesIO(model_file), allow_pickle=False)
    members = {key: archive[key] for key in archive.files}
    inner = zipfile.ZipFile(io.BytesIO(members["estimator"].tobytes()))
    schema = json.loads(inner.read("schema.json"))

    def rename(node: Any) -> int:
        if isinstance(node, dict):
            if node.get("__class__") == step:
                node["__module__"], node["__class__"] = module, name
                return 1 + sum(rename(v) for v in node.values())
            return sum(rename(v) for v in node.values())
        if isinstance(node, list):
            return sum(rename(v) for v in node)
        return 0

    assert rename(schema) >= 1
    rewritten = io.BytesIO()
    with zipfile.ZipFile(rewritten, "w") as bundle:
        for member in inner.namelist():
            data = json.dumps(schema) if member == "schema.json" else inner.read(member)
            bundle.writestr(member, data)
    members["estimator"] = np.frombuffer(rewritten.getvalue(), dtype=np.uint8)
    out = io.BytesIO()
    np.savez_compressed(out, **members)
    return out.getvalue()


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("subprocess", "Popen"),
        ("sklearn.utils._testing", "assert_run_python_script_without_output"),
    ],
    ids=["a class outside the prefixes", "a sklearn function"],
)
def test_a_pipeline_naming_an_untrusted_type_inside_is_refused(module: str, name: str) -> None:
    crafted = with_step_class(fitted(PIPELINE).to_npz_bytes(), "StandardScaler", module, name)
    with pytest.raises(ModelFileError) as caught:
        load_model(crafted)
    assert str(caught.value) == (
        f"<model bytes>: refused: the stored estimator names {module}.{name}, which is not a "
        "class under the allowed prefixes (sklearn.)"
    )


def test_nested_random_states_take_the_training_seed_unless_given() -> None:
    forest = {"estimator": "sklearn.ensemble.RandomForestClassifier",
              "params": {"n_estimators": 5, "max_features": 1}}  # fmt: skip
    calibrated = {"estimator": "sklearn.calibration.CalibratedClassifierCV",
                  "params": {"estimator": forest, "cv": 2}}  # fmt: skip
    X, _ = breast_cancer()
    once, again, other = (fitted(calibrated, seed).predict_proba(X) for seed in (1, 1, 2))
    np.testing.assert_array_equal(once, again)
    assert not np.array_equal(once, other)
    fixed = {**forest, "params": {**forest["params"], "random_state": 3}}
    given = {**calibrated, "params": {**calibrated["params"], "estimator": fixed}}
    np.testing.assert_array_equal(
        fitted(given, 1).predict_proba(X), fitted(given, 2).predict_proba(X)
    )


def test_nested_params_key_the_result_cache_and_a_second_run_is_served_from_it(
    tmp_path: Path, write_spec: SpecWriter
) -> None:
    text = (SPECS / "sklearn_pipeline.yaml").read_text()
    write_spec((SPECS / "data" / "breast_cancer.csv").read_bytes(), "specs/data/breast_cancer.csv")
    first = load_spec(write_spec(text, "a.yaml"), root=tmp_path)
    changed = load_spec(write_spec(text.replace("C: 1.0", "C: 0.5"), "b.yaml"), root=tmp_path)
    (a,), (b,) = first.cohorts, changed.cohorts
    assert cache_key(a.config, "d", ("sklearn.",)) != cache_key(b.config, "d", ("sklearn.",))
    settings = RunSettings(tmp_path / "out", result_cache=ResultCache(tmp_path / "cache"))
    runs = [run_spec(first, settings).cohorts["default"] for _ in range(2)]
    assert [getattr(run, "cached", None) for run in runs] == [False, True]


def test_a_list_of_named_estimators_becomes_scikit_learns_pairs() -> None:
    tree = {"name": "tree", "estimator": "sklearn.tree.DecisionTreeClassifier",
            "params": {"max_depth": 3}}  # fmt: skip
    scaled = {"name": "scaled", **PIPELINE}
    declared = {
        "estimator": "sklearn.ensemble.StackingClassifier",
        "params": {
            "estimators": [tree, scaled],
            "final_estimator": {"estimator": "sklearn.linear_model.LogisticRegression"},
            "cv": 3,
        },
    }
    model = fitted(declared)
    names = [name for name, _ in model.estimator_.estimators]
    assert names == ["tree", "scaled"]
    assert type(model.estimator_.estimators[1][1]).__name__ == "Pipeline"
    assert model.display_name() == (
        "sklearn:StackingClassifier(DecisionTreeClassifier, Pipeline(StandardScaler, "
        "LogisticRegression), LogisticRegression)"
    )
