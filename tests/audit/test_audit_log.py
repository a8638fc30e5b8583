"""The audit log on disk: what a training run records, and every way of tampering with it that
``verify`` must catch and name."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import SpecWriter
from nethical_runner.audit import canonical_json, leaf_hash, merkle_root, verify_consistency
from nethical_runner.audit.events import now
from nethical_runner.audit.formats import read_head
from nethical_runner.audit.frontier import MerkleFrontier
from nethical_runner.audit.lock import exclusive_lock
from nethical_runner.audit.log import AuditLogError, append_events
from nethical_runner.audit.recorder import AuditRecorder
from nethical_runner.audit.signing import key_from_env
from nethical_runner.audit.verify import VerifyReport, verify
from nethical_runner.drift import DriftResult
from nethical_runner.run import audit_observer
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.results import CohortResult, SpecResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import Spec, load_spec

EVENT_TYPES = [
    "training_start",
    "data_loaded",
    "data_split",
    "training_completed",
    "validation_metrics",
    "gate_decision",
    "model_saved",
]


# --- helpers ---------------------------------------------------------------------------------


def make_spec(write_spec: SpecWriter, body: str = "", name: str = "audited") -> Spec:
    path = write_spec(
        f"version: 1\nname: {name}\nmodel: {{type: heuristic}}\ndata: {{samples: 300}}\n"
        f"gate: {{max_ece: 0.3, min_accuracy: 0.7}}\naudit: {{enabled: true}}\n{body}",
        f"{name}.yaml",
    )
    return load_spec(path)


def train(spec: Spec, out: Path) -> SpecResult:
    return run_spec(spec, RunSettings(out))


def append_run(log: Path, run: str, count: int = 5, chunk_size: int = 1000, **kw: Any) -> None:
    events = [{"type": "step", "run_id": run, "step": i} for i in range(count)]
    key = key_from_env()  # as the pipeline does: signed when NETHICAL_AUDIT_KEY is set
    append_events(log, events, run_id=run, created_at=now(), chunk_size=chunk_size, key=key, **kw)


def build_log(log: Path, runs: int = 2, count: int = 5, chunk_size: int = 1000) -> Path:
    for run in range(runs):
        append_run(log, f"run{run}", count, chunk_size)
    return log


def chunk_path(log: Path, chunk_id: int) -> Path:
    return log / "chunks" / f"chunk_{chunk_id:06d}.json"


def head_path(log: Path, sequence: int) -> Path:
    return log / "heads" / f"head_{sequence:06d}.json"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def save(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


def problems(report: VerifyReport) -> list[tuple[str, str, str]]:
    return [(p.kind, p.where, p.message) for p in report.problems]


def assert_problem(report: VerifyReport, kind: str, where: str, *fragments: str) -> None:
    assert not report.ok
    for found_kind, found_where, message in problems(report):
        if found_kind == kind and found_where == where and all(f in message for f in fragments):
            return
    pytest.fail(f"no {kind} problem at {where} with {fragments}; got:\n{report.render()}")


# --- the frontier used by verify ---------------------------------------------------------------


def test_the_frontier_root_equals_merkle_root_at_every_size() -> None:
    leaves = [f"event {i}".encode() for i in range(65)]
    frontier = MerkleFrontier()
    assert frontier.root() == merkle_root([])
    for size in range(1, len(leaves) + 1):
        frontier.append(leaves[size - 1])
        assert frontier.root() == merkle_root(leaves[:size]), size


# --- what a training run records ---------------------------------------------------------------


def test_a_run_records_every_event_and_the_log_verifies(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    spec = make_spec(write_spec, "cohorts:\n  - {id: alpha}\n  - {id: beta, training: {seed: 7}}\n")
    result = train(spec, tmp_path / "out")
    receipt = result.audit
    assert receipt is not None and receipt.error is None and receipt.head is not None

    log = tmp_path / "out" / "audit"
    report = verify(log)
    assert report.ok, report.render()
    events = [json.loads(leaf) for leaf in report.leaves]
    assert [e["type"] for e in events] == [*EVENT_TYPES, *EVENT_TYPES, "run_end"]
    assert [e["index"] for e in events] == list(range(len(events)))
    assert {e["run_id"] for e in events} == {result.run_id}
    assert [e["cohort"] for e in events[:7]] == ["alpha"] * 7
    assert events[-1]["cohort"] is None
    assert events[-1]["cohorts"] == {"alpha": "promoted", "beta": "promoted"}

    start, loaded, split, _, metrics, gate, saved = events[:7]
    assert start["spec"] == "audited"
    assert start["spec_sha256"] == hashlib.sha256(spec.path.read_bytes()).hexdigest()
    assert (start["seed"], start["model_type"], start["params"]) == (42, "heuristic", {})
    alpha = result.cohorts["alpha"]
    assert isinstance(alpha, CohortResult)
    assert loaded["sha256"] == alpha.dataset.fingerprint
    assert (loaded["source"], loaded["rows"]) == ("synthetic", 300)
    assert (split["train_rows"], split["validation_rows"]) == (240, 60)
    assert metrics["metrics"]["accuracy"] == alpha.metrics["accuracy"]
    assert gate["promoted"] is True
    assert [t["key"] for t in gate["thresholds"]] == ["max_ece", "min_accuracy"]
    model_file = tmp_path / "out" / saved["path"]
    assert model_file == alpha.model_path
    assert saved["sha256"] == hashlib.sha256(model_file.read_bytes()).hexdigest()
    for event in events:
        assert event["timestamp"].endswith("+00:00")


def test_chunks_keep_the_seed_fields_and_store_each_leaf_byte_exact(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    train(make_spec(write_spec), tmp_path / "out")
    chunk = load(chunk_path(tmp_path / "out" / "audit", 1))
    for field in ("chunk_id", "merkle_root", "created_at", "finalized_at", "event_count", "events"):
        assert field in chunk
    assert chunk["created_at"].endswith("+00:00") and chunk["finalized_at"].endswith("+00:00")
    assert chunk["event_count"] == len(chunk["events"]) == 8
    leaves = [text.encode() for text in chunk["events"]]
    assert chunk["merkle_root"] == merkle_root(leaves).hex()
    assert chunk["leaf_hashes"] == [leaf_hash(leaf).hex() for leaf in leaves]
    for leaf in leaves:
        assert canonical_json(json.loads(leaf)) == leaf


def test_non_ascii_text_round_trips_to_the_same_leaf_bytes(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    recorder = AuditRecorder(tmp_path / "log", run_id="r", spec_name="s")
    recorder.record("note", None, text="Grüße, naïve café ✓")
    receipt = recorder.finish({})
    assert receipt.error is None
    report = verify(tmp_path / "log")
    assert report.ok, report.render()
    assert json.loads(report.leaves[0])["text"] == "Grüße, naïve café ✓"
    assert report.leaves[0] == canonical_json(json.loads(report.leaves[0]))


def test_audit_is_off_unless_the_spec_enables_it(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text("version: 1\nname: plain\nmodel: {type: heuristic}\ndata: {samples: 200}\n")
    result = train(load_spec(path), tmp_path / "out")
    assert result.audit is None
    assert not (tmp_path / "out" / "audit").exists()


def test_runs_append_and_each_head_proves_it_extends_the_previous(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    spec = make_spec(write_spec)
    for _ in range(3):
        train(spec, tmp_path / "out")
    log = tmp_path / "out" / "audit"
    heads = [read_head(head_path(log, n)) for n in (1, 2, 3)]
    assert [h.tree_size for h in heads] == [8, 16, 24]
    assert heads[0].previous is None
    for before, after in itertools.pairwise(heads):
        assert after.previous is not None and after.previous.root == before.root
        assert verify_consistency(
            before.tree_size,
            after.tree_size,
            before.root_bytes,
            after.root_bytes,
            after.proof_bytes,
        )
    assert verify(log).ok


def test_a_run_larger_than_chunk_size_spans_several_chunks(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    spec = make_spec(write_spec, name="small", body="")
    spec_text = spec.path.read_text().replace(
        "audit: {enabled: true}", "audit: {chunk_size: 3, enabled: true}"
    )
    spec.path.write_text(spec_text)
    train(load_spec(spec.path), tmp_path / "out")
    log = tmp_path / "out" / "audit"
    counts = [load(chunk_path(log, n))["event_count"] for n in (1, 2, 3)]
    assert counts == [3, 3, 2]
    assert read_head(head_path(log, 1)).chunk_count == 3
    assert verify(log).ok


def test_training_summaries_per_cohort_and_a_latest_one(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    spec = make_spec(write_spec, "cohorts:\n  - {id: alpha}\n  - {id: beta}\n")
    result = train(spec, tmp_path / "out")
    log = tmp_path / "out" / "audit"
    summaries = sorted((log / "summaries").glob("training_summary_*.json"))
    assert [p.name for p in summaries] == [
        f"training_summary_audited@alpha@{result.run_id}.json",
        f"training_summary_audited@beta@{result.run_id}.json",
    ]
    latest = load(log / "training_summary.json")
    assert latest == load(summaries[1])
    head = read_head(head_path(log, 1))
    for field in ("merkle_root", "model_type", "promoted", "metrics", "timestamp"):
        assert field in latest
    assert (latest["merkle_root"], latest["tree_size"], latest["head"]) == (head.root, 15, 1)
    assert latest["model_type"] == "heuristic" and latest["promoted"] is True
    assert 0.8 < latest["metrics"]["accuracy"] <= 1.0


def test_a_failed_cohort_is_recorded_and_the_run_still_committed(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    spec = make_spec(
        write_spec,
        "cohorts:\n  - {id: ok}\n  - {id: broken, data: {split: {train_fraction: 0.001}}}\n",
    )
    result = train(spec, tmp_path / "out")
    report = verify(tmp_path / "out" / "audit")
    assert report.ok
    events = [json.loads(leaf) for leaf in report.leaves]
    failed = [e for e in events if e["type"] == "training_failed"]
    assert len(failed) == 1 and "leaves an empty part" in failed[0]["error"]
    assert events[-1]["cohorts"] == {"ok": "promoted", "broken": "failed"}
    assert events[-1]["status"] == "failed"
    assert result.audit is not None and result.audit.error is None


def test_recording_refuses_envelope_fields_and_values_json_cannot_hold(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    recorder = AuditRecorder(tmp_path / "log", run_id="r", spec_name="s")
    with pytest.raises(ValueError, match="reserved"):
        recorder.record("x", None, index=3)
    with pytest.raises(ValueError, match="audit event 'x'"):
        recorder.record("x", None, value=float("nan"))
    with pytest.raises(ValueError, match="cannot be stored"):
        recorder.record("x", None, value=object())


def test_a_run_without_audit_records_nothing_and_hashes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("audit is off: nothing is recorded or hashed")

    monkeypatch.setattr(AuditRecorder, "record", refused)
    monkeypatch.setattr(audit_observer, "file_sha256", refused)
    path = tmp_path / "plain.yaml"
    path.write_text(
        "version: 1\nname: plain\nmodel: {type: heuristic}\ndata: {samples: 200}\n"
        "sla: {}\nslices: [{id: s, where: {column: violation_count, between: [0, 0.5]}}]\n"
    )
    result = train(load_spec(path), tmp_path / "out")
    (cohort,) = result.cohorts.values()
    assert isinstance(cohort, CohortResult) and cohort.sla is not None
    assert isinstance(result.drift, DriftResult)
    assert result.audit is None


# --- crashes and concurrency -------------------------------------------------------------------


def test_a_run_killed_before_its_head_leaves_the_log_verifiable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = build_log(tmp_path / "log", runs=1)
    from nethical_runner.audit import log as log_module

    real_write = log_module.atomic_write_json

    def die_at_the_head(path: Path, payload: Any) -> None:
        if path.parent.name == "heads":
            raise KeyboardInterrupt  # as if the process were killed at the commit point
        real_write(path, payload)

    monkeypatch.setattr(log_module, "atomic_write_json", die_at_the_head)
    with pytest.raises(KeyboardInterrupt):
        append_run(log, "killed", chunk_size=2)
    monkeypatch.undo()

    report = verify(log)
    assert report.ok, report.render()
    assert len(report.leaves) == 5  # the killed run's events are not in the log
    assert any("not covered by any tree head" in note for note in report.notes)
    assert chunk_path(log, 4).exists()

    append_run(log, "next", count=2)
    report = verify(log)
    assert report.ok and not report.notes
    assert [json.loads(leaf)["run_id"] for leaf in report.leaves[5:]] == ["next", "next"]
    assert not chunk_path(log, 3).exists()  # leftovers removed, the new run took chunk 2


def test_a_writer_refuses_to_append_to_a_tampered_log(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    log = build_log(tmp_path / "log")
    chunk = load(chunk_path(log, 1))
    chunk["events"][0] = chunk["events"][0].replace('"step":0', '"step":9')
    save(chunk_path(log, 1), chunk)
    with pytest.raises(AuditLogError, match=r"refusing to append.*audit verify"):
        append_run(log, "late")
    recorder = AuditRecorder(log, run_id="r", spec_name="s")
    receipt = recorder.finish({})
    assert receipt is not None and receipt.head is None
    assert "refusing to append: the committed chunks do not match" in (receipt.error or "")


def test_verify_waits_for_a_writer_holding_the_lock(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log", runs=1)
    reports: list[VerifyReport] = []
    with exclusive_lock(log):
        reader = threading.Thread(target=lambda: reports.append(verify(log)))
        reader.start()
        reader.join(timeout=0.3)
        assert reader.is_alive() and not reports  # blocked: a run may be half-appended
    reader.join(timeout=30)
    assert len(reports) == 1 and reports[0].ok


def test_verify_creates_nothing_in_the_folder_it_reads(tmp_path: Path) -> None:
    (tmp_path / "copy").mkdir()
    verify(tmp_path / "copy")
    assert list((tmp_path / "copy").iterdir()) == []


CONCURRENT_WRITER = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path
    from nethical_runner.audit.events import now
    from nethical_runner.audit.log import append_events

    log, who, runs = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    (log.parent / f"ready-{who}").touch()
    while not (log.parent / "go").exists():  # start together, so the appends overlap
        time.sleep(0.005)
    for run in range(runs):
        events = [{"type": "step", "worker": who, "run": run, "step": i} for i in range(5)]
        append_events(log, events, run_id=f"{who}-{run}", created_at=now(), chunk_size=2, key=None)
    """
)


