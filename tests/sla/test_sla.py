"""SLA measurement and judgement, tested on fixed timings: logic, never our own speed."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import SpecWriter
from nethical_runner.run.training import STAGES
from nethical_runner.sla.measure import (
    PERCENTILE_METHOD,
    SCRIPT_TARGETS_MS,
    SlaResult,
    bootstrap_intervals,
    classify,
    declared_targets,
    judge,
    measure,
    summarise,
    time_predictions,
)
from nethical_runner.sla.report import documentation, report, write_reports
from nethical_runner.spec import SpecError, load_spec
from nethical_runner.spec.config import SlaConfig, StageBudgets

STAGE_MS = {"data_load": 4.0, "preprocessing": 1.0, "training": 900.0, "validation": 20.0}


def fake_clock(durations_ms: list[float] | np.ndarray) -> Callable[[], int]:
    """A clock under which the n-th timed call lasts ``durations_ms[n]``."""
    ends = (np.asarray(durations_ms, dtype=np.float64) * 1e6).astype(np.int64)
    ticks = iter(np.column_stack([np.zeros_like(ends), ends]).ravel().tolist())
    return lambda: next(ticks)


def measured(
    durations_ms: list[float] | np.ndarray, stage_ms: dict[str, float] | None = None, **sla: object
) -> SlaResult:
    """:func:`measure` of a model whose calls take exactly ``durations_ms``."""
    config = SlaConfig(**{"calls": len(durations_ms), "warmup": 0, **sla})
    return measure(
        config,
        predict=lambda rows: None,
        rows=np.zeros((50, 3)),
        stage_ms=stage_ms or STAGE_MS,
        seed=42,
        spec_name="demo",
        cohort_id="alpha",
        run_id="run1",
        clock=fake_clock(durations_ms),
    )


# --- status bands -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "status"),
    [
        (0.5, "compliant"),
        (100.0, "compliant"),  # bounds are inclusive
        (105.0, "warning"),
        (110.0, "warning"),  # the top of the 10% band is still a warning
        (110.1, "breach"),
    ],
)
def test_the_seed_status_bands(actual: float, status: str) -> None:
    assert classify(actual, 100.0, 0.10) == status


def test_without_a_warning_band_anything_above_the_target_is_a_breach() -> None:
    assert classify(100.0, 100.0, 0.0) == "compliant"
    assert classify(100.001, 100.0, 0.0) == "breach"


def test_an_interval_that_straddles_the_target_is_inconclusive_whatever_the_point() -> None:
    assert judge(200.0, 100.0, 0.1, (90.0, 300.0)) == "inconclusive"
    assert judge(200.0, 100.0, 0.1, (100.0, 300.0)) == "inconclusive"  # touching the target
    assert judge(50.0, 100.0, 0.1, (40.0, 300.0)) == "inconclusive"
    assert judge(200.0, 100.0, 0.1, (150.0, 300.0)) == "breach"
    assert judge(105.0, 100.0, 0.1, (102.0, 300.0)) == "warning"  # above, in the warning band
    assert judge(50.0, 100.0, 0.1, (40.0, 100.0)) == "compliant"
    assert judge(150.0, 100.0, 0.1) == "breach"  # without an interval: the point value


# --- statistics -------------------------------------------------------------------------------


def test_percentiles_use_numpys_linear_method() -> None:
    samples = np.arange(1.0, 101.0)
    summary = summarise(samples)
    assert PERCENTILE_METHOD == "linear"
    assert summary["p50"] == pytest.approx(50.5)
    assert summary["p95"] == pytest.approx(95.05)
    assert summary["p99"] == pytest.approx(99.01)
    assert summary["avg"] == pytest.approx(50.5)
    assert summary["max"] == 100.0
    assert summary["p95"] == np.percentile(samples, 95)  # numpy's default


def test_summarise_works_row_wise_on_many_resamples_at_once() -> None:
    rows = np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]])
    summary = summarise(rows)
    assert summary["p50"].tolist() == [2.0, 20.0]
    assert summary["max"].tolist() == [3.0, 30.0]


def test_bootstrap_intervals_are_seeded_and_contain_the_point_estimate() -> None:
    samples = np.random.default_rng(0).lognormal(0.0, 0.5, 200)
    intervals = bootstrap_intervals(samples, 0.95, seed=7)
    assert intervals == bootstrap_intervals(samples, 0.95, seed=7)
    assert intervals != bootstrap_intervals(samples, 0.95, seed=8)
    for name, point in summarise(samples).items():
        low, high = intervals[name]
        assert low <= point <= high, name
    narrow = bootstrap_intervals(samples, 0.5, seed=7)["p95"]
    assert narrow[1] - narrow[0] < intervals["p95"][1] - intervals["p95"][0]


def test_bootstrap_memory_is_bounded_by_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import nethical_runner.sla.measure as sla

    monkeypatch.setattr(sla, "_BOOTSTRAP_CHUNK", 1000)  # five resamples of 200 per chunk
    samples = np.random.default_rng(1).lognormal(0.0, 0.5, 200)
    low, high = bootstrap_intervals(samples, 0.95, seed=3, resamples=101)["p95"]
    assert low <= summarise(samples)["p95"] <= high


# --- measuring --------------------------------------------------------------------------------


def test_time_predictions_times_each_call_after_untimed_warmup_calls() -> None:
    seen: list[np.ndarray] = []
    rows = np.arange(10.0).reshape(5, 2)
    durations = time_predictions(
        seen.append, rows, calls=4, warmup=3, batch_size=2, clock=fake_clock([1.0, 2.0, 3.0, 4.5])
    )
    assert durations.tolist() == [1.0, 2.0, 3.0, 4.5]
    assert len(seen) == 7 and all(batch.shape == (2, 2) for batch in seen)
    # batches walk through the rows in order and wrap around the 5 rows
    starts = [int(batch[0, 0]) // 2 for batch in seen]
    assert starts == [0, 2, 4, 1, 3, 0, 2]


def test_a_batch_larger_than_the_validation_rows_repeats_them() -> None:
    seen: list[np.ndarray] = []
    time_predictions(seen.append, np.eye(3), calls=2, warmup=0, batch_size=7)
    assert [batch.shape for batch in seen] == [(7, 3), (7, 3)]
    assert np.array_equal(seen[0][3:6], np.eye(3))


def test_no_validation_rows_is_an_error() -> None:
    with pytest.raises(ValueError, match="no validation rows"):
        time_predictions(print, np.empty((0, 3)), calls=10, warmup=0, batch_size=1)


def test_a_section_without_targets_gets_the_seeds_and_one_with_targets_only_its_own() -> None:
    defaults = declared_targets(SlaConfig())
    assert {t.name: t.limit_ms for t in defaults} == SCRIPT_TARGETS_MS
    assert not any(t.declared for t in defaults)
    own = declared_targets(SlaConfig(p95_ms=1000.0, stages=StageBudgets(training_ms=5.0)))
    assert [(t.name, t.limit_ms, t.key) for t in own] == [
        ("p95", 1000.0, ("sla", "p95_ms")),
        ("stage.training", 5.0, ("sla", "stages", "training_ms")),
    ]


def test_stage_budgets_are_named_after_the_pipeline_stages() -> None:
    assert list(StageBudgets.model_fields) == [f"{stage}_ms" for stage in STAGES]


def test_inference_scope_judges_every_target_from_the_timed_calls() -> None:
    durations = np.linspace(1.0, 200.0, 200)
    result = measured(durations, p50_ms=150.0, p95_ms=180.0, p99_ms=250.0, max_ms=300.0)
    assert result.sample_count == 200
    assert result.metrics["p95"] == pytest.approx(np.percentile(durations, 95))
    statuses = {t.target.name: t.status for t in result.targets}
    assert statuses == {
        "p50": "compliant",
        "p95": "warning",
        "p99": "compliant",
        "max": "compliant",
    }
    assert result.overall_status == "warning" and result.sla_met and not result.failed


def test_stages_scope_takes_the_four_stage_timings_as_the_sample() -> None:
    result = measure(
        SlaConfig(scope="stages", p95_ms=500.0),
        predict=lambda rows: pytest.fail("stages scope times no predictions"),
        rows=np.zeros((5, 2)),
        stage_ms=STAGE_MS,
        seed=0,
        spec_name="demo",
        cohort_id="alpha",
        run_id="r",
    )
    assert result.samples_ms.tolist() == list(STAGE_MS.values())
    assert result.metrics["p95"] == pytest.approx(np.percentile(list(STAGE_MS.values()), 95))
    assert result.target("p95").status == "breach"


def test_stage_budgets_judge_each_stage_timing() -> None:
    result = measured(
        [1.0] * 10,
        stages=StageBudgets(training_ms=1000.0, validation_ms=19.0, data_load_ms=1.0),
    )
    assert result.target("stage.training").status == "compliant"
    assert result.target("stage.validation").status == "warning"  # 20 ms, within 10% of 19
    assert result.target("stage.data_load").status == "breach"  # 4 ms against 1 ms
    verdict = result.verdict("stage.data_load")
    assert not verdict.passed
    assert verdict.message == (
        "sla stages.data_load_ms: data_load stage 4 ms > 1 ms (breach; cohort alpha, one timing "
        "of the stage)"
    )


# --- verdicts ---------------------------------------------------------------------------------


def test_a_breach_fails_with_value_target_cohort_sample_count_and_method() -> None:
    verdict = measured([2.0] * 20, p95_ms=1.0).verdict("p95")
    assert not verdict.passed and verdict.warning is None
    assert verdict.message == (
        "sla p95_ms: p95 latency 2 ms > 1 ms (breach; cohort alpha, 20 samples of predict_proba "
        "on 1 row, numpy 'linear' percentiles)"
    )
    assert verdict.properties == {
        "metric": "p95_latency_ms",
        "value": 2.0,
        "threshold": 1.0,
        "status": "breach",
        "sample_count": 20,
        "percentile_method": "linear",
    }


def test_a_warning_passes_with_a_warning_and_compliance_passes_silently() -> None:
    result = measured([1.05] * 20, p95_ms=1.0, avg_ms=2.0)
    warned = result.verdict("p95")
    assert warned.passed and warned.warning == warned.message
    assert "within the 10% band above the target" in warned.message
    quiet = result.verdict("avg")
    assert quiet.passed and quiet.warning is None
    assert quiet.message.startswith("sla avg_ms: avg latency 1.05 ms <= 2 ms (compliant;")


def test_on_breach_warn_turns_a_breach_into_a_passing_warning() -> None:
    result = measured([5.0] * 20, p95_ms=1.0, on_breach="warn")
    verdict = result.verdict("p95")
    assert verdict.passed
    assert verdict.warning is not None and "breach, reported as a warning" in verdict.warning
    assert result.overall_status == "breach" and not result.sla_met and not result.failed


def test_with_confidence_a_breach_needs_the_whole_interval_above_the_target() -> None:
    straddling = np.array([1.0] * 188 + [100.0] * 12)  # p95 is 100 ms, but only 6% are slow
    result = measured(straddling, p95_ms=50.0, confidence=0.95)
    found = result.target("p95")
    assert found.actual_ms == 100.0 and found.interval_ms is not None
    assert found.interval_ms[0] <= 50.0 < found.interval_ms[1]
    assert found.status == "inconclusive"
    verdict = result.verdict("p95")
    assert verdict.passed and verdict.inconclusive and verdict.warning == verdict.message
    assert "95% interval 1-100 ms" in verdict.message
    assert "inconclusive: the interval straddles the target" in verdict.message
    assert verdict.interval is not None and verdict.interval.method == "percentile-bootstrap"
    strict = measured(straddling, p95_ms=50.0, confidence=0.95, on_inconclusive="fail")
    assert not strict.verdict("p95").passed

    slow = measured(np.full(200, 100.0), p95_ms=50.0, confidence=0.95)
    assert slow.target("p95").interval_ms == (100.0, 100.0)
    assert slow.target("p95").status == "breach" and slow.failed


def test_the_xdist_worker_count_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw2")
    result = measured([1.0] * 10)
    assert (result.xdist_worker_count, result.xdist_worker) == (4, "gw2")
    assert report(result)["environment"]["xdist_worker_count"] == 4
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT")
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert measured([1.0] * 10).xdist_worker_count is None


# --- reports ----------------------------------------------------------------------------------


def test_the_json_report_keeps_every_field_of_the_seeds(tmp_path: Path) -> None:
    result = write_reports(
        measured(
            np.linspace(1.0, 10.0, 50),
            p95_ms=8.0,
            p99_ms=20.0,
            confidence=0.9,
            stages=StageBudgets(training_ms=100.0),
        ),
        tmp_path / "sla",
    )
    assert result.report_path == tmp_path / "sla" / "sla_report_demo@alpha@run1.json"
    data = json.loads(result.report_path.read_text())
    # the seed's fields
    assert data["overall_status"] == "breach"  # plain strings, never enum reprs
    assert data["sla_met"] is False
    assert data["p95_latency_ms"] == pytest.approx(np.percentile(np.linspace(1, 10, 50), 95))
    assert data["p95_target_ms"] == 8.0
    assert {"p50_latency_ms", "p95_latency_ms", "p99_latency_ms", "avg_latency_ms"} <= set(
        data["metrics"]
    )
    assert data["metrics"]["sample_count"] == 50
    assert data["metrics"]["percentile_method"] == "linear"
    assert data["timestamp"].startswith("20")
    p95 = data["targets"]["p95_latency"]
    assert {"target", "actual", "status", "description"} <= set(p95)
    assert (p95["target"], p95["status"], p95["description"]) == (
        8.0,
        "breach",
        "95th percentile latency",
    )
    # the detail the seed lacked
    assert p95["check"] == "sla[p95]" and p95["spec_key"] == "sla.p95_ms"
    assert p95["interval"][0] <= p95["actual"] <= p95["interval"][1]
    assert data["targets"]["training_stage"]["status"] == "breach"  # 900 ms against 100
    assert data["breaches"] == ["p95_latency", "training_stage"]
    assert set(data["stages"]) == set(STAGES)
    assert data["stages"]["training"] == {"ms": 900.0, "budget_ms": 100.0, "status": "breach"}
    assert data["stages"]["data_load"]["budget_ms"] is None
    assert data["measurement"]["calls"] == 50 and data["measurement"]["batch_size"] == 1
    assert data["bootstrap"]["confidence"] == 0.9 and data["bootstrap"]["seed"] == 42
    assert data["policy"] == {"warn_margin": 0.1, "on_breach": "fail", "confidence": 0.9}
    assert "xdist_worker_count" in data["environment"]
    assert not list((tmp_path / "sla").glob(".*.tmp"))  # written atomically, nothing left over


def test_without_a_p95_target_the_seed_field_is_null() -> None:
    data = report(measured([1.0] * 10, avg_ms=5.0))
    assert data["p95_target_ms"] is None
    assert data["p95_latency_ms"] == 1.0
    assert data["bootstrap"] is None


def test_the_documentation_has_the_seeds_sections(tmp_path: Path) -> None:
    result = write_reports(measured([1.0] * 10, confidence=0.95), tmp_path)
    assert result.documentation_path == tmp_path / "sla_documentation_demo@alpha@run1.md"
    text = result.documentation_path.read_text()
    for heading in (
        "# SLA Documentation",
        "## Performance Targets",
        "## Current Performance",
        "## Compliance Guarantees",
    ):
        assert f"\n{heading}\n" in f"\n{text}"
    assert "| `sla[p95]` | <= 220 ms | 95th percentile latency | seed default |" in text
    assert "Overall status: **compliant**" in text
    assert "numpy's 'linear' method over 10 samples" in text
    assert "whole 95% bootstrap interval" in text
    assert documentation(result) == text


# --- spec errors ------------------------------------------------------------------------------


def spec_problems(write_spec: SpecWriter, sla: str) -> list[str]:
    path = write_spec("version: 1\nname: demo\nmodel: {type: logistic}\n" + textwrap.dedent(sla))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return [str(p).removeprefix(f"{path}:") for p in caught.value.problems]


def test_bad_sla_input_is_a_spec_error_with_line_and_key(write_spec: SpecWriter) -> None:
    problems = spec_problems(
        write_spec,
        """\
        sla:
          p95_ms: 220
          p99_ms: 100
          avg_ms: 0
          max_ms: -5
          calls: 5
          warn_margin: -0.1
          confidence: 1.0
          scope: everything
          stages: {train_ms: 10, validation_ms: 0}
        """,
    )
    assert problems == [
        "6:11: sla.p99_ms: 100 is below p95_ms 220 (a higher percentile cannot have a lower "
        "target)",
        "7:11: sla.avg_ms: 0 must be above 0.0",
        "8:11: sla.max_ms: -5 must be above 0.0",
        "9:10: sla.calls: 5 is below the minimum 10",
        "10:16: sla.warn_margin: -0.1 is below the minimum 0.0",
        "11:15: sla.confidence: 1.0 must be below 1.0",
        "12:10: sla.scope: 'everything' is not one of 'inference' or 'stages'",
        "13:12: sla.stages.train_ms: unknown key (did you mean 'training_ms'?)",
        "13:41: sla.stages.validation_ms: 0 must be above 0.0",
    ]


def test_a_percentile_target_below_a_lower_one_points_at_the_later_key(
    write_spec: SpecWriter,
) -> None:
    assert spec_problems(write_spec, "sla: {p50_ms: 30, p95_ms: 20, max_ms: 25}\n") == [
        "4:27: sla.p95_ms: 20 is below p50_ms 30 (a higher percentile cannot have a lower target)",
        "4:39: sla.max_ms: 25 is below p50_ms 30 (a higher percentile cannot have a lower target)",
    ]


def test_a_valid_sla_section_applies_to_every_cohort(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        "version: 1\nname: demo\nmodel: {type: logistic}\n"
        "sla: {p95_ms: 50, calls: 10, stages: {training_ms: 5000}}\n"
        "cohorts: [{id: alpha}, {id: beta}]\n"
    )
    alpha, beta = load_spec(path).cohorts
    assert alpha.config.sla == beta.config.sla
    assert alpha.config.sla is not None and alpha.config.sla.p95_ms == 50.0
    assert alpha.config.sla.stages.training_ms == 5000.0
    assert load_spec(path).cohorts[0].config.sla.warmup == 20  # type: ignore[union-attr]
