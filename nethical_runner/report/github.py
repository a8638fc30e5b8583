"""GitHub Actions workflow commands that pin a failed check to its threshold's line.

GitHub turns a ``::error file=...,line=...::message`` line on a step's output into an
annotation on that line of the pull request's diff, so a reviewer sees the missed gate next to
the threshold that was missed. Files are made relative to ``$GITHUB_WORKSPACE`` (the checkout)
because annotations only attach to repository paths. Escaping follows the runner's rules
(``@actions/core``): ``%``, CR and LF in every part, and ``:`` and ``,`` in property values
(see :mod:`nethical_runner._escape`), so a message cannot end its line and start a command.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from nethical_runner._escape import clip, workflow_data, workflow_property

Level = Literal["error", "warning", "notice"]


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """GitHub Actions sets ``GITHUB_ACTIONS=true`` in every step."""
    return (environ if environ is not None else os.environ).get("GITHUB_ACTIONS") == "true"


def command(
    level: Level,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    column: int | None = None,
    title: str | None = None,
) -> str:
    """One workflow command line, e.g. ``::error file=specs/x.yaml,line=17,col=17::...``."""
    properties = {"file": file, "line": line, "col": column, "title": title}
    written = ",".join(
        f"{name}={workflow_property(clip(str(value), 400))}"
        for name, value in properties.items()
        if value is not None
    )
    return f"::{level}{' ' + written if written else ''}::{workflow_data(clip(message))}"


def repository_path(file: str, invocation_dir: Path, workspace: str | None) -> str:
    """``file`` (as pytest showed it, relative to where it was started) relative to the
    checkout when it lies inside it; otherwise as it was."""
    if not workspace:
        return file
    absolute = (invocation_dir / file).resolve()
    try:
        return absolute.relative_to(Path(workspace).resolve()).as_posix()
    except ValueError:
        return file


def check_annotations(
    checks: Iterable[Mapping[str, Any]],
    errors: Iterable[Mapping[str, Any]],
    *,
    invocation_dir: Path,
    workspace: str | None,
) -> list[str]:
    """An ``error`` per spec error and failed check, then a ``warning`` per pass with a
    warning (GitHub shows only the first few annotations of a step, so errors go first)."""
    lines = []
    for error in errors:
        lines.append(
            command(
                "error",
                error["message"],
                file=repository_path(error["file"], invocation_dir, workspace),
                line=error["line"],
                column=error["column"],
                title="nethical-runner spec error",
            )
        )
    failed_first = sorted(checks, key=lambda check: check["outcome"] not in ("failed", "error"))
    for check in failed_first:
        failed = check["outcome"] in ("failed", "error")
        if not failed and not (check["warning"] and check["outcome"] == "passed"):
            continue
        scope = "/".join(part for part in (check["spec"], check["cohort"]) if part)
        lines.append(
            command(
                "error" if failed else "warning",
                check["message"] if failed else check["warning"],
                file=repository_path(check["file"], invocation_dir, workspace),
                line=check["line"],
                column=check["column"],
                title=f"{check['check']} {scope}",
            )
        )
    return lines
