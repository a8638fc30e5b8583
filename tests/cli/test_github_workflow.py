"""examples/github-workflow.yml, run step by step here: its commands parse with the real
argument parsers, its caches keep what the next run reads, and a first pull request with no
baseline passes while the next run of main compares with the one before."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import specdiff_repo

from nethical_runner.cli.main import build_parser, main
from nethical_runner.report.comment import MARKER
from nethical_runner.run.options import DEFAULT_OUT_DIR

git_env = specdiff_repo.git_env
WORKFLOW = Path(__file__).parents[2] / "examples" / "github-workflow.yml"
SPEC = """\
version: 1
name: gated
model: {type: heuristic}
data: {samples: 600}
gate: {min_accuracy: 0.5}
regression:
  max_drop: {accuracy: 0.05}
drift:
  max_drop: {accuracy: 0.05}
"""


def steps() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(WORKFLOW.read_text())
    return {step.get("name", step.get("uses")): step for step in document["jobs"]["gate"]["steps"]}


def command(step: dict[str, Any]) -> list[str]:
    """The step's shell command as arguments, with its environment put in."""
    text = step["run"]
    for name, value in step.get("env", {}).items():
        text = text.replace(f"${name}", "main" if "base_ref" in value else value)
    return shlex.split(text)


def test_it_installs_from_the_checkout_with_extras_that_exist() -> None:
    install = command(steps()["Install from the checkout"])
    assert install[:2] == ["pip", "install"] and install[2].startswith(".[")
    extras = install[2].removeprefix(".[").removesuffix("]").split(",")
    pyproject = (WORKFLOW.parents[1] / "pyproject.toml").read_text()
    assert all(f"\n{extra} = [" in pyproject for extra in extras)


def test_the_cache_keeps_the_baseline_and_the_drift_history_pytest_uses() -> None:
    found = steps()
    restore = found["Restore main's baseline and drift history"]["with"]
    save = found["Save main's baseline and drift history"]["with"]
    assert restore["path"] == save["path"] and restore["key"] == save["key"]
    assert restore["key"].startswith(restore["restore-keys"])
    kept = restore["path"].split()
    gate = command(found["Train and gate"])
    baseline = gate[gate.index("--nethical-baseline") + 1]
    assert baseline in kept and f"{DEFAULT_OUT_DIR}/drift" in kept
    keep = found["Keep this run as the next baseline"]["run"]
    assert f"cp {DEFAULT_OUT_DIR}/results.json {baseline}" in keep
    assert all(Path(path).parent.as_posix() in keep or path in keep for path in kept)


def test_the_comment_command_parses_with_the_real_parser() -> None:
    args = build_parser().parse_args(command(steps()["Comment body"])[1:])
    assert args.command == "comment" and args.baseline_missing == "skip"
    assert args.output == Path(DEFAULT_OUT_DIR) / "comment.md"
    script = steps()["Post or update the comment"]["with"]["script"]
    assert f"'{MARKER}'" in script and "updateComment" in script


def test_a_first_pull_request_passes_and_the_next_run_compares(
    pytester: pytest.Pytester, git_env: None
) -> None:
    """The workflow's own commands, in order, in a repository with no baseline yet."""
    found = steps()
    (pytester.path / "specs").mkdir()
    (pytester.path / "specs" / "gated.yaml").write_text(SPEC)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "specs"],
                 ["update-ref", "refs/remotes/origin/main", "HEAD"]):  # fmt: skip
        subprocess.run(["git", *args], cwd=pytester.path, check=True)
    gate = command(found["Train and gate"])
    assert gate[0] == "pytest"
    first = pytester.runpytest(*gate[1:], "-rs")
    assert first.ret == 0
    first.assert_outcomes(passed=1, skipped=2)  # regression and drift: no baseline yet
    first.stdout.fnmatch_lines(["SKIPPED*no baseline yet: baseline/results.json does not exist*"])

    assert main(command(found["Comment body"])[1:]) == 0
    body = (pytester.path / DEFAULT_OUT_DIR / "comment.md").read_text()
    assert body.startswith(MARKER) and "no baseline yet" in body
    assert "no spec changes between merge base with origin/main" in body

    subprocess.run(["bash", "-c", found["Keep this run as the next baseline"]["run"]],
                   cwd=pytester.path, check=True)  # fmt: skip
    second = pytester.runpytest(*gate[1:])
    assert second.ret == 0
    second.assert_outcomes(passed=3)  # now against the first run, drift against it too
    history = list((pytester.path / DEFAULT_OUT_DIR / "drift").rglob("*"))
    assert history, "the drift history the cache keeps"
