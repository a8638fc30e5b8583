"""The run summary: terminal table, results.json, summary.md, JUnit properties, annotations and
reliability diagrams, driven through pytester as a user would run them (also under xdist)."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from conftest import SpecWriter
from nethical_runner.checks.collect import collect_checks
from nethical_runner.report.records import check_properties
from nethical_runner.run.results import CohortFailure, SpecResult
from nethical_runner.spec import load_spec

SPEC = """\
version: 1
name: mine
model: {type: logistic}
training: {epochs: 3}
data: {samples: 1000}
cohorts:
  - {id: alpha}
  - {id: noisy, data: {label_noise: 0.5}}
  - {id: stand_in, data: {source: csv, csv: {path: missing.csv}, fallback: synthetic}}
  - {id: absent, data: {source: csv, csv: {path: one_class.csv}}}
gate:
  max_ece: 0.2
  min_accuracy: 0.8
"""
ONE_CLASS = "a,label\n1,1\n2,1\n"  # cohort absent fails when its rows are read, not at collection
FAST = """\
version: 1
name: %s
model: {type: heuristic}
data: {samples: 1000}
cohorts: [{id: one}, {id: two, training: {seed: 7}}]
gate: {min_accuracy: 0.5}
sla: {p95_ms: 3600000, calls: 10, warmup: 0}
"""


def out(pytester: pytest.Pytester) -> Path:
    return pytester.path / "nethical-out"


def results(pytester: pytest.Pytester) -> dict[str, Any]:
    return json.loads((out(pytester) / "results.json").read_text())


def summary_table(lines: list[str]) -> list[list[str]]:
    """Rows of the terminal table, split on its column gaps."""
    start = lines.index(next(line for line in lines if line.startswith("spec ")))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("mine") and not line.startswith("fast"):
            break
        rows.append(line.split())
    return rows


def test_table_results_and_summary_say_what_failed_first(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(SPEC, "specs/mine.yaml")
    write_spec.csv(ONE_CLASS, "one_class.csv")
    result = pytester.runpytest("specs/")
    result.assert_outcomes(passed=5, failed=3, warnings=2)
    lines = result.outlines
    assert sum("nethical-runner summary" in line for line in lines) == 1
    table = summary_table(lines)
    assert [row[1] for row in table] == ["noisy", "absent", "stand_in", "alpha"]
    assert table[0][:5] == ["mine", "noisy", "logistic", "on", "synthetic"]
    assert table[0][-3:] == ["FAIL", "-", "-"]  # gate, SLA, drift
    assert table[1][4:7] == ["csv", "(training", "failed)"]
    stand_in = next(line for line in lines if line.startswith("mine  stand_in"))
    assert "synthetic (fallback: missing_f...[1]" in stand_in  # the whole of it in note 1
    note = (
        "[1] model logistic, data synthetic (fallback: missing_file: missing.csv: file not found)"
    )
    assert note in lines
    assert stand_in.split()[-3:] == ["warn", "-", "-"]
    result.stdout.fnmatch_lines(
        ["3 failed, 5 passed, 2 with warnings (1 spec, 4 cohorts)", "results: */results.json"]
    )

    text = (out(pytester) / "results.json").read_text()
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, sort_keys=True) + "\n"  # stable key order
    assert document["format"] == 1 and document["outcome"] == "failed"
    assert document["totals"] == {
        "checks": 8, "passed": 5, "failed": 3, "skipped": 0, "inconclusive": 0, "warnings": 2,
        "specs": 1, "cohorts": 4, "errors": 0,
    }  # fmt: skip
    (spec,) = document["specs"]
    assert (spec["name"], spec["file"], spec["status"]) == ("mine", "specs/mine.yaml", "failed")
    cohorts = {c["cohort"]: c for c in spec["cohorts"]}
    assert list(cohorts) == ["alpha", "noisy", "stand_in", "absent"]  # declared order
    alpha = cohorts["alpha"]
    assert alpha["status"] == "passed" and alpha["training"] == "trained"
    assert alpha["data"]["label"] == "synthetic" and alpha["data"]["validation_rows"] == 200
    assert 0.8 <= alpha["metrics"]["accuracy"] <= 1.0
    assert alpha["model_file"].startswith("models/current/mine@alpha@logistic_model_")
    assert cohorts["stand_in"]["status"] == "warning"
    assert (
        cohorts["stand_in"]["data"]["fallback_reason"]
        == "missing_file: missing.csv: file not found"
    )
    assert cohorts["absent"]["training"] == "failed"
    assert "one_class.csv: label column 'label' holds one class only" in cohorts["absent"]["error"]
    ece, accuracy = cohorts["noisy"]["checks"]
    assert accuracy == {
        "id": "specs/mine.yaml::mine::noisy::gate[accuracy]",
        "spec": "mine",
        "cohort": "noisy",
        "kind": "gate",
        "name": "accuracy",
        "check": "gate[accuracy]",
        "outcome": "failed",
        "decision": "fail",
        "interval": accuracy["interval"],
        "message": accuracy["message"],
        "warning": None,
        "metric": "accuracy",
        "value": cohorts["noisy"]["metrics"]["accuracy"],
        "threshold": 0.8,
        "data_source": "synthetic",
        "properties": accuracy["properties"],
        "order": 3,
        "file": "specs/mine.yaml",
        "line": 13,
        "column": 17,
        "key": "gate.min_accuracy",
    }
    assert accuracy["message"].startswith("gate min_accuracy: accuracy 0.")
    assert accuracy["interval"]["method"] == "wilson" and accuracy["interval"]["level"] == 0.95
    assert ece["outcome"] == "passed" and ece["line"] == 12
    absent_check = cohorts["absent"]["checks"][0]
    assert absent_check["data_source"] == "csv (not loaded)" and absent_check["threshold"] == 0.2
    assert absent_check["message"].startswith("cohort absent could not be trained: ")

    summary = (out(pytester) / "summary.md").read_text()
    assert summary.startswith(
        "## nethical-runner failed: 3 failed, 5 passed, 2 with warnings (1 spec, 4 cohorts)\n"
    )
    assert (
        "| spec | cohort | model on data | accuracy | ECE | p95 ms | gate | SLA | drift |"
        in summary
    )
    assert "| mine | noisy | logistic on synthetic |" in summary and "| **FAIL** |" in summary
    assert "### Failed checks" in summary
    assert "| `mine::noisy::gate[accuracy]` |" in summary and "| `specs/mine.yaml:13` |" in summary
    assert "### Warnings" in summary
    assert "- `mine::stand_in::gate[ece]`: passed on synthetic fallback data" in summary
    assert "- [mine / alpha](reliability/mine@alpha.png): ECE 0." in summary


def test_reliability_diagrams_are_pngs_whose_bins_give_the_gated_ece(
    write_spec: SpecWriter,
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("matplotlib")
    write_spec(FAST % "fast", "specs/fast.yaml")
    pytester.runpytest("specs/").assert_outcomes(passed=4)
    png = out(pytester) / "reliability" / "fast@one.png"
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    (cohort, _) = results(pytester)["specs"][0]["cohorts"]
    assert cohort["diagram"] == "reliability/fast@one.png"
    reliability = cohort["reliability"]
    assert len(reliability["bins"]) == 15 and reliability["confidence"] == "positive"
    assert sum(b["count"] for b in reliability["bins"]) == cohort["data"]["validation_rows"]
    assert reliability["ece"] == pytest.approx(cohort["metrics"]["ece"], abs=1e-12)


@pytest.fixture(autouse=True)
def diagrams_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The diagrams are what these tests look at (tests/conftest.py turns them off)."""
    monkeypatch.setenv("NETHICAL_DIAGRAMS", "1")


