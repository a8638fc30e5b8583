"""What a spec (or a file) from an untrusted pull request cannot make the runner do.

* import code: only estimators under the allowed prefixes, never a module the spec names;
* read or write outside the project root: data paths stay inside it, output names cannot carry
  a path, and the spec cannot choose where outputs or the audit log go;
* load a pickle: models are ``.npz`` read with ``allow_pickle=False``, and a stored scikit-learn
  estimator is only loaded when every type it names is a class under the allowed prefixes,
  whatever the file itself claims.

Every attempt leaves a marker file behind if it succeeds; each test checks that it does not.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops
from skops.io._protocol import PROTOCOL

from conftest import SpecWriter
from nethical_runner.models import ModelFileError, create_model, load_model
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.results import CohortFailure, CohortResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import SpecError, load_spec

HEAD = "version: 1\nname: demo\n"


def spec_problems(write_spec: SpecWriter, text: str, **kwargs: Any) -> list[str]:
    path = write_spec(text, "s.yaml")
    with pytest.raises(SpecError) as caught:
        load_spec(path, **kwargs)
    return [str(p).replace(f"{path}:", "spec.yaml:", 1) for p in caught.value.problems]


# --- importing code ---------------------------------------------------------------------------


@pytest.fixture
def trap_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An importable module whose import leaves a marker: proof that it was never imported."""
    marker = tmp_path / "imported"
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "trap.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nclass Estimator:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    monkeypatch.delitem(sys.modules, "trap", raising=False)
    return marker


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            "{type: sklearn, estimator: trap.Estimator}",
            "spec.yaml:3:35: model.estimator: 'trap.Estimator' is outside the allowed module "
            "prefixes (sklearn.)",
        ),
        (
            "{type: sklearn, estimator: sklearn_trap.Estimator}",
            "spec.yaml:3:35: model.estimator: 'sklearn_trap.Estimator' is outside the allowed "
            "module prefixes (sklearn.)",
        ),
        (
            "{type: sklearn, estimator: sklearn.svm.SVC, params: {allowed_prefixes: [trap.]}}",
            "spec.yaml:3:61: model.params.allowed_prefixes: unknown parameter of SVC; known "
            "parameters: C, break_ties, cache_size, class_weight, coef0, decision_function_shape, "
            "degree, gamma, kernel, max_iter, probability, random_state, shrinking, tol, verbose",
        ),
        (
            "{type: sklearn, estimator: sklearn.pipeline.Pipeline, params: {steps: "
            "[{name: t, estimator: trap.Estimator}, "
            "{name: c, estimator: sklearn.svm.SVC}]}}",
            "spec.yaml:3:100: model.params.steps[0].estimator: 'trap.Estimator' is outside the "
            "allowed module prefixes (sklearn.)",
        ),
        (
            "{type: sklearn, estimator: sklearn.calibration.CalibratedClassifierCV, params: "
            "{estimator: {estimator: sklearn_trap.Estimator}}}",
            "spec.yaml:3:111: model.params.estimator.estimator: 'sklearn_trap.Estimator' is "
            "outside the allowed module prefixes (sklearn.)",
        ),
        (
            "{type: logistic, params: {allowed_prefixes: [trap.]}}",
            "spec.yaml:3:34: model.params.allowed_prefixes: unknown key; known keys: "
            "C, learning_rate",
        ),
    ],
    ids=[
        "outside the prefixes",
        "a look-alike prefix",
        "widening via params",
        "inside a pipeline",
        "a look-alike as a nested estimator",
        "other types",
    ],
)
def test_a_spec_cannot_import_a_module_outside_the_allowed_prefixes(
    write_spec: SpecWriter, trap_module: Path, model: str, expected: str
) -> None:
    assert spec_problems(write_spec, f"{HEAD}model: {model}\n") == [expected]
    assert not trap_module.exists()


