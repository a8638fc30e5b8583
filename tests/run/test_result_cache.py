"""Unchanged specs are not retrained; changed data, specs or code always are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SpecWriter
from nethical_runner.run import cache as resultcache
from nethical_runner.run.cache import ResultCache
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.results import CohortResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import load_spec

SPEC = """\
version: 1
name: cached
model: {type: logistic}
training: {epochs: %d}
data:
  source: csv
  csv: {path: rows.csv}
"""


def write_rows(write_spec: SpecWriter, flip: int = -1) -> None:
    lines = ["violation_count,severity_max,label"]
    for i in range(400):
        a, b = (i * 37 % 100) / 100, (i * 53 % 100) / 100
        label = int(a + b > 1) if i != flip else 1 - int(a + b > 1)
        lines.append(f"{a},{b},{label}")
    write_spec.csv("\n".join(lines) + "\n", "rows.csv")


def train(write_spec: SpecWriter, cache: ResultCache | None, epochs: int = 5) -> CohortResult:
    spec_path = write_spec(SPEC % epochs)
    settings = RunSettings(write_spec.root / "out", result_cache=cache)
    (cohort,) = run_spec(load_spec(spec_path, root=write_spec.root), settings).cohorts.values()
    assert isinstance(cohort, CohortResult), cohort
    return cohort


def test_an_unchanged_spec_is_served_from_the_cache(write_spec: SpecWriter, tmp_path: Path) -> None:
    write_rows(write_spec)
    cache = ResultCache(tmp_path / "cache")
    first = train(write_spec, cache)
    second = train(write_spec, cache)
    assert (first.cached, second.cached) == (False, True)
    assert second.metrics == first.metrics
    X = second.split.X_val
    assert (second.model.predict_proba(X) == first.model.predict_proba(X)).all()
    record = json.loads(second.metrics_path.read_text())
    assert record["cached"] is True and record["accuracy"] == first.metrics["accuracy"]


def test_changed_data_spec_or_code_is_retrained(
    write_spec: SpecWriter, tmp_path: Path, monkeypatch
) -> None:
    write_rows(write_spec)
    cache = ResultCache(tmp_path / "cache")
    assert not train(write_spec, cache).cached
    write_rows(write_spec, flip=7)  # one label changed
    assert not train(write_spec, cache).cached
    assert not train(write_spec, cache, epochs=6).cached
    assert train(write_spec, cache, epochs=6).cached
    monkeypatch.setattr(resultcache, "code_digest", lambda: "another version of the code")
    assert not train(write_spec, cache, epochs=6).cached


def test_a_damaged_cache_entry_is_retrained(write_spec: SpecWriter, tmp_path: Path) -> None:
    write_rows(write_spec)
    cache = ResultCache(tmp_path / "cache")
    train(write_spec, cache)
    for model in (tmp_path / "cache").rglob("*.npz"):
        model.write_bytes(model.read_bytes()[:-10])
    assert not train(write_spec, cache).cached


def cached_flags(pytester: pytest.Pytester) -> list[bool]:
    records = sorted(
        (pytester.path / "nethical-out").rglob("*_metrics_*.json"), key=lambda p: p.stat().st_mtime
    )
    return [json.loads(p.read_text())["cached"] for p in records]


def test_pytest_reuses_results_unless_told_not_to(pytester: pytest.Pytester) -> None:
    spec = pytester.path / "specs" / "s.yaml"
    spec.parent.mkdir()
    spec.write_text("version: 1\nname: s\nmodel: {type: logistic}\ndata: {samples: 2000}\n")
    for extra in (
        [],
        [],
        ["--nethical-no-cache"],
        ["--cache-clear"],
        [],
        ["-p", "no:cacheprovider"],
    ):
        pytester.runpytest("specs/", *extra).assert_outcomes(passed=2)
    assert cached_flags(pytester) == [False, True, False, False, True, False]
