"""The escapers of untrusted text, one output at a time."""

from __future__ import annotations

import re
import time

import pytest

from nethical_runner._escape import (
    ZERO_WIDTH_SPACE,
    brief,
    clip,
    markdown,
    markdown_code,
    printable,
    terminal,
    terminal_lines,
    workflow_data,
    workflow_property,
)
from nethical_runner.report.github import command


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain text: 0.93 < 0.95", "plain text: 0.93 < 0.95"),
        ("a\n::error file=x::pwned", "a\\n::error file=x::pwned"),
        ("::stop-commands::token", "\\x3a:stop-commands::token"),
        ("   ::error::x", "   \\x3a:error::x"),
        ("mid ##[error]line", "mid ##\\x5berror]line"),
        ("\x1b[2K\r\tbell\x07", "\\x1b[2K\\r\\tbell\\x07"),
        ("bidi \u202eevil", "bidi \\u202eevil"),
        ("bad\udcff.yaml", "bad\\xff.yaml"),  # a byte surrogateescape kept: shown as the byte
        ("\U000e0001tag", "\\U000e0001tag"),
    ],
)
def test_terminal_shows_control_characters_and_commands_as_escapes(text: str, shown: str) -> None:
    assert terminal(text) == shown
    assert terminal(shown) == shown  # escaping twice changes nothing
    assert "\n" not in terminal(text) and shown.isprintable()


def test_terminal_lines_keeps_a_messages_lines_but_no_line_starts_a_command() -> None:
    text = "audit log is not intact:\n  ::stop-commands::t\n::error::x \x1b[2J"
    assert terminal_lines(text) == (
        "audit log is not intact:\n  \\x3a:stop-commands::t\n\\x3a:error::x \\x1b[2J"
    )


def test_printable_keeps_printable_unicode() -> None:
    assert printable("café ∑ 中文 C:\\dir") == "café ∑ 中文 C:\\dir"


def test_workflow_escapes_follow_the_runner() -> None:
    assert workflow_data("50% \r\n::error::x") == "50%25 %0D%0A::error::x"
    assert workflow_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert workflow_data("\x1b[31mred") == "\\x1b[31mred"
    line = command("error", "m\n::stop-commands::t", file="x\n::error::y", title="t,u:v")
    assert "\n" not in line
    assert line == "::error file=x%0A%3A%3Aerror%3A%3Ay,title=t%2Cu%3Av::m%0A::stop-commands::t"


def test_markdown_leaves_no_html_or_markup() -> None:
    assert markdown("<img src=x onerror=alert(1)> & co") == (
        "&lt;img src=x onerror=alert(1)&gt; &amp; co"
    )
    assert markdown("*b* _i_ `c` [l](u) ~~s~~ \\") == (
        "\\*b\\* \\_i\\_ \\`c\\` \\[l\\](u) \\~\\~s\\~\\~ \\\\"
    )
    assert markdown("two\nlines") == "two\\\\nlines"


@pytest.mark.parametrize(
    ("text", "trigger"),
    [
        ("ping @org/team and @someone", "@[a-z]"),
        ("see https://evil.example/x", "://"),
        ("www.evil.example", "www\\."),
        ("fixes owner/repo#12 and #3", "#[0-9]"),
    ],
)
def test_markdown_text_mentions_links_and_references_nobody(text: str, trigger: str) -> None:
    """summary.md is posted as a pull-request comment and a job summary, where GitHub turns
    ``@team`` into a notification, an address into a link and ``#12`` into a cross-reference;
    a zero-width space (invisible) inside the trigger stops each, and the text reads the same."""
    shown = markdown(text)
    assert re.search(trigger, shown) is None
    assert shown.replace(ZERO_WIDTH_SPACE, "") == text


def test_markdown_code_cannot_be_closed_from_inside() -> None:
    assert markdown_code("mine::alpha::gate[ece]") == "`mine::alpha::gate[ece]`"
    assert markdown_code("a`b``c") == "```a`b``c```"
    assert markdown_code("`x") == "`` `x ``"
    # a backslash could unescape a table's \| from inside a span: HTML code, escaped
    assert markdown_code("a\\|<b>") == "<code>a\\\\|&lt;b&gt;</code>"


def test_brief_quotes_a_prefix_and_says_how_long() -> None:
    assert brief("abc") == "'abc'"
    assert brief("a\nb") == "'a\\nb'"
    assert brief("x" * 1000, 10) == "'xxxxxxxxxx'... (1000 characters)"
    assert brief(1.5) == "1.5"
    assert brief(list(range(100)), 20) == "[0, 1, 2, 3, 4, 5, 6... (390 characters)"


def test_brief_of_a_50_mb_value_costs_its_prefix_only() -> None:
    value = "y" * (50 * 1024 * 1024)
    started = time.perf_counter()
    quoted = brief(value)
    assert time.perf_counter() - started < 0.05
    assert len(quoted) < 250 and quoted.endswith("... (52428800 characters)")


def test_clip_bounds_a_message() -> None:
    assert clip("short") == "short"
    assert clip("z" * 50, 10) == "zzzzzzzzzz... (cut; 50 characters)"
