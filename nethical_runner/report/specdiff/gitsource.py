"""Spec files as they are at a git revision, or in the working tree.

Everything goes through the ``git`` command line (``ls-tree -l``, ``cat-file blob``), run from
the repository's top level, so paths are the repository-relative paths a pull request shows and
nothing is checked out or written. The text read is only ever parsed by the project's safe
YAML reader.

What the diff prints may end up in a public step summary, so no read leaves the repository: a
symbolic link (committed, or in the working tree) is listed as refused and never followed, a
file that is not regular is never opened for reading, and no read exceeds the spec size limit
(a blob's size is known from ``ls-tree -l`` before it is read).
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nethical_runner.spec.yaml_source import MAX_SPEC_BYTES

SPEC_SUFFIXES = (".yaml", ".yml")
WORKING_TREE = "working tree"
LINK_MODE = "120000"


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


@dataclass(frozen=True)
class Listed:
    """A YAML file under a spec folder: where it is, the blob holding it at a revision (``None``:
    on disk), or why it is not read at all (a link, not a regular file, too large)."""

    path: str
    blob: str | None = None
    refused: str | None = None


def spec_files(top: Path, ref: str | None, roots: Sequence[str]) -> list[Listed]:
    """The YAML files under ``roots`` (repository-relative) at ``ref`` (``None``: the working
    tree, including files not yet added), in path order.

    Nothing outside the repository is ever reached: a link is listed as refused, never
    followed, and a spec folder that is a link (or lies inside one) is an error.
    """
    if ref is None:
        found = [entry for root in roots for entry in _listed_on_disk(top, root)]
    else:
        found = list(_listed_at(top, ref, roots))
    unique = {entry.path: entry for entry in found if entry.path.endswith(SPEC_SUFFIXES)}
    return [unique[path] for path in sorted(unique)]


def _listed_at(top: Path, ref: str, roots: Sequence[str]) -> Iterable[Listed]:
    """``git ls-tree -l``: mode, type and size of every entry, so that links, submodules and
    oversized blobs are refused before anything is read."""
    listing = git(top, "ls-tree", "-r", "-z", "-l", "--full-tree", ref, "--", *roots)
    for record in listing.decode("utf-8", "surrogateescape").split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, kind, blob, size = meta.split()
        if mode == LINK_MODE:
            yield Listed(path, refused=f"{path}: symbolic link, not followed")
        elif kind != "blob":
            yield Listed(path, refused=f"{path}: not a regular file ({kind})")
        elif int(size) > MAX_SPEC_BYTES:
            yield Listed(path, refused=f"{path}: larger than {MAX_SPEC_BYTES} bytes")
        else:
            yield Listed(path, blob=blob)


def _listed_on_disk(top: Path, root: str) -> Iterable[Listed]:
    linked = _link_on_the_way(top, root)
    if linked is not None:
        raise GitError(f"{linked} is a symbolic link; spec folders are not followed")
    start = top / root
    if not start.is_dir():
        if start.exists():
            yield _on_disk(top, root)
        return
    for folder, folders, files in os.walk(start, followlinks=False):
        here = Path(folder)
        folders[:] = [name for name in folders if name != ".git"]
        links = [name for name in folders if (here / name).is_symlink()]
        for name in sorted([*files, *links]):
            yield _on_disk(top, (here / name).relative_to(top).as_posix())


def _on_disk(top: Path, path: str) -> Listed:
    mode = os.lstat(top / path).st_mode
    if stat.S_ISLNK(mode):
        return Listed(path, refused=f"{path}: symbolic link, not followed")
    if not stat.S_ISREG(mode):
        return Listed(path, refused=f"{path}: not a regular file")
    return Listed(path)


def _link_on_the_way(top: Path, path: str) -> str | None:
    """The first folder of ``path`` (repository-relative) that is a symbolic link, if any."""
    parts = Path(path).parts
    for depth in range(1, len(parts) + 1):
        prefix = Path(*parts[:depth])
        if (top / prefix).is_symlink():
            return prefix.as_posix()
    return None


def read_text(top: Path, entry: Listed) -> str:
    """The text of a listed file, at most :data:`MAX_SPEC_BYTES` of it ever read; every problem
    as :class:`ValueError` naming the file and never quoting it."""
    if entry.refused is not None:
        raise ValueError(entry.refused)
    raw = _read_on_disk(top, entry.path) if entry.blob is None else _read_blob(top, entry)
    if len(raw) > MAX_SPEC_BYTES:
        raise ValueError(f"{entry.path}: larger than {MAX_SPEC_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{entry.path}: not UTF-8 text ({error.reason})") from None


def _read_blob(top: Path, entry: Listed) -> bytes:
    assert entry.blob is not None
    return git(top, "cat-file", "blob", entry.blob)  # its size was checked when listed


def _read_on_disk(top: Path, path: str) -> bytes:
    """Read without following a link (the last part: ``O_NOFOLLOW``; the folders: checked)
    and without blocking on a pipe; a file that is not regular is refused unread."""
    if _link_on_the_way(top, path) is not None:
        raise ValueError(f"{path}: symbolic link, not followed")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(top / path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ValueError(f"{path}: symbolic link, not followed") from None
        raise ValueError(f"{path}: cannot be read ({error.strerror})") from None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ValueError(f"{path}: not a regular file")
        return handle.read(MAX_SPEC_BYTES + 1)
