"""``nethical-runner validate specs/``: a folder stands for the specs below it, as it does for
``pytest specs/``, which is how the README tells a newcomer to check their specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from nethical_runner.cli.main import main

GOOD = "version: 1\nname: {name}\nmodel: {{type: heuristic}}\n"


def test_a_folder_validates_every_spec_below_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "specs" / "team").mkdir(parents=True)
    (tmp_path / "specs" / "one.yaml").write_text(GOOD.format(name="one"))
    (tmp_path / "specs" / "team" / "two.yml").write_text(GOOD.format(name="two"))
    (tmp_path / "specs" / "notes.txt").write_text("not a spec")
    assert main(["validate", str(tmp_path / "specs")]) == 0
    out = capsys.readouterr().out
    assert "one.yaml: ok" in out
    assert "two.yml: ok" in out
    assert "notes.txt" not in out


def test_a_bad_spec_in_the_folder_fails_with_its_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "good.yaml").write_text(GOOD.format(name="good"))
    (tmp_path / "specs" / "bad.yaml").write_text(
        GOOD.format(name="bad") + "gate: {min_acuracy: 1}\n"
    )
    assert main(["validate", str(tmp_path / "specs")]) == 2
    captured = capsys.readouterr()
    assert "good.yaml: ok" in captured.out
    assert "bad.yaml:4:8: gate.min_acuracy" in captured.err


def test_a_folder_without_specs_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["validate", str(tmp_path / "empty")]) == 2
    assert "empty" in capsys.readouterr().err
