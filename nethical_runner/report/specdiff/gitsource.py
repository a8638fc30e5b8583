"""Spec files as they are at a git revision, or in the working tree.

Everything goes through the ``git`` command line (``ls-tree``, ``show ref:path``), run from the
repository's top level, so paths are the repository-relative paths a pull request shows and
nothing is checked out or written. The text read is only ever parsed by the project's safe
YAML reader.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from nethical_runner.spec.yaml_source import MAX_SPEC_BYTES

SPEC_SUFFIXES = (".yaml", ".yml")
WORKING_TREE = "working tree"


class GitError(Exception):
    """A git command failed, or the repository lacks what a default needs."""


def git(top: Path, *args: str) -> bytes:
    """Run ``git args`` in ``top``; raise :class:`GitError` with git's own message."""
    try:
        completed = subprocess.run(
            ["git", *args], cwd=top, capture_output=True, check=False, timeout=60
        )
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {' '.join(args)} did not finish within 60 s") from None
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip() or "failed"
        raise GitError(f"git {' '.join(args)}: {message}")
    return completed.stdout


def toplevel(cwd: Path) -> Path:
    """The repository's top-level folder containing ``cwd``."""
    return Path(git(cwd, "rev-parse", "--show-toplevel").decode().strip())


def resolve(top: Path, ref: str) -> str:
    """The commit id ``ref`` names; a clear error for a ref that does not exist."""
    try:
        return git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except GitError:
        raise GitError(f"{ref!r} is not a commit in this repository") from None


def default_branch(top: Path) -> str:
    """``origin/HEAD``'s branch when the clone knows it, else a local ``main`` or ``master``."""
    try:
        origin_head = git(top, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
        return origin_head.decode().strip()
    except GitError:
        pass
    for candidate in ("main", "master", "origin/main", "origin/master"):
        try:
            resolve(top, candidate)
        except GitError:
            continue
        return candidate
    raise GitError(
        "cannot tell the default branch (no origin/HEAD, main or master); name BASE explicitly"
    )


def merge_base(top: Path, branch: str, head: str = "HEAD") -> str:
    """Where ``head`` left ``branch``: what a pull request from ``head`` is reviewed against."""
    try:
        return git(top, "merge-base", branch, head).decode().strip()
    except GitError as error:
        raise GitError(
            f"no merge base of {branch} and {head} ({error}); in a shallow CI checkout fetch "
            "more history (actions/checkout fetch-depth: 0) or name BASE explicitly"
        ) from None


def spec_paths(top: Path, ref: str | None, roots: Sequence[str]) -> list[str]:
    """Repository-relative paths of the YAML files under ``roots`` at ``ref`` (``None``: the
    working tree, including files not yet added)."""
    if ref is None:
        found = {path for root in roots for path in _files_on_disk(top, root)}
    else:
        listing = git(top, "ls-tree", "-r", "-z", "--name-only", "--full-tree", ref, "--", *roots)
        found = {name for name in listing.decode().split("\0") if name}
    return sorted(path for path in found if path.endswith(SPEC_SUFFIXES))


def _files_on_disk(top: Path, root: str) -> Iterable[str]:
    start = top / root
    if start.is_file():
        yield root
    elif start.is_dir():
        for path in start.rglob("*"):
            if path.is_file() and ".git" not in path.relative_to(top).parts:
                yield path.relative_to(top).as_posix()


def read_text(top: Path, ref: str | None, path: str) -> str:
    """The text of ``path`` at ``ref`` (``None``: on disk); errors as :class:`ValueError`."""
    raw = (top / path).read_bytes() if ref is None else git(top, "show", f"{ref}:{path}")
    if len(raw) > MAX_SPEC_BYTES:
        raise ValueError(f"{path}: larger than {MAX_SPEC_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error.reason})") from None
