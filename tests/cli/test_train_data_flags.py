"""``train`` on a CSV of one's own or a Kaggle dataset, as the old script did, with every check a
spec's data gets and the synthetic fallback said out loud.

Kaggle is never reached: the tests run in the ``env`` fixture's temp HOME and config folder,
either without credentials (the fetch stops before starting the client, which the recorded
child processes confirm) or against the local fake Kaggle of ``support.kaggle_server``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.kaggle_server import zip_bytes

from conftest import Serve
from nethical_runner.cli.main import main
from nethical_runner.models import SCRIPT_TYPES

BREAST_CANCER = Path(__file__).resolve().parents[2] / "specs" / "data" / "breast_cancer.csv"
METRICS = ("accuracy", "precision", "recall", "f1", "auc", "brier", "ece", "ece_debiased")
KAGGLE = ["--kaggle-dataset", "uciml/breast-cancer-wisconsin-data", "--kaggle-file", "data.csv"]
# Collection-time data checks (file exists, label and features in the header) live in the data
# layer; until they are there a wrong label or a missing file fails at training instead.
COLLECTION_CHECKS = importlib.util.find_spec("nethical_runner.data.declared") is not None
needs_collection_checks = pytest.mark.xfail(
    not COLLECTION_CHECKS, reason="data checks at collection not present", strict=True
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder holding the breast-cancer CSV under data/, as the working directory."""
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    shutil.copy(BREAST_CANCER, folder / "data" / "breast_cancer.csv")
    monkeypatch.chdir(folder)
    return folder


def records(out: Path) -> list[dict[str, Any]]:
    paths = sorted((out / "models").glob("*/*_metrics_*.json"))
    return [json.loads(path.read_text()) for path in paths]


def train(*flags: str, out: str = "out") -> int:
    return main(["train", "--model-type", "logistic", "--cohort-id", "c", "--out", out, *flags])


@pytest.mark.parametrize(
    ("flags", "csv_keys", "data_keys"),
    [
        ([], "", ""),
        (
            ["--num-samples", "300", "--features", "mean_radius, worst_area,mean_texture"],
            ", features: [mean_radius, worst_area, mean_texture]",
            "  samples: 300\n",
        ),
    ],
    ids=["whole-file", "rows-and-features"],
)
def test_csv_flags_train_like_the_equivalent_spec_file(
    project: Path, flags: list[str], csv_keys: str, data_keys: str
) -> None:
    assert train("--data-csv", "data/breast_cancer.csv", "--label", "target", *flags) == 0
    (Path("spec.yaml")).write_text(
        "version: 1\nname: logistic\nmodel: {type: logistic}\n"
        "training: {epochs: 10, batch_size: 32, seed: 42}\n"
        "data:\n  source: csv\n"
        f"  csv: {{path: data/breast_cancer.csv, label: target{csv_keys}}}\n{data_keys}"
        "cohorts: [{id: c}]\n"
    )
    assert main(["run", "spec.yaml", "--out", "spec-out"]) == 0
    (from_flags,) = records(project / "out")
    (from_spec,) = records(project / "spec-out")
    assert {m: from_flags[m] for m in METRICS} == {m: from_spec[m] for m in METRICS}
    assert from_flags["data"] == from_spec["data"]
    rows = 300 if data_keys else 569
    assert from_flags["data"]["rows"] == rows


def test_a_csv_outside_the_working_directory_is_read_from_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A spec may not read outside the project root; a path typed on the command line is the
    user's own, so its folder is the root."""
    elsewhere = tmp_path / "elsewhere" / "bc.csv"
    elsewhere.parent.mkdir()
    shutil.copy(BREAST_CANCER, elsewhere)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    assert train("--data-csv", "../elsewhere/bc.csv", "--label", "target") == 0
    (record,) = records(tmp_path / "cwd" / "out")
    assert record["data"]["rows"] == 569
    assert "data: csv: csv bc.csv (569 rows)" in capsys.readouterr().out


def test_model_type_all_trains_every_type_on_the_csv(project: Path) -> None:
    flags = ["--data-csv", "data/breast_cancer.csv", "--label", "target", "--epochs", "2"]
    assert main(["train", "--model-type", "all", "--out", "out", *flags]) == 0
    trained = records(project / "out")
    assert {record["model_type"] for record in trained} == set(SCRIPT_TYPES)
    assert all(record["data"]["source"] == "csv" for record in trained)
    assert all(record["data"]["rows"] == 569 for record in trained)


