"""The Python API: ``from nethical_runner import load_model, load_spec, run_spec``, with paths as
``str`` or ``Path``; a model trained from a table carries its feature names, and a DataFrame
with other columns is refused by name."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nethical_runner
from nethical_runner import load_model, load_spec, run_spec
from nethical_runner.models import ModelFileError
from nethical_runner.report.records import cohort_record
from nethical_runner.run.results import CohortResult
from nethical_runner.spec import SpecError

ROOT = Path(__file__).parents[1]
PIPELINE_SPEC = ROOT / "specs" / "sklearn_pipeline.yaml"
CSV = ROOT / "specs" / "data" / "breast_cancer.csv"


def test_importing_the_package_loads_none_of_its_modules() -> None:
    """The pytest plugin's entry point imports the package in every pytest run."""
    code = "import sys, nethical_runner; print([m for m in sys.modules if m.startswith('neth')])"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "['nethical_runner']"


def test_the_api_names_are_exported_and_typed() -> None:
    assert set(nethical_runner.__all__) == {"__version__", "load_model", "load_spec", "run_spec"}
    stub = ast.parse((ROOT / "nethical_runner" / "__init__.pyi").read_text())
    typed = {a.asname for n in ast.walk(stub) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert typed == set(nethical_runner.__all__) - {"__version__"}
    for name in typed:
        assert getattr(nethical_runner, name).__doc__
    with pytest.raises(AttributeError, match="has no attribute 'load_modle'"):
        nethical_runner.load_modle  # noqa: B018


def test_load_spec_takes_a_string_and_reports_located_errors(tmp_path: Path) -> None:
    spec = load_spec(str(PIPELINE_SPEC), root=str(ROOT))
    assert spec.name == "sklearn_pipeline" and spec.root == ROOT
    bad = tmp_path / "bad.yaml"
    bad.write_text(PIPELINE_SPEC.read_text().replace("C: 1.0", "C: -1.0"))
    with pytest.raises(SpecError, match=r"bad.yaml:11:\d+: model.params.steps\[1\].params.C: "):
        load_spec(str(bad))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[CohortResult, Path]:
    out = tmp_path_factory.mktemp("out")
    result = run_spec(str(PIPELINE_SPEC), out_dir=str(out), root=ROOT)
    cohort = result.cohorts["default"]
    assert isinstance(cohort, CohortResult), cohort
    record = cohort_record(result.spec, "default", result, out)
    assert record["model"] == "sklearn:Pipeline(StandardScaler, LogisticRegression)"
    saved = json.loads(cohort.metrics_path.read_text())
    assert saved["model"] == record["model"] and saved["model_type"] == "sklearn"
    return cohort, out


def test_run_spec_trains_in_process_and_load_model_takes_a_string(
    trained: tuple[CohortResult, Path],
) -> None:
    cohort, _ = trained
    assert cohort.promoted and cohort.metrics["accuracy"] > 0.9
    model = load_model(str(cohort.model_path))
    header = CSV.read_text().splitlines()[0].split(",")
    assert model.feature_names == tuple(name for name in header if name != "target")
    frame = pd.read_csv(CSV).drop(columns="target")
    from_frame = model.predict_proba(frame)
    rows = np.loadtxt(CSV, delimiter=",", skiprows=1, usecols=range(len(header) - 1))
    assert header[-1] == "target"
    np.testing.assert_array_equal(from_frame, model.predict_proba(rows))
    np.testing.assert_array_equal(from_frame, load_model(cohort.model_path).predict_proba(frame))
    np.testing.assert_array_equal(
        from_frame, load_model(cohort.model_path.read_bytes()).predict_proba(frame)
    )


def test_a_frame_with_missing_or_reordered_columns_is_refused_by_name(
    trained: tuple[CohortResult, Path],
) -> None:
    model = load_model(str(trained[0].model_path))
    frame = pd.read_csv(CSV).drop(columns="target")
    with pytest.raises(
        ValueError, match=r"^the DataFrame lacks the model's feature\(s\) 'mean_area';"
    ):
        model.predict_proba(frame.drop(columns="mean_area"))
    swapped = frame[["mean_texture", "mean_radius", *frame.columns[2:]]]
    with pytest.raises(ValueError) as caught:
        model.predict_proba(swapped)
    assert str(caught.value).startswith(
        "the DataFrame holds the model's features in another order; the model expects the "
        "columns in this order: 'mean_radius', 'mean_texture', 'mean_perimeter',"
    )
    with pytest.raises(ValueError, match="not trained on: 'target'"):
        model.predict_proba(pd.read_csv(CSV))


def test_load_model_refuses_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match=r"x\.npz: not a model file: not an \.npz archive"):
        load_model(str(tmp_path / "x.npz"))
