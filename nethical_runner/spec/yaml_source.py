"""A safe YAML reader that remembers where every value came from.

Specs arrive in pull requests, so they are untrusted: only PyYAML's safe composer ever touches
them, no tag other than the core schema's is accepted, and aliases are counted so that a
"billion laughs" document is refused instead of expanded. The file is read only up to its size
limit (a symlink to ``/dev/zero`` must not be read forever) and nesting is capped, because
PyYAML composes recursively and a few kilobytes of ``[[[[`` would otherwise end in a
``RecursionError`` instead of a located problem. Aliases can nest deeper than the text does
(a chain of anchors, each one level deeper than the last) or contain themselves
(``a: &a [*a]``), so building values counts depth again and refuses cycles. A core tag on text
it cannot read (``!!int "abc"``) or on the wrong kind of node (``!!map [1]``) is a problem, not
PyYAML's ``ValueError``. YAML 1.1 reads ``1:30`` as 90 and ``010`` as 8 where YAML 1.2 and
every reader sees something else, so both forms are refused with what to write instead. Every
value's line and column is kept so that a validation error can point at the exact spot in the
file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode

from nethical_runner._escape import BRIEF_LIMIT, brief, terminal

KeyPath = tuple[str | int, ...]

MAX_SPEC_BYTES = 1024 * 1024
MAX_NODES = 20_000
MAX_DEPTH = 64  # far beyond any spec, far below Python's recursion limit
MAX_NUMBER_CHARS = 100
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
_YAML11_BOOLEANS = {"yes", "no", "on", "off"}
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
# YAML 1.1 forms that PyYAML reads as numbers YAML 1.2 does not: base 60 and leading-zero octal.
_SEXAGESIMAL = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_OCTAL = re.compile(r"[-+]?0[0-7_]+")


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
        """``file:line:col: key: message`` on one line that is safe to print: a file name or
        message holding a line break or control character shows it as an escape."""
        where = f"{self.path}:{self.mark.line}:{self.mark.column}"
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        return terminal(text)


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
    # The YAML 1.1 booleans refused (``yes``, ``off``...) as written, by key path: the schema
    # knows what the key takes, and so what the message should suggest instead
    yaml11_booleans: dict[KeyPath, str] = field(default_factory=dict)

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


def value_at(data: Any, key: KeyPath) -> Any:
    """The value a document's data holds at ``key``, or None where it holds none (a YAML file
    never holds a null: an empty value is refused)."""
    for part in key:
        in_list = isinstance(part, int) and isinstance(data, list) and part < len(data)
        in_mapping = isinstance(part, str) and isinstance(data, dict) and part in data
        if not (in_list or in_mapping):
            return None
        data = data[part]
    return data


def format_key(path: KeyPath) -> str:
    """``("cohorts", 1, "id")`` -> ``cohorts[1].id``. A key a spec made up that is long or not
    printable (``"x\\n::error ..."``) is quoted briefly, ``gate['x\\n::error ...']``, so the
    key path stays one short line wherever it is shown."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not part.isprintable() or len(part) > BRIEF_LIMIT:
            text += f"[{brief(part)}]"
        else:
            text += f".{part}" if text else part
    return text


class SpecSyntaxError(Exception):
    """The file is not a YAML document we are willing to read; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def read_spec_bytes(path: Path) -> bytes:
    """The bytes of ``path``, reading at most one byte past :data:`MAX_SPEC_BYTES`.

    Raises :class:`SpecSyntaxError` for a larger file and ``OSError`` when it cannot be read.
    """
    with path.open("rb") as handle:
        raw = handle.read(MAX_SPEC_BYTES + 1)
    if len(raw) > MAX_SPEC_BYTES:
        problem = Problem(path, Mark(1, 1), "", f"file is larger than {MAX_SPEC_BYTES} bytes")
        raise SpecSyntaxError([problem])
    return raw


def read_yaml(path: Path, text: str | bytes | None = None) -> Document:
    """Parse ``path`` (or ``text`` when given, as read from ``path``) into a :class:`Document`.

    Raises :class:`SpecSyntaxError` only when the text cannot be read as YAML at all; refused
    values are collected in :attr:`Document.problems`.
    """
    raw = read_spec_bytes(path) if text is None else text
    if isinstance(raw, bytes):
        if len(raw) > MAX_SPEC_BYTES:
            problem = Problem(path, Mark(1, 1), "", f"file is larger than {MAX_SPEC_BYTES} bytes")
            raise SpecSyntaxError([problem])
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
    else:
        text = raw
    try:
        root = yaml.compose(text, Loader=_DepthLimitedLoader)
    except _TooDeep as error:
        message = f"nested more than {MAX_DEPTH} levels deep"
        raise SpecSyntaxError([Problem(path, error.mark, format_key(error.key), message)]) from None
    except yaml.reader.ReaderError as error:
        # Not a MarkedYAMLError: it knows only a character offset, and its text spans two lines.
        where = _offset_mark(text, error.position)
        detail = f"unacceptable character #x{error.character:04x} ({error.reason})"
        raise SpecSyntaxError([Problem(path, where, "", f"invalid YAML: {detail}")]) from None
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
        builder.yaml11_booleans,
    )


def _offset_mark(text: str, offset: int) -> Mark:
    """Line and column of a character offset into ``text`` (a byte order mark is no column)."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    if line == 1 and text.startswith("\ufeff"):
        column -= 1
    return Mark(line, column)


class _TooDeep(Exception):
    def __init__(self, mark: Mark, key: KeyPath) -> None:
        super().__init__(f"nested more than {MAX_DEPTH} levels deep")
        self.mark = mark
        self.key = key


