"""The pytest plugin, driven through pytester as a user would run it."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import SpecWriter

SPEC = """\
version: 1
name: mine
model: {type: logistic}
training: {epochs: 5}
data: {samples: 4000}
cohorts:
  - {id: alpha}
  - {id: beta, training: {seed: 7}}
gate:
  max_ece: 0.08
  min_accuracy: %s
"""


def spec_text(min_accuracy: str = "0.85", name: str = "mine") -> str:
    return SPEC.replace("name: mine", f"name: {name}") % min_accuracy


def model_files(pytester: pytest.Pytester) -> list[str]:
    return sorted(p.name for p in (pytester.path / "nethical-out").rglob("*_model_*.npz"))


def test_one_item_per_threshold_per_cohort_and_collection_trains_nothing(
    write_spec: SpecWriter,
    pytester: pytest.Pytester,
) -> None:
    write_spec(spec_text(), "specs/mine.yaml")
    result = pytester.runpytest("specs/", "--collect-only", "-q")
    assert result.ret == 0
    assert [line for line in result.outlines if "::" in line] == [
        "specs/mine.yaml::mine::alpha::gate[ece]",
        "specs/mine.yaml::mine::alpha::gate[accuracy]",
        "specs/mine.yaml::mine::beta::gate[ece]",
        "specs/mine.yaml::mine::beta::gate[accuracy]",
    ]
    assert not (pytester.path / "nethical-out").exists()


def test_passing_specs_pass_and_each_spec_trains_once(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(spec_text(), "specs/mine.yaml")
    result = pytester.runpytest("specs/")
    result.assert_outcomes(passed=4)
    assert len(model_files(pytester)) == 2  # one per cohort, not one per item
    assert all("mine@alpha@" in f or "mine@beta@" in f for f in model_files(pytester))


def test_a_missed_gate_fails_its_item_with_metric_threshold_context_and_line(
    write_spec: SpecWriter,
    pytester: pytest.Pytester,
) -> None:
    write_spec(spec_text("0.99"), "specs/mine.yaml")
    result = pytester.runpytest("specs/")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.re_match_lines(
        [
            r"gate min_accuracy: accuracy 0\.9\d+ < 0\.99 \(95% wilson interval 0\.9\d+ to "
            r"0\.9\d+ over 800 rows\) \(cohort alpha, 800 samples, synthetic data\)",
            r"  threshold at specs/mine\.yaml:11:17 \(gate\.min_accuracy\)",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    # the failed model went to candidates, never to current
    assert all("candidates" in str(p) for p in (pytester.path / "nethical-out").rglob("*.npz"))


def test_a_bad_spec_is_a_collection_error_listing_every_problem(
    write_spec: SpecWriter,
    pytester: pytest.Pytester,
) -> None:
    write_spec(
        textwrap.dedent(
            """\
            version: 1
            name: bad
            model: {type: logistic}
            gate: {min_acuracy: 0.9, max_ece: 2}
            """
        ),
        "specs/bad.yaml",
    )
    result = pytester.runpytest("specs/")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting specs/bad.yaml*",
            "specs/bad.yaml:4:8: gate.min_acuracy: unknown key (did you mean 'min_accuracy'?)",
            "specs/bad.yaml:4:35: gate.max_ece: 2 is above the maximum 1.0",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_keyword_selection_last_failed_and_junit_properties(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(spec_text("0.99"), "specs/mine.yaml")
    only_ece = pytester.runpytest("specs/", "-k", "ece")
    only_ece.assert_outcomes(passed=2, deselected=2)

    pytester.runpytest("specs/").assert_outcomes(passed=2, failed=2)
    rerun = pytester.runpytest("specs/", "--lf", "--junitxml=report.xml")
    rerun.assert_outcomes(failed=2, deselected=2)

    cases = ET.parse(pytester.path / "report.xml").getroot().iter("testcase")
    properties = {
        f"{case.get('classname')}::{case.get('name')}": {
            p.get("name"): p.get("value") for p in case.iter("property")
        }
        for case in cases
    }
    assert set(properties) == {
        "specs.mine.yaml.mine.alpha::gate[accuracy]",
        "specs.mine.yaml.mine.beta::gate[accuracy]",
    }
    alpha = properties["specs.mine.yaml.mine.alpha::gate[accuracy]"]
    assert alpha["metric"] == "accuracy"
    assert alpha["threshold"] == "0.99"
    assert alpha["data_source"].startswith("synthetic")


def test_a_bare_run_collects_only_the_configured_spec_folders(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(spec_text(), "specs/mine.yaml")
    for stray in (".github/workflows/ci.yml", "tests/data/broken.yaml", "docs/example.yaml"):
        path = pytester.path / stray
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("on: push\nthis is: [not a spec\n")
    bare = pytester.runpytest()
    bare.assert_outcomes(passed=4)

    pytester.makeini("[pytest]\nnethical_spec_dirs = quality\n")
    moved = pytester.path / "quality"
    (pytester.path / "specs").rename(moved)
    pytester.runpytest().assert_outcomes(passed=4)


def test_a_folder_named_on_the_command_line_is_collected_from_anywhere(
    write_spec: SpecWriter,
    pytester: pytest.Pytester,
) -> None:
    spec = write_spec(spec_text(), "specs/mine.yaml")
    elsewhere = pytester.path / "gates" / "mine.yaml"
    elsewhere.parent.mkdir()
    spec.rename(elsewhere)
    by_folder = pytester.runpytest("gates/", "--collect-only", "-q")
    assert "gates/mine.yaml::mine::alpha::gate[ece]" in by_folder.outlines
    by_file = pytester.runpytest(str(elsewhere), "--collect-only", "-q")
    assert "gates/mine.yaml::mine::beta::gate[accuracy]" in by_file.outlines


def test_two_specs_with_the_same_name_are_refused(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(spec_text(), "specs/mine.yaml")
    clash = pytester.path / "specs" / "other.yaml"
    clash.write_text((pytester.path / "specs" / "mine.yaml").read_text())
    result = pytester.runpytest("specs/", "--collect-only")
    result.stdout.fnmatch_lines(["specs/other.yaml:2:7: name: 'mine' is already used by *"])


def test_the_output_root_option(write_spec: SpecWriter, pytester: pytest.Pytester) -> None:
    write_spec(spec_text(), "specs/mine.yaml")
    pytester.runpytest("specs/", "--nethical-out", "elsewhere").assert_outcomes(passed=4)
    assert list((pytester.path / "elsewhere" / "models" / "current").glob("*.npz"))


def test_hand_written_tests_read_the_same_training_result(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(spec_text(), "specs/mine.yaml")
    pytester.makepyfile(
        test_mine="""
        def test_alpha_is_accurate(training_result):
            result = training_result("specs/mine.yaml")
            assert result.cohorts["alpha"].metrics["accuracy"] > 0.9
            assert result is training_result("specs/mine.yaml")
        """
    )
    pytester.runpytest("specs/", "test_mine.py").assert_outcomes(passed=5)
    assert len(model_files(pytester)) == 2


def test_under_xdist_every_spec_trains_exactly_once(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    for name in ("one", "two", "three"):
        write_spec(spec_text(name=name), f"specs/{name}.yaml")
    result = pytester.runpytest("specs/", "-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=12)
    result.stdout.fnmatch_lines(["*--dist loadfile, so each spec runs on one worker*"])
    trained = model_files(pytester)
    assert len(trained) == 6  # two cohorts per spec, each trained on exactly one worker
    assert sorted({name.split("@")[0] for name in trained}) == ["one", "three", "two"]


def test_under_xdist_slice_and_drift_items_report_to_the_controller(
    pytester: pytest.Pytester,
) -> None:
    """A worker sends each item's properties to the controller through execnet, which takes
    plain Python values only: a numpy float among them (a drift p-value) crashed the session."""
    example = Path(__file__).parents[2] / "specs" / "logistic.yaml"
    (pytester.path / "specs").mkdir()
    (pytester.path / "specs" / "logistic.yaml").write_text(example.read_text())
    result = pytester.runpytest("specs/", "-n", "2", "-p", "xdist")
    assert "INTERNALERROR" not in result.stdout.str()
    result.assert_outcomes(passed=15)


@pytest.mark.parametrize(
    ("mode", "scheduler"),
    [
        ("load", "LoadFileScheduling"),
        ("worksteal", "LoadFileScheduling"),
        ("loadscope", "LoadScopeScheduling"),
        ("each", "EachScheduling"),
    ],
)
def test_xdist_schedules_by_file_when_its_mode_would_spread_a_spec(
    pytester: pytest.Pytester, mode: str, scheduler: str
) -> None:
    xdist_scheduler = pytest.importorskip("xdist.scheduler")
    config = pytester.parseconfigure("-p", "xdist", "--tx", "2*popen", "--dist", mode)
    assert config.option.dist == mode  # the option is left as given
    made = config.hook.pytest_xdist_make_scheduler(config=config, log=None)  # as xdist asks
    assert type(made) is getattr(xdist_scheduler, scheduler)


def test_without_xdist_the_scheduling_hook_is_not_registered(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(spec_text(), "specs/mine.yaml")
    result = pytester.runpytest("specs/", "-p", "no:xdist")
    result.assert_outcomes(passed=4)
    assert "each spec runs on one worker" not in result.stdout.str()
    assert not pytester.parseconfigure("-p", "no:xdist").pluginmanager.has_plugin(
        "nethical-xdist-scheduling"
    )
