"""Hostile names and values in specs, data files and file names, run through the plugin on
"GitHub Actions": the only workflow commands in the log are the run's own annotations, no HTML
reaches ``summary.md``, a 50 MB field is quoted by its prefix only, and a file name that is not
UTF-8 is refused with a located error while the run summary is still written."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from conftest import SpecWriter
from nethical_runner.cli.main import main

INJECTIONS = ("\n::error file=x::pwned", "\n  ::stop-commands::token", " ##[error]pwned")
ANNOTATION = re.compile(r"::(error|warning) file=[^,:]*,line=\d+,col=\d+,title=[^:]*::")
IMG = "<img src=x onerror=alert(1)>"

BASE = """\
version: 1
name: {name}
model: {{type: logistic}}
training: {{epochs: 2}}
data: {data}
gate:
  min_accuracy: 0.1
"""


def spec(name: str = "mine", data: str = "{samples: 400}", extra: str = "") -> str:
    return BASE.format(name=name, data=data) + extra


def commands(lines: list[str]) -> list[str]:
    """Lines GitHub's runner would read as a workflow command: ``::`` after leading spaces, or
    the legacy ``##[`` anywhere."""
    return [line for line in lines if line.lstrip().startswith("::") or "##[" in line]


def assert_only_annotations(lines: list[str], expected: int) -> None:
    found = commands(lines)
    assert [line for line in found if not ANNOTATION.match(line)] == []
    assert len(found) == expected


@pytest.fixture
def on_github(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")


def out(pytester: pytest.Pytester) -> Path:
    return pytester.path / "nethical-out"


@pytest.mark.usefixtures("on_github")
def test_spec_keys_with_workflow_commands_print_no_command(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    keys = "".join(f"  {json.dumps('k' + text)}: 1\n" for text in INJECTIONS)
    write_spec(spec(extra=keys), "specs/mine.yaml")
    result = pytester.runpytest("specs/")
    assert_only_annotations(result.outlines, expected=3)  # one spec error per key
    assert "gate['k\\n::error file=x::pwned']: unknown key" in result.stdout.str()
    errors = json.loads((out(pytester) / "results.json").read_text())["errors"]
    assert [e["line"] for e in errors] == [8, 9, 10]


@pytest.mark.usefixtures("on_github")
def test_a_data_path_with_a_workflow_command_prints_no_command(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    path = json.dumps("gone" + INJECTIONS[0] + INJECTIONS[1] + INJECTIONS[2] + ".csv")
    write_spec(spec(data=f"{{source: csv, csv: {{path: {path}}}}}"), "specs/mine.yaml")
    result = pytester.runpytest("specs/", "-rA")
    result.assert_outcomes(errors=1)  # a missing file is a collection error
    assert_only_annotations(result.outlines, expected=1)
    assert "gone\\n::error file=x::pwned" in result.stdout.str()


@pytest.mark.usefixtures("on_github")
@pytest.mark.parametrize("injection", INJECTIONS)
def test_a_spec_file_name_with_a_workflow_command_is_refused_and_prints_no_command(
    injection: str, write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(spec(), f"specs/a{injection}.yaml")
    write_spec(spec(name="fine"), "specs/fine.yaml")
    result = pytester.runpytest("specs/", "-v", "--continue-on-collection-errors")
    assert_only_annotations(result.outlines, expected=1)
    result.assert_outcomes(passed=1, errors=1)
    errors = json.loads((out(pytester) / "results.json").read_text())["errors"]
    assert len(errors) == 1 and "the file name is not printable" in errors[0]["message"]


@pytest.mark.usefixtures("on_github")
def test_hostile_csv_column_names_are_escaped_in_every_output(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec.csv(f'"{IMG}","a\n::error file=x::pwned","b ##[error]x"\n1,2,3\n4,5,6\n', "data.csv")
    write_spec(spec(data="{source: csv, csv: {path: data.csv}}"), "specs/mine.yaml")
    result = pytester.runpytest("specs/")
    result.assert_outcomes(failed=1)
    assert_only_annotations(result.outlines, expected=1)
    summary = (out(pytester) / "summary.md").read_text()
    assert "<img" not in summary and "&lt;img src=x onerror=alert(1)&gt;" in summary
    assert commands(summary.splitlines()) == []


@pytest.mark.usefixtures("on_github")
def test_a_50_mb_field_is_quoted_by_its_prefix_only(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    rows = "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(200))
    with open(pytester.path / "data.csv", "w", encoding="utf-8") as handle:
        handle.write(f"f1,f2,label\n{rows}")
        handle.write("1" * (50 * 1024 * 1024) + "x,1,0\n")  # a number with a stray word
    write_spec(spec(data="{source: csv, csv: {path: data.csv}}"), "specs/mine.yaml")
    result = pytester.runpytest("specs/")
    result.assert_outcomes(failed=1)
    assert "mixes numbers and text ('1111" in result.stdout.str()
    assert "... (52428801 characters) at line 202" in result.stdout.str()
    assert max(len(line) for line in result.outlines) < 4096
    assert len(result.stdout.str()) < 20_000
    assert (out(pytester) / "results.json").stat().st_size < 100_000
    assert (out(pytester) / "summary.md").stat().st_size < 10_000


@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes on Linux only")
def test_a_spec_file_name_that_is_not_utf8_is_refused_and_the_summary_written(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(spec(name="fine"), "specs/fine.yaml")
    text = spec(name="bad", extra="audit: {enabled: true}\n").encode()
    with open(os.fsencode(pytester.path / "specs") + b"/bad\xff.yaml", "wb") as handle:
        handle.write(text)
    result = pytester.runpytest_subprocess("specs/", "--continue-on-collection-errors")
    result.assert_outcomes(passed=1, errors=1)
    errors = json.loads((out(pytester) / "results.json").read_text())["errors"]
    assert errors == [
        {
            "file": "specs/bad\\xff.yaml",
            "line": 1,
            "column": 1,
            "message": "the file name is not printable UTF-8 text (shown with escapes); "
            "rename the file",
        }
    ]
    summary = (out(pytester) / "summary.md").read_text(encoding="utf-8")
    assert "<code>specs/bad\\\\xff.yaml:1:1</code>" in summary
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_the_command_line_prints_no_command_for_a_hostile_key(
    write_spec: SpecWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = "".join(f"  {json.dumps('k' + text)}: 1\n" for text in INJECTIONS)
    path = write_spec(spec(extra=keys), "mine.yaml")
    assert main(["validate", str(path)]) == 2
    printed = capsys.readouterr()
    lines = (printed.out + printed.err).splitlines()
    assert len(lines) == 3 and commands(lines) == []
