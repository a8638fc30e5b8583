"""A first run has no baseline yet: ``--nethical-baseline-missing skip`` (``--baseline-missing
skip`` on the command line) skips its regression items with that reason, while a path with
nothing at it stays an error without the option, and a file that is there but unusable is an
error with it too."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import SpecWriter
from nethical_runner.checks.baseline import BaselineError, load_baseline
from nethical_runner.cli.main import main

SPEC = """\
version: 1
name: first
model: {type: heuristic}
data: {samples: 600}
gate: {min_accuracy: 0.5}
regression:
  max_drop: {accuracy: 0.01}
  max_rise: {ece: 0.02}
"""


def skipped_reasons(results: Path) -> dict[str, str]:
    document = json.loads(results.read_text())
    return {
        check["check"]: check["message"]
        for spec in document["specs"]
        for cohort in spec["cohorts"]
        for check in cohort["checks"]
        if check["outcome"] == "skipped"
    }


def test_pytest_skips_regression_items_when_the_baseline_is_allowed_to_be_missing(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(SPEC, "specs/first.yaml")
    result = pytester.runpytest(
        "specs/", "-rs", "--nethical-baseline", "baseline/results.json",
        "--nethical-baseline-missing", "skip",
    )  # fmt: skip
    result.assert_outcomes(passed=1, skipped=2)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["SKIPPED*regression accuracy: no baseline yet: baseline/results.json does not exist*"]
    )
    reasons = skipped_reasons(pytester.path / "nethical-out" / "results.json")
    assert sorted(reasons) == ["regression[accuracy]", "regression[ece]"]
    assert all("no baseline yet" in reason for reason in reasons.values())


def test_pytest_without_the_option_a_missing_baseline_is_an_error(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(SPEC, "specs/first.yaml")
    result = pytester.runpytest("specs/", "--nethical-baseline", "baseline/results.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--nethical-baseline: baseline/results.json: cannot read*"])


@pytest.mark.parametrize(
    "content", [b"{not json", b'{"format": 99}', b"\xff\xfe", b'{"format": 1, "specs": 3}']
)
def test_pytest_a_corrupt_baseline_is_an_error_even_when_missing_is_allowed(
    write_spec: SpecWriter, pytester: pytest.Pytester, content: bytes
) -> None:
    write_spec(SPEC, "specs/first.yaml")
    (pytester.path / "baseline.json").write_bytes(content)
    result = pytester.runpytest(
        "specs/", "--nethical-baseline", "baseline.json", "--nethical-baseline-missing", "skip"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--nethical-baseline: baseline.json: *"])


def test_pytest_refuses_a_missing_policy_it_does_not_know_and_one_without_a_baseline(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(SPEC, "specs/first.yaml")
    unknown = pytester.runpytest("specs/", "--nethical-baseline", "b.json",
                                 "--nethical-baseline-missing", "ignore")  # fmt: skip
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    unknown.stderr.fnmatch_lines(["*invalid choice: 'ignore'*"])
    alone = pytester.runpytest("specs/", "--nethical-baseline-missing", "skip")
    assert alone.ret == pytest.ExitCode.USAGE_ERROR
    alone.stderr.fnmatch_lines(["*--nethical-baseline-missing is for a run with*"])


def spec_file(root: Path) -> str:
    path = root / "first.yaml"
    path.write_text(SPEC)
    return str(path)


def test_cli_run_skips_with_the_reason_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "baseline" / "results.json"
    code = main(["run", spec_file(tmp_path), "--out", str(tmp_path / "out"),
                 "--baseline", str(missing), "--baseline-missing", "skip"])  # fmt: skip
    assert code == 0
    reasons = skipped_reasons(tmp_path / "out" / "results.json")
    assert set(reasons) == {"regression[accuracy]", "regression[ece]"}
    assert all(f"no baseline yet: {missing} does not exist" in r for r in reasons.values())
    assert "regression[accuracy]: skipped" in capsys.readouterr().out


def test_cli_run_without_the_option_a_missing_baseline_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "baseline" / "results.json"
    code = main(["run", spec_file(tmp_path), "--out", str(tmp_path / "out"),
                 "--baseline", str(missing)])  # fmt: skip
    assert code == 2
    assert f"error: --baseline: {missing}: cannot read" in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.json").exists()  # nothing trained


def test_cli_run_a_corrupt_baseline_exits_2_even_when_missing_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt = tmp_path / "results.json"
    corrupt.write_text('{"format": 1, "specs": [{"name": "first"}]}')
    code = main(["run", spec_file(tmp_path), "--out", str(tmp_path / "out"),
                 "--baseline", str(corrupt), "--baseline-missing", "skip"])  # fmt: skip
    assert code == 2
    assert "malformed results" in capsys.readouterr().err


def test_only_a_path_with_nothing_at_it_counts_as_missing(tmp_path: Path) -> None:
    assert load_baseline(tmp_path / "none.json", "skip").missing is not None
    folder = tmp_path / "a-folder"
    folder.mkdir()
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "gone.json")
    unreadable = tmp_path / "unreadable.json"
    unreadable.write_text("{}")
    unreadable.chmod(0)
    cases = [folder, dangling]
    if os.geteuid() != 0:  # root reads any file
        cases.append(unreadable)
    for path in cases:
        with pytest.raises(BaselineError, match="cannot read"):
            load_baseline(path, "skip")
    with pytest.raises(BaselineError, match="cannot read"):
        load_baseline(tmp_path / "none.json")


def test_a_baseline_file_too_large_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("nethical_runner.checks.baseline.MAX_BASELINE_BYTES", 100)
    large = tmp_path / "large.json"
    large.write_text(json.dumps({"format": 1, "specs": [], "padding": "x" * 200}))
    with pytest.raises(BaselineError, match="larger than 100 bytes"):
        load_baseline(large, "skip")