class _DepthLimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, whose recursive composer stops at :data:`MAX_DEPTH` levels.

    Only used to compose nodes (``yaml.compose``); values are built by :class:`_Builder`. The
    key path of the current node is tracked from the ``index`` argument PyYAML passes down (a
    sequence position, or the key node of a mapping value), so the problem can name it.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._key_path: list[str | int] = []

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if parent is None:
            return super().compose_node(parent, index)
        if isinstance(index, ScalarNode):
            part: str | int = index.value
        elif isinstance(index, int) and not isinstance(index, bool):
            part = index
        else:
            part = "?"  # a mapping key: complex keys can nest as deep as values
        self._key_path.append(part)
        try:
            if len(self._key_path) > MAX_DEPTH and self.check_event(
                yaml.MappingStartEvent, yaml.SequenceStartEvent
            ):
                mark = self.peek_event().start_mark
                raise _TooDeep(Mark(mark.line + 1, mark.column + 1), tuple(self._key_path))
            return super().compose_node(parent, index)
        finally:
            self._key_path.pop()


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
        self.yaml11_booleans: dict[KeyPath, str] = {}
        self._nodes_seen = 0
        self._open: set[int] = set()  # ids of the collections being built, to find cycles
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
            self._problem(node, key, f"tag {brief(node.tag)} is not allowed")
            return _REFUSED
        if isinstance(node, ScalarNode):
            return self._scalar(node, key)
        tag, kind = ("map", "a mapping") if isinstance(node, MappingNode) else ("seq", "a sequence")
        if node.tag != f"tag:yaml.org,2002:{tag}":
            self._problem(node, key, f"tag {_short(node.tag)} does not fit {kind}")
            return _REFUSED
        # Composition capped the depth of the text; aliases can nest deeper, or loop.
        if id(node) in self._open:
            self._problem(node, key, "the value contains itself through an alias")
            return _REFUSED
        if len(key) > MAX_DEPTH:
            self._problem(node, key, f"nested more than {MAX_DEPTH} levels deep")
            return _REFUSED
        self._open.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, key)
            items = [self.build(item, (*key, index)) for index, item in enumerate(node.value)]
            # Dropping a refused item would shift the positions later problems are named by.
            return _REFUSED if any(item is _REFUSED for item in items) else items
        finally:
            self._open.discard(id(node))

    def _mapping(self, node: MappingNode, key: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                self._problem(key_node, key, "only plain keys are allowed (no merge keys)")
                continue
            if key_node.tag != "tag:yaml.org,2002:str":
                self._problem(
                    key_node, key, f"key {brief(key_node.value)} must be a string (quote it)"
                )
                continue
            name = key_node.value
            path: KeyPath = (*key, name)
            if path in self.key_marks:
                first = self.key_marks[path]
                self._problem(key_node, path, f"duplicate key (first defined on line {first.line})")
                continue
            self.key_marks[path] = _mark(key_node)
            value = self.build(value_node, path)
            if value is not _REFUSED:
                result[name] = value
        return result

    def _scalar(self, node: ScalarNode, key: KeyPath) -> Any:
        if node.tag == "tag:yaml.org,2002:null":
            self._problem(node, key, "empty value (remove the key to use its default)")
            return _REFUSED
        if node.tag in ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
            self._problem(node, key, f"tag {_short(node.tag)} does not fit a plain value")
            return _REFUSED
        if node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in _YAML12_BOOLEANS:
            if node.value.lower() in _YAML11_BOOLEANS:
                self.yaml11_booleans[key] = node.value
                message = (
                    f"{brief(node.value)} is a YAML 1.1 boolean; write true or false, or quote it"
                )
            else:
                message = f"{brief(node.value)} is not a valid !!bool; write true or false"
            self._problem(node, key, message)
            return _REFUSED
        numeric = node.tag in (_INT_TAG, _FLOAT_TAG)
        if numeric and len(node.value) > MAX_NUMBER_CHARS:
            # Python refuses to convert or print integers of more than 4300 digits (hex ones
            # convert but still cannot be shown in a message); no spec value needs a long number.
            shown = f"{node.value[:20]}..."
            self._problem(
                node,
                key,
                f"{shown!r} is a number of {len(node.value)} characters, too long to read",
            )
            return _REFUSED
        try:
            value = self._constructor.construct_object(node)
        except (ValueError, IndexError, KeyError, yaml.YAMLError):
            # PyYAML converts explicitly tagged text without checking it: ``!!int ""`` ends in
            # an IndexError.
            self._problem(node, key, f"{brief(node.value)} is not a valid {_short(node.tag)}")
            return _REFUSED
        if numeric:
            refusal = _yaml11_number(node.value, value)
            if refusal:
                self._problem(node, key, refusal)
                return _REFUSED
        return value


def _short(tag: str) -> str:
    """``tag:yaml.org,2002:int`` -> ``!!int``, as it is written."""
    return tag.replace("tag:yaml.org,2002:", "!!", 1)


def _yaml11_number(text: str, value: object) -> str | None:
    """Why ``text``, read as ``value``, means something else in YAML 1.2; None if it does not."""
    if _SEXAGESIMAL.fullmatch(text):
        return (
            f"{text!r} is a YAML 1.1 sexagesimal number (read as {value}); write {value}, "
            "or quote it"
        )
    if _OCTAL.fullmatch(text):
        decimal = int(text.replace("_", ""), 10)
        written = f"write {decimal} without the leading zero"
        if decimal != value:
            written += f" or {value} for the octal value"
        return f"{text!r} is a YAML 1.1 octal number (read as {value}); {written}, or quote it"
    return None
