"""Drift checks as pytest items, across sessions, driven as a user runs them.

Cohort beta of the drifting spec trains on labels with ``label_noise: 0.5``, which costs it
about 0.3 accuracy: a spread far beyond the bootstrap interval on these few hundred rows, so no
outcome here depends on chance.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from conftest import SpecWriter

SPEC = """\
version: 1
name: fair
model: {type: logistic}
training: {epochs: 2}
data: {samples: 800}
cohorts:
  - {id: alpha}
  - {id: beta, %s}
gate: {min_accuracy: 0.5}
slices:
  - {id: low, where: {column: violation_count, between: [0, 0.5]}}
  - {id: high, where: {column: violation_count, between: [0.5, 1]}}
  - {id: tiny, where: {column: severity_max, between: [0, 0.01]}}
drift:
  max_spread: {accuracy: 0.05, ece: 0.5}
  max_drop: {accuracy: 0.02}
  max_slice_spread: {accuracy: 0.5}
"""
SEEDED = "training: {seed: 7}"
NOISY = "data: {label_noise: 0.5}"


def reports(pytester: pytest.Pytester) -> list[dict]:
    """Drift reports in the order they were written (run ids of one second do not sort)."""
    folder = pytester.path / "nethical-out" / "drift"
    found = [json.loads(p.read_text()) for p in folder.glob("drift_fair@*.json")]
    return sorted(found, key=lambda report: report["end_time"])


def test_drift_items_and_the_first_run_without_a_baseline(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(SPEC % SEEDED, "specs/fair.yaml")
    result = pytester.runpytest("specs/", "-v", "-rs")
    result.assert_outcomes(passed=6, skipped=1)
    assert [line.split(" ")[0] for line in result.outlines if " PASSED" in line] == [
        "specs/fair.yaml::fair::alpha::gate[accuracy]",
        "specs/fair.yaml::fair::alpha::drift[slice.accuracy]",
        "specs/fair.yaml::fair::beta::gate[accuracy]",
        "specs/fair.yaml::fair::beta::drift[slice.accuracy]",
        "specs/fair.yaml::fair::drift[accuracy]",
        "specs/fair.yaml::fair::drift[ece]",
    ]
    result.stdout.re_match_lines(
        [
            r"specs/fair\.yaml::fair::drift\[accuracy\.vs_previous\] SKIPPED.*",
            r"SKIPPED \[1\] specs/fair\.yaml:16: drift max_drop\.accuracy: no baseline yet: no "
            r"earlier run of spec fair with these cohorts is recorded in .*nethical-out/drift; "
            r"this run is recorded as the baseline for the next",
        ]
    )
    (report,) = reports(pytester)
    assert list(report["cohorts"]) == ["alpha", "beta"]
    assert report["slices"]["alpha"]["tiny"]["judged"] is False


def test_a_too_tight_spread_fails_naming_both_cohorts_and_the_bound(
    write_spec: SpecWriter,
    pytester: pytest.Pytester,
) -> None:
    write_spec(SPEC % NOISY, "specs/fair.yaml")
    result = pytester.runpytest("specs/", "-k", "drift and not vs_previous", "--junitxml=j.xml")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.re_match_lines(
        [
            r"drift max_spread\.accuracy: accuracy spread 0\.\d+ > 0\.05 across cohorts alpha, "
            r"beta: worst beta 0\.\d+, best alpha 0\.\d+ \(95% bootstrap interval of the spread "
            r"0\.\d+-0\.\d+\)",
            r"  threshold at specs/fair\.yaml:15:26 \(drift\.max_spread\.accuracy\)",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    (report,) = reports(pytester)  # written although a check failed
    assert report["drift_metrics"]["has_drift"] is True
    assert report["drift_metrics"]["metrics"]["accuracy"]["worst_cohort"] == "beta"
    testcase = next(
        case
        for case in ET.parse(pytester.path / "j.xml").iter("testcase")
        if case.get("name") == "drift[accuracy]"
    )
    properties = {p.get("name"): p.get("value") for p in testcase.iter("property")}
    assert properties["metric"] == "accuracy_spread" and properties["threshold"] == "0.05"
    assert (properties["worst"], properties["best"]) == ("beta", "alpha")


def test_history_across_two_sessions_compares_each_cohort_with_its_last_run(
    write_spec: SpecWriter,
    pytester: pytest.Pytester,
) -> None:
    write_spec(SPEC % SEEDED, "specs/fair.yaml")
    pytester.runpytest("specs/", "-k", "vs_previous").assert_outcomes(skipped=1)
    second = pytester.runpytest("specs/", "-k", "vs_previous", "-v")
    second.assert_outcomes(passed=1)
    first_run = reports(pytester)[0]["run_id"]
    write_spec(
        SPEC % NOISY, "specs/fair.yaml"
    )  # beta now trains on noisy labels: its accuracy falls
    third = pytester.runpytest("specs/", "-k", "vs_previous")
    third.assert_outcomes(failed=1)
    latest = reports(pytester)[-1]
    previous = latest["drift_metrics"]["vs_previous"]["metrics"]["accuracy"]
    assert [d["cohort"] for d in previous] == ["alpha", "beta"]
    assert previous[0]["worsening"] == 0.0 and previous[1]["status"] == "drift"
    assert previous[1]["baseline_run"] != first_run  # the second session, not the first
    third.stdout.re_match_lines(
        [
            r"drift max_drop\.accuracy: accuracy worsened by more than 0\.02 since the previous "
            r"run: cohort beta 0\.\d+ -> 0\.\d+ \(fell 0\.\d+; 95% interval of the worsening .*\) "
            rf"since run {previous[1]['baseline_run']}",
            r"  threshold at specs/fair\.yaml:16:24 \(drift\.max_drop\.accuracy\)",
        ]
    )


def test_the_drift_report_fixture_reads_the_sessions_result(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(SPEC % SEEDED, "specs/fair.yaml")
    pytester.makepyfile(
        test_fairness="""
        def test_slices_of_alpha(drift_report):
            drift = drift_report("specs/fair.yaml")
            comparison = drift.slice_comparisons["alpha"]["accuracy"]
            assert comparison.judged == ("low", "high")
            assert drift.report_path.is_file()
            assert not drift.has_drift

        def test_a_spec_without_drift(drift_report, tmp_path):
            import pytest
            spec = tmp_path / "plain.yaml"
            spec.write_text("version: 1\\nname: plain\\nmodel: {type: heuristic}\\n")
            with pytest.raises(LookupError, match="declares neither a drift section nor slices"):
                drift_report(spec)
        """
    )
    result = pytester.runpytest("test_fairness.py", "specs/")
    result.assert_outcomes(passed=8, skipped=1)
    assert len(reports(pytester)) == 1  # the fixture and the items share one training


def test_a_slice_column_that_is_not_a_feature_is_a_collection_error(
    write_spec: SpecWriter,
    pytester: pytest.Pytester,
) -> None:
    path = write_spec(SPEC % SEEDED, "specs/fair.yaml")
    path.write_text(path.read_text().replace("column: severity_max", "column: severity"))
    result = pytester.runpytest("specs/")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "specs/fair.yaml:13:32: slices[2].where.column: 'severity' is not a feature of "
            "cohort alpha's data (did you mean 'severity_max'?)"
        ]
    )
    assert not list(pytester.path.glob("nethical-out/models/**/*.npz"))  # nothing trained


def test_a_rerun_after_a_failed_comparison_fails_until_a_new_baseline_is_accepted(
    write_spec: SpecWriter,
    pytester: pytest.Pytester,
) -> None:
    write_spec(SPEC % SEEDED, "specs/fair.yaml")
    pytester.runpytest("specs/", "-k", "vs_previous").assert_outcomes(skipped=1)
    write_spec(SPEC % NOISY, "specs/fair.yaml")
    pytester.runpytest("specs/", "-k", "vs_previous").assert_outcomes(failed=1)
    first, failed = (report["run_id"] for report in reports(pytester))
    rerun = pytester.runpytest("specs/", "-k", "vs_previous")  # the same job, unchanged
    rerun.assert_outcomes(failed=1)
    rerun.stdout.re_match_lines(
        [
            rf".*cohort beta 0\.\d+ -> 0\.\d+ \(fell .*\) since run {first} \(the later run "
            rf"{failed} failed its drift checks and is not a baseline\)"
        ]
    )

    reason = "beta's labels are noisy on purpose now"
    accepted = pytester.runpytest(
        "specs/", "-k", "vs_previous", "-rs", "--nethical-accept-baseline", reason
    )
    accepted.assert_outcomes(skipped=1)
    accepted.stdout.re_match_lines(
        [
            rf"SKIPPED \[1\] specs/fair\.yaml:16: drift max_drop\.accuracy: new baseline accepted "
            rf"\(reason: {reason}\); not compared with run {first}"
        ]
    )
    new_baseline = reports(pytester)[-1]
    assert new_baseline["drift_metrics"]["vs_previous"]["accepted"]["reason"] == reason
    after = pytester.runpytest("specs/", "-k", "vs_previous")
    after.assert_outcomes(passed=1)
    previous = reports(pytester)[-1]["drift_metrics"]["vs_previous"]["metrics"]["accuracy"]
    assert {d["baseline_run"] for d in previous} == {new_baseline["run_id"]}


@pytest.mark.parametrize("reason", ["", "  "])
def test_accepting_a_baseline_without_a_reason_is_a_usage_error(
    reason: str, write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(SPEC % SEEDED, "specs/fair.yaml")
    result = pytester.runpytest("specs/", "--nethical-accept-baseline", reason)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--nethical-accept-baseline: a new baseline needs a reason*"])
    assert not (pytester.path / "nethical-out").exists()  # nothing trained
