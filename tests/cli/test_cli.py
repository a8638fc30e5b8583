"""The command line keeps the seed script's flags and defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nethical_runner.cli.main import main
from nethical_runner.models import SCRIPT_TYPES


def metrics_files(out: Path, folder: str = "*") -> list[Path]:
    return sorted((out / "models").glob(f"{folder}/*_metrics_*.json"))


def test_the_seed_command_line_trains_and_promotes(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = main(
        ["train", "--model-type", "heuristic", "--epochs", "10", "--num-samples", "1000",
         "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    (record_path,) = metrics_files(out, "current")
    record = json.loads(record_path.read_text())
    assert record["model_type"] == "heuristic"
    assert record["data"]["rows"] == 1000
    assert record["config"]["training"] == {"epochs": 10, "batch_size": 32, "seed": 42}
    assert record["cohort"].startswith("heuristic_")
    for seed_field in ("precision", "recall", "accuracy", "f1", "ece"):
        assert 0.0 <= record[seed_field] <= 1.0
    assert "promotion: PASS" in capsys.readouterr().out


def test_all_seed_flags_are_accepted(tmp_path: Path) -> None:
    code = main(
        ["train", "--model-type", "logistic", "--epochs", "3", "--batch-size", "64",
         "--num-samples", "500", "--seed", "7", "--enable-audit", "--audit-path",
         str(tmp_path / "a"), "--enable-drift-tracking", "--drift-report-dir",
         str(tmp_path / "d"), "--cohort-id", "cohort_alpha", "--enable-sla-monitoring",
         "--sla-report-dir", str(tmp_path / "s"), "--out", str(tmp_path / "out")]
    )  # fmt: skip
    assert code == 0
    (record_path,) = metrics_files(tmp_path / "out")
    record = json.loads(record_path.read_text())
    assert record["cohort"] == "cohort_alpha"
    assert record["config"]["training"] == {"epochs": 3, "batch_size": 64, "seed": 7}


def test_model_type_all_trains_every_registered_type(tmp_path: Path) -> None:
    assert (
        main(["train", "--model-type", "all", "--num-samples", "600", "--out", str(tmp_path)]) == 0
    )
    trained = {json.loads(p.read_text())["model_type"] for p in metrics_files(tmp_path)}
    assert trained == set(SCRIPT_TYPES)


def test_run_exits_1_on_a_missed_gate_and_train_only_with_strict(tmp_path: Path) -> None:
    spec = tmp_path / "tight.yaml"
    spec.write_text(
        "version: 1\nname: tight\nmodel: {type: logistic}\ndata: {samples: 500}\n"
        "gate: {min_accuracy: 0.999}\n"
    )
    assert main(["run", str(spec), "--out", str(tmp_path / "o")]) == 1
    assert main(["run", str(spec), "--out", str(tmp_path / "o"), "--strict"]) == 1
    assert len(metrics_files(tmp_path / "o", "candidates")) == 2
    noise = np.random.default_rng(0).integers(0, 2, size=(200, 3))  # labels without signal
    np.savetxt(tmp_path / "noise.csv", noise, fmt="%d", delimiter=",", header="a,b,label")
    train = ["train", "--model-type", "logistic", "--label", "label"]
    train += ["--data-csv", str(tmp_path / "noise.csv")]
    assert main([*train, "--out", str(tmp_path / "t")]) == 0  # the old script's exit code
    results = json.loads((tmp_path / "t" / "results.json").read_text())
    assert results["outcome"] == "failed"  # ...but the summary says what missed its gate
    assert main([*train, "--out", str(tmp_path / "t"), "--strict"]) == 1


def test_bad_flag_values_name_the_flag(capsys) -> None:
    assert main(["train", "--model-type", "logistic", "--num-samples", "3"]) == 2
    assert "error: --num-samples 3: 3 is below the minimum 10" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--model-type", "nonsense"])
    assert exit_info.value.code == 2


def test_validate_reports_problems_without_training(tmp_path: Path, capsys) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\nname: good\nmodel: {type: heuristic}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: bad\nmodel: {type: heuristic}\ngate: {min_f1: 3}\n")
    assert main(["validate", str(good)]) == 0
    assert main(["validate", str(good), str(bad)]) == 2
    captured = capsys.readouterr()
    assert f"{good}: ok (1 cohort, 2 checks)" in captured.out
    assert f"{bad}:4:16: gate.min_f1: 3 is above the maximum 1.0" in captured.err
    assert not (tmp_path / "nethical-out").exists()


def test_schema_and_module_entry_point(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "nethical_runner", "schema"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    schema = json.loads(completed.stdout)
    assert schema["title"] == "SpecDocument"
    assert "gate" in schema["properties"]
