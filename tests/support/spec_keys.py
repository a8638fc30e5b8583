"""The table of every spec key in docs/spec.md, built from the packaged JSON Schema.

The table is written from the schema rather than by hand so that it says what the loader
accepts; tests/docs/ compares the two. To rewrite it after a change to the spec format::

    python tests/support/spec_keys.py --write
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

BEGIN = "<!-- keys: begin (python tests/support/spec_keys.py --write) -->"
END = "<!-- keys: end -->"
SPEC_PAGE = Path(__file__).resolve().parents[2] / "docs" / "spec.md"


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The definition a node stands for (through ``$ref`` and ``X | None``), and its name."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return name, defs[name]
    options = [o for o in node.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        return _resolve(options[0], defs)
    return None, node


def _default(node: dict[str, Any]) -> str:
    if "default" not in node or node["default"] in (None, [], {}):
        return ""
    return f"`{json.dumps(node['default'])}`"


def rows(schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(key, default, meaning)`` for every key a spec can hold; a section of per-metric
    bounds is one row naming its metrics."""
    defs = schema.get("$defs", {})
    found: list[tuple[str, str, str]] = []

    def walk(prefix: str, node: dict[str, Any]) -> None:
        name, target = _resolve(node, defs)
        description = node.get("description") or target.get("description", "")
        if target.get("type") == "array" and "items" in target:
            _, item = _resolve(target["items"], defs)
            if "properties" in item:
                found.append((prefix, _default(node), description))
                walk(f"{prefix}[]", target["items"])
                return
        properties = target.get("properties", {})
        if properties and name is not None and name.endswith("Bounds"):
            metrics = ", ".join(properties)
            found.append((f"{prefix}.<metric>", "", f"{description} Metrics: {metrics}."))
            return
        if properties:
            for key, child in properties.items():
                walk(f"{prefix}.{key}" if prefix else key, child)
            return
        choices = target.get("enum") or [
            o["const"] for o in target.get("anyOf", []) if "const" in o
        ]
        if choices:
            description += " One of: " + ", ".join(f"`{choice}`" for choice in choices) + "."
        found.append((prefix, _default(node), description.strip()))

    walk("", schema)
    return found


def table(schema: dict[str, Any]) -> str:
    lines = [BEGIN, "| key | default | meaning |", "| --- | --- | --- |"]
    for key, default, meaning in rows(schema):
        escaped = meaning.replace("|", "\\|")
        lines.append(f"| `{key}` | {default} | {escaped} |")
    return "\n".join([*lines, END])


def current_table(page: str) -> str:
    """The generated part of ``page``, markers included."""
    start = page.index(BEGIN)
    return page[start : page.index(END, start) + len(END)]


if __name__ == "__main__":
    sys.path.insert(0, str(SPEC_PAGE.parents[1]))
    from nethical_runner.spec.jsonschema import schema_text

    fresh = table(json.loads(schema_text()))
    if sys.argv[1:] == ["--write"]:
        text = SPEC_PAGE.read_text(encoding="utf-8")
        SPEC_PAGE.write_text(text.replace(current_table(text), fresh), encoding="utf-8")
    else:
        print(fresh)
