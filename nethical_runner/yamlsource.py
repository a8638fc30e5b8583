"""A safe YAML reader that remembers where every value came from.

Specs arrive in pull requests, so they are untrusted: only PyYAML's safe composer ever touches
them, no tag other than the core schema's is accepted, and aliases are counted so that a
"billion laughs" document is refused instead of expanded. Every value's line and column is kept
so that a validation error can point at the exact spot in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

KeyPath = tuple[str | int, ...]

MAX_SPEC_BYTES = 1024 * 1024
MAX_NODES = 20_000
_CORE_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}
_YAML12_BOOLEANS = {"true", "false"}
# libyaml's parser when PyYAML was built with it (several times faster at collection), else
# the pure-Python one; both only compose nodes, nothing is constructed from tags.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Mark:
    """A 1-based line and column in a file."""

    line: int
    column: int


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec, located in its file."""

    path: Path
    mark: Mark
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.mark.line}:{self.mark.column}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


@dataclass
class Document:
    """Plain Python data of a YAML file plus the position of each value by key path.

    ``problems`` lists values that were refused (duplicate keys, YAML 1.1 booleans, empty
    values, foreign tags); they are left out of ``data`` so that schema validation can still
    report everything else in the same pass.
    """

    data: Any
    marks: dict[KeyPath, Mark] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    key_marks: dict[KeyPath, Mark] = field(default_factory=dict)

    def key_mark_of(self, path: KeyPath) -> Mark:
        """Where the key of ``path`` is written (for errors about the key itself)."""
        return self.key_marks.get(path) or self.mark_of(path)

    def mark_of(self, path: KeyPath) -> Mark:
        """The position of ``path``, or of its closest ancestor that has one."""
        for cut in range(len(path), -1, -1):
            mark = self.marks.get(path[:cut])
            if mark is not None:
                return mark
        return Mark(1, 1)


def format_key(path: KeyPath) -> str:
    """``("cohorts", 1, "id")`` -> ``cohorts[1].id``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class SpecSyntaxError(Exception):
    """The file is not a YAML document we are willing to read; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def read_yaml(path: Path, text: str | None = None) -> Document:
    """Parse ``path`` (or ``text`` when given) into a :class:`Document`.

    Raises :class:`SpecSyntaxError` only when the text cannot be read as YAML at all; refused
    values are collected in :attr:`Document.problems`.
    """
    if text is None:
        raw = path.read_bytes()
        if len(raw) > MAX_SPEC_BYTES:
            raise SpecSyntaxError(
                [
                    Problem(
                        path,
                        Mark(1, 1),
                        "",
                        f"file is larger than {MAX_SPEC_BYTES} bytes",
                    )
                ]
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise SpecSyntaxError(
                [
                    Problem(
                        path,
                        Mark(1, 1),
                        "",
                        f"not UTF-8 text ({error.reason} at byte {error.start})",
                    )
                ]
            ) from None
    try:
        root = yaml.compose(text, Loader=_SAFE_LOADER)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = Mark(mark.line + 1, mark.column + 1) if mark else Mark(1, 1)
        detail = " ".join(str(part) for part in (error.context, error.problem) if part)
        raise SpecSyntaxError([Problem(path, where, "", f"invalid YAML: {detail}")]) from None
    except yaml.YAMLError as error:
        raise SpecSyntaxError([Problem(path, Mark(1, 1), "", f"invalid YAML: {error}")]) from None
    if root is None:
        raise SpecSyntaxError([Problem(path, Mark(1, 1), "", "the file is empty")])
    builder = _Builder(path)
    data = builder.build(root, ())
    return Document(
        None if data is _REFUSED else data,
        builder.marks,
        builder.problems,
        builder.key_marks,
    )


_REFUSED = object()  # stands for a value that was reported and is left out of the data


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns composed nodes into plain data, refusing anything outside the core schema."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.marks: dict[KeyPath, Mark] = {}
        self.key_marks: dict[KeyPath, Mark] = {}
        self.problems: list[Problem] = []
        self._nodes_seen = 0
        self._constructor = SafeConstructor()

    def _problem(self, node: Node, key: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.path, _mark(node), format_key(key), message))

    def build(self, node: Node, key: KeyPath) -> Any:
        self._nodes_seen += 1
        if self._nodes_seen > MAX_NODES:
            if self._nodes_seen == MAX_NODES + 1:
                self._problem(node, key, f"more than {MAX_NODES} values (alias expansion?)")
            return None
        self.marks[key] = _mark(node)
        if node.tag not in _CORE_TAGS:
            self._problem(node, key, f"tag {node.tag!r} is not allowed")
            return _REFUSED
        if isinstance(node, MappingNode):
            return self._mapping(node, key)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*key, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return self._scalar(node, key)

    def _mapping(self, node: MappingNode, key: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                self._problem(key_node, key, "only plain keys are allowed (no merge keys)")
                continue
            if key_node.tag != "tag:yaml.org,2002:str":
                self._problem(key_node, key, f"key {key_node.value!r} must be a string (quote it)")
                continue
            name = key_node.value
            if (*key, name) in self.key_marks:
                first = self.key_marks[(*key, name)]
                self._problem(
                    key_node,
                    (*key, name),
                    f"duplicate key (first defined on line {first.line})",
                )
                continue
            self.key_marks[(*key, name)] = _mark(key_node)
            value = self.build(value_node, (*key, name))
            if value is not _REFUSED:
                result[name] = value
        return result

    def _scalar(self, node: ScalarNode, key: KeyPath) -> Any:
        if node.tag == "tag:yaml.org,2002:null":
            self._problem(node, key, "empty value (remove the key to use its default)")
            return _REFUSED
        if node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in _YAML12_BOOLEANS:
            self._problem(
                node,
                key,
                f"{node.value!r} is a YAML 1.1 boolean; write true or false, or quote it",
            )
            return _REFUSED
        return self._constructor.construct_object(node)
