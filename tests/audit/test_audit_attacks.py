"""Hostile audit folders: crafted files of every shape, alias names, pipes, absurd numbers and a
held lock. Each must end as a finding naming the file (or a clear error), never a traceback, a
hang or a loop, and the signing key must never reach a log."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_audit_log import (
    append_run,
    assert_problem,
    build_log,
    chunk_path,
    head_path,
    load,
    make_spec,
    save,
    train,
)

from conftest import SpecWriter
from nethical_runner.audit.lock import exclusive_lock
from nethical_runner.audit.log import AuditLogError
from nethical_runner.audit.verify import VerifyReport, verify

KEY = "s3cr3t-audit-key-value-0123456789"
ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def bounded_memory() -> Iterator[None]:
    """At most 1.5 GB more address space than the test process has, so a runaway allocation
    is a MemoryError here rather than the machine's out-of-memory killer."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * resource.getpagesize()
    limit = mapped + (3 << 29)
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard < 0 else min(limit, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def crafted(log: Path, path: Path, document: Any) -> VerifyReport:
    path.write_text(json.dumps(document))
    with bounded_memory():
        return verify(log, key=None)


def assert_finding_at(report: VerifyReport, where: str) -> None:
    assert not report.ok
    assert any(p.where == where for p in report.problems), report.render()


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def run_isolated(code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``code`` in a child process with a time and memory limit, so that a hang or a runaway
    allocation fails the test instead of the machine."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            preexec_fn=_limit_memory,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout} s: {code}")


# --- crafted chunks and heads become findings ---------------------------------------------------

CHUNK_SHAPES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "a list": lambda d: [],
    "a number": lambda d: 1e308,
    "null": lambda d: None,
    "deeply nested event": lambda d: {**d, "events": ["[" * 100_000, *d["events"][1:]]},
    "deeply nested junk field": lambda d: {**d, "run_id": [[[[[]]]]]},
    "event that is a list": lambda d: {**d, "events": ["[1, 2]", *d["events"][1:]]},
    "huge event_count": lambda d: {**d, "event_count": 10**18},
    "huge first_index": lambda d: {**d, "first_index": 10**18},
    "huge chunk_id": lambda d: {**d, "chunk_id": 10**400},
    "negative first_index": lambda d: {**d, "first_index": -5},
    "leaf hashes of junk": lambda d: {**d, "leaf_hashes": [[1], {"a": 2}]},
    "too few leaf hashes": lambda d: {**d, "leaf_hashes": d["leaf_hashes"][:1]},
    "boolean index": lambda d: {**d, "events": ['{"index": true}', *d["events"][1:]]},
    "huge index": lambda d: {**d, "events": ['{"index": 1e999}', *d["events"][1:]]},
}


@pytest.mark.parametrize("shape", CHUNK_SHAPES)
def test_a_crafted_chunk_is_a_finding_naming_it(tmp_path: Path, shape: str) -> None:
    log = build_log(tmp_path / "log")
    path = chunk_path(log, 2)
    report = crafted(log, path, CHUNK_SHAPES[shape](load(path)))
    assert_finding_at(report, "chunks/chunk_000002.json")


HEAD_SHAPES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "a list": lambda d: [1],
    "huge chunk_count": lambda d: {**d, "chunk_count": 10**15},
    "huge tree_size": lambda d: {**d, "tree_size": 10**30},
    "huge sequence": lambda d: {**d, "sequence": 10**30},
    "junk proof": lambda d: {**d, "consistency_proof": [["x"]] * 3},
    "long proof": lambda d: {**d, "consistency_proof": ["0" * 64] * 5000},
    "nested previous": lambda d: {**d, "previous": {"tree_size": {"a": [1]}, "root": 1}},
}


@pytest.mark.parametrize("shape", HEAD_SHAPES)
def test_a_crafted_head_is_a_finding_naming_it(tmp_path: Path, shape: str) -> None:
    log = build_log(tmp_path / "log")
    path = head_path(log, 2)
    report = crafted(log, path, HEAD_SHAPES[shape](load(path)))
    assert not report.ok
    assert any(p.where.startswith("heads/") for p in report.problems), report.render()