@pytest.mark.parametrize(
    ("step", "outer", "key"),
    [
        ("sklearn.preprocessing.StandardScaler", "memory: FOLDER, ", "model.params.memory"),
        (
            "sklearn.cluster.FeatureAgglomeration, params: {memory: FOLDER}",
            "",
            "model.params.steps[0].params.memory",
        ),
    ],
    ids=["the pipeline", "a nested transformer"],
)
def test_a_spec_cannot_make_scikit_learn_cache_pickles(
    write_spec: SpecWriter, tmp_path: Path, step: str, outer: str, key: str
) -> None:
    """A Pipeline's (or FeatureAgglomeration's) ``memory`` stores fitted steps as pickles in a
    folder and loads them back on the next fit: a folder the spec names could hold any."""
    folder = tmp_path / "pickles"
    model = (
        f"{{type: sklearn, estimator: sklearn.pipeline.Pipeline, params: {{{outer}steps: "
        f"[{{name: a, estimator: {step}}}, {{name: c, estimator: sklearn.svm.SVC, "
        "params: {probability: true}}]}}"
    ).replace("FOLDER", str(folder))
    column = len("model: ") + model.index("memory") + 1
    assert spec_problems(write_spec, f"{HEAD}model: {model}\n") == [
        f"spec.yaml:3:{column + len('memory: ')}: {key}: memory caches fitted steps as pickles "
        "in a folder and loads them back, and no pickle is loaded here; leave it unset"
    ]
    assert not folder.exists()


def test_a_cohort_cannot_switch_to_an_estimator_outside_the_prefixes(
    write_spec: SpecWriter, trap_module: Path
) -> None:
    text = HEAD + "model: {type: logistic}\ncohorts:\n  - id: a\n"
    text += "    model: {type: sklearn, estimator: trap.Estimator}\n"
    assert spec_problems(write_spec, text) == [
        "spec.yaml:6:39: cohorts[0].model.estimator: 'trap.Estimator' is outside the allowed "
        "module prefixes (sklearn.)"
    ]
    assert not trap_module.exists()


def test_yaml_cannot_construct_python_objects(write_spec: SpecWriter, tmp_path: Path) -> None:
    marker = tmp_path / "constructed"
    tags = [
        f"!!python/object/apply:os.system ['touch {marker}']",
        f"!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
        "!!python/name:os.system",
        "!!python/module:os",
    ]
    for tag in tags:
        (problem,) = spec_problems(write_spec, f"{HEAD}model: {{type: logistic}}\n"
                                   f"training: {tag}\n")  # fmt: skip
        assert problem.startswith("spec.yaml:4:11: training: tag 'tag:yaml.org,2002:python/")
    assert not marker.exists()


# --- reading and writing outside the project root -------------------------------------------------


def csv_rows() -> str:
    return "a,b,label\n" + "".join(f"{i % 7},{i % 5},{int(i % 7 > 3)}\n" for i in range(100))


@pytest.fixture
def project(write_spec: SpecWriter) -> Path:
    """A project root with a data file inside it and a secret file next to it, outside."""
    write_spec.csv(csv_rows(), "secret.csv")
    return write_spec.csv(csv_rows(), "project/data/ok.csv").parents[1]


def run_csv(root: Path, path: str) -> CohortResult | CohortFailure:
    spec = SpecWriter(root)(
        f"{HEAD}model: {{type: logistic}}\ndata:\n  source: csv\n  csv: {{path: {path!r}}}\n",
        "s.yaml",
    )
    result = run_spec(load_spec(spec, root=root), RunSettings(root / "out"))
    return result.cohorts["default"]


@pytest.mark.parametrize(
    "path",
    [
        "../secret.csv",
        "data/../../secret.csv",
        "{outside}/secret.csv",
        "link.csv",
        "dir/secret.csv",
    ],
    ids=["parent", "through a subfolder", "absolute", "symlinked file", "symlinked folder"],
)
def test_a_data_path_cannot_leave_the_project_root(project: Path, path: str) -> None:
    outside = project.parent
    os.symlink(outside / "secret.csv", project / "link.csv")
    os.symlink(outside, project / "dir")
    shown = path.format(outside=outside)
    failure = run_csv(project, shown)
    assert isinstance(failure, CohortFailure)
    assert failure.reason == (
        f"DataError: data.csv.path {shown!r} leaves the project root {project}"
    )


def test_a_symlink_to_a_device_is_outside_the_root_too(project: Path) -> None:
    os.symlink("/dev/zero", project / "zero.csv")
    failure = run_csv(project, "zero.csv")
    assert isinstance(failure, CohortFailure)
    assert failure.reason == "DataError: data.csv.path 'zero.csv' leaves the project root " + str(
        project
    )


def test_a_home_path_is_just_a_name_inside_the_root(project: Path) -> None:
    failure = run_csv(project, "~/secret.csv")
    assert isinstance(failure, CohortFailure)
    assert failure.reason == "DataUnavailable: missing_file: ~/secret.csv: file not found"


