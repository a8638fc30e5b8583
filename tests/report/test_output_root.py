"""The output root keeps itself out of git: a ``.gitignore`` of ``*`` written on the first
run, atomically, never replacing one that is there and never into the project itself."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
from support import specdiff_repo

from nethical_runner._files import atomic_create_text
from nethical_runner.cli.main import main

git_env = specdiff_repo.git_env
SPEC = "version: 1\nname: kept\nmodel: {type: heuristic}\ndata: {samples: 300}\n"


def run(cwd: Path, *extra: str) -> int:
    (cwd / "kept.yaml").write_text(SPEC)
    return main(["run", str(cwd / "kept.yaml"), *extra])


def test_git_sees_none_of_a_runs_outputs(
    tmp_path: Path, git_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    assert run(tmp_path) == 0
    assert (tmp_path / "nethical-out" / ".gitignore").read_text() == "*\n"
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert status.splitlines() == ["?? kept.yaml"]


def test_a_gitignore_the_user_changed_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ignore = tmp_path / "nethical-out" / ".gitignore"
    ignore.parent.mkdir()
    ignore.write_text("models/\n")
    assert run(tmp_path) == 0
    assert ignore.read_text() == "models/\n"


def test_no_gitignore_in_the_project_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(tmp_path, "--out", ".") == 0
    assert (tmp_path / "results.json").exists() and not (tmp_path / ".gitignore").exists()
    project = tmp_path / "other"
    (project / ".git").mkdir(parents=True)
    assert run(tmp_path, "--out", str(project)) == 0
    assert not (project / ".gitignore").exists()


def test_creating_never_replaces_and_racing_writers_leave_one_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "root" / ".gitignore"
    results: list[bool] = []
    writers = [
        threading.Thread(target=lambda n=n: results.append(atomic_create_text(path, f"{n}\n")))
        for n in range(8)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert results.count(True) == 1
    assert path.read_text() in {f"{n}\n" for n in range(8)}
    assert [p.name for p in path.parent.iterdir()] == [".gitignore"]  # no temp file left
