"""Many drift checks with honest error rates: Benjamini-Hochberg control as an option, the
expected false alarms stated, and inconclusive drift failing only when the spec says so."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from nethical_runner.checks.collect import collect_checks, judge_all
from nethical_runner.checks.outcome import Decision
from nethical_runner.cli.main import main
from nethical_runner.drift import DriftResult
from nethical_runner.drift.stats import discoveries, normal_p_value
from nethical_runner.run.loading import load_spec
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.settings import RunSettings
from tests.conftest import SpecWriter

SPEC = """\
version: 1
name: many
model: {type: logistic}
training: {epochs: 2}
data: {samples: 800}
gate: {min_accuracy: 0.5}
cohorts:
  - {id: alpha}
  - {id: beta, data: {label_noise: 0.5}}
  - {id: gamma, training: {seed: 7}}
"""


QUIET = SPEC.replace("  - {id: beta, data: {label_noise: 0.5}}\n", "")  # one population


def outcomes(
    write_spec: SpecWriter, out: Path, drift: str, spec_text: str = SPEC
) -> dict[str, object]:
    spec = load_spec(write_spec(spec_text + textwrap.dedent(drift), "specs/many.yaml"))
    result = run_spec(spec, RunSettings(out, run_id="run-1"))
    assert isinstance(result.drift, DriftResult)
    return {j.check.label: j.outcome for j in judge_all(result, collect_checks(spec))}


def step_up(p_values: list[float], rate: float) -> list[bool]:
    """Benjamini & Hochberg 1995 as they state it: reject the k smallest, k the largest i with
    p_(i) <= i q / m."""
    order = np.argsort(p_values)
    m = len(p_values)
    passing = [i for i in range(m) if p_values[order[i]] <= (i + 1) * rate / m]
    k = max(passing, default=-1) + 1
    rejected = set(order[:k].tolist())
    return [i in rejected for i in range(m)]


@pytest.mark.parametrize("seed", range(5))
def test_discoveries_are_benjamini_hochbergs_step_up(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p_values = np.concatenate([rng.random(12), rng.random(6) * 0.01]).tolist()
    for rate in (0.01, 0.05, 0.2):
        assert discoveries(p_values, rate) == step_up(p_values, rate)
    assert discoveries([], 0.05) == []


def test_the_drop_p_value_is_the_normal_tail_beyond_the_bound() -> None:
    change, limit, level = 0.05, 0.02, 0.95
    error = 0.01
    z = scipy.stats.norm.ppf(0.975)
    interval = (change - z * error, change + z * error)
    expected = scipy.stats.norm.sf((change - limit) / error)
    assert normal_p_value(change, limit, interval, level) == pytest.approx(expected, rel=1e-9)
    assert normal_p_value(0.05, 0.02, None, level) == 0.0
    assert normal_p_value(0.01, 0.02, None, level) == 1.0


def test_an_inconclusive_spread_warns_by_default_and_fails_when_told_to(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    drift = "drift: {max_spread: {accuracy: 0.0}}\n"
    lenient = outcomes(write_spec, tmp_path / "a", drift, QUIET)
    noisy = lenient["drift[accuracy]"]
    assert noisy.decision is Decision.INCONCLUSIVE and noisy.passed  # type: ignore[attr-defined]
    assert noisy.warning == noisy.message  # type: ignore[attr-defined]
    drift = "drift: {max_spread: {accuracy: 0.0}, on_inconclusive: fail}\n"
    strict = outcomes(write_spec, tmp_path / "b", drift, QUIET)
    assert strict["drift[accuracy]"].decision is Decision.INCONCLUSIVE  # type: ignore[attr-defined]
    assert strict["drift[accuracy]"].failed  # type: ignore[attr-defined]


def test_under_false_discovery_rate_control_a_strong_drift_still_fails(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    drift = """\
    slices:
      - {id: low, where: {column: severity_max, between: [0.0, 0.5]}}
      - {id: high, where: {column: severity_max, between: [0.5, 1.0]}}
    drift:
      max_spread: {accuracy: 0.05, recall: 0.9}
      max_slice_spread: {accuracy: 0.9}
      false_discovery_rate: 0.05
    """
    found = outcomes(write_spec, tmp_path / "a", drift)
    accuracy = found["drift[accuracy]"]  # beta's labels are half noise: far beyond 0.05
    assert accuracy.failed and accuracy.decision is Decision.FAIL  # type: ignore[attr-defined]
    assert accuracy.properties["false_discovery_rate"] == 0.05  # type: ignore[attr-defined]
    assert 0.0 < accuracy.properties["p_value"] < 0.01  # type: ignore[attr-defined]
    assert found["drift[recall]"].decision is Decision.PASS  # type: ignore[attr-defined]
    # one population: bounds of 0 exceeded by noise alone are never discoveries
    drift = "drift: {max_spread: {accuracy: 0.0}, false_discovery_rate: 0.05}\n"
    quiet = outcomes(write_spec, tmp_path / "b", drift, QUIET)["drift[accuracy]"]
    assert quiet.decision is Decision.INCONCLUSIVE  # type: ignore[attr-defined]


def test_the_summary_states_the_expected_false_alarms(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    path = write_spec(
        SPEC + "drift: {max_spread: {accuracy: 0.9, ece: 0.9, f1: 0.9, auc: 0.9}}\n",
        "specs/many.yaml",
    )
    out = tmp_path / "out"
    main(["run", str(path), "--out", str(out)])
    summary = (out / "summary.md").read_text()
    assert "### Error rates" in summary
    line = next(line for line in summary.splitlines() if line.startswith("- `many`:"))
    assert "4 drift comparisons, each failing only beyond its 95% interval" in line
    assert "at most 0.1 false alarms are expected per run" in line
    document = json.loads((out / "results.json").read_text())
    drift = [c for c in document["specs"][0]["checks"] if c["kind"] == "drift"]
    assert all(c["properties"]["level"] == 0.95 for c in drift)
    assert all(c["interval"]["method"] == "percentile-bootstrap-of-spread" for c in drift)


def test_the_option_is_validated(write_spec: SpecWriter) -> None:
    from nethical_runner.spec import SpecError

    with pytest.raises(SpecError, match=r"drift\.false_discovery_rate"):
        load_spec(write_spec(SPEC + "drift: {false_discovery_rate: 0}\n", "specs/bad.yaml"))
