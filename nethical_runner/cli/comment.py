"""The ``comment`` subcommand: a run's results.json in, one pull-request comment body out.

CI runs it after ``pytest specs/`` and posts the body, editing the comment that starts with the
same hidden marker instead of adding one per push.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from nethical_runner._escape import terminal
from nethical_runner._files import atomic_write_text
from nethical_runner.checks.baseline import BaselineError, load_baseline, read_results
from nethical_runner.report.comment import CommentError, comment_body
from nethical_runner.report.specdiff.gitsource import GitError
from nethical_runner.report.specdiff.revisions import spec_diff
from nethical_runner.run.options import DEFAULT_OUT_DIR, DEFAULT_SPEC_DIRS

EXIT_OK, EXIT_ERROR = 0, 2


def add_comment_parser(commands: Any) -> None:
    """Register ``comment`` on the command line's subparsers."""
    comment = commands.add_parser(
        "comment",
        help="a pull-request comment body (markdown) from a run's results.json",
        description="Print one markdown body for a pull-request comment: a hidden marker "
        "(<!-- nethical-runner -->) CI finds to update the same comment, the failing and "
        "inconclusive checks, metric deltas against a baseline or the champions, and the "
        "loosened/tightened table of the spec changes.",
    )
    comment.add_argument(
        "--results",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"this run's results.json (default: results.json in --out or {DEFAULT_OUT_DIR}/)",
    )
    comment.add_argument("--out", type=Path, default=None, metavar="DIR", help="the output root")
    comment.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="PATH",
        help="results.json of the baseline run: a table of metric deltas against it",
    )
    comment.add_argument(
        "--baseline-missing",
        choices=("error", "skip"),
        default="error",
        help="what a --baseline path with nothing at it means: error (default), or skip, "
        "saying 'no baseline yet' in the comment",
    )
    comment.add_argument(
        "--diff-base",
        metavar="REV",
        default=None,
        help="add the spec changes since the merge base of HEAD with REV (e.g. origin/main)",
    )
    comment.add_argument(
        "--spec-dir",
        action="append",
        default=None,
        metavar="PATH",
        help=f"spec folder for --diff-base; repeatable (default: {', '.join(DEFAULT_SPEC_DIRS)})",
    )
    comment.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the body to PATH (atomically) instead of printing it",
    )


def run_comment(args: argparse.Namespace) -> int:
    results = args.results or (args.out or Path(DEFAULT_OUT_DIR)) / "results.json"
    try:
        document = read_results(results)
        baseline = load_baseline(args.baseline, args.baseline_missing) if args.baseline else None
        changes = None
        if args.diff_base is not None:
            dirs = args.spec_dir or DEFAULT_SPEC_DIRS
            changes = spec_diff(args.diff_base, None, dirs, since_merge_base=True)
        body = comment_body(document, baseline=baseline, spec_diff=changes)
    except (BaselineError, GitError) as error:
        print(terminal(f"error: {error}"), file=sys.stderr)
        return EXIT_ERROR
    except CommentError as error:
        print(terminal(f"error: {results}: {error}"), file=sys.stderr)
        return EXIT_ERROR
    if args.output is None:
        sys.stdout.write(body)
        return EXIT_OK
    try:
        atomic_write_text(args.output, body)
    except OSError as error:
        print(terminal(f"error: cannot write {args.output}: {error}"), file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK
