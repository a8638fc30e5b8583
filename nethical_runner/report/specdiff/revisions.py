"""The spec changes between two revisions of the repository around the current folder.

Shared by ``nethical-runner diff`` and ``nethical-runner comment``, so that a pull-request
comment shows exactly the table ``diff --format md`` prints for the same revisions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nethical_runner.report.specdiff.compare import (
    Change,
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

MAX_LISTED = 5  # files named in the error of a diff that found no spec


@dataclass(frozen=True)
class SpecDiff:
    changes: list[Change]
    base_label: str  # how the base revision is named in headlines
    head_label: str


def spec_diff(
    base: str | None,
    head: str | None,
    spec_dirs: Sequence[str],
    *,
    since_merge_base: bool = False,
) -> SpecDiff:
    """Changes from ``base`` (default: the merge base of HEAD with the default branch; with
    ``since_merge_base``, the merge base of HEAD with ``base``) to ``head`` (default: the
    working tree). :class:`GitError` for revisions or folders that cannot be compared, and
    when no spec is found on either side."""
    top = toplevel(Path.cwd())
    roots = [_repository_path(top, folder) for folder in spec_dirs]
    if base is None:
        branch = default_branch(top)
        base_commit = merge_base(top, branch)
        base_label = f"merge base with {branch} ({base_commit[:12]})"
    elif since_merge_base:
        base_commit = merge_base(top, resolve(top, base))
        base_label = f"merge base with {base} ({base_commit[:12]})"
    else:
        base_commit = resolve(top, base)
        base_label = base
    head_commit = resolve(top, head) if head is not None else None
    head_label = head if head is not None else WORKING_TREE
    old, new = _versions(top, base_commit, roots), _versions(top, head_commit, roots)
    _require_a_spec(roots, (old, new), f"at {base_label} or " + (
        f"at {head_label}" if head is not None else "in the working tree"
    ))  # fmt: skip
    return SpecDiff(diff_versions(old, new), base_label, head_label)


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
