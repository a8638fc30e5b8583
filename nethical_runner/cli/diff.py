"""The ``diff`` subcommand: arguments, git revisions in, a table or markdown out.

Without arguments it compares what a pull request from the current branch would change: the
merge base with the default branch against the working tree (uncommitted edits included), so
the same command works on a laptop before pushing and in CI on the checked-out branch.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from nethical_runner.report.specdiff.compare import (
    SpecVersion,
    diff_versions,
    not_a_spec,
    parse_version,
)
from nethical_runner.report.specdiff.gitsource import (
    WORKING_TREE,
    GitError,
    default_branch,
    merge_base,
    read_text,
    resolve,
    spec_files,
    toplevel,
)
from nethical_runner.report.specdiff.render import markdown, terminal
from nethical_runner.report.specdiff.rules import LOOSENED
from nethical_runner.run.options import DEFAULT_SPEC_DIRS

EXIT_OK, EXIT_LOOSENED, EXIT_ERROR = 0, 1, 2
MAX_LISTED = 5  # files named in the error of a diff that found no spec


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
        top = toplevel(Path.cwd())
        roots = [_repository_path(top, folder) for folder in args.spec_dir or DEFAULT_SPEC_DIRS]
        if args.base is None:
            branch = default_branch(top)
            base = merge_base(top, branch)
            base_label = f"merge base with {branch} ({base[:12]})"
        else:
            base = resolve(top, args.base)
            base_label = args.base
        head = resolve(top, args.head) if args.head is not None else None
        head_label = args.head if args.head is not None else WORKING_TREE
        old, new = _versions(top, base, roots), _versions(top, head, roots)
        _require_a_spec(roots, (old, new), f"at {base_label} or " + (
            f"at {head_label}" if head is not None else "in the working tree"
        ))  # fmt: skip
        changes = diff_versions(old, new)
    except GitError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    render = markdown if args.format == "md" else terminal
    sys.stdout.write(render(changes, base_label, head_label))
    loosened = any(change.verdict == LOOSENED for change in changes)
    return EXIT_LOOSENED if args.fail_on_loosened and loosened else EXIT_OK


def _repository_path(top: Path, folder: str) -> str:
    """``folder`` (relative to the current folder) as a path relative to the repository.

    Normalised by its text, not resolved: a folder that is a link must stay visible as one so
    that it is refused rather than followed out of the repository.
    """
    path = Path(os.path.normpath(Path.cwd() / folder))
    try:
        return path.relative_to(top.resolve()).as_posix() or "."
    except ValueError:
        raise GitError(f"{folder} is outside the repository {top}") from None


def _versions(top: Path, ref: str | None, roots: list[str]) -> dict[str, SpecVersion]:
    versions = {}
    for entry in spec_files(top, ref, roots):
        try:
            versions[entry.path] = parse_version(entry.path, read_text(top, entry))
        except ValueError as error:
            versions[entry.path] = not_a_spec(entry.path, str(error))
    return versions


def _require_a_spec(
    roots: list[str], sides: tuple[dict[str, SpecVersion], ...], revisions: str
) -> None:
    """A diff of no spec at all is a wrong ``--spec-dir`` or a run from a subfolder, not "no
    spec changes": it must not pass a CI step that relies on it."""
    versions = [version for side in sides for version in side.values()]
    if any(version.data is not None for version in versions):
        return
    message = f"no spec under {', '.join(roots)} {revisions}"
    message += f" (--spec-dir is relative to the current folder, {Path.cwd()})"
    others = sorted({str(version.error) for version in versions})
    if others:
        shown = "; ".join(others[:MAX_LISTED])
        more = f"; and {len(others) - MAX_LISTED} more" if len(others) > MAX_LISTED else ""
        message += f"; YAML files found that are no spec: {shown}{more}"
    raise GitError(message)
