"""A throwaway git repository of spec files, and the rows of ``nethical-runner diff`` on it.

Test modules import the fixtures ``git_env`` and ``repo`` from here (pytest registers fixtures
a module imports)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nethical_runner.cli.main import main

BASE_SPEC = """\
version: 1
name: mine
model: {type: logistic}
training: {epochs: 10}
data: {samples: 1000}
cohorts:
  - {id: alpha}
  - {id: beta, training: {seed: 7}}
gate:
  max_ece: 0.08
  min_accuracy: 0.85
sla:
  p95_ms: 220
  p99_ms: 500
"""


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.path, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def write(self, name: str, text: str) -> None:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


def new_repo(path: Path, branch: str = "main") -> Repo:
    path.mkdir(parents=True, exist_ok=True)
    repo = Repo(path)
    repo.git("init", "-q", "-b", branch)
    return repo


def diff_rows(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, list[str]]]:
    """Exit code and ``{"spec key": [old, new, change, note]}`` from the markdown output."""
    code = main(["diff", *args, "--format", "md"])
    rows: dict[str, list[str]] = {}
    spec = ""
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("### "):
            spec = line.removeprefix("### ").strip("`")
        elif line.startswith("| `"):
            key, old, new, change, note = (cell.strip() for cell in line.strip("|").split(" | "))
            rows[f"{spec} {key.strip('`')}"] = [old, new, change.strip("*"), note]
    return code, rows


@pytest.fixture
def git_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Git that ignores the machine's configuration and needs no identity set up."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Spec Author")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "author@example.com")


@pytest.fixture
def repo(tmp_path: Path, git_env: None, monkeypatch: pytest.MonkeyPatch) -> Repo:
    made = new_repo(tmp_path / "repo")
    made.write("specs/mine.yaml", BASE_SPEC)
    made.write("README.md", "not a spec\n")
    made.commit("base")
    monkeypatch.chdir(made.path)
    return made
