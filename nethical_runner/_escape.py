"""Text from specs, data files and file names, made safe for where it is shown.

Everything a run prints or writes that came from outside (a spec key, a CSV column name or
value, a file name) is untrusted. On a terminal a line break in it starts a new line that GitHub
Actions reads as a workflow command (``::error ...``, or ``::stop-commands::`` which silences the
real annotations after it; the runner also reads the legacy ``##[command]`` anywhere in a line);
an ANSI sequence rewrites the screen; in ``summary.md`` raw HTML is rendered; and a 50 MB field
quoted whole makes a 50 MB log line. Hence:

- :func:`brief` quotes a value at its source, in an error message: ``repr`` of at most a prefix,
  so line breaks and control characters are escapes and the length is bounded.
- :func:`clip` bounds a whole message that is already written.
- :func:`terminal` (:func:`terminal_lines`), :func:`workflow_data`, :func:`workflow_property`,
  :func:`markdown` and :func:`markdown_code` escape for each output, at its boundary, whatever
  was not quoted.

Non-printable characters become Python-style escapes (``\\n``, ``\\x1b``, ``\\u202e``); a byte
that was not UTF-8 in a file name (``surrogateescape``'s ``\\udcff``) becomes ``\\xff``, the
byte itself. Backslashes are left alone, so escaping twice changes nothing. Module at the
bottom layer: the spec and data layers quote their values with it too.
"""

from __future__ import annotations

import html
import re

BRIEF_LIMIT = 200  # characters of a quoted value
MESSAGE_LIMIT = 2000  # characters of a whole message
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_MARKDOWN_PUNCTUATION = "\\`*_[]~"
ZERO_WIDTH_SPACE = "\u200b"
# What GitHub acts on in rendered markdown, each broken by an invisible zero-width space (once:
# text made inert again stays as it is)
_GITHUB_ACTS_ON = (
    (re.compile("@(?!\u200b)"), "@" + ZERO_WIDTH_SPACE),  # no @user or @org/team mention
    (re.compile("://"), ":" + ZERO_WIDTH_SPACE + "//"),  # no bare URL autolink
    (re.compile("www\\.", re.IGNORECASE), lambda m: m[0][:-1] + ZERO_WIDTH_SPACE + "."),
    (re.compile("#(?=[0-9])"), "#" + ZERO_WIDTH_SPACE),  # no issue cross-reference
    (re.compile("<!--"), "<" + ZERO_WIDTH_SPACE + "!--"),  # no hidden text, no fake marker
)


class _Escapes(dict[int, str]):
    """``str.translate`` table of every code point, filled on first use: printable characters
    (and ``kept`` ones) map to themselves, the others to their escape; later look-ups run at C
    speed."""

    def __init__(self, kept: str = "") -> None:
        super().__init__()
        self.kept = kept

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char.isprintable() or char in self.kept:
            shown = char
        elif char in _SHORT_ESCAPES:
            shown = _SHORT_ESCAPES[char]
        elif 0xDC80 <= code <= 0xDCFF:  # a byte surrogateescape could not decode
            shown = f"\\x{code - 0xDC00:02x}"
        elif code < 0x100:
            shown = f"\\x{code:02x}"
        elif code < 0x10000:
            shown = f"\\u{code:04x}"
        else:
            shown = f"\\U{code:08x}"
        self[code] = shown
        return shown


_ESCAPES = _Escapes()
_ESCAPES_BUT_LINE_BREAKS = _Escapes(kept="\r\n")


def printable(text: str) -> str:
    """``text`` on one line, every non-printable character (line breaks, tabs, ESC, bidi
    controls, lone surrogates) shown as its escape."""
    return text if text.isprintable() else text.translate(_ESCAPES)


def terminal(text: str) -> str:
    """``text`` as one safe terminal line: :func:`printable`, and no workflow command, neither
    at its start (``::``, after spaces, as the runner trims them) nor legacy ``##[`` anywhere."""
    shown = printable(text).replace("##[", "##\\x5b")
    stripped = shown.lstrip(" ")
    if stripped.startswith("::"):
        shown = shown[: len(shown) - len(stripped)] + "\\x3a" + stripped[1:]
    return shown


def terminal_lines(text: str) -> str:
    """A message of several lines (ours: an audit failure lists its findings) with each line
    made safe by :func:`terminal`; whatever line breaks it holds, no line starts a command."""
    return "\n".join(terminal(line) for line in text.split("\n"))


def workflow_data(text: str) -> str:
    """The message of a workflow command, by the runner's rules (``@actions/core``): ``%``,
    CR and LF as ``%25``, ``%0D``, ``%0A``; other control characters as escapes."""
    kept = text if text.isprintable() else text.translate(_ESCAPES_BUT_LINE_BREAKS)
    return kept.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow_property(text: str) -> str:
    """A property value of a workflow command (``file=``, ``title=``): also ``:`` and ``,``."""
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")


def markdown(text: str) -> str:
    """``text`` as literal inline markdown (a paragraph, a list item or a table cell): on one
    line, HTML escaped, and no emphasis, code, link or strikethrough syntax. Table pipes are
    the table's business (see :mod:`nethical_runner.report.markdown`)."""
    shown = github_inert(html.escape(printable(text), quote=False))
    for char in _MARKDOWN_PUNCTUATION:
        shown = shown.replace(char, "\\" + char)
    return shown


def github_inert(text: str) -> str:
    """``text`` with nothing GitHub acts on when it renders markdown (a pull-request comment,
    a job summary): a mention would notify a person or team, an address would become a link, a
    ``#12`` a cross-reference, ``<!--`` hide what follows."""
    for pattern, replacement in _GITHUB_ACTS_ON:
        text = pattern.sub(replacement, text)
    return text


def markdown_code(text: str) -> str:
    """``text`` as inline code: a backtick span fenced by more backticks than it holds in a
    row, so that none inside can close it (GFM; code spans show HTML literally). Text with a
    backslash is ``<code>`` around :func:`markdown` instead: inside a span a backslash cannot
    be escaped, and before a table's ``\\|`` it would turn the pipe back into a cell border."""
    shown = printable(text)
    if "\\" in shown:
        return f"<code>{markdown(shown)}</code>"
    longest = max((len(run) for run in re.findall("`+", shown)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def brief(value: object, limit: int = BRIEF_LIMIT) -> str:
    """``repr(value)`` of at most ``limit`` characters of it, for quoting a value in a message:
    ``'abc...' (52428800 characters)`` when longer. A string is cut before ``repr``, so a
    50 MB field costs its prefix only."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}... ({len(value)} characters)"
    shown = printable(repr(value))
    return shown if len(shown) <= limit else f"{shown[:limit]}... ({len(shown)} characters)"


def clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """A whole message cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... (cut; {len(text)} characters)"
