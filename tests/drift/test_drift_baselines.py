"""Which run is the next run's baseline: never one that failed its drift checks, unless a new
baseline was accepted on purpose, with a reason, recorded in the history and the audit log.

Cohort beta turns noisy (``label_noise: 0.5``) after the first run, which costs it about 0.3
accuracy: far beyond ``max_drop`` and any bootstrap interval on these rows, so every outcome
here is certain.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import SpecWriter
from nethical_runner.audit.verify import verify
from nethical_runner.cli.main import main
from nethical_runner.drift import DriftResult, DriftVerdict
from nethical_runner.drift.baseline import accepted_reason, failed_runs
from nethical_runner.drift.history import FORMAT, read_history
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.results import SpecResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import load_spec

SPEC = """\
version: 1
name: small
model: {type: logistic}
training: {epochs: 2}
data: {samples: 800}
gate: {min_accuracy: 0.5}
cohorts:
  - {id: alpha}
  - {id: beta, training: {seed: 7}}
drift: {max_spread: {}, max_drop: {accuracy: 0.02}}
"""
CLEAN, NOISY = "{id: beta, training: {seed: 7}}", "{id: beta, data: {label_noise: 0.5}}"
REASON = "beta now trains on the relabelled data"


def run(path: Path, out: Path, run_id: str, **settings: Any) -> SpecResult:
    return run_spec(load_spec(path), RunSettings(out, run_id=run_id, **settings))


def drop_verdict(result: SpecResult) -> DriftVerdict:
    drift = result.drift
    assert isinstance(drift, DriftResult), drift
    check = next(c for c in drift.checks if c.kind == "vs_previous")
    return drift.verdict(check)


def record(out: Path, run_id: str) -> dict[str, Any]:
    return json.loads((out / "drift" / "history" / "small" / f"{run_id}.json").read_text())


def turn_noisy(path: Path) -> None:
    path.write_text(path.read_text().replace(CLEAN, NOISY))


def test_a_rerun_after_a_failed_comparison_fails_again(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    out, path = tmp_path / "out", write_spec(SPEC)
    assert drop_verdict(run(path, out, "run-1")).skipped
    turn_noisy(path)
    failed = drop_verdict(run(path, out, "run-2"))
    assert not failed.passed and failed.message.endswith("since run run-1")
    assert record(out, "run-2")["baseline_eligible"] is False
    assert record(out, "run-2")["failed_checks"] == ["drift[accuracy.vs_previous]"]
    again = drop_verdict(run(path, out, "run-3"))  # nothing changed: it must not pass
    assert not again.passed
    assert again.properties["baseline_run"] == "run-1"
    assert again.message.endswith(
        "since run run-1 (the later run run-2 failed its drift checks and is not a baseline)"
    )
    third = drop_verdict(run(path, out, "run-4"))
    assert not third.passed and third.message.endswith(
        "since run run-1 (the later runs run-3, run-2 failed their drift checks and are not "
        "baselines)"
    )
    assert record(out, "run-1")["baseline_eligible"] is True


def test_accepting_a_new_baseline_skips_the_comparison_and_the_next_run_compares_with_it(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    out, path = tmp_path / "out", write_spec(SPEC)
    run(path, out, "run-1")
    turn_noisy(path)
    assert not drop_verdict(run(path, out, "run-2")).passed
    accepting = run(path, out, "run-3", accept_baseline=REASON)
    verdict = drop_verdict(accepting)
    assert verdict.skipped and verdict.message == (
        f"drift max_drop.accuracy: new baseline accepted (reason: {REASON}); not compared "
        "with run run-1"
    )
    assert isinstance(accepting.drift, DriftResult) and accepting.drift.report_path
    report = json.loads(accepting.drift.report_path.read_text())
    vs_previous = report["drift_metrics"]["vs_previous"]
    assert [d["status"] for d in vs_previous["metrics"]["accuracy"]] == ["ok", "drift"]
    assert vs_previous["accepted"] == {"reason": REASON, "run_id": "run-3"}
    assert record(out, "run-3")["baseline_eligible"] is True
    assert record(out, "run-3")["accepted"] == {"reason": REASON, "run_id": "run-3"}
    assert record(out, "run-3")["failed_checks"] == []  # its one drift check was skipped

    after = drop_verdict(run(path, out, "run-4"))
    assert after.passed and not after.skipped
    assert after.properties["baseline_run"] == "run-3"
    assert after.message.endswith("since run run-3")


def test_a_run_failing_any_drift_check_is_no_baseline_and_no_baseline_yet_says_why(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    out, path = (
        tmp_path / "out",
        write_spec(SPEC.replace("max_spread: {}", "max_spread: {accuracy: 0.05}")),
    )
    turn_noisy(path)  # the spread fails in every run; there is no earlier run to drop from
    first = run(path, out, "run-1")
    assert first.drift is not None
    verdict = drop_verdict(first)
    assert verdict.skipped and verdict.message == (
        "drift max_drop.accuracy: no baseline yet: no earlier run of spec small with these "
        f"cohorts is recorded in {out / 'drift'}; this run failed drift[accuracy] and is not "
        "recorded as a baseline either"
    )
    assert record(out, "run-1")["failed_checks"] == ["drift[accuracy]"]
    verdict = drop_verdict(run(path, out, "run-2"))
    assert verdict.skipped and verdict.message.startswith(
        "drift max_drop.accuracy: no baseline yet: no earlier run of spec small with these "
        f"cohorts that passed its drift checks is recorded in {out / 'drift'} (run run-1 "
        "failed its drift checks and is not a baseline); "
    )


def test_records_without_the_field_still_serve_as_baselines(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    out, path = tmp_path / "out", write_spec(SPEC)
    run(path, out, "run-1")
    file = out / "drift" / "history" / "small" / "run-1.json"
    written = json.loads(file.read_text())
    assert written["format"] == FORMAT == 1  # an older runner still reads the new records
    old = {
        k: v
        for k, v in written.items()
        if k not in ("baseline_eligible", "failed_checks", "accepted")
    }
    file.write_text(json.dumps(old))
    (recorded, _) = read_history(out / "drift", ["small"]).records
    assert recorded.eligible
    verdict = drop_verdict(run(path, out, "run-2"))
    assert verdict.passed and verdict.properties["baseline_run"] == "run-1"
    file.write_text(json.dumps({**old, "baseline_eligible": "yes"}))  # not a flag: unreadable
    assert read_history(out / "drift", ["small"]).unreadable == (str(file),)


@pytest.mark.parametrize("reason", ["", "   \t"])
def test_an_empty_reason_is_refused(reason: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a new baseline needs a reason"):
        RunSettings(tmp_path, accept_baseline=reason)


def test_the_acceptance_is_an_audit_event_and_the_log_still_verifies(
    write_spec: SpecWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, path = tmp_path / "out", write_spec(SPEC + "audit: {enabled: true}\n")
    run(path, out, "run-1")
    turn_noisy(path)
    run(path, out, "run-2", accept_baseline=REASON)
    report = verify(out / "audit")
    assert report.ok, report.render()
    events = [json.loads(leaf) for leaf in report.leaves]
    (accepted,) = [e for e in events if e["type"] == "baseline_accepted"]
    assert accepted["run_id"] == "run-2" and accepted["cohort"] is None
    assert accepted["reason"] == REASON
    assert accepted["not_compared_with"] == {"alpha": "run-1", "beta": "run-1"}
    history = out / "drift" / "history" / "small" / "run-2.json"
    assert accepted["history"]["path"] == "drift/history/small/run-2.json"
    assert accepted["history"]["sha256"] == hashlib.sha256(history.read_bytes()).hexdigest()
    types = [e["type"] for e in events if e["run_id"] == "run-2"]
    assert types[-3:] == ["drift_report", "baseline_accepted", "run_end"]
    assert "baseline_accepted" not in [e["type"] for e in events if e["run_id"] == "run-1"]
    assert main(["audit", "verify", str(out / "audit")]) == 0
    assert "intact" in capsys.readouterr().out


def test_the_command_line_accepts_a_baseline_with_a_reason_and_refuses_an_empty_one(
    write_spec: SpecWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, path = tmp_path / "out", write_spec(SPEC)
    flags = ["--out", str(out)]
    assert main(["run", str(path), *flags]) == 0
    turn_noisy(path)
    assert main(["run", str(path), *flags]) == 1
    assert main(["run", str(path), *flags]) == 1  # the rerun fails again
    capsys.readouterr()
    assert main(["run", str(path), *flags, "--accept-baseline", " "]) == 2
    assert "error: --accept-baseline: a new baseline needs a reason" in capsys.readouterr().err
    assert main(["run", str(path), *flags, "--accept-baseline", REASON]) == 0
    printed = capsys.readouterr().out
    assert f"new baseline accepted (reason: {REASON})" in printed
    assert main(["run", str(path), *flags]) == 0
    train = ["train", "--model-type", "heuristic", "--enable-drift-tracking"]
    assert main([*train, *flags, "--accept-baseline", ""]) == 2


def test_messages_list_a_few_passed_over_runs_and_count_the_rest() -> None:
    assert failed_runs(["r5", "r4", "r3", "r2", "r1"]) == (
        "runs r5, r4, r3 and 2 more failed their drift checks and are not baselines"
    )
    assert accepted_reason("  relabelled data \n") == "relabelled data"
    assert accepted_reason(None) is None
