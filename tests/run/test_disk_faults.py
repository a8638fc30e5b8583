"""A full disk or a read-only output folder: a clear error and a failed item, never a pass.

Three ways to run out of room: a write failing with ENOSPC at each kind of output file (injected
at ``fsync``, where a full disk often reports it), a real tiny tmpfs (when this process may
mount one: root in a container), and a file size limit (``RLIMIT_FSIZE``, any user). A read-only
output folder is a read-only bind mount for root (who ignores permission bits) and a folder
without write permission for anyone else. In every case the command line exits 2 naming the
error, the pytest items fail, whatever was there before is intact, and no visible file is
partial.
"""

from __future__ import annotations

import errno
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import SpecWriter, sweep
from nethical_runner.audit.verify import verify
from nethical_runner.cli.main import main
from nethical_runner.models import load_model

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd (Linux)"
)
SPEC = """\
version: 1
name: d
model: {type: logistic}
training: {epochs: 2}
data: {samples: 400}
gate: {max_ece: 0.5, min_accuracy: 0.5}
sla: {calls: 10, warmup: 0, p95_ms: 1000}
audit: {enabled: true}
"""


def snapshot(out: Path) -> dict[str, bytes]:
    if not out.exists():
        return {}
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def check_intact(out: Path, before: dict[str, bytes]) -> None:
    """What was there is unchanged (the newest pointer, the audit summary and the run summary
    aside, which describe the latest run), nothing visible is partial, and no model of a failed
    run sits among the promoted ones."""
    replaced = {
        "models/current/d@default.latest.json",
        "audit/training_summary.json",
        "results.json",
        "summary.md",
    }
    for relative, content in before.items():
        latest = relative in replaced or relative.startswith("reliability/")
        if not latest and not relative.endswith(".lock"):
            assert (out / relative).read_bytes() == content, relative
    for path in out.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            if path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".npz":
                load_model(path)
    pointer = out / "models" / "current" / "d@default.latest.json"
    if pointer.exists():
        named = json.loads(pointer.read_text())
        load_model(pointer.parent / named["model"])
    promoted = (
        {p.name for p in (out / "models" / "current").glob("*.npz")} if out.exists() else set()
    )
    pointed = {json.loads(pointer.read_text())["model"]} if pointer.exists() else set()
    earlier = {Path(r).name for r in before if r.endswith(".npz")}
    assert promoted <= pointed | earlier, "a model of the failed run is among the promoted ones"
    if (out / "audit" / "heads").is_dir():
        report = verify(out / "audit")
        assert report.ok, report.render()


# --- ENOSPC at each kind of output file -----------------------------------------------------------

TARGETS = {
    "SLA report": "sla/.sla_report_",
    "model": "models/current/.d@default@logistic_model_",
    "metrics": "models/current/.d@default@logistic_metrics_",
    "promotion pointer": "models/current/.d@default.latest.json",
    "audit chunk": "audit/chunks/.chunk_",
    "audit head": "audit/heads/.head_",
    "training summary": "audit/summaries/.training_summary_",
}


@contextmanager
def full_disk_at(monkeypatch: pytest.MonkeyPatch, out: Path, prefix: str) -> Iterator[None]:
    """Every fsync of a file whose path under ``out`` starts with ``prefix`` fails: ENOSPC."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if path.is_relative_to(out) and path.relative_to(out).as_posix().startswith(prefix):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", fsync)
        yield


@pytest.mark.parametrize(
    "target", sweep(TARGETS, default={"model", "promotion pointer", "audit head"})
)
def test_no_space_for_any_output_fails_the_run_and_keeps_what_was_there(
    write_spec: SpecWriter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    target: str,
) -> None:
    spec, out = write_spec(SPEC, "specs/d.yaml"), (tmp_path / "out").resolve()
    assert main(["run", str(spec), "--out", str(out)]) == 0
    before = snapshot(out)
    capsys.readouterr()
    with full_disk_at(monkeypatch, out, TARGETS[target]):
        code = main(["run", str(spec), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 2, printed
    assert "[Errno 28] No space left on device" in printed
    if target.startswith(("audit", "training")):
        assert "not appended" in printed or "committed" in printed, printed
    else:
        assert "training failed: OSError: [Errno 28] No space left on device" in printed
        assert "promotion: PASS" not in printed
    check_intact(out, before)
    assert main(["run", str(spec), "--out", str(out)]) == 0  # the next run, with room again
    assert verify(out / "audit").ok


def test_no_space_fails_the_pytest_items(
    write_spec: SpecWriter, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_spec(SPEC, "specs/d.yaml")
    out = (pytester.path / "nethical-out").resolve()
    with full_disk_at(monkeypatch, out, "models/"):
        result = pytester.runpytest_inprocess("specs/", "-p", "no:cacheprovider", "-rA")
    # The gate and SLA items fail; the audit item rightly passes: the log holds the run,
    # with its training_failed event.
    result.assert_outcomes(failed=3, passed=1)
    failure = "cohort default could not be trained: OSError: [Errno 28] No space left on device"
    shown = result.stdout.lines
    for item in ("gate[ece]", "gate[accuracy]", "sla[p95]"):
        heading = next(i for i, line in enumerate(shown) if f" d::default::{item} " in line)
        assert shown[heading + 1] == failure
    assert "PASSED specs/d.yaml::d::audit[verify]" in shown


# --- a real full disk --------------------------------------------------------------------------


@contextmanager
def tmpfs(folder: Path, size: str, *options: str) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join([f"size={size}", *options]), "tmpfs", str(folder)],
        capture_output=True,
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Write until the file system is full; returns the ballast file."""
    ballast = folder / "ballast"
    with ballast.open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    return ballast


