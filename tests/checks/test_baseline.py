"""``--nethical-baseline``: regression items against an earlier run's results.json."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import SpecWriter
from nethical_runner.checks.regression import Bound
from nethical_runner.spec import SpecError, load_spec

SPEC = """\
version: 1
name: mine
model: {type: heuristic}
data: {samples: 1000}
cohorts: [{id: alpha}, {id: beta, training: {seed: 7}}]
gate: {min_accuracy: 0.5}
regression:
  max_drop: {accuracy: 0.01}
  max_rise: {ece: 0.01}
  rel_max_rise: {brier: 0.5}
"""


def baseline_file(pytester: pytest.Pytester, cohorts: dict[str, dict[str, float]]) -> str:
    document = {
        "format": 1,
        "run_id": "main-run",
        "specs": [
            {
                "name": "mine",
                "cohorts": [
                    {
                        "cohort": cohort,
                        "training": "trained",
                        # the value checks compare ECE on, as results.json records it
                        "metrics": {**metrics, "ece_debiased": metrics.get("ece")},
                        "data": {"label": "synthetic"},
                    }
                    for cohort, metrics in cohorts.items()
                ],
            }
        ],
    }
    path = pytester.path / "baseline.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_items_exist_only_with_a_baseline_and_a_results_file_is_one(
    write_spec: SpecWriter,
    pytester: pytest.Pytester,
) -> None:
    write_spec(SPEC, "specs/mine.yaml")
    collected = pytester.runpytest("specs/", "--collect-only", "-q")
    assert [line for line in collected.outlines if "::" in line] == [
        "specs/mine.yaml::mine::alpha::gate[accuracy]",
        "specs/mine.yaml::mine::beta::gate[accuracy]",
    ]
    pytester.runpytest("specs/").assert_outcomes(passed=2)
    shutil.copy(pytester.path / "nethical-out" / "results.json", pytester.path / "main.json")
    result = pytester.runpytest("specs/", "-v", "--nethical-baseline", "main.json")
    result.assert_outcomes(passed=8)  # the same seeds train the same models: nothing moved
    assert [line.split(" ")[0] for line in result.outlines if " PASSED " in line] == [
        f"specs/mine.yaml::mine::{cohort}::{item}"
        for cohort in ("alpha", "beta")
        for item in (
            "gate[accuracy]", "regression[accuracy]", "regression[ece]", "regression[brier]",
        )
    ]  # fmt: skip
    table = next(line for line in result.outlines if line.startswith("spec "))
    assert table.split()[-1] == "regression"
    checks = json.loads((pytester.path / "nethical-out" / "results.json").read_text())
    alpha = checks["specs"][0]["cohorts"][0]
    regression = [c for c in alpha["checks"] if c["kind"] == "regression"]
    assert [c["properties"]["baseline"] for c in regression] == [
        alpha["metrics"][name] for name in ("accuracy", "ece_debiased", "brier")
    ]
    # two runs on their own rows: a drop of 0.01 is within the noise of either
    assert all("within noise" in c["warning"] for c in regression if c["name"] == "accuracy")
    assert all(c["interval"]["method"] == "normal-approximation-unpaired" for c in regression)


def test_a_drop_beyond_the_bound_fails_at_the_bounds_line(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(SPEC, "specs/mine.yaml")
    path = baseline_file(
        pytester,
        {
            "alpha": {"accuracy": 0.999, "ece": 0.0, "brier": 1.0},
            "beta": {"accuracy": 0.5, "ece": 1.0, "brier": 0.001},
        },
    )
    result = pytester.runpytest("specs/", "--nethical-baseline", path, "--junitxml=j.xml")
    # alpha's ece: its debiased value is within 0.01 of a perfect baseline, so that item passes
    result.assert_outcomes(passed=6, failed=2)
    result.stdout.re_match_lines(
        [
            r"regression max_drop\.accuracy 0\.01 against the baseline: accuracy 0\.999 -> "
            r"0\.9\d+, drop 0\.0\d+ > 0\.01 allowed; drop 95% normal-approximation-unpaired "
            r"interval 0\.0\d+ to 0\.0\d+ over 200 rows \(cohort alpha, synthetic data; "
            r"baseline .*baseline\.json\)",
            r"  threshold at specs/mine\.yaml:8:24 \(regression\.max_drop\.accuracy\)",
            r"regression rel_max_rise\.brier 0\.5 x 0\.001 against the baseline: brier 0\.001 "
            r"-> 0\.0\d+, rise .* > 0\.0005 allowed.*\(cohort beta.*",
        ]
    )
    failed = sorted(line.split(" ")[1] for line in result.outlines if line.startswith("FAILED"))
    assert failed == [
        "specs/mine.yaml::mine::alpha::regression[accuracy]",
        "specs/mine.yaml::mine::beta::regression[brier]",
    ]
    junit = (pytester.path / "j.xml").read_text()
    assert 'name="threshold" value="0.989"' in junit  # the lowest accuracy allowed


def test_a_cohort_missing_from_the_baseline_passes_with_a_warning(
    write_spec: SpecWriter,
    pytester: pytest.Pytester,
) -> None:
    write_spec(SPEC, "specs/mine.yaml")
    path = baseline_file(pytester, {"alpha": {"accuracy": 0.5, "ece": 1.0, "brier": 1.0}})
    result = pytester.runpytest("specs/", "--nethical-baseline", path)
    result.assert_outcomes(passed=8, warnings=3)
    result.stdout.fnmatch_lines(
        ["*NethicalWarning: regression accuracy: the baseline has no trained cohort mine/beta;"
         " nothing to compare*"]
    )  # fmt: skip
    summary = (pytester.path / "nethical-out" / "summary.md").read_text()
    assert (
        "- `mine::beta::regression[accuracy]`: regression accuracy: the baseline has no" in summary
    )


def test_an_unusable_baseline_is_a_usage_error(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(SPEC, "specs/mine.yaml")
    result = pytester.runpytest("specs/", "--nethical-baseline", "nowhere.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--nethical-baseline: nowhere.json: cannot read: No such file*"])
    (pytester.path / "other.json").write_text('{"format": 99}')
    result = pytester.runpytest("specs/", "--nethical-baseline", "other.json")
    result.stderr.fnmatch_lines(["*other.json: not a nethical-runner results.json (format 1)*"])


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (
            "max_drop: {ece: 0.01}",
            "8:14: regression.max_drop.ece: unknown key; known keys: "
            "accuracy, precision, recall, f1, auc",
        ),
        (
            "max_drop: {acuracy: 0.01}",
            "8:14: regression.max_drop.acuracy: unknown key (did you mean 'accuracy'?)",
        ),
        ("max_rise: {brier: 1.5}", "8:21: regression.max_rise.brier: 1.5 is above the maximum 1.0"),
        ("rel_max_drop: {f1: -1}", "8:22: regression.rel_max_drop.f1: -1 is below the minimum 0.0"),
        (
            "max_drops: {f1: 0.1}",
            "8:3: regression.max_drops: unknown key (did you mean 'max_drop'?)",
        ),
    ],
)
def test_the_regression_section_is_validated_with_lines(
    write_spec: SpecWriter, section: str, problem: str
) -> None:
    path = write_spec(SPEC.split("regression:")[0] + f"regression:\n  {section}\n", "mine.yaml")
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert str(raised.value) == f"{path}:{problem}"


def test_relative_bounds_scale_with_the_baseline() -> None:
    drop = Bound("rel_max_drop", "accuracy", 0.02)
    assert drop.allowed(0.9) == pytest.approx(0.018)
    assert not drop.rise and Bound("max_rise", "ece", 0.01).rise
    assert drop.describe(0.9) == "rel_max_drop.accuracy 0.02 x 0.9"
