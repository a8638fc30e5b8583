"""Gates decided on evidence: pass, fail or inconclusive on the interval at the asked level,
what an inconclusive decision does to its item and to promotion, and the warning a point
decision carries when its interval straddles the threshold."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import scipy.stats

from nethical_runner.checks.collect import Judged, collect_checks, judge_all
from nethical_runner.checks.outcome import Decision
from nethical_runner.cli.main import main
from nethical_runner.run.loading import load_spec
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.results import CohortResult
from nethical_runner.run.settings import RunSettings
from tests.conftest import SpecWriter

SPEC = """\
version: 1
name: evidence
model: {{type: heuristic}}
data: {{samples: 1000, label_noise: 0.3}}
gate: {gate}
"""


def judged(write_spec: SpecWriter, out: Path, gate: str) -> tuple[dict[str, Judged], CohortResult]:
    spec = load_spec(write_spec(SPEC.format(gate=gate), "specs/evidence.yaml"))
    result = run_spec(spec, RunSettings(out, run_id="run-1"))
    cohort = result.cohorts["default"]
    assert isinstance(cohort, CohortResult)
    return {j.check.label: j for j in judge_all(result, collect_checks(spec))}, cohort


def accuracy_of(write_spec: SpecWriter, out: Path) -> float:
    _, cohort = judged(write_spec, out, "{min_accuracy: 0.0}")
    return float(cohort.metrics["accuracy"])


def test_the_accuracy_interval_is_scipys_wilson_over_the_validation_rows(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    found, cohort = judged(write_spec, tmp_path, "{min_accuracy: 0.5, confidence: 0.9}")
    interval = found["gate[accuracy]"].outcome.interval
    assert interval is not None and interval.method == "wilson" and interval.level == 0.9
    m = cohort.metrics
    correct, rows = m["tp"] + m["tn"], m["samples"]
    wilson = scipy.stats.binomtest(correct, rows).proportion_ci(0.9, method="wilson")
    assert (interval.low, interval.high, interval.rows) == (
        pytest.approx(wilson.low, abs=1e-9),
        pytest.approx(wilson.high, abs=1e-9),
        rows,
    )


def test_far_from_the_threshold_the_interval_passes_or_fails(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    accuracy = accuracy_of(write_spec, tmp_path / "probe")
    low, high = accuracy - 0.15, min(accuracy + 0.15, 1.0)
    found, cohort = judged(write_spec, tmp_path / "a", f"{{min_accuracy: {low}, confidence: 0.95}}")
    assert found["gate[accuracy]"].outcome.decision is Decision.PASS and cohort.promoted
    found, cohort = judged(
        write_spec, tmp_path / "b", f"{{min_accuracy: {high}, confidence: 0.95}}"
    )
    outcome = found["gate[accuracy]"].outcome
    assert outcome.decision is Decision.FAIL and outcome.failed and not cohort.promoted
    assert "95% wilson interval" in outcome.message and "is entirely <" in outcome.message


def test_a_straddled_threshold_is_inconclusive_and_fails_unless_told_to_warn(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    accuracy = accuracy_of(write_spec, tmp_path / "probe")
    gate = f"{{min_accuracy: {accuracy}, confidence: 0.95}}"
    found, cohort = judged(write_spec, tmp_path / "a", gate)
    outcome = found["gate[accuracy]"].outcome
    assert outcome.decision is Decision.INCONCLUSIVE and outcome.failed
    assert "straddles" in outcome.message and "over 200 rows" in outcome.message
    assert not cohort.promoted  # a promotion must be earned
    gate = f"{{min_accuracy: {accuracy}, confidence: 0.95, on_inconclusive: warn}}"
    found, cohort = judged(write_spec, tmp_path / "b", gate)
    outcome = found["gate[accuracy]"].outcome
    assert outcome.decision is Decision.INCONCLUSIVE and outcome.passed
    assert outcome.warning is not None and outcome.warning.startswith(outcome.message)
    assert cohort.promoted


def test_a_point_decision_within_noise_warns_with_the_rows_that_would_decide_it(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    accuracy = accuracy_of(write_spec, tmp_path / "probe")
    found, _ = judged(write_spec, tmp_path / "a", f"{{min_accuracy: {accuracy - 0.01:.6f}}}")
    outcome = found["gate[accuracy]"].outcome
    assert outcome.decision is Decision.PASS
    assert outcome.warning is not None
    assert outcome.warning.startswith("gate min_accuracy: within noise: the 95% wilson interval")
    rows = int(outcome.warning.split("about ")[1].split(" ")[0])
    assert rows > 200  # more than this run validated on
    found, _ = judged(write_spec, tmp_path / "b", "{min_accuracy: 0.1}")
    assert found["gate[accuracy]"].outcome.warning is None  # far from the threshold: no noise


def test_ece_is_decided_on_its_debiased_value_and_reports_the_binned_one(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    found, cohort = judged(write_spec, tmp_path, "{max_ece: 0.5, confidence: 0.95}")
    outcome = found["gate[ece]"].outcome
    m = cohort.metrics
    assert outcome.properties["value"] == m["ece_debiased"] < m["ece"]
    assert f"binned {m['ece']:.4g}" in outcome.message
    assert outcome.interval is not None
    assert outcome.interval.method == "recalibrated-consistency-resampling"


def test_results_and_summary_record_each_decision_and_its_interval(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    probe = accuracy_of(write_spec, tmp_path / "probe")
    path = write_spec(
        SPEC.format(gate=f"{{min_accuracy: {probe}, max_ece: 0.9, confidence: 0.95}}"),
        "specs/evidence.yaml",
    )
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 1
    document = json.loads((out / "results.json").read_text())
    checks = {c["check"]: c for c in document["specs"][0]["cohorts"][0]["checks"]}
    accuracy, ece = checks["gate[accuracy]"], checks["gate[ece]"]
    assert (accuracy["outcome"], accuracy["decision"]) == ("failed", "inconclusive")
    assert (ece["outcome"], ece["decision"]) == ("passed", "pass")
    assert set(accuracy["interval"]) == {"low", "high", "level", "method", "rows"}
    assert document["totals"]["inconclusive"] == 1
    cohort = document["specs"][0]["cohorts"][0]
    assert set(cohort["intervals"]) == {"ece", "accuracy"}
    summary = (out / "summary.md").read_text()
    assert "1 inconclusive" in summary.splitlines()[0]
    assert "| `evidence::default::gate[accuracy]` | inconclusive |" in summary
    assert "### Evidence" in summary and "recalibrated-consistency-resampling" in summary


def test_the_gate_keys_are_validated(write_spec: SpecWriter) -> None:
    from nethical_runner.spec import SpecError

    for gate, problem in (
        ("{min_accuracy: 0.8, confidence: 1.0}", "gate.confidence"),
        ("{min_accuracy: 0.8, on_inconclusive: maybe}", "gate.on_inconclusive"),
    ):
        with pytest.raises(SpecError, match=re.escape(problem)):
            load_spec(write_spec(SPEC.format(gate=gate), "specs/bad.yaml"))


def test_the_junit_file_carries_each_decision_and_its_interval(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(
        SPEC.format(gate="{min_accuracy: 0.99, max_ece: 0.9, confidence: 0.9}"),
        "specs/evidence.yaml",
    )
    result = pytester.runpytest("specs/", "--junitxml=j.xml")
    result.assert_outcomes(passed=1, failed=1)
    junit = (pytester.path / "j.xml").read_text()
    assert '<property name="decision" value="fail"' in junit
    assert '<property name="interval_method" value="wilson"' in junit
    assert '<property name="interval_level" value="0.9"' in junit
    assert '<property name="interval_method" value="recalibrated-consistency-resampling"' in junit


def test_against_a_baseline_the_unpaired_interval_decides_with_confidence(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    """Two runs on their own rows: an unchanged model cannot show, on 200 rows, that it lost
    less than 0.01 accuracy, so the item is inconclusive and fails by default."""
    from nethical_runner.checks.baseline import load_baseline

    text = SPEC.format(gate="{min_accuracy: 0.1}") + (
        "regression: {max_drop: {accuracy: 0.01}, confidence: 0.95}\n"
    )
    path = write_spec(text, "specs/evidence.yaml")
    assert main(["run", str(path), "--out", str(tmp_path / "main")]) == 0
    baseline = load_baseline(tmp_path / "main" / "results.json")
    assert baseline.cohort("evidence", "default").intervals["accuracy"].method == "wilson"  # type: ignore[union-attr]
    spec = load_spec(path)
    result = run_spec(spec, RunSettings(tmp_path / "branch", run_id="run-2"))
    outcomes = {j.check.label: j.outcome for j in judge_all(result, collect_checks(spec, baseline))}
    accuracy = outcomes["regression[accuracy]"]
    assert accuracy.decision is Decision.INCONCLUSIVE and accuracy.failed
    assert accuracy.interval is not None
    assert accuracy.interval.method == "normal-approximation-unpaired"
    assert accuracy.interval.low < 0.0 < 0.01 < accuracy.interval.high
    assert "drop 0.00 <= 0.01 allowed" in accuracy.message and "(inconclusive)" in accuracy.message
