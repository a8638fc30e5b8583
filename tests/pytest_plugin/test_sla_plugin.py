"""SLA targets as pytest items and on the command line, driven as a user would run them.

Targets are chosen so that no outcome depends on how fast this machine is: 1 ns can never be
met by a real call, an hour always is, and a 1 ns target with a band up to 1000 s is always
in the warning band.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import SpecWriter
from nethical_runner.cli.main import main

SPEC = """\
version: 1
name: fast
model: {type: logistic}
training: {epochs: 1}
data: {samples: 400}
cohorts:
  - {id: alpha}
  - {id: beta, training: {seed: 7}}
gate: {min_accuracy: 0.5}
sla:
%s
"""
TINY = "0.000001"  # 1 ns
HOUR = "3600000"


def sla_files(root: Path, kind: str) -> list[Path]:
    return sorted(root.rglob(f"sla_{kind}_*"))


def test_a_tiny_p95_target_fails_its_item_and_pytest_exits_1(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(
        SPEC % f"  p95_ms: {TINY}\n  avg_ms: {HOUR}\n  calls: 20\n  warmup: 2", "specs/fast.yaml"
    )
    result = pytester.runpytest("specs/")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=4, failed=2)
    result.stdout.re_match_lines(
        [
            r"sla p95_ms: p95 latency [\d.e+-]+ ms > 1e-06 ms \(breach; cohort alpha, 20 samples "
            r"of predict_proba on 1 row, numpy 'linear' percentiles\)",
            r"  threshold at specs/fast\.yaml:11:11 \(sla\.p95_ms\)",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    out = pytester.path / "nethical-out" / "sla"
    reports = sla_files(out, "report")
    assert [p.name.split("@")[1] for p in reports] == ["alpha", "beta"]
    assert json.loads(reports[0].read_text())["overall_status"] == "breach"
    assert len(sla_files(out, "documentation")) == 2


def test_generous_targets_pass_one_item_per_target_per_cohort(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(
        SPEC % f"  p95_ms: {HOUR}\n  max_ms: {HOUR}\n  stages: {{training_ms: {HOUR}}}",
        "specs/fast.yaml",
    )
    result = pytester.runpytest("specs/", "-v", "-W", "error::UserWarning")
    result.assert_outcomes(passed=8)
    assert result.ret == pytest.ExitCode.OK
    assert [line.split(" ")[0] for line in result.outlines if " PASSED " in line] == [
        f"specs/fast.yaml::fast::{cohort}::{item}"
        for cohort in ("alpha", "beta")
        for item in ("gate[accuracy]", "sla[p95]", "sla[max]", "sla[stage.training]")
    ]


def test_the_warning_band_passes_with_a_pytest_warning(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(
        SPEC % f"  p95_ms: {TINY}\n  warn_margin: 1000000000000\n  calls: 10", "specs/fast.yaml"
    )
    result = pytester.runpytest("specs/")
    result.assert_outcomes(passed=4, warnings=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["*NethicalWarning: sla p95_ms: p95 latency * (warning: within the 1e+14% band*"]
    )


def test_on_breach_warn_passes_a_breach_with_a_warning(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(SPEC % f"  p95_ms: {TINY}\n  on_breach: warn\n  calls: 10", "specs/fast.yaml")
    result = pytester.runpytest("specs/")
    result.assert_outcomes(passed=4, warnings=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*breach, reported as a warning (on_breach: warn)*"])


def test_stage_budgets_are_items_of_their_own(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(
        SPEC % f"  calls: 10\n  stages: {{training_ms: {TINY}, validation_ms: {HOUR}}}",
        "specs/fast.yaml",
    )
    result = pytester.runpytest("specs/", "-k", "stage", "--junitxml=report.xml")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.re_match_lines(
        [
            r"sla stages\.training_ms: training stage [\d.e+-]+ ms > 1e-06 ms \(breach; cohort "
            r"alpha, one timing of the stage\)",
        ]
    )
    cases = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in ET.parse(pytester.path / "report.xml").getroot().iter("testcase")
    }
    assert cases["sla[stage.training]"]["metric"] == "training_stage_ms"
    assert cases["sla[stage.validation]"]["status"] == "compliant"


def test_the_sla_report_fixture_reads_the_sessions_result(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(SPEC % "  calls: 10", "specs/fast.yaml")
    pytester.makepyfile(
        test_mine="""
        import json
        import pytest

        def test_latency(sla_report):
            alpha = sla_report("specs/fast.yaml", "alpha")
            assert alpha.sample_count == 10
            assert alpha.metrics["p95"] < 1000
            data = json.loads(alpha.report_path.read_text())
            assert data["cohort"] == "alpha" and data["sla_met"] is True
            with pytest.raises(ValueError, match="name one"):
                sla_report("specs/fast.yaml")
        """
    )
    pytester.runpytest("specs/", "test_mine.py").assert_outcomes(passed=9)
    assert len(sla_files(pytester.path / "nethical-out", "report")) == 2  # trained once


def test_the_cli_flag_applies_the_seeds_targets_under_the_output_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["train", "--model-type", "heuristic", "--num-samples", "300", "--out", str(out)]
    assert main([*args, "--cohort-id", "plain"]) == 0
    assert not (out / "sla").exists()
    assert main([*args, "--cohort-id", "timed", "--enable-sla-monitoring"]) == 0
    (report_path,) = sla_files(out / "sla", "report")
    assert report_path.name.startswith("sla_report_heuristic@timed@")
    data = json.loads(report_path.read_text())
    assert {name: t["target"] for name, t in data["targets"].items()} == {
        "p95_latency": 220.0,
        "p99_latency": 500.0,
        "avg_latency": 100.0,
    }
    printed = capsys.readouterr().out
    assert "200 samples of predict_proba on 1 row, numpy 'linear' percentiles" in printed
    assert f"sla report saved to {report_path}" in printed


def test_the_cli_report_dir_flag(tmp_path: Path) -> None:
    code = main(
        ["train", "--model-type", "logistic", "--epochs", "1", "--num-samples", "300",
         "--enable-sla-monitoring", "--sla-report-dir", str(tmp_path / "reports"),
         "--out", str(tmp_path / "out")]
    )  # fmt: skip
    assert code == 0
    assert len(sla_files(tmp_path / "reports", "report")) == 1
    assert len(sla_files(tmp_path / "reports", "documentation")) == 1
    assert not (tmp_path / "out" / "sla").exists()


def test_run_exits_1_on_an_sla_breach(tmp_path: Path) -> None:
    spec = tmp_path / "slow.yaml"
    spec.write_text(
        "version: 1\nname: slow\nmodel: {type: heuristic}\ndata: {samples: 300}\n"
        f"gate: {{min_accuracy: 0.5}}\nsla: {{p95_ms: {TINY}, calls: 10}}\n"
    )
    out = str(tmp_path / "out")
    assert main(["run", str(spec), "--out", out]) == 1
    warn_only = tmp_path / "warn.yaml"
    warn_only.write_text(spec.read_text().replace("calls: 10", "calls: 10, on_breach: warn"))
    assert main(["run", str(warn_only), "--out", out]) == 0