def test_diagrams_can_be_turned_off(
    write_spec: SpecWriter, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETHICAL_DIAGRAMS", "0")
    write_spec(FAST % "fast", "specs/fast.yaml")
    pytester.runpytest("specs/").assert_outcomes(passed=4)
    assert not (out(pytester) / "reliability").exists()
    document = results(pytester)
    assert document["reliability_diagrams"]["skipped"] == "turned off (NETHICAL_DIAGRAMS=0)"
    assert document["specs"][0]["cohorts"][0]["reliability"]["bins"]  # the data is still there


def test_without_matplotlib_everything_but_the_diagrams_works(
    write_spec: SpecWriter, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    write_spec(FAST % "fast", "specs/fast.yaml")
    result = pytester.runpytest("specs/")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "reliability diagrams skipped: matplotlib is not installed "
            "(python -m pip install 'matplotlib*[plot]*)"
        ]
    )
    assert not (out(pytester) / "reliability").exists()
    document = results(pytester)
    assert document["reliability_diagrams"]["skipped"].startswith("matplotlib is not installed")
    assert document["specs"][0]["cohorts"][0]["diagram"] is None
    assert document["specs"][0]["cohorts"][0]["reliability"]["bins"]  # the data is still there
    summary = (out(pytester) / "summary.md").read_text()
    assert "Reliability diagrams skipped: matplotlib is not installed" in summary


