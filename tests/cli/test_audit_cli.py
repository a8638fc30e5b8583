"""``nethical-runner audit ...`` and the seed's ``--enable-audit --audit-path`` flags."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nethical_runner.audit.proofs import check_proof, prove
from nethical_runner.cli.main import main

TRAIN = ["train", "--model-type", "heuristic", "--num-samples", "300"]


def train_with_audit(tmp_path: Path, runs: int = 1) -> Path:
    log = tmp_path / "audit-logs"
    for _ in range(runs):
        flags = ["--enable-audit", "--audit-path", str(log), "--out", str(tmp_path / "out")]
        assert main([*TRAIN, *flags]) == 0
    return log


def head_file(log: Path, sequence: int) -> Path:
    return log / "heads" / f"head_{sequence:06d}.json"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_enable_audit_writes_the_log_to_audit_path_and_runs_append(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = train_with_audit(tmp_path, runs=2)
    out = capsys.readouterr().out
    assert f"heuristic: audit log {log}: 8 events appended (log index 8-15), head 2" in out
    assert sorted(p.name for p in (log / "heads").iterdir()) == [
        "head_000001.json",
        "head_000002.json",
    ]
    assert (log / "training_summary.json").is_file()
    assert not (tmp_path / "out" / "audit").exists()  # --audit-path, not <out>/audit

    code, out, _ = run_cli(capsys, "audit", "verify", str(log))
    assert code == 0
    assert out.splitlines()[:2] == [
        f"audit log {log}: intact",
        "  16 events in 2 chunks, 2 tree heads",
    ]


def test_without_enable_audit_nothing_is_logged(tmp_path: Path) -> None:
    flags = ["--audit-path", str(tmp_path / "log"), "--out", str(tmp_path / "out")]
    assert main([*TRAIN, *flags]) == 0
    assert not (tmp_path / "log").exists()
    assert not (tmp_path / "out" / "audit").exists()


def test_a_spec_run_logs_under_the_output_root(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "version: 1\nname: s\nmodel: {type: heuristic}\ndata: {samples: 300}\n"
        "audit: {enabled: true}\ngate: {min_accuracy: 0.5}\n"
    )
    assert main(["run", str(spec), "--out", str(tmp_path / "out")]) == 0
    assert main(["audit", "verify", str(tmp_path / "out" / "audit")]) == 0


def test_verify_exits_1_and_names_a_modified_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = train_with_audit(tmp_path)
    chunk_path = log / "chunks" / "chunk_000001.json"
    chunk = json.loads(chunk_path.read_text())
    chunk["events"][3] = chunk["events"][3].replace('"epochs":10', '"epochs":11')
    chunk_path.write_text(json.dumps(chunk))
    capsys.readouterr()
    code, out, _ = run_cli(capsys, "audit", "verify", str(log))
    assert code == 1
    lines = out.splitlines()
    assert lines[:2] == [
        f"audit log {log}: 1 problem",
        "  chunks/chunk_000001.json: modified event 3 (position 3 in this chunk): its bytes do "
        "not match its recorded leaf hash",
    ]
    # the summaries of that run cannot be rebuilt from damaged events, and the report says so
    assert [line.split(": ", 1)[1].split(" ", 1)[1] for line in lines[2:]] == [
        "is not checked: the events it names are damaged"
    ] * 2


def test_verify_of_a_missing_log_exits_1(tmp_path: Path, capsys) -> None:
    code, out, _ = run_cli(capsys, "audit", "verify", str(tmp_path / "nothing"))
    assert code == 1
    assert "no audit log here" in out


def test_verify_against_a_trusted_head(tmp_path: Path, capsys) -> None:
    log = train_with_audit(tmp_path, runs=2)
    kept = tmp_path / "kept-head.json"
    kept.write_bytes(head_file(log, 2).read_bytes())
    assert main(["audit", "verify", str(log), "--trusted-head", str(kept)]) == 0
    head_file(log, 2).unlink()
    (log / "chunks" / "chunk_000002.json").unlink()
    for summary in [log / "training_summary.json", *(log / "summaries").iterdir()]:
        summary.unlink()  # a careful forger: nothing left that remembers the second run
    capsys.readouterr()
    assert main(["audit", "verify", str(log)]) == 0
    code, out, _ = run_cli(capsys, "audit", "verify", str(log), "--trusted-head", str(kept))
    assert code == 1
    assert "trusted head: commits to 16 events but the log holds 8" in out
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["audit", "verify", str(log), "--trusted-head", str(bad)]) == 2


def test_prove_and_check_proof_for_every_event(tmp_path: Path, capsys) -> None:
    log = train_with_audit(tmp_path, runs=2)
    head = json.loads(head_file(log, 2).read_text())
    capsys.readouterr()
    for index in range(head["tree_size"]):
        code, out, _ = run_cli(capsys, "audit", "prove", str(log), "--event", str(index))
        assert code == 0
        proof = json.loads(out)
        assert (proof["index"], proof["tree_size"], proof["root"]) == (
            index,
            16,
            head["root"],
        )
        assert json.loads(proof["leaf"])["index"] == index
        assert check_proof(proof, root=head["root"], tree_size=16).valid


def test_check_proof_from_the_command_line(tmp_path: Path, capsys, monkeypatch) -> None:
    log = train_with_audit(tmp_path, runs=2)
    head = json.loads(head_file(log, 2).read_text())
    proof_path = tmp_path / "proof.json"
    proof_path.write_text(json.dumps(prove(log, 5)))
    capsys.readouterr()

    code, out, _ = run_cli(
        capsys, "audit", "check-proof", str(proof_path), "--root", head["root"], "--size", "16"
    )
    assert code == 0
    assert out.startswith("proof valid: event 5 (gate_decision of heuristic/heuristic_")

    code, out, _ = run_cli(
        capsys, "audit", "check-proof", str(proof_path), "--head", str(head_file(log, 2))
    )
    assert code == 0

    monkeypatch.setattr(sys, "stdin", io.StringIO(proof_path.read_text()))
    code, _, _ = run_cli(capsys, "audit", "check-proof", "-", "--head", str(head_file(log, 2)))
    assert code == 0

    old = json.loads(head_file(log, 1).read_text())  # a root the proof was not made for
    code, out, _ = run_cli(
        capsys, "audit", "check-proof", str(proof_path), "--root", old["root"], "--size", "8"
    )
    assert code == 1
    assert out.startswith("proof invalid")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: p.update(leaf=p["leaf"].replace('"type":"gate_decision"', '"type":"x"')),
        lambda p: p.update(index=p["index"] + 1),
        lambda p: p.update(proof=p["proof"][:-1]),
        lambda p: p.update(
            proof=[h.replace(h[0], "f" if h[0] != "f" else "e", 1) for h in p["proof"]]
        ),
        lambda p: p.update(format="something else"),
    ],
    ids=["leaf", "index", "short-path", "path-node", "format"],
)
def test_a_tampered_proof_does_not_check(tmp_path: Path, capsys, tamper: Any) -> None:
    log = train_with_audit(tmp_path, runs=2)
    head = json.loads(head_file(log, 2).read_text())
    proof = prove(log, 5)
    tamper(proof)
    proof_path = tmp_path / "proof.json"
    proof_path.write_text(json.dumps(proof))
    capsys.readouterr()
    code, out, _ = run_cli(
        capsys, "audit", "check-proof", str(proof_path), "--root", head["root"], "--size", "16"
    )
    assert code == 1
    assert out.startswith("proof invalid")


def test_check_proof_needs_a_trusted_root_and_readable_input(tmp_path: Path, capsys) -> None:
    log = train_with_audit(tmp_path)
    proof_path = tmp_path / "proof.json"
    proof_path.write_text(json.dumps(prove(log, 0)))
    capsys.readouterr()
    code, _, err = run_cli(capsys, "audit", "check-proof", str(proof_path))
    assert code == 2
    assert "name the trusted tree head" in err
    code, _, err = run_cli(
        capsys, "audit", "check-proof", str(proof_path), "--root", "xyz", "--size", "8"
    )
    assert code == 2 and "not a hex string" in err
    code, _, err = run_cli(
        capsys, "audit", "check-proof", str(tmp_path / "none.json"), "--root", "00", "--size", "1"
    )
    assert code == 2 and "cannot be read" in err


def test_check_proof_refuses_a_head_with_a_bad_signature(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("NETHICAL_AUDIT_KEY", "ci secret")
    log = train_with_audit(tmp_path)
    proof_path = tmp_path / "proof.json"
    proof_path.write_text(json.dumps(prove(log, 0)))
    assert main(["audit", "check-proof", str(proof_path), "--head", str(head_file(log, 1))]) == 0
    monkeypatch.setenv("NETHICAL_AUDIT_KEY", "another secret")
    capsys.readouterr()
    code, _, err = run_cli(
        capsys, "audit", "check-proof", str(proof_path), "--head", str(head_file(log, 1))
    )
    assert code == 1 and "bad or no signature" in err


def test_prove_refuses_events_outside_the_log_and_logs_that_do_not_verify(
    tmp_path: Path, capsys
) -> None:
    log = train_with_audit(tmp_path)
    capsys.readouterr()
    code, _, err = run_cli(capsys, "audit", "prove", str(log), "--event", "8")
    assert code == 2 and "event 8 is not in the log (it holds events 0-7)" in err
    (log / "chunks" / "chunk_000001.json").unlink()
    code, _, err = run_cli(capsys, "audit", "prove", str(log), "--event", "0")
    assert code == 1 and "no proof from a log that does not verify" in err


def test_the_audit_commands_through_the_program_entry_point(tmp_path: Path) -> None:
    log = train_with_audit(tmp_path)
    verified = subprocess.run(
        [sys.executable, "-m", "nethical_runner", "audit", "verify", str(log)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout


def test_train_exits_2_when_its_events_cannot_be_appended(tmp_path: Path, capsys) -> None:
    log = train_with_audit(tmp_path)
    (log / "chunks" / "chunk_000001.json").unlink()
    capsys.readouterr()
    flags = ["--enable-audit", "--audit-path", str(log), "--out", str(tmp_path / "out")]
    code, out, _ = run_cli(capsys, *TRAIN, *flags)
    assert code == 2
    assert "not appended: refusing to append: chunks/chunk_000001.json is missing; run " in out


def test_a_trusted_root_and_size_must_be_a_head(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = train_with_audit(tmp_path)
    head = json.loads(head_file(log, 1).read_text())
    root, size = head["root"], str(head["tree_size"])
    assert (
        run_cli(
            capsys, "audit", "verify", str(log), "--trusted-root", root, "--trusted-size", size
        )[0]
        == 0
    )
    code, _, err = run_cli(
        capsys, "audit", "verify", str(log), "--trusted-root", "zz", "--trusted-size", size
    )
    assert code == 2 and "64 lowercase hex digits" in err
    code, _, err = run_cli(capsys, "audit", "verify", str(log), "--trusted-root", root)
    assert code == 2 and "go together" in err
    code, out, _ = run_cli(
        capsys, "audit", "verify", str(log), "--trusted-root", "0" * 64, "--trusted-size", size
    )
    assert code == 1 and "trusted head" in out and "history was rewritten" in out
