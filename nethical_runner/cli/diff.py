"""The ``diff`` subcommand: arguments, git revisions in, a table or markdown out.

Without arguments it compares what a pull request from the current branch would change: the
merge base with the default branch against the working tree (uncommitted edits included), so
the same command works on a laptop before pushing and in CI on the checked-out branch.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from nethical_runner.report.specdiff.gitsource import GitError
from nethical_runner.report.specdiff.render import markdown, terminal
from nethical_runner.report.specdiff.revisions import spec_diff
from nethical_runner.report.specdiff.rules import LOOSENED
from nethical_runner.run.options import DEFAULT_SPEC_DIRS

EXIT_OK, EXIT_LOOSENED, EXIT_ERROR = 0, 1, 2


def add_diff_parser(commands: Any) -> None:
    """Register ``diff`` on the command line's subparsers."""
    diff = commands.add_parser(
        "diff",
        help="what changed in spec files between two git revisions",
        description="List every changed key of every changed spec, and whether each threshold "
        "change LOOSENED or TIGHTENED the bar (a removed check counts as loosened).",
    )
    diff.add_argument(
        "base",
        nargs="?",
        metavar="BASE",
        help="git revision to compare from (default: merge base of HEAD with the default "
        "branch: origin/HEAD, else main or master)",
    )
    diff.add_argument(
        "head", nargs="?", metavar="HEAD", help="git revision to compare to (default: the "
        "working tree, uncommitted changes included)",
    )  # fmt: skip
    diff.add_argument(
        "--spec-dir",
        action="append",
        default=None,
        metavar="PATH",
        help="folder (or file) holding specs, relative to the current folder; repeatable "
        f"(default: {', '.join(DEFAULT_SPEC_DIRS)})",
    )
    diff.add_argument(
        "--format", choices=("table", "md"), default="table", help="output (default: table)"
    )
    diff.add_argument(
        "--fail-on-loosened",
        action="store_true",
        help="exit 1 when any threshold was loosened or any check removed",
    )


def run_diff(args: argparse.Namespace) -> int:
    try:
        found = spec_diff(args.base, args.head, args.spec_dir or DEFAULT_SPEC_DIRS)
    except GitError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    render = markdown if args.format == "md" else terminal
    sys.stdout.write(render(found.changes, found.base_label, found.head_label))
    loosened = any(change.verdict == LOOSENED for change in found.changes)
    return EXIT_LOOSENED if args.fail_on_loosened and loosened else EXIT_OK