def cli_run(spec: Path, out: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nethical_runner", "run", str(spec), "--out", str(out)],
        capture_output=True, text=True, timeout=120, **kwargs,  # type: ignore[call-overload]
    )  # fmt: skip


def test_a_real_full_disk(write_spec: SpecWriter, tmp_path: Path) -> None:
    spec = write_spec(SPEC, "specs/d.yaml")
    with tmpfs(tmp_path / "disk", "4m") as disk:
        out = disk / "out"
        assert main(["run", str(spec), "--out", str(out)]) == 0  # no fault: in process
        before = snapshot(out)
        ballast = fill(disk)
        failed = cli_run(spec, out)
        assert failed.returncode == 2, failed.stdout + failed.stderr
        assert "No space left on device" in failed.stdout
        assert "promotion: PASS" not in failed.stdout
        ballast.unlink()
        check_intact(out, before)
        fill(disk)
        session = subprocess.run(
            [sys.executable, "-m", "pytest", str(spec.parent), "-p", "no:cacheprovider", "-q",
             "--nethical-out", str(out), "--rootdir", str(tmp_path)],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert session.returncode == 1, session.stdout
        final = session.stdout.strip().splitlines()[-1]  # pytest's own closing line
        assert re.match(r"[= ]*4 failed in ", final), session.stdout
        assert "No space left on device" in session.stdout


def limit_file_size(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_file_size_limit_fails_the_run_clearly(write_spec: SpecWriter, tmp_path: Path) -> None:
    """The unprivileged stand-in for a full disk: every write past 1 KiB fails with EFBIG."""
    spec, out = write_spec(SPEC, "specs/d.yaml"), tmp_path / "out"
    assert main(["run", str(spec), "--out", str(out)]) == 0  # no fault: in process
    before = snapshot(out)
    failed = cli_run(spec, out, preexec_fn=lambda: limit_file_size(1024))
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "training failed: OSError: [Errno 27] File too large" in failed.stdout
    check_intact(out, before)


# --- a read-only output folder ----------------------------------------------------------------


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` cannot be written to, whoever we are."""
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in [folder, *folder.rglob("*")]}
        for path in modes:
            path.chmod(modes[path] & ~0o222)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    bound = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {bound.stderr.decode().strip()}")
    try:
        remount = subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True
        )
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {remount.stderr.decode().strip()}")
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_read_only_output_folder_fails_the_run_and_the_items(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    spec, out = write_spec(SPEC, "specs/d.yaml"), tmp_path / "out"
    assert main(["run", str(spec), "--out", str(out)]) == 0  # no fault: in process
    before = snapshot(out)
    with read_only(out):
        failed = cli_run(spec, out)
        assert failed.returncode == 2, failed.stdout + failed.stderr
        assert "training failed: OSError: [Errno 30] Read-only file system" in failed.stdout or (
            "training failed: PermissionError: [Errno 13] Permission denied" in failed.stdout
        ), failed.stdout
        session = subprocess.run(
            [sys.executable, "-m", "pytest", str(spec.parent), "-p", "no:cacheprovider", "-q",
             "-rf", "--nethical-out", str(out), "--rootdir", str(tmp_path)],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert session.returncode == 1, session.stdout
        final = session.stdout.strip().splitlines()[-1]  # pytest's own closing line
        assert re.match(r"[= ]*4 failed in ", final), session.stdout
        assert "could not be trained" in session.stdout
    check_intact(out, before)
    shutil.rmtree(out / "sla")  # writable again: the next run recreates what it needs
    assert main(["run", str(spec), "--out", str(out)]) == 0  # no fault: in process