@needs_collection_checks
def test_a_wrong_label_is_an_error_of_the_label_flag(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train("--data-csv", "data/breast_cancer.csv", "--label", "targt") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --label targt: ")
    assert "did you mean 'target'?" in err
    assert "data.csv" not in err.replace("breast_cancer.csv", "")  # no spec key in sight
    assert not (project / "out").exists()  # refused before anything trained


@needs_collection_checks
def test_a_missing_file_names_the_folder_it_was_resolved_in(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train("--data-csv", "data/breast_cancr.csv", "--label", "target") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --data-csv: data/breast_cancr.csv: ")
    assert "not found" in err and str(project) in err
    outside = project.parent / "nowhere"
    assert train("--data-csv", str(outside / "x.csv"), "--label", "target") == 2
    assert str(outside) in capsys.readouterr().err  # the file's own folder was the root


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["--data-csv", "data/breast_cancer.csv"], "error: --label: required with --data-csv"),
        (KAGGLE[:2], "error: --kaggle-file: required with --kaggle-dataset"),
        (["--kaggle-file", "f.csv"], "error: --kaggle-file f.csv: only with --kaggle-dataset"),
        (["--no-fallback"], "error: --no-fallback: only with --kaggle-dataset"),
        (["--label", "y"], "error: --label y: only with --data-csv or --kaggle-dataset"),
        (
            ["--data-csv", "d.csv", "--label", "y", "--features", "a,,b"],
            "error: --features a,,b: an empty column name",
        ),
        (["--data-csv", "d.csv", "--label", "y", "--num-samples", "5"], "--num-samples 5: 5 is"),
        (
            [*KAGGLE, "--kaggle-version", "0"],
            "error: --kaggle-version 0: 0 is below the minimum 1",
        ),
        (
            ["--kaggle-dataset", "no-slug", "--kaggle-file", "f"],
            "error: --kaggle-dataset no-slug: 'no-slug' must match",
        ),
    ],
)
def test_data_flags_are_checked_and_named(
    project: Path, capsys: pytest.CaptureFixture[str], flags: list[str], error: str
) -> None:
    assert train(*flags) == 2
    assert error in capsys.readouterr().err
    assert not (project / "out").exists()


def test_a_csv_and_a_kaggle_dataset_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train("--data-csv", "d.csv", "--label", "y", *KAGGLE)
    assert exit_info.value.code == 2
    assert "--kaggle-dataset: not allowed with argument --data-csv" in capsys.readouterr().err


def test_unavailable_kaggle_data_falls_back_to_synthetic_out_loud(
    project: Path,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    child_processes: list[subprocess.Popen[bytes]],
) -> None:
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    flags = [*KAGGLE, "--label", "diagnosis", "--positive", "M", "--num-samples", "1000"]
    assert train(*flags, "--cache-dir", str(env)) == 0
    assert child_processes == []  # decided without starting the client: no network at all
    captured = capsys.readouterr()
    (warning,) = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert warning.startswith(
        "warning: logistic / c: the Kaggle dataset uciml/breast-cancer-wisconsin-data is "
        "unavailable (no_credentials: no Kaggle credentials: set KAGGLE_USERNAME"
    )
    assert "trained and judged on synthetic data instead" in captured.err
    assert "  data: synthetic (fallback: no_credentials: no Kaggle credentials" in captured.out
    (row,) = [line for line in captured.out.splitlines() if line.startswith("logistic  c  ")]
    assert "synthetic (fallback: no_creden...[1]" in row  # the whole of it in note 1
    assert "[1] model logistic, data synthetic (fallback: no_credentials" in captured.out
    (record,) = records(project / "out")
    assert record["data"]["source"].startswith("synthetic (fallback: no_credentials:")
    assert record["data"]["rows"] == 1000
    assert record["config"]["data"]["fallback"] == "synthetic"


def test_no_fallback_makes_unavailable_kaggle_data_an_error(
    project: Path,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    assert train(*KAGGLE, "--no-fallback", "--cache-dir", str(env)) == 2
    err = capsys.readouterr().err
    (error,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert error.startswith(
        "error: logistic / c: training failed: DataUnavailable: no_credentials: "
        "no Kaggle credentials"
    )
    assert records(project / "out") == [] and "synthetic" not in err


def test_a_kaggle_dataset_trains_like_the_same_file_as_a_csv(
    project: Path, env: Path, serve: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(archive=zip_bytes({"data.csv": BREAST_CANCER.read_bytes()}))
    kaggle = ["--kaggle-dataset", "owner/breast-cancer", "--kaggle-file", "data.csv"]
    flags = [*kaggle, "--kaggle-version", "3", "--label", "target", "--cache-dir", str(env)]
    assert train(*flags, "--no-fallback") == 0
    assert server.requests[0].json()["datasetVersionNumber"] == 3
    assert "data: kaggle: kaggle owner/breast-cancer (version 3) data.csv (569 rows)" in (
        capsys.readouterr().out
    )
    assert train("--data-csv", "data/breast_cancer.csv", "--label", "target", out="csv") == 0
    (from_kaggle,) = records(project / "out")
    (from_csv,) = records(project / "csv")
    assert {m: from_kaggle[m] for m in METRICS} == {m: from_csv[m] for m in METRICS}
