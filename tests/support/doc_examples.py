"""The fenced examples of README.md and docs/*.md, read the way tests/docs/ runs them.

Every fenced block has one disposition, so an example cannot be added and forgotten:

- a ``yaml`` block whose first line is a path comment (``# specs/name.yaml``) is that file;
- ``<!-- example: fragment of specs/name.yaml -->`` before a ``yaml`` block: the block's
  top-level sections replace the same sections of that spec (the latest full block of that
  path in the same page, else in README.md, else the repository's file) and are appended at
  its end, so the lines a later output quotes are those of the merged text;
- ``bash``, ``shell`` and ``sh`` blocks are commands, run in a temporary project; ``python``
  blocks are scripts, run there too;
- ``<!-- example: fails: N -->`` before a command block: each command must exit with ``N``, and
  the comment lines under a command (``# error: ...``) are lines it must print, ``...`` standing
  for any text;
- ``<!-- example: invalid -->`` before a full ``yaml`` block: a spec that must be refused; the
  ``output`` block after it quotes lines of the refusal (``...`` standing for any text);
- ``<!-- example: output -->`` before a ``text`` (or unlabelled) block: quoted output, whose
  item ids and ``file:line:col (key)`` locations are checked against the nearest spec above it;
- ``<!-- example: ci: reason -->``: commands .ci/run runs, checked against that script;
- ``<!-- example: not-run: reason -->``: shown only, for the reason given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

COMMAND_LANGUAGES = {"bash", "shell", "sh", "python"}
OUTPUT_LANGUAGES = {"text", ""}
_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\s*$")
_MARKER = re.compile(r"^\s*<!-- example: (?P<kind>[a-z-]+)(?::? ?(?P<arg>.*?))? -->\s*$")
_PATH_COMMENT = re.compile(r"^# (?P<path>[\w./-]+\.ya?ml)\s*$")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)")
_TOP_KEY = re.compile(r"^(?P<key>[A-Za-z_][\w-]*):")


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: where it starts, its language, its text (dedented by the
    fence's indentation) and the marker comment right above it, if any."""

    page: Path
    line: int
    lang: str
    text: str
    kind: str | None
    arg: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def spec_path(self) -> str | None:
        """The path a full YAML example names in its first line."""
        first = self.text.split("\n", 1)[0]
        match = _PATH_COMMENT.match(first)
        named = self.lang == "yaml" and self.kind in (None, "invalid")
        return match["path"] if match and named else None


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order."""
    lines = page.read_text(encoding="utf-8").split("\n")
    found: list[Block] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        indent = len(fence["indent"])
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines) and lines[index].strip() != "```":
            body.append(lines[index][indent:])
            index += 1
        previous = next((text for text in reversed(lines[:start]) if text.strip()), "")
        marker = _MARKER.match(previous)
        found.append(
            Block(
                page,
                start + 1,
                fence["lang"],
                "\n".join(body) + "\n",
                marker["kind"] if marker else None,
                (marker["arg"] or "").strip() if marker else "",
            )
        )
        index += 1
    return found


def merge_sections(base: str, fragment: str) -> str:
    """``base`` without the top-level sections ``fragment`` declares, then ``fragment``."""
    fragment_lines = [line for line in fragment.split("\n") if not _PATH_COMMENT.match(line)]
    replaced = {m["key"] for m in map(_TOP_KEY.match, fragment_lines) if m}
    kept: list[str] = []
    dropping = False
    for line in base.rstrip("\n").split("\n"):
        top = _TOP_KEY.match(line)
        if top is not None:
            dropping = top["key"] in replaced
        elif line and not line[0].isspace() and not line.startswith("#"):
            dropping = False
        if not dropping:
            kept.append(line)
    return "\n".join(kept + fragment_lines).rstrip("\n") + "\n"


def commands(block: Block) -> list[str]:
    """The commands of a command block, continuation lines joined, comments dropped."""
    joined = block.text.replace("\\\n", " ")
    return [
        line.strip() for line in joined.split("\n") if line.strip() and not line.startswith("#")
    ]


def expected_lines(block: Block) -> list[tuple[str, list[str]]]:
    """Each command of a ``fails`` block with the output lines quoted in comments under it."""
    found: list[tuple[str, list[str]]] = []
    for line in block.text.replace("\\\n", " ").split("\n"):
        if line.startswith("# ") and found:
            found[-1][1].append(line.removeprefix("# "))
        elif line.strip() and not line.startswith("#"):
            found.append((line.strip(), []))
    return found


def quoted_pattern(line: str) -> re.Pattern[str]:
    """A quoted output line as a pattern: the text as is, ``...`` standing for anything."""
    return re.compile(".*".join(re.escape(part) for part in line.strip().split("...")))


def links(page: Path) -> list[tuple[int, str]]:
    """``(line, target)`` of every markdown link outside fenced blocks."""
    found: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(page.read_text(encoding="utf-8").split("\n"), 1):
        if _FENCE.match(line) or (fenced and line.strip() == "```"):
            fenced = not fenced
            continue
        if not fenced:
            found += [(number, match["target"]) for match in _LINK.finditer(line)]
    return found


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for the headings of ``page``: lower case, punctuation dropped, spaces
    as hyphens, a repeated heading numbered."""
    seen: dict[str, int] = {}
    fenced = False
    for line in page.read_text(encoding="utf-8").split("\n"):
        if _FENCE.match(line) or (fenced and line.strip() == "```"):
            fenced = not fenced
            continue
        heading = re.match(r"^#{1,6} (.+?)\s*$", line)
        if fenced or heading is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading[1].strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        if count:
            seen[f"{slug}-{count}"] = 1
    return set(seen)