def test_xdist_workers_feed_one_table_and_one_set_of_files(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    for name in ("fast", "fast2", "fast3"):
        write_spec(FAST % name, f"specs/{name}.yaml")
    result = pytester.runpytest("specs/", "-n", "2")
    result.assert_outcomes(passed=12)
    lines = result.outlines
    assert sum("nethical-runner summary" in line for line in lines) == 1
    assert sum(line.startswith("spec ") for line in lines) == 1
    rows = summary_table(lines)
    assert [(row[0], row[1]) for row in rows] == [
        (spec, cohort) for spec in ("fast", "fast2", "fast3") for cohort in ("one", "two")
    ]
    assert all(row[-3:] == ["pass", "pass", "-"] for row in rows)
    result.stdout.fnmatch_lines(["12 passed (3 specs, 6 cohorts)"])
    document = results(pytester)
    assert [spec["name"] for spec in document["specs"]] == ["fast", "fast2", "fast3"]
    for spec in document["specs"]:
        assert [c["cohort"] for c in spec["cohorts"]] == ["one", "two"]
        for cohort in spec["cohorts"]:
            assert [c["check"] for c in cohort["checks"]] == ["gate[accuracy]", "sla[p95]"]
            assert cohort["sla"]["samples"] == 10
            assert cohort["metrics"]["accuracy"] > 0.5
    written = sorted(p.name for p in out(pytester).glob("*.*"))
    assert written == [".gitignore", "results.json", "summary.md"]
    assert (out(pytester) / "summary.md").read_text().count("| fast") == 6


def test_junit_items_carry_metric_threshold_data_source_and_location(
    write_spec: SpecWriter,
    pytester: pytest.Pytester,
) -> None:
    write_spec(SPEC.replace("gate:", "sla: {p95_ms: 3600000, calls: 10}\ngate:"), "specs/mine.yaml")
    write_spec.csv(ONE_CLASS, "one_class.csv")
    pytester.runpytest("specs/", "--junitxml=report.xml")
    cases = {
        f"{case.get('classname')}::{case.get('name')}": {
            p.get("name"): p.get("value") for p in case.iter("property")
        }
        for case in ET.parse(pytester.path / "report.xml").getroot().iter("testcase")
    }
    assert len(cases) == 12
    for properties in cases.values():
        assert {"metric", "threshold", "data_source", "spec_location"} <= set(properties)
    alpha = cases["specs.mine.yaml.mine.alpha::gate[accuracy]"]
    assert (alpha["metric"], alpha["threshold"], alpha["data_source"]) == (
        "accuracy", "0.8", "synthetic",
    )  # fmt: skip
    assert alpha["spec_location"] == "specs/mine.yaml:14:17"
    assert cases["specs.mine.yaml.mine.alpha::sla[p95]"]["data_source"] == "synthetic"
    stand_in = cases["specs.mine.yaml.mine.stand_in::sla[p95]"]["data_source"]
    assert stand_in.startswith("synthetic (fallback: missing_file")
    absent = cases["specs.mine.yaml.mine.absent::sla[p95]"]
    assert (absent["data_source"], absent["threshold"]) == ("csv (not loaded)", "3600000.0")


def test_github_actions_annotations_and_step_summary(
    write_spec: SpecWriter,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(pytester.path.parent))
    write_spec(SPEC, "specs/mine.yaml")
    write_spec.csv(ONE_CLASS, "one_class.csv")
    result = pytester.runpytest("specs/")
    where = f"{pytester.path.name}/specs/mine.yaml"  # relative to the checkout
    annotations = [line for line in result.outlines if line.startswith("::")]
    assert len(annotations) == 5
    assert annotations[0].startswith(
        f"::error file={where},line=13,col=17,title=gate[accuracy] mine/noisy::gate min_accuracy: "
        "accuracy 0."
    )
    assert annotations[1].startswith(
        f"::error file={where},line=12,col=12,title=gate[ece] mine/absent::cohort absent could "
        "not be trained: "
    )
    assert annotations[3].startswith(
        f"::warning file={where},line=12,col=12,title=gate[ece] mine/stand_in::passed on "
        "synthetic fallback data"
    )
    appended = step_summary.read_text()
    assert appended.startswith("earlier step\n## nethical-runner failed: ")
    assert appended.endswith((out(pytester) / "summary.md").read_text() + "\n")


def test_spec_errors_are_reported_and_annotated(
    write_spec: SpecWriter, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    write_spec(FAST % "fast", "specs/fast.yaml")
    write_spec(FAST.replace("min_accuracy: 0.5", "min_accuracy: 1.5") % "bad", "specs/bad.yaml")
    result = pytester.runpytest("specs/", "--continue-on-collection-errors")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        [
            "4 passed, 1 spec error (1 spec, 2 cohorts)",
            "::error file=specs/bad.yaml,line=6,col=22,title=nethical-runner spec error::"
            "gate.min_accuracy: 1.5 is above the maximum 1.0",
        ]
    )
    document = results(pytester)
    assert document["errors"] == [
        {
            "file": "specs/bad.yaml",
            "line": 6,
            "column": 22,
            "message": "gate.min_accuracy: 1.5 is above the maximum 1.0",
        }
    ]
    assert document["outcome"] == "failed"
    assert (
        "- `specs/bad.yaml:6:22`: gate.min\\_accuracy: 1.5"  # markdown, escaped
        in (out(pytester) / "summary.md").read_text()
    )


def test_runs_without_spec_items_write_and_print_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest("test_plain.py")
    result.assert_outcomes(passed=1)
    assert "nethical-runner summary" not in result.stdout.str()
    assert not out(pytester).exists()


def test_untrained_cohorts_still_name_their_default_thresholds(write_spec: SpecWriter) -> None:
    path = write_spec("version: 1\nname: s\nmodel: {type: heuristic}\nsla: {}\n", "s.yaml")
    spec = load_spec(path)
    result = SpecResult(spec, "run", {"default": CohortFailure("default", "DataError: x", "")})
    found = {c.label: check_properties(spec, c, None, result) for c in collect_checks(spec)}
    assert found["gate[accuracy]"]["threshold"] == 0.85
    assert found["gate[ece]"]["threshold"] == 0.08
    assert found["sla[p99]"]["threshold"] == 500.0
    assert found["sla[p99]"]["data_source"] == "synthetic (not loaded)"
    assert found["sla[p99]"]["spec_location"] == f"{path.as_posix()}:4:6"
