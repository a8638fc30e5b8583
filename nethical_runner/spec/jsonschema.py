"""The JSON Schema of spec files, generated from the typed spec models and shipped as a file.

Editors (the YAML language server behind VS Code, JetBrains, Neovim...) read a schema file,
not Python, so the package carries ``spec.schema.json`` next to this module; a test keeps it
byte-equal to what the models generate, and ``nethical-runner schema --write`` regenerates it
after a change to the spec format. The schema names no ``$schema`` dialect: pydantic writes
JSON Schema 2020-12, and the YAML language server warns on that declaration although it reads
everything this schema uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nethical_runner._files import atomic_write_text
from nethical_runner.spec import SpecDocument

SCHEMA_PATH = Path(__file__).with_name("spec.schema.json")
COMMENT = (
    "Generated from nethical_runner/spec/models.py by `nethical-runner schema --write`; "
    "do not edit by hand."
)


def spec_schema() -> dict[str, Any]:
    """The schema of a spec file, with a note on where it comes from."""
    return {"$comment": COMMENT, **SpecDocument.model_json_schema()}


def schema_text() -> str:
    """Stable text of :func:`spec_schema`: sorted keys, two-space indent, final newline."""
    return json.dumps(spec_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Write the schema to ``path`` (atomically) and return it."""
    atomic_write_text(path, schema_text())
    return path
