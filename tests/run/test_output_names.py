"""Output names under attack: spec and cohort names that join to the same text (``fraud__prod``
+ ``v2`` against ``fraud`` + ``prod__v2``, ``x_y`` + ``z`` against ``x`` + ``y_z``) run into one
output root in one run, so that even the run id is shared, and every file each pair writes is
its own; a spec arriving later (a pull request) cannot replace another's promotion pointer."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import SpecWriter
from nethical_runner.cli.main import main
from nethical_runner.models import load_model
from nethical_runner.run.champion import find_champion
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import load_spec

PAIRS = {("fraud__prod", "v2"), ("fraud", "prod__v2"), ("x_y", "z"), ("x", "y_z")}


def write_pair(write_spec: SpecWriter, spec: str, cohort: str) -> Path:
    return write_spec(
        f"version: 1\nname: {spec}\nmodel: {{type: logistic}}\ntraining: {{epochs: 3}}\n"
        "data: {samples: 600}\ngate: {max_ece: 0.5, min_accuracy: 0.5}\n"
        "sla: {calls: 10, warmup: 0, p95_ms: 1000}\naudit: {enabled: true}\n"
        f"cohorts:\n  - {{id: {cohort}}}\n",
        f"specs/{spec}.{cohort}.yaml",
    )


def pairs_in(paths: list[Path]) -> Counter[tuple[str, str]]:
    """The (spec, cohort) each JSON file says it belongs to, counted."""
    documents = [json.loads(path.read_text()) for path in paths]
    return Counter((document["spec"], document["cohort"]) for document in documents)


def test_pairs_whose_names_join_alike_write_distinct_files(
    write_spec: SpecWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETHICAL_DIAGRAMS", "1")
    specs = [write_pair(write_spec, *pair) for pair in sorted(PAIRS)]
    out = tmp_path / "out"
    assert main(["run", *map(str, specs), "--out", str(out)]) == 0

    current = out / "models" / "current"
    pointers = sorted(current.glob("*.latest.json"))
    metrics = sorted(set(current.glob("*.json")) - set(pointers))
    models = sorted(current.glob("*.npz"))
    assert len(models) == len(metrics) == len(pointers) == len(PAIRS), sorted(current.iterdir())
    assert pairs_in(metrics) == Counter(PAIRS)
    for model in models:
        _, meta = load_model(model)
        assert (meta["spec"], meta["cohort"]) in PAIRS
    pointed = [current / json.loads(pointer.read_text())["metrics"] for pointer in pointers]
    assert pairs_in(pointed) == Counter(PAIRS)  # each pointer names its own pair's record

    assert pairs_in(sorted((out / "sla").glob("*.json"))) == Counter(PAIRS)
    assert len(list((out / "sla").glob("*.md"))) == len(PAIRS)
    assert pairs_in(sorted((out / "audit" / "summaries").glob("*.json"))) == Counter(PAIRS)

    document = json.loads((out / "results.json").read_text())
    cohorts = [cohort for spec in document["specs"] for cohort in spec["cohorts"]]
    diagrams = {(c["spec"], c["cohort"]): c["diagram"] for c in cohorts}
    model_files = {(c["spec"], c["cohort"]): c["model_file"] for c in cohorts}
    assert set(diagrams) == set(model_files) == PAIRS
    assert len(set(diagrams.values())) == len(set(model_files.values())) == len(PAIRS)
    assert len(list((out / "reliability").glob("*.png"))) == len(PAIRS)


def test_a_later_spec_cannot_take_over_another_specs_pointer(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    """``fraud``/``prod__v2`` is promoted on main; a pull request adds ``fraud__prod``/``v2``
    and runs into the same root (or a champion folder restored from main): the pointer of
    ``fraud``/``prod__v2`` and its champion stay its own."""
    out = tmp_path / "out"
    own = write_pair(write_spec, "fraud", "prod__v2")
    assert main(["run", str(own), "--out", str(out)]) == 0
    current = out / "models" / "current"
    before = {path.name: path.read_bytes() for path in current.iterdir()}

    intruder = write_pair(write_spec, "fraud__prod", "v2")
    assert main(["run", str(intruder), "--out", str(out)]) == 0
    after = {path.name: path.read_bytes() for path in current.iterdir()}
    assert {name: after.get(name) for name in before} == before  # nothing replaced
    assert len(after) == 2 * len(before)

    spec = load_spec(own)
    (cohort,) = spec.cohorts
    rows = np.random.default_rng(0).random((4, 5))
    champion = find_champion(spec, cohort, RunSettings(out), rows)
    assert champion.error is None and champion.model_path is not None, champion
    record = json.loads((current / json.loads(champion.pointer.read_text())["metrics"]).read_text())
    assert (record["spec"], record["cohort"]) == ("fraud", "prod__v2")
    assert champion.model_path.name == record["model_file"]