def test_a_crafted_summary_is_a_finding_naming_it(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    (log / "training_summary.json").write_text("[" * 100_000)
    assert_finding_at(verify(log, key=None), "training_summary.json")


# --- the key never reaches a traceback --------------------------------------------------------


def test_the_key_is_redacted_in_repr_and_str(monkeypatch: pytest.MonkeyPatch) -> None:
    from nethical_runner.audit.signing import key_from_env

    monkeypatch.setenv("NETHICAL_AUDIT_KEY", KEY)
    key = key_from_env()
    assert key is not None
    assert KEY not in repr(key) and KEY not in str(key) and KEY not in f"{key!r} {key}"
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_a_crafted_chunk_under_showlocals_never_prints_the_key(
    write_spec: SpecWriter, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETHICAL_AUDIT_KEY", KEY)
    write_spec(
        "version: 1\nname: mine\nmodel: {type: heuristic}\ndata: {samples: 300}\n"
        "gate: {min_accuracy: 0.5}\naudit: {enabled: true}\n",
        "specs/mine.yaml",
    )
    assert pytester.runpytest("specs/").ret == 0
    log = pytester.path / "nethical-out" / "audit"
    chunk = chunk_path(log, 1)
    document = load(chunk)
    document["events"][0] = "[" * 100_000
    save(chunk, document)

    result = pytester.runpytest("specs/", "-l", "--tb=long", "--junitxml=junit.xml")
    output = result.stdout.str() + result.stderr.str()
    assert "audit[verify]" in output
    assert "chunk_000001.json" in output  # the item failed with a finding, naming the file
    assert "RecursionError" not in output
    assert KEY not in output
    assert KEY not in (pytester.path / "junit.xml").read_text()
    for written in (pytester.path / "nethical-out").rglob("*"):
        if written.is_file():
            assert KEY not in written.read_text(errors="replace"), written


# --- canonical names only ----------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["chunk_2.json", "chunk_0002.json", "chunk_00000٢.json"])
def test_an_edited_chunk_under_an_alias_name_is_an_unexpected_file(
    tmp_path: Path, alias: str
) -> None:
    log = build_log(tmp_path / "log")
    document = load(chunk_path(log, 2))
    document["events"][0] = document["events"][0].replace('"step":0', '"step":9')
    save(log / "chunks" / alias, document)
    report = verify(log, key=None)
    assert_problem(report, "unexpected", f"chunks/{alias}", "unexpected file")


@pytest.mark.parametrize("alias", ["head_2.json", "head_0000002.json", "head_00000٢.json"])
def test_a_head_under_an_alias_name_is_an_unexpected_file(tmp_path: Path, alias: str) -> None:
    log = build_log(tmp_path / "log")
    shutil.copy(head_path(log, 2), log / "heads" / alias)
    assert_problem(verify(log, key=None), "unexpected", f"heads/{alias}", "unexpected file")


def test_a_stray_file_in_the_log_folder_is_an_unexpected_file(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    (log / "notes.txt").write_text("hi")
    assert_problem(verify(log, key=None), "unexpected", "notes.txt", "unexpected file")


# --- denial of service -------------------------------------------------------------------------


def test_a_head_named_with_an_absurd_index_is_bounded_by_the_files(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    shutil.copy(head_path(log, 2), log / "heads" / f"head_{10**15}.json")
    done = run_isolated(
        f"""
        from pathlib import Path
        from nethical_runner.audit.verify import verify
        print(verify(Path({str(log)!r}), key=None).render())
        """
    )
    assert done.returncode == 0, done.stderr
    assert f"heads/head_{10**15}.json" in done.stdout


def test_a_head_committing_to_an_absurd_chunk_count_is_bounded(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    path = head_path(log, 2)
    save(path, {**load(path), "chunk_count": 10**15})
    done = run_isolated(
        f"""
        from pathlib import Path
        from nethical_runner.audit.verify import verify
        print(verify(Path({str(log)!r}), key=None).render())
        """
    )
    assert done.returncode == 0, done.stderr
    assert "heads/head_000002.json" in done.stdout


@pytest.mark.parametrize(
    "where", ["heads/head_000003.json", "chunks/chunk_000002.json", "training_summary.json"]
)
def test_a_fifo_is_a_finding_and_never_opened(tmp_path: Path, where: str) -> None:
    log = build_log(tmp_path / "log")
    (log / where).unlink(missing_ok=True)
    os.mkfifo(log / where)
    done = run_isolated(
        f"""
        from pathlib import Path
        from nethical_runner.audit.verify import verify
        print(verify(Path({str(log)!r}), key=None).render())
        """
    )
    assert done.returncode == 0, done.stderr
    assert f"{where}: is not a regular file" in done.stdout


def test_a_fifo_in_heads_does_not_hang_the_next_append(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    os.mkfifo(log / "heads" / "head_000003.json")
    done = run_isolated(
        f"""
        from pathlib import Path
        from nethical_runner.audit.log import AuditLogError, append_events
        try:
            append_events(Path({str(log)!r}), [{{"type": "x"}}], run_id="r", created_at="",
                          chunk_size=10, key=None)
        except AuditLogError as error:
            print("refused:", error)
        """
    )
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "head_000003.json" in done.stdout


def test_a_fifo_as_the_lock_file_does_not_hang(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    (log / ".lock").unlink()
    os.mkfifo(log / ".lock")
    done = run_isolated(
        f"""
        from pathlib import Path
        from nethical_runner.audit.verify import verify
        print(verify(Path({str(log)!r}), key=None).render())
        """
    )
    assert done.returncode == 0, done.stderr
    assert ".lock: is not a regular file" in done.stdout


def test_a_held_lock_times_out_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nethical_runner.audit import lock

    log = build_log(tmp_path / "log")
    monkeypatch.setattr(lock, "LOCK_TIMEOUT_S", 0.3)
    with exclusive_lock(log):
        with pytest.raises(AuditLogError, match=r"locked by another process .*0\.3 s"):
            append_run(log, "blocked")
        report = verify(log, key=None)
    assert_problem(report, "locked", ".lock", "locked by another process")


# --- summaries are checked against the events --------------------------------------------------


def _summaries(log: Path) -> list[Path]:
    return [*sorted((log / "summaries").iterdir()), log / "training_summary.json"]


SUMMARY_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "promoted": lambda s: s.update(promoted=not s["promoted"]),
    "promoted as 1": lambda s: s.update(promoted=int(s["promoted"])),
    "accuracy": lambda s: s["metrics"].update(accuracy=0.999),
    "model path": lambda s: s.update(model_path="models/other.joblib"),
    "timestamp": lambda s: s.update(timestamp="2001-01-01T00:00:00+00:00"),
}


@pytest.mark.parametrize("edit", SUMMARY_EDITS)
@pytest.mark.parametrize("which", ["per-run", "latest"])
def test_an_edited_summary_is_a_finding(
    write_spec: SpecWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: str, which: str
) -> None:
    monkeypatch.setenv("NETHICAL_AUDIT_KEY", KEY)
    out = tmp_path / "out"
    train(make_spec(write_spec), out)
    log = out / "audit"
    assert verify(log).ok, verify(log).render()
    path = _summaries(log)[0 if which == "per-run" else -1]
    summary = load(path)
    SUMMARY_EDITS[edit](summary)
    save(path, summary)
    assert_finding_at(verify(log), path.relative_to(log).as_posix())


def test_edited_chunk_metadata_is_a_finding(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    for field, value in [("created_at", "2001-01-01T00:00:00+00:00"), ("run_id", "other")]:
        path = chunk_path(log, 1)
        original = load(path)
        save(path, {**original, field: value})
        assert_finding_at(verify(log, key=None), "chunks/chunk_000001.json")
        save(path, original)
    assert verify(log, key=None).ok


# --- a log cut back to an earlier run ---------------------------------------------------------


def test_a_cut_back_log_is_found_with_the_head_results_json_recorded(
    write_spec: SpecWriter, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETHICAL_AUDIT_KEY", KEY)
    write_spec(
        "version: 1\nname: mine\nmodel: {type: heuristic}\ndata: {samples: 300}\n"
        "gate: {min_accuracy: 0.5}\naudit: {enabled: true}\n",
        "specs/mine.yaml",
    )
    log = pytester.path / "nethical-out" / "audit"
    assert pytester.runpytest("specs/").ret == 0
    first_summary = (log / "training_summary.json").read_bytes()
    assert pytester.runpytest("specs/").ret == 0
    results = json.loads((pytester.path / "nethical-out" / "results.json").read_text())
    (audit,) = [c for spec in results["specs"] for c in spec["checks"] if c["kind"] == "audit"]
    recorded = audit["properties"]
    assert recorded["head"] == 2
    # the last run cut off: its head, chunk and summaries deleted, the previous summary restored
    head_path(log, 2).unlink()
    chunk_path(log, 2).unlink()
    for path in (log / "summaries").iterdir():
        if path.name.startswith("training_summary_") and load(path)["head"] == 2:
            path.unlink()
    (log / "training_summary.json").write_bytes(first_summary)
    assert verify(log).ok  # without a head kept elsewhere, nothing in the folder tells

    from nethical_runner.cli.main import main

    code = main(
        [
            "audit",
            "verify",
            str(log),
            "--trusted-root",
            recorded["root"],
            "--trusted-size",
            str(recorded["tree_size"]),
        ]
    )
    assert code == 1


def test_check_proof_refuses_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "proof.json")
    done = run_isolated(
        f"""
        from nethical_runner.cli.main import main
        print("exit", main(["audit", "check-proof", {str(tmp_path / "proof.json")!r},
                            "--root", "0" * 64, "--size", "1"]))
        """
    )
    assert "exit 2" in done.stdout and "is not a regular file" in done.stderr, done