def test_a_kaggle_file_name_cannot_leave_the_dataset(tmp_path: Path) -> None:
    from nethical_runner.data.kaggle import DataUnavailable, find_file

    dataset = tmp_path / "cache" / "owner" / "slug" / "1"
    dataset.mkdir(parents=True)
    (dataset / "train.csv").write_text("a\n")
    (tmp_path / "cache" / "secret.csv").write_text("b\n")
    for name in ("../../secret.csv", str(tmp_path / "cache" / "secret.csv")):
        with pytest.raises(DataUnavailable) as caught:
            find_file(dataset, name)
        assert str(caught.value) == (
            f"missing_file: no file {name!r} in {dataset}; files: train.csv"
        )


def test_the_spec_cannot_choose_where_outputs_go(write_spec: SpecWriter) -> None:
    text = (
        HEAD + "model: {type: logistic}\naudit: {enabled: true, path: /tmp/elsewhere}\n"
        "sla: {report_dir: /tmp/elsewhere}\nout: /tmp/elsewhere\n"
    )
    assert spec_problems(write_spec, text) == [
        "spec.yaml:4:24: audit.path: unknown key; known keys: enabled, chunk_size",
        "spec.yaml:5:7: sla.report_dir: unknown key; known keys: p50_ms, p95_ms, p99_ms, "
        "avg_ms, max_ms, scope, calls, warmup, batch_size, warn_margin, on_breach, "
        "confidence, on_inconclusive, stages, resource",
        "spec.yaml:6:1: out: unknown key; known keys: version, name, model, training, data, "
        "metrics, gate, sla, audit, regression, cohorts, slices, drift",
    ]


