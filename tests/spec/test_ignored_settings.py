"""Training settings a model never reads are said: at collection, at the key, and in the record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import SpecWriter
from nethical_runner.cli.main import main
from nethical_runner.models import REGISTRY, create_model
from nethical_runner.models.base import EPOCH_SETTINGS
from nethical_runner.spec import load_spec

READERS = "(epochs and batch_size apply to logistic, simple_transformer, anomaly)"
SPEC = """\
version: 1
name: tuned
model: {type: correlation}
training: {epochs: 50, batch_size: 5000}
data: {samples: 400}
cohorts:
  - id: boosted
  - id: linear
    model: {type: logistic}
  - id: forest
    model: {type: anomaly, params: {method: isolation_forest}}
    training: {epochs: 3}
"""
WARNINGS = [
    "specs/tuned.yaml:4:12: training.epochs: has no effect on cohort boosted (correlation): it "
    f"fits in one call, not in epochs of mini-batches {READERS}",
    "specs/tuned.yaml:4:24: training.batch_size: has no effect on cohort boosted (correlation) "
    "and cohort forest (anomaly with method isolation_forest): they fit in one call, not in "
    f"epochs of mini-batches {READERS}",
    "specs/tuned.yaml:12:16: cohorts[2].training.epochs: has no effect on cohort forest (anomaly "
    "with method isolation_forest): it fits in one call, not in epochs of mini-batches "
    f"{READERS}",
]


def test_each_place_an_ignored_setting_is_written_is_warned_at_its_key(
    write_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(write_spec.root)
    write_spec(SPEC, "specs/tuned.yaml")
    assert [str(w) for w in load_spec(Path("specs/tuned.yaml")).warnings] == WARNINGS


def test_settings_a_model_reads_or_that_are_not_written_are_not_warned(
    write_spec: SpecWriter,
) -> None:
    reads = write_spec("version: 1\nname: a\nmodel: {type: logistic}\ntraining: {epochs: 3}\n")
    unwritten = write_spec("version: 1\nname: b\nmodel: {type: correlation}\n", "b.yaml")
    assert load_spec(reads).warnings == () and load_spec(unwritten).warnings == ()


@pytest.mark.parametrize(
    "model_type, params",
    [
        ("heuristic", {}),
        ("correlation", {"max_iter": 5}),
        ("anomaly", {"method": "isolation_forest", "n_estimators": 10}),
    ],
)
def test_a_model_that_says_it_ignores_the_settings_learns_the_same_without_them(
    model_type: str, params: dict[str, object]
) -> None:
    """What the warning claims, checked: bit-identical models for 1 epoch of 1-row batches
    and 4 epochs of 5000."""
    X = np.random.default_rng(0).random((300, 5))
    y = (X[:, 0] > 0.5).astype(int)
    assert create_model(model_type, params).training_settings() == frozenset()
    first = create_model(model_type, params).fit(X, y, epochs=1, batch_size=1, seed=3)
    other = create_model(model_type, params).fit(X, y, epochs=4, batch_size=5000, seed=3)
    np.testing.assert_array_equal(first.predict_proba(X), other.predict_proba(X))


def test_every_type_trained_in_epochs_reads_both_settings() -> None:
    for name in ("logistic", "simple_transformer", "anomaly"):
        assert create_model(name).training_settings() == EPOCH_SETTINGS
    assert set(REGISTRY) >= {"logistic", "simple_transformer", "anomaly"}


def test_pytest_lists_the_warning_at_collection(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(SPEC, "specs/tuned.yaml")
    result = pytester.runpytest("specs/", "--collect-only", "-q", "-n", "0")
    result.stdout.fnmatch_lines(
        ["*specs/tuned.yaml:4: SpecWarning: " + WARNINGS[0], "*specs/tuned.yaml:12: SpecWarning*"]
    )


def test_validate_and_train_print_the_warning_and_the_record_says_what_applied(
    write_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(write_spec.root)
    write_spec(SPEC, "specs/tuned.yaml")
    assert main(["validate", "specs/tuned.yaml"]) == 0
    assert capsys.readouterr().err.splitlines() == [f"warning: {w}" for w in WARNINGS]
    train = ["train", "--model-type", "correlation", "--num-samples", "300", "--out", "o"]
    assert main([*train, "--batch-size", "64"]) == 0
    assert capsys.readouterr().err.splitlines()[0] == (
        "warning: --batch-size 64: has no effect on correlation: it fits in one call, not in "
        f"epochs of mini-batches {READERS}"
    )
    assert main(train) == 0
    assert "warning" not in capsys.readouterr().err  # a flag not given is a key not written
    records = [json.loads(p.read_text()) for p in Path("o").glob("models/*/*_metrics_*.json")]
    assert {json.dumps(r["training_settings"], sort_keys=True) for r in records} == {
        json.dumps(
            {"applied": {"seed": 42}, "ignored": {"batch_size": 64, "epochs": 10}}, sort_keys=True
        ),
        json.dumps(
            {"applied": {"seed": 42}, "ignored": {"batch_size": 32, "epochs": 10}}, sort_keys=True
        ),
    }