def test_two_processes_appending_at_once_keep_the_log_verifiable(tmp_path: Path) -> None:
    log = tmp_path / "log"
    runs = 25
    workers = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(log), who, str(runs)])
        for who in ("a", "b")
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{who}").exists() for who in "ab"):
        assert time.monotonic() < deadline and all(w.poll() is None for w in workers)
        time.sleep(0.01)
    (tmp_path / "go").touch()
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    report = verify(log)
    assert report.ok, report.render()
    assert len(report.heads) == 2 * runs
    writers = [head.run_id[0] for head in report.heads.values()]
    assert sum(a != b for a, b in itertools.pairwise(writers)) >= 2, writers
    events = [json.loads(leaf) for leaf in report.leaves]
    assert len(events) == 2 * runs * 5
    for start in range(0, len(events), 5):  # each run's events are contiguous and complete
        run = events[start : start + 5]
        assert len({(e["worker"], e["run"]) for e in run}) == 1
        assert [e["step"] for e in run] == [0, 1, 2, 3, 4]


# --- secrets -------------------------------------------------------------------------------------

FAKE_KAGGLE_KEY = "kgl-0123456789abcdef0123456789abcdef"
FAKE_AUDIT_KEY = "audit-key-fedcba9876543210"


def test_no_secret_reaches_any_output_file(
    write_spec: SpecWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", FAKE_KAGGLE_KEY)
    monkeypatch.setenv("NETHICAL_AUDIT_KEY", FAKE_AUDIT_KEY)
    spec = make_spec(
        write_spec,
        "cohorts:\n  - {id: ok}\n  - {id: broken, data: {split: {train_fraction: 0.001}}}\n",
    )
    result = train(spec, tmp_path / "out")
    assert result.audit is not None and result.audit.head is not None
    assert result.audit.head.signature is not None  # the key signed, and is nowhere written

    recorder = AuditRecorder(tmp_path / "out" / "audit", run_id="r2", spec_name="audited")
    recorder.record("note", None, error=f"request failed: 401 for key {FAKE_KAGGLE_KEY}")
    assert recorder.finish({}).error is None

    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert any(p.suffix == ".npz" for p in files) and any("chunk_" in p.name for p in files)
    for path in files:
        content = path.read_bytes()
        for secret in (FAKE_KAGGLE_KEY, FAKE_AUDIT_KEY):
            assert secret.encode() not in content, path
    report = verify(tmp_path / "out" / "audit")
    assert report.ok, report.render()
    assert "[redacted]" in report.leaves[-2].decode()


# --- tampering: every case is caught and named -------------------------------------------------


def test_a_modified_event_is_named_by_chunk_and_index(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    chunk = load(chunk_path(log, 2))
    chunk["events"][3] = chunk["events"][3].replace('"step":3', '"step":4')
    save(chunk_path(log, 2), chunk)
    report = verify(log)
    assert_problem(report, "modified", "chunks/chunk_000002.json", "modified event 8", "position 3")
    assert len(report.problems) == 1


def test_an_event_whose_index_field_was_edited_is_named_as_modified(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    chunk = load(chunk_path(log, 1))
    chunk["events"][2] = chunk["events"][2].replace('"index":2', '"index":7')
    save(chunk_path(log, 1), chunk)
    report = verify(log)
    assert_problem(report, "modified", "chunks/chunk_000001.json", "modified event 2 (position 2")
    assert len(report.problems) == 1


def test_an_event_rewritten_with_its_hashes_is_caught_by_the_heads(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    chunk = load(chunk_path(log, 1))
    chunk["events"][1] = chunk["events"][1].replace('"step":1', '"step":7')
    chunk["leaf_hashes"][1] = leaf_hash(chunk["events"][1].encode()).hex()
    chunk["merkle_root"] = merkle_root([e.encode() for e in chunk["events"]]).hex()
    save(chunk_path(log, 1), chunk)
    report = verify(log)
    assert_problem(report, "rewritten", "heads/head_000001.json", "first 5 events")
    assert_problem(report, "rewritten", "heads/head_000002.json", "first 10 events")


def test_a_changed_chunk_root_is_caught(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    chunk = load(chunk_path(log, 1))
    chunk["merkle_root"] = "0" * 64
    save(chunk_path(log, 1), chunk)
    assert_problem(verify(log), "modified", "chunks/chunk_000001.json", "merkle_root")


def test_a_removed_event_is_named(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    chunk = load(chunk_path(log, 1))
    del chunk["events"][2]
    save(chunk_path(log, 1), chunk)
    assert_problem(verify(log), "removed", "chunks/chunk_000001.json", "event(s) 2 were removed")


def test_a_removed_event_with_its_count_and_hash_fixed_is_still_caught(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    chunk = load(chunk_path(log, 1))
    del chunk["events"][4]
    del chunk["leaf_hashes"][4]
    chunk["event_count"] = 4
    chunk["merkle_root"] = merkle_root([e.encode() for e in chunk["events"]]).hex()
    save(chunk_path(log, 1), chunk)
    report = verify(log)
    assert_problem(report, "removed", "chunks/chunk_000002.json", "event(s) 4 were removed")


def test_an_inserted_event_is_named(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    chunk = load(chunk_path(log, 2))
    chunk["events"].insert(2, chunk["events"][1])  # a copy of event 6 after it
    save(chunk_path(log, 2), chunk)
    assert_problem(verify(log), "inserted", "chunks/chunk_000002.json", "position 2 (index 6)")


def test_a_forged_event_is_named_as_inserted(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    chunk = load(chunk_path(log, 1))
    forged = canonical_json({"type": "model_saved", "index": 99, "run_id": "run0"}).decode()
    chunk["events"].append(forged)
    save(chunk_path(log, 1), chunk)
    assert_problem(verify(log), "inserted", "chunks/chunk_000001.json", "index 99")


def test_reordered_events_are_named(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    chunk = load(chunk_path(log, 1))
    chunk["events"][1], chunk["events"][3] = chunk["events"][3], chunk["events"][1]
    save(chunk_path(log, 1), chunk)
    report = verify(log)
    assert_problem(
        report, "reordered", "chunks/chunk_000001.json", "position 1 holds event 3",
        "position 3 holds event 1",
    )  # fmt: skip
    assert not any(p.kind == "modified" for p in report.problems)


def test_swapped_chunk_files_are_caught(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    one, two = chunk_path(log, 1), chunk_path(log, 2)
    one_bytes = one.read_bytes()
    one.write_bytes(two.read_bytes())
    two.write_bytes(one_bytes)
    assert_problem(verify(log), "reordered", "chunks/chunk_000001.json", "holds chunk 2")


def test_a_chunk_file_cut_short_is_reported_as_truncated(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    data = chunk_path(log, 1).read_bytes()
    chunk_path(log, 1).write_bytes(data[: len(data) // 2])
    assert_problem(verify(log), "truncated", "chunks/chunk_000001.json", "not valid JSON")


def test_events_cut_off_the_end_of_a_chunk_are_reported_as_truncated(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    chunk = load(chunk_path(log, 2))
    chunk["events"] = chunk["events"][:3]
    save(chunk_path(log, 2), chunk)
    assert_problem(
        verify(log), "truncated", "chunks/chunk_000002.json", "event(s) 8-9 were removed"
    )


@pytest.mark.parametrize("deleted", [1, 2])
def test_a_deleted_chunk_is_named(tmp_path: Path, deleted: int) -> None:
    log = build_log(tmp_path / "log")
    chunk_path(log, deleted).unlink()
    assert_problem(
        verify(log), "missing", f"chunks/chunk_{deleted:06d}.json", "commits to chunks 1-2"
    )


def test_a_deleted_head_is_named(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log", runs=3)
    head_path(log, 2).unlink()
    assert_problem(verify(log), "missing", "heads/head_000002.json", "a tree head was deleted")


def test_a_log_cut_back_to_an_earlier_head_is_caught_by_its_summaries(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    spec = make_spec(write_spec)
    train(spec, tmp_path / "out")
    train(spec, tmp_path / "out")
    log = tmp_path / "out" / "audit"
    head_path(log, 2).unlink()
    chunk_path(log, 2).unlink()
    report = verify(log)
    assert_problem(report, "rewritten", "training_summary.json", "tree head 2", "no longer holds")


def test_rewritten_history_is_caught_as_inconsistent_heads(tmp_path: Path) -> None:
    original = build_log(tmp_path / "original")
    forged = tmp_path / "forged"
    append_run(forged, "run0-forged")
    append_run(forged, "run1")
    # the forger replaces the events and the newest head, but the old head is still there
    shutil.rmtree(original / "chunks")
    shutil.copytree(forged / "chunks", original / "chunks")
    shutil.copy(head_path(forged, 2), head_path(original, 2))
    report = verify(original)
    assert_problem(report, "rewritten", "heads/head_000002.json", "history was rewritten")
    assert_problem(report, "rewritten", "heads/head_000001.json", "first 5 events")


def test_a_rewritten_head_whose_proof_fails_is_caught(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log", runs=3)
    other = build_log(tmp_path / "other", runs=3, count=4)
    head = load(head_path(log, 3))
    head["consistency_proof"] = load(head_path(other, 3))["consistency_proof"]
    save(head_path(log, 3), head)
    assert_problem(
        verify(log), "rewritten", "heads/head_000003.json", "is not consistent with head_000002"
    )


def test_a_trusted_head_catches_a_consistent_rewrite_of_an_unsigned_log(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    kept = tmp_path / "published-head.json"
    shutil.copy(head_path(log, 2), kept)
    shutil.rmtree(log)
    append_run(log, "run0", count=5)
    append_run(log, "run1-rewritten", count=5)
    assert verify(log).ok  # internally consistent: only an outside reference can tell
    report = verify(log, trusted_head=read_head(kept))
    assert_problem(report, "rewritten", "trusted head", "history was rewritten")

    shutil.rmtree(log)
    append_run(log, "run0", count=5)
    assert_problem(verify(log, trusted_head=read_head(kept)), "truncated", "trusted head")


def test_hmac_signed_heads_verify_with_the_key_and_fail_with_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETHICAL_AUDIT_KEY", "the right key")
    log = build_log(tmp_path / "log")
    assert all(read_head(head_path(log, n)).signature for n in (1, 2))
    assert verify(log).ok

    monkeypatch.setenv("NETHICAL_AUDIT_KEY", "another key")
    report = verify(log)
    assert_problem(report, "signature", "heads/head_000001.json", "bad signature")
    assert_problem(report, "signature", "heads/head_000002.json", "bad signature")

    monkeypatch.delenv("NETHICAL_AUDIT_KEY")
    unkeyed = verify(log)
    assert unkeyed.ok and any("signatures" in note for note in unkeyed.notes)


def test_a_head_changed_after_signing_fails_its_signature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETHICAL_AUDIT_KEY", "the right key")
    log = build_log(tmp_path / "log")
    head = load(head_path(log, 2))
    head["timestamp"] = "2020-01-01T00:00:00+00:00"
    save(head_path(log, 2), head)
    report = verify(log)
    assert_problem(report, "signature", "heads/head_000002.json", "bad signature")
    assert len(report.problems) == 1


def test_a_rewrite_without_the_key_is_caught_by_the_signatures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETHICAL_AUDIT_KEY", "the right key")
    log = build_log(tmp_path / "log")
    monkeypatch.delenv("NETHICAL_AUDIT_KEY")
    shutil.rmtree(log)
    build_log(log)  # a consistent forgery, made without the key
    monkeypatch.setenv("NETHICAL_AUDIT_KEY", "the right key")
    assert_problem(verify(log), "signature", "heads/head_000001.json", "is not signed")


def test_an_empty_or_absent_log_does_not_verify(tmp_path: Path) -> None:
    assert_problem(verify(tmp_path / "nowhere"), "missing", str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    assert_problem(verify(tmp_path / "empty"), "missing", "heads/", "nothing was committed")


def test_a_malformed_head_names_its_field(tmp_path: Path) -> None:
    log = build_log(tmp_path / "log")
    head = load(head_path(log, 1))
    head["timestamp"] = "2024-01-01T00:00:00"
    save(head_path(log, 1), head)
    assert_problem(verify(log), "malformed", "heads/head_000001.json", "timestamp", "no time zone")
