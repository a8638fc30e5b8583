"""The JSON Schema shipped for editors: current, complete, and what the command line writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nethical_runner.cli.main import main
from nethical_runner.spec.jsonschema import SCHEMA_PATH, schema_text, spec_schema

SPEC_DOCS = Path(__file__).parents[2] / "docs" / "spec.md"


def test_the_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "nethical_runner/spec/spec.schema.json is out of date: run `nethical-runner schema --write`"
    )


def _properties(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], bool]]:
    """(section, key, property schema, required) of every key of every section."""
    sections = {"SpecDocument": schema, **schema["$defs"]}
    return [
        (name, key, prop, key in section.get("required", ()))
        for name, section in sections.items()
        for key, prop in section.get("properties", {}).items()
    ]


def test_every_key_has_a_description_and_every_optional_key_a_default() -> None:
    found = _properties(spec_schema())
    assert len(found) > 80
    undescribed = [
        f"{section}.{key}" for section, key, prop, _ in found if not prop.get("description")
    ]
    no_default = [
        f"{section}.{key}"
        for section, key, prop, required in found
        if not required and "default" not in prop
    ]
    assert undescribed == []
    assert no_default == []


def test_section_defaults_are_the_seeds() -> None:
    properties = spec_schema()["properties"]
    assert properties["training"]["default"] == {"epochs": 10, "batch_size": 32, "seed": 42}
    assert properties["gate"]["default"]["min_accuracy"] == 0.85
    assert properties["regression"]["default"] is None
    assert "max_drop" in spec_schema()["$defs"]["RegressionConfig"]["properties"]


def test_schema_write_regenerates_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "spec.schema.json"
    assert main(["schema", "--write", str(target)]) == 0
    assert capsys.readouterr().out == f"schema written to {target}\n"
    assert target.read_text(encoding="utf-8") == schema_text()
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == spec_schema()


def test_the_schema_is_package_data(tmp_path: Path) -> None:
    listed = subprocess.run(
        [sys.executable, "-c", "import importlib.resources as r; "
         "print(r.files('nethical_runner').joinpath('spec', 'spec.schema.json').is_file())"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    assert listed.stdout.strip() == "True"
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert 'nethical_runner = ["py.typed", "*.pyi", "spec/*.json"]' in pyproject


def test_the_spec_reference_shows_the_editor_modeline() -> None:
    assert "# yaml-language-server: $schema=" in SPEC_DOCS.read_text()
