"""Champion against challenger: the candidate and the promoted model predict the same
validation rows, and the regression bound is decided on their paired difference."""

from __future__ import annotations

import json
import os
from pathlib import Path

from nethical_runner.checks.collect import Judged, collect_checks, judge_all
from nethical_runner.checks.outcome import Decision
from nethical_runner.cli.main import main
from nethical_runner.run.loading import load_spec
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.settings import RunSettings
from tests.conftest import SpecWriter

SPEC = """\
version: 1
name: duel
model: {model}
data: {{samples: 2000}}
gate: {{min_accuracy: 0.4}}
regression:
  against: champion
  max_drop: {{accuracy: 0.02}}
  max_rise: {{ece: 0.02}}
"""
GOOD = {"model": "{type: logistic}"}
# the same rows, and a model that always predicts the most frequent class
BAD = {"model": "{type: sklearn, estimator: sklearn.dummy.DummyClassifier}"}


def regression(
    write_spec: SpecWriter,
    out: Path,
    run_id: str,
    champion: Path | None = None,
    **model: str,
) -> dict[str, Judged]:
    spec = load_spec(write_spec(SPEC.format(**(model or GOOD)), "specs/duel.yaml"))
    result = run_spec(spec, RunSettings(out, run_id=run_id, champion_dir=champion))
    judged = judge_all(result, collect_checks(spec))
    return {j.check.label: j for j in judged if j.check.kind == "regression"}


def test_without_a_champion_the_items_skip_with_the_reason(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    found = regression(write_spec, tmp_path / "out", "run-1")
    assert set(found) == {"regression[accuracy]", "regression[ece]"}  # no baseline needed
    for entry in found.values():
        assert entry.outcome.decision is Decision.SKIP
        assert "no champion yet: no duel@default.latest.json in" in entry.outcome.message


def test_a_candidate_identical_to_the_champion_passes_on_a_zero_paired_difference(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    regression(write_spec, out, "run-1")  # promoted: the champion
    found = regression(write_spec, out, "run-2")
    accuracy = found["regression[accuracy]"].outcome
    assert accuracy.decision is Decision.PASS and accuracy.warning is None
    assert accuracy.interval is not None
    assert (accuracy.interval.low, accuracy.interval.high) == (0.0, 0.0)
    assert accuracy.interval.method == "paired-bca-stratified-bootstrap"
    assert "against the champion (run run-1, " in accuracy.message
    assert "drop 95% paired-bca-stratified-bootstrap interval 0 to 0 over 400 rows" in (
        accuracy.message
    )
    assert "McNemar exact p=1 (only the candidate right on 0 rows, only the champion on 0)" in (
        accuracy.message
    )
    assert found["regression[ece]"].outcome.decision is Decision.PASS


def test_a_clearly_worse_candidate_fails_with_the_paired_interval(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    regression(write_spec, out, "run-1")
    found = regression(write_spec, out, "run-2", **BAD)
    accuracy = found["regression[accuracy]"].outcome
    assert accuracy.decision is Decision.FAIL and accuracy.failed
    assert accuracy.interval is not None and accuracy.interval.low > 0.02
    assert "paired-bca-stratified-bootstrap interval" in accuracy.message
    p_value = float(accuracy.message.split("McNemar exact p=")[1].split(" ")[0])
    assert p_value < 1e-6


def test_with_confidence_the_paired_interval_decides(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    regression(write_spec, out, "run-1")
    text = SPEC.format(**BAD).replace("against: champion", "against: champion\n  confidence: 0.9")
    spec = load_spec(write_spec(text, "specs/duel.yaml"))
    result = run_spec(spec, RunSettings(out, run_id="run-2"))
    outcomes = {j.check.label: j.outcome for j in judge_all(result, collect_checks(spec))}
    accuracy = outcomes["regression[accuracy]"]
    assert accuracy.decision is Decision.FAIL and accuracy.interval is not None
    assert accuracy.interval.level == 0.9 and "(fail)" in accuracy.message


def test_the_champion_can_come_from_another_output_root(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    regression(write_spec, tmp_path / "main", "run-1")
    found = regression(write_spec, tmp_path / "branch", "run-2", champion=tmp_path / "main")
    assert found["regression[accuracy]"].outcome.decision is Decision.PASS
    current = tmp_path / "main" / "models" / "current"
    found = regression(write_spec, tmp_path / "other", "run-3", champion=current)
    assert found["regression[accuracy]"].outcome.decision is Decision.PASS


def test_a_hostile_pointer_or_model_file_fails_the_items_and_is_never_followed(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    regression(write_spec, out, "run-1")
    current = out / "models" / "current"
    pointer = current / "duel@default.latest.json"
    model = current / json.loads(pointer.read_text())["model"]
    secret = tmp_path / "secret.npz"
    secret.write_bytes(model.read_bytes())
    cases = {
        "../secret.npz": "'model' must name a file beside the pointer",
        "/etc/passwd": "'model' must name a file beside the pointer",
        "link.npz": "not a regular file",
        "pickled.npz": "not a model file",
    }
    os.symlink(secret, current / "link.npz")
    (current / "pickled.npz").write_bytes(b"\x80\x04\x95not a zip")
    for run, (name, problem) in enumerate(cases.items()):
        pointer.write_text(json.dumps({"model": name, "run_id": "run-1"}))
        found = regression(write_spec, out, f"run-x{run}")
        outcome = found["regression[accuracy]"].outcome
        assert outcome.decision is Decision.FAIL, name
        assert "champion unusable" in outcome.message and problem in outcome.message, name
        pointer.write_text(json.dumps({"model": model.name, "run_id": "run-1"}))
    pointer.write_text("x" * 70_000)
    outcome = regression(write_spec, out, "run-y")["regression[accuracy]"].outcome
    assert outcome.failed and "not a pointer" in outcome.message


def test_both_front_ends_take_the_champion_option(write_spec: SpecWriter, tmp_path: Path) -> None:
    path = write_spec(SPEC.format(**GOOD), "specs/duel.yaml")
    assert main(["run", str(path), "--out", str(tmp_path / "main")]) == 0
    branch = tmp_path / "branch"
    code = main(["run", str(path), "--out", str(branch), "--champion", str(tmp_path / "main")])
    assert code == 0
    document = json.loads((branch / "results.json").read_text())
    checks = document["specs"][0]["cohorts"][0]["checks"]
    assert {c["check"]: c["decision"] for c in checks if c["kind"] == "regression"} == {
        "regression[accuracy]": "pass",
        "regression[ece]": "pass",
    }
