"""Progress lines under pytest: through the terminal reporter, around pytest's own output;
none under ``-q``; under pytest-xdist printed once by the controller, each line whole and
tagged with its worker; epoch statuses only on a terminal."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import pytest
from support.terminal import read_until_closed

from conftest import SpecWriter

SPEC = """\
version: 1
name: {name}
model: {{type: logistic}}
training: {{epochs: 3}}
data: {{samples: 2000}}
cohorts:
  - {{id: alpha}}
  - {{id: cohort_b, training: {{seed: 7}}}}
"""
START = re.compile(r"nethical-runner: (\w+)::(\w+): training logistic")
END = re.compile(
    r"nethical-runner: (\w+)::(\w+): done in \d+\.\d s, 1,600 rows trained, 400 validated"
)


def progress_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if re.search(r"nethical-runner: \w+::", line)]


def named(pattern: re.Pattern[str], line: str) -> tuple[str, ...]:
    found = pattern.fullmatch(line)
    assert found, line
    return found.groups()


def write_two(write_spec: SpecWriter) -> None:
    for name in ("first", "second"):
        write_spec(SPEC.format(name=name), f"specs/{name}.yaml")


def test_default_output_has_a_line_per_cohort_start_and_end_and_resumes_the_dots(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(SPEC.format(name="mine"), "specs/mine.yaml")
    result = pytester.runpytest("specs/", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    lines = progress_lines(result.outlines)
    assert len(lines) == 4
    cohorts = [("mine", "alpha"), ("mine", "cohort_b")]
    assert [named(START, line) for line in lines[::2]] == cohorts
    assert [named(END, line) for line in lines[1::2]] == cohorts
    assert "." not in result.outlines  # the item's dot follows the file name, as ever
    result.stdout.fnmatch_lines(
        ["specs/mine.yaml*", *lines, "", "specs/mine.yaml ....*"], consecutive=True
    )


def test_verbose_output_keeps_each_item_on_its_own_line(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(SPEC.format(name="mine"), "specs/mine.yaml")
    result = pytester.runpytest("specs/", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    lines = progress_lines(result.outlines)
    assert len(lines) == 4
    first = "specs/mine.yaml::mine::alpha::gate[[]ece[]]"
    result.stdout.fnmatch_lines([f"{first}*", *lines, "", f"{first} PASSED*"], consecutive=True)


@pytest.mark.parametrize("quiet", [["-q"], ["-qq"], ["-q", "-n", "2", "-p", "xdist"]])
def test_quiet_runs_print_no_progress(
    write_spec: SpecWriter, pytester: pytest.Pytester, quiet: list[str]
) -> None:
    write_two(write_spec)
    result = pytester.runpytest("specs/", "-p", "no:cacheprovider", *quiet)
    assert result.ret == pytest.ExitCode.OK
    assert progress_lines(result.outlines) == []


@pytest.mark.parametrize("verbosity", [[], ["-v"]])
def test_under_xdist_the_controller_prints_each_line_once_whole_and_tagged(
    write_spec: SpecWriter, pytester: pytest.Pytester, verbosity: list[str]
) -> None:
    write_two(write_spec)
    result = pytester.runpytest(
        "specs/", "-n", "2", "-p", "xdist", "-p", "no:cacheprovider", *verbosity
    )
    result.assert_outcomes(passed=8)
    lines = progress_lines(result.outlines)
    assert len(lines) == 8, result.outlines
    seen = []
    for line in lines:
        found = re.fullmatch(r"\[gw[01]\] (.*)", line)
        assert found, line  # a line of its own, after no dot and before none
        inner = found.group(1)
        match = START.fullmatch(inner) or END.fullmatch(inner)
        assert match, line
        seen.append((match.groups(), "start" if START.fullmatch(inner) else "end"))
    expected = [
        ((s, c), e)
        for s in ("first", "second")
        for c in ("alpha", "cohort_b")
        for e in ("start", "end")
    ]
    assert sorted(seen) == sorted(expected)
    for spec in ("first", "second"):  # in order within a spec, from one worker
        mine = [line for line in lines if f" {spec}::" in line]
        assert len({line[:5] for line in mine}) == 1
        assert [kind for (names, kind) in seen if names[0] == spec] == ["start", "end"] * 2


def run_on(stdout_is_a_terminal: bool, pytester: pytest.Pytester) -> str:
    """``pytest specs/`` in a child process, its stdout a pseudo-terminal or a pipe."""
    command = [sys.executable, "-m", "pytest", "specs/", "-p", "no:cacheprovider", "-p", "no:xdist"]
    if not stdout_is_a_terminal:
        done = subprocess.run(
            command, cwd=pytester.path, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout
        return done.stdout
    leader, follower = pty.openpty()
    with subprocess.Popen(
        command, cwd=pytester.path, stdout=follower, stderr=subprocess.DEVNULL
    ) as child:
        os.close(follower)
        shown = read_until_closed(leader)
    os.close(leader)
    assert child.returncode == 0, shown
    return re.sub(r"\x1b\[[0-9;]*m", "", shown.decode().replace("\r\n", "\n"))


def test_epochs_of_a_long_training_show_on_a_terminal_and_not_in_a_log(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(
        "version: 1\nname: long\nmodel: {type: simple_transformer}\ntraining: {epochs: 30}\n"
        "data: {samples: 5000}\n",
        "specs/long.yaml",
    )
    on_terminal = run_on(True, pytester)
    epochs = re.findall(
        r"^nethical-runner: long::default: epoch (\d+)/30 \(\d+\.\d s\)$", on_terminal, re.MULTILINE
    )
    assert epochs, on_terminal
    assert [int(e) for e in epochs] == sorted({int(e) for e in epochs})
    in_a_log = run_on(False, pytester)
    assert "nethical-runner: long::default: done in " in in_a_log
    assert not re.search(r"epoch \d+/", in_a_log)
