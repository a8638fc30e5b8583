"""A log written before heads committed to their chunks' digests and before run_end events
carried the cohorts' outcomes (``data/log_before_digests``, written by the previous release)
still verifies, says what it does not cover, and takes new runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nethical_runner.audit.verify import verify
from nethical_runner.cli.main import main

LEGACY = Path(__file__).parent / "data" / "log_before_digests"
SPEC = (
    "version: 1\nname: mine\nmodel: {type: heuristic}\ndata: {samples: 300}\n"
    "gate: {min_accuracy: 0.5}\naudit: {enabled: true}\n"
)


def test_a_log_of_the_previous_format_verifies_with_what_it_does_not_cover(
    tmp_path: Path,
) -> None:
    log = tmp_path / "audit"
    shutil.copytree(LEGACY, log)
    report = verify(log)
    assert report.ok, report.problems
    notes = "\n".join(report.notes)
    assert "head_000001.json was written before heads committed to their chunks' digests" in notes
    assert "training_summary.json is not checked: its run was logged before" in notes


def test_a_new_run_appends_to_it_and_its_own_summaries_are_checked(tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(LEGACY, out / "audit")
    spec = tmp_path / "mine.yaml"
    spec.write_text(SPEC)
    assert main(["run", str(spec), "--out", str(out)]) == 0
    report = verify(out / "audit")
    assert report.ok, report.problems
    assert report.summaries_checked == 2  # the new run's own summary and the latest copy


def test_a_legacy_head_cannot_be_forged_into_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dropping a new head's chunk digests to pass for a legacy head changes what it signed."""
    monkeypatch.setenv("NETHICAL_AUDIT_KEY", "k" * 32)
    out = tmp_path / "out"
    spec = tmp_path / "mine.yaml"
    spec.write_text(SPEC)
    assert main(["run", str(spec), "--out", str(out)]) == 0
    head = out / "audit" / "heads" / "head_000001.json"
    document = json.loads(head.read_text())
    del document["chunk_sha256"]
    head.write_text(json.dumps(document))
    report = verify(out / "audit")
    assert not report.ok
    assert any("signature" in str(problem) for problem in report.problems)
