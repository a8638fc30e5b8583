"""Unchanged specs are not retrained; changed data, specs, code or library versions always are.

The cache only ever saves time: whatever an entry in it says, the verdict is the one this run's
validation rows give the model it holds, and an entry that cannot be read is a miss.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import pickle
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import SpecWriter
from nethical_runner.metrics.classification import classification_metrics
from nethical_runner.models import create_model, load_model
from nethical_runner.run import cache as resultcache
from nethical_runner.run.cache import ResultCache, cache_key
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


def forge(
    cache_root: Path, model: bytes | None = None, claims: dict[str, Any] | None = None
) -> int:
    """Rewrite every cache entry as someone with write access to the cache folder can: other
    model bytes, winning metric claims in every record and in the model's own metadata, and any
    checksum recomputed so that the edit is consistent. Returns the number of entries."""
    entries = sorted(cache_root.rglob("*.npz"))
    for model_path in entries:
        data = model if model is not None else model_path.read_bytes()
        if claims:
            loaded, metadata = load_model(data)
            data = loaded.to_npz_bytes({**metadata, "metrics": claims, **claims})
        model_path.write_bytes(data)
        record_path = model_path.with_suffix(".json")
        if record_path.exists():  # the layout that kept metrics beside the model: edit them too
            record = json.loads(record_path.read_text())
            record["metrics"] = {**record.get("metrics", {}), **(claims or {})}
            record["model_sha256"] = hashlib.sha256(data).hexdigest()
            record_path.write_text(json.dumps(record))
    return len(entries)


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
    assert second.stage_ms["training"] == first.stage_ms["training"]  # the run that trained


def test_changed_data_spec_or_code_is_retrained(
    write_spec: SpecWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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


def test_the_key_covers_the_library_and_python_versions(
    write_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_rows(write_spec)
    config = load_spec(write_spec(SPEC % 5), root=write_spec.root).cohorts[0].config
    versions = resultcache.key_material(config, "rows", ("sklearn.",))["versions"]
    assert versions == {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        **{name: importlib.metadata.version(name) for name in resultcache.KEYED_DISTRIBUTIONS},
    }
    assert set(resultcache.KEYED_DISTRIBUTIONS) == {
        "numpy",
        "pandas",
        "scikit-learn",
        "scipy",
        "skops",
    }
    before = cache_key(config, "rows", ("sklearn.",))
    for name in versions:
        changed = {**versions, name: "0.0.0"}
        monkeypatch.setattr(resultcache, "runtime_versions", lambda changed=changed: changed)
        assert cache_key(config, "rows", ("sklearn.",)) != before, name


def test_a_damaged_cache_entry_is_retrained(write_spec: SpecWriter, tmp_path: Path) -> None:
    write_rows(write_spec)
    cache = ResultCache(tmp_path / "cache")
    train(write_spec, cache)
    for model in (tmp_path / "cache").rglob("*.npz"):
        model.write_bytes(model.read_bytes()[:-10])
    assert not train(write_spec, cache).cached


class Boom:
    """Unpickling this creates the marker file named by ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.marker, "w"))


def padded(entry: bytes, padding: np.ndarray, compressed: bool) -> bytes:
    """The entry's model file with one more array: still a model that loads."""
    with np.load(io.BytesIO(entry)) as archive:
        arrays = {name: archive[name] for name in archive.files}
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, padding=padding, **arrays)
    return buffer.getvalue()