def test_every_file_a_run_writes_is_under_the_output_root(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    """With the oddest names a spec may use, every output lands under the root it was given."""
    name, cohort = "a..b-" + "c" * 59, "0.-_"
    spec = write_spec(
        f"version: 1\nname: {name}\nmodel: {{type: heuristic}}\ndata: {{samples: 300}}\n"
        f"gate: {{max_ece: 1.0}}\nsla: {{calls: 10, warmup: 0}}\naudit: {{enabled: true}}\n"
        f"cohorts: [{{id: '{cohort}'}}]\n",
        "in/s.yaml",
    )
    before = {p for p in tmp_path.rglob("*")}
    result = run_spec(load_spec(spec, root=tmp_path / "in"), RunSettings(tmp_path / "out"))
    assert isinstance(result.cohorts[cohort], CohortResult)
    created = {p for p in tmp_path.rglob("*")} - before
    assert created and all(p.is_relative_to(tmp_path / "out") for p in created), sorted(created)


# --- never loading a pickle ---------------------------------------------------------------------


class Boom:
    """Unpickling this creates the marker file named by ``MARKER``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def npz_with(path: Path, meta: dict[str, Any] | None, **arrays: np.ndarray) -> Path:
    if meta is not None:
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with path.open("wb") as handle:
        np.savez(handle, **arrays)
    return path


def skops_payload(module: str, name: str, argument: str) -> np.ndarray:
    """A skops file whose only node calls ``module.name(argument)`` when loaded trusting it."""
    text = {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(argument), "is_json": True, "__id__": 1}  # fmt: skip
    schema = {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [text],
            "__id__": 2,
        },
        "protocol": PROTOCOL,
        "_skops_version": skops.__version__,
        "__id__": 3,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("schema.json", json.dumps(schema))
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8)


def sklearn_meta(prefixes: list[str]) -> dict[str, Any]:
    params = {"estimator": "sklearn.svm.SVC", "params": {}, "allowed_prefixes": prefixes}
    return {"type": "sklearn", "params": params, "metadata": {}}


def test_an_npz_holding_a_pickled_object_array_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    objects = np.array([Boom(str(marker))], dtype=object)
    path = npz_with(tmp_path / "m.npz", {"type": "logistic", "params": {}, "metadata": {}},
                    coef=objects)  # fmt: skip
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert str(caught.value) == (
        f"{path}: not a model file: member 'coef.npy' holds dtype object, which is not loaded"
    )
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["pickle", "npy"])
def test_a_pickle_under_a_model_name_is_refused(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "unpickled"
    path = tmp_path / "m.npz"
    if kind == "pickle":
        path.write_bytes(pickle.dumps(Boom(str(marker))))
    else:
        with path.open("wb") as handle:
            np.save(handle, np.array([Boom(str(marker))], dtype=object), allow_pickle=True)
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert str(caught.value) == f"{path}: not a model file: not an .npz archive"
    assert not marker.exists()


@pytest.mark.parametrize(
    ("prefixes", "module", "name"),
    [
        (["posix."], "posix", "system"),
        ([""], "posix", "system"),
        (["sklearn."], "sklearn.utils._testing", "assert_run_python_script_without_output"),
        (["sklearn."], "builtins", "exec"),
    ],
    ids=["file widens the prefixes", "file trusts everything", "a sklearn function", "builtins"],
)
def test_a_stored_estimator_naming_untrusted_callables_is_refused(
    tmp_path: Path, prefixes: list[str], module: str, name: str
) -> None:
    """skops calls the types it is told to trust. The prefixes the file claims are ignored,
    and only classes defined under the caller's prefixes are trusted: scikit-learn itself has
    a function that runs any Python script."""
    marker = tmp_path / "executed"
    argument = f"touch {marker}" if name == "system" else f"open({str(marker)!r}, 'w')"
    path = npz_with(tmp_path / "m.npz", sklearn_meta(prefixes), n_features=np.array(2),
                    estimator=skops_payload(module, name, argument))  # fmt: skip
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert str(caught.value) == (
        f"{path}: refused: the stored estimator names {module}.{name}, which is not a class "
        "under the allowed prefixes (sklearn.)"
    )
    assert not marker.exists()


def test_the_caller_decides_the_prefixes_a_stored_estimator_may_use(tmp_path: Path) -> None:
    X = np.random.default_rng(0).random((80, 3))
    y = (X[:, 0] > 0.5).astype(int)
    model = create_model(
        "sklearn", {"estimator": "sklearn.tree.DecisionTreeClassifier", "params": {}}
    ).fit(X, y, epochs=1, batch_size=1, seed=0)
    model.save(tmp_path / "m.npz")
    loaded, _ = load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    with pytest.raises(ModelFileError, match="which is not a class under the allowed prefixes"):
        load_model(tmp_path / "m.npz", allowed_prefixes=("mypackage.",))


@pytest.mark.parametrize(
    ("meta", "detail"),
    [
        (None, "KeyError: '__meta__'"),
        ({"type": "evil", "params": {}, "metadata": {}}, "KeyError: 'evil'"),
        (
            {"type": ["logistic"], "params": {}, "metadata": {}},
            "TypeError: unhashable type: 'list'",
        ),
        (
            {"type": "logistic", "params": {"C": "x"}, "metadata": {}},
            "ValidationError: 1 validation error for LogisticParams",
        ),
    ],
    ids=["no metadata", "unknown type", "type not a name", "bad params"],
)
def test_a_model_file_with_bad_metadata_is_refused(
    tmp_path: Path, meta: dict[str, Any] | None, detail: str
) -> None:
    path = npz_with(tmp_path / "m.npz", meta, coef=np.zeros(2))
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert str(caught.value).startswith(f"{path}: not a model this package saved ({detail}")


def test_training_saving_and_loading_never_touch_pickle(
    write_spec: SpecWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every way to unpickle (and pickle) broken, a sklearn spec trains, saves, and its
    model loads back."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "dump", "dumps", "Unpickler", "Pickler"):
        monkeypatch.setattr(pickle, name, refuse)
    spec = write_spec(
        HEAD + "model: {type: sklearn, estimator: sklearn.ensemble.HistGradientBoostingClassifier,"
        " params: {max_iter: 20}}\ndata: {samples: 400}\ngate: {max_ece: 1.0}\n",
        "s.yaml",
    )
    result = run_spec(load_spec(spec), RunSettings(tmp_path / "out"))
    cohort = result.cohorts["default"]
    assert isinstance(cohort, CohortResult), cohort
    loaded, _ = load_model(cohort.model_path)
    np.testing.assert_array_equal(
        loaded.predict_proba(cohort.split.X_val), cohort.model.predict_proba(cohort.split.X_val)
    )


def test_a_spec_symlinked_out_of_the_spec_folder_is_not_collected(
    pytester: pytest.Pytester,
) -> None:
    """pytest resolves a spec's path before collecting it: a link in ``specs/`` to a YAML file
    elsewhere (a secret, a file from another checkout) is not read at all."""
    outside = pytester.path / "elsewhere"
    outside.mkdir()
    (outside / "secret.yaml").write_text("password: hunter2\n")
    (pytester.path / "specs").mkdir()
    os.symlink(outside / "secret.yaml", pytester.path / "specs" / "leak.yaml")
    result = pytester.runpytest("specs/")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "hunter2" not in result.stdout.str() + result.stderr.str()
