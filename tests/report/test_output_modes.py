"""Outputs get the permissions any file the user's process writes gets: a temp file is private
(0600), and an output renamed from one stayed unreadable to the rest of a CI job or team."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from nethical_runner._files import atomic_create_text, atomic_write_bytes, atomic_write_json


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_written_files_take_the_umask_mode(tmp_path: Path) -> None:
    expected = 0o666 & ~_umask()
    atomic_write_bytes(tmp_path / "model.npz", b"x")
    atomic_write_json(tmp_path / "results.json", {"a": 1})
    assert atomic_create_text(tmp_path / ".gitignore", "*\n")
    for name in ("model.npz", "results.json", ".gitignore"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gitignore", "model.npz", "results.json"]