LIMIT = 200_000
PAYLOADS = {
    "garbage": lambda entry, marker: b"\x00not a model\xff" * 10,
    "empty": lambda entry, marker: b"",
    "pickle": lambda entry, marker: pickle.dumps(Boom(marker)),
    "truncated": lambda entry, marker: entry[: len(entry) // 2],
    "oversized": lambda entry, marker: padded(
        entry, np.random.default_rng(0).random(LIMIT // 8), compressed=False
    ),
    "bomb": lambda entry, marker: padded(entry, np.zeros(LIMIT), compressed=True),
}


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_an_unreadable_or_oversized_entry_is_a_miss(
    write_spec: SpecWriter, tmp_path: Path, kind: str
) -> None:
    write_rows(write_spec)
    marker = tmp_path / "unpickled"
    cache = ResultCache(tmp_path / "cache", max_entry_bytes=LIMIT)
    first = train(write_spec, cache)
    (entry,) = (tmp_path / "cache").rglob("*.npz")
    payload = PAYLOADS[kind](entry.read_bytes(), str(marker))
    assert forge(tmp_path / "cache", model=payload) == 1
    again = train(write_spec, cache)
    assert not again.cached and again.metrics == first.metrics and not marker.exists()
    assert train(write_spec, cache).cached  # the retrained model replaced the bad entry
    if kind in ("oversized", "bomb"):  # refused for its size alone: below the limit it loads
        assert len(payload) <= LIMIT if kind == "bomb" else len(payload) > LIMIT
        forge(tmp_path / "cache", model=payload)
        assert train(write_spec, ResultCache(tmp_path / "cache")).cached


def test_a_swapped_model_is_judged_on_its_own_predictions(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    write_rows(write_spec)
    cache = ResultCache(tmp_path / "cache")
    honest = train(write_spec, cache)
    split = honest.split
    impostor = create_model("logistic").fit(
        split.X_val, 1 - split.y_val, epochs=5, batch_size=32, seed=0
    )
    assert (
        forge(
            tmp_path / "cache",
            model=impostor.to_npz_bytes({"training_ms": 1.0}),
            claims=honest.metrics,
        )
        == 1
    )
    served = train(write_spec, cache)
    judged = classification_metrics(split.y_val, impostor.predict_proba(split.X_val)[:, 1])
    assert served.cached and served.metrics == judged
    assert served.metrics["accuracy"] < 0.5 < honest.metrics["accuracy"]
    assert not served.promoted


def test_a_model_of_another_type_or_params_is_a_miss(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    write_rows(write_spec)
    cache = ResultCache(tmp_path / "cache")
    honest = train(write_spec, cache)
    X, y = honest.split.X_val, honest.split.y_val  # the rows the controller holds
    others = [
        create_model("sklearn", {"estimator": "sklearn.tree.DecisionTreeClassifier"}),
        create_model("logistic", {"C": 0.5}),
        create_model("logistic"),  # the declared type and params: the control, served
    ]
    for other in others:
        fitted = other.fit(X, y, epochs=1, batch_size=32, seed=0)
        forge(tmp_path / "cache", model=fitted.to_npz_bytes({"training_ms": 1.0}))
        served = train(write_spec, cache)
        assert served.cached == (other is others[-1]), other.params


FAILING = """\
version: 1
name: s
model: {type: logistic}
data: {samples: 1000}
gate: {min_accuracy: 0.995}
"""


def records(pytester: pytest.Pytester) -> list[dict[str, Any]]:
    paths = sorted(
        (pytester.path / "nethical-out").rglob("*_metrics_*.json"), key=lambda p: p.stat().st_mtime
    )
    return [json.loads(p.read_text()) for p in paths]


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
    assert [r["cached"] for r in records(pytester)] == [False, True, False, False, True, False]


def test_edited_cache_entries_cannot_pass_a_failing_gate(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"specs/s": FAILING})
    pytester.runpytest("specs/").assert_outcomes(failed=1)
    (first,) = records(pytester)
    claims = {"accuracy": 1.0, "ece": 0.0, "ece_debiased": 0.0}
    assert forge(pytester.path / ".pytest_cache", claims=claims) == 1
    pytester.runpytest("specs/").assert_outcomes(failed=1)
    second = records(pytester)[1]
    assert second["cached"] is True and second["promoted"] is False
    assert second["accuracy"] == first["accuracy"] < 0.995
    assert not list((pytester.path / "nethical-out").rglob("current/*.npz"))


def test_a_cached_model_loads_under_the_projects_estimator_prefixes(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        house_models="from sklearn.tree import DecisionTreeClassifier\n\n\n"
        "class Tree(DecisionTreeClassifier):\n    pass\n"
    )
    pytester.syspathinsert()
    pytester.makeini("[pytest]\nnethical_estimator_prefixes =\n    sklearn.\n    house_models.\n")
    pytester.makefile(
        ".yaml",
        **{
            "specs/s": "version: 1\nname: s\ndata: {samples: 1000}\ngate: {min_accuracy: 0.6}\n"
            "model: {type: sklearn, estimator: house_models.Tree, params: {max_depth: 4}}\n"
        },
    )
    for _ in range(2):
        pytester.runpytest("specs/").assert_outcomes(passed=1)
    assert [r["cached"] for r in records(pytester)] == [False, True]
