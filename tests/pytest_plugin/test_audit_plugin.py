"""The ``audit[verify]`` item and the ``audit_log`` fixture, driven through pytester."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import SpecWriter
from nethical_runner.audit.verify import verify

SPEC = """\
version: 1
name: {name}
model: {{type: heuristic}}
data: {{samples: 400}}
cohorts:
  - {{id: alpha}}
  - {{id: beta, training: {{seed: 7}}}}
gate: {{max_ece: 0.3, min_accuracy: 0.7}}
audit: {{enabled: true}}
"""


def spec_text(name: str = "mine", audit: bool = True) -> str:
    text = SPEC.format(name=name)
    return text if audit else text.replace("audit: {enabled: true}\n", "")


def audit_dir(pytester: pytest.Pytester) -> Path:
    return pytester.path / "nethical-out" / "audit"


def test_an_audited_spec_gets_one_audit_item_after_its_cohorts(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(spec_text(), "specs/mine.yaml")
    write_spec(spec_text("plain", audit=False), "specs/plain.yaml")
    result = pytester.runpytest("specs/", "--collect-only", "-q")
    ids = [line for line in result.outlines if "::" in line]
    assert ids == [
        "specs/mine.yaml::mine::alpha::gate[ece]",
        "specs/mine.yaml::mine::alpha::gate[accuracy]",
        "specs/mine.yaml::mine::beta::gate[ece]",
        "specs/mine.yaml::mine::beta::gate[accuracy]",
        "specs/mine.yaml::mine::audit[verify]",
        "specs/plain.yaml::plain::alpha::gate[ece]",
        "specs/plain.yaml::plain::alpha::gate[accuracy]",
        "specs/plain.yaml::plain::beta::gate[ece]",
        "specs/plain.yaml::plain::beta::gate[accuracy]",
    ]
    assert not (pytester.path / "nethical-out").exists()


def test_the_audit_item_passes_with_junit_properties(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(spec_text(), "specs/mine.yaml")
    result = pytester.runpytest("specs/", "--junitxml=report.xml")
    result.assert_outcomes(passed=5)
    report = verify(audit_dir(pytester))
    assert report.ok and len(report.heads) == 1  # the spec trained (and logged) once
    cases = ET.parse(pytester.path / "report.xml").getroot().iter("testcase")
    audit_case = next(c for c in cases if c.get("name") == "audit[verify]")
    properties = {p.get("name"): p.get("value") for p in audit_case.iter("property")}
    latest = report.latest
    assert latest is not None
    assert properties["tree_size"] == str(latest.tree_size) == "15"
    assert properties["root"] == latest.root


def test_selecting_only_the_audit_item_trains_and_verifies(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(spec_text(), "specs/mine.yaml")
    pytester.runpytest("specs/", "-k", "audit").assert_outcomes(passed=1, deselected=4)
    assert verify(audit_dir(pytester)).ok


def test_a_tampered_log_fails_the_next_sessions_audit_item(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(spec_text(), "specs/mine.yaml")
    pytester.runpytest("specs/").assert_outcomes(passed=5)
    chunk_path = audit_dir(pytester) / "chunks" / "chunk_000001.json"
    chunk = json.loads(chunk_path.read_text())
    chunk["events"][1] = chunk["events"][1].replace('"rows":400', '"rows":40000')
    chunk_path.write_text(json.dumps(chunk))

    result = pytester.runpytest("specs/")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.re_match_lines(
        [
            r"audit log .*/nethical-out/audit is not intact \(this run's 15 events were not "
            r"appended\):",
            r"  chunks/chunk_000001\.json: modified event 1 \(position 1 in this chunk\): its "
            r"bytes do not match its recorded leaf hash",
            r"  threshold at specs/mine\.yaml:9:18 \(audit\.enabled\)",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_the_audit_log_fixture_reads_the_sessions_run(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(spec_text(), "specs/mine.yaml")
    write_spec(spec_text("plain", audit=False), "specs/plain.yaml")
    pytester.makepyfile(
        test_mine="""
        import pytest
        from nethical_runner.audit.proofs import check_proof
        from nethical_runner.audit.trail import AuditNotEnabled

        def test_the_run_is_in_the_log(audit_log, training_result):
            trail = audit_log("specs/mine.yaml")
            assert trail.verify().ok
            events = trail.events()
            assert [e["type"] for e in events][:2] == ["training_start", "data_loaded"]
            assert events[-1]["type"] == "run_end"
            assert {e["run_id"] for e in events} == {training_result("specs/mine.yaml").run_id}
            proof = trail.prove(trail.receipt.first_index)
            head = trail.receipt.head
            assert check_proof(proof, root=head.root, tree_size=head.tree_size).valid

        def test_a_spec_without_audit_says_so(audit_log):
            with pytest.raises(AuditNotEnabled, match="does not enable the audit log"):
                audit_log("specs/plain.yaml")
        """
    )
    pytester.runpytest("specs/mine.yaml", "test_mine.py").assert_outcomes(passed=7)
    assert len(verify(audit_dir(pytester)).heads) == 1  # mine logged once; plain never logs
    assert len(list((pytester.path / "nethical-out").rglob("mine@*_model_*.npz"))) == 2


def test_xdist_workers_append_to_the_same_log(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    pytest.importorskip("xdist")
    for name in ("one", "two"):
        write_spec(spec_text(name), f"specs/{name}.yaml")
    result = pytester.runpytest_subprocess("specs/", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=10)
    report = verify(audit_dir(pytester))
    assert report.ok, report.render()
    runs = {json.loads(head_leaf)["run_id"] for head_leaf in report.leaves}
    assert len(runs) == 2  # one session per worker, both appended to the one log
    assert {json.loads(leaf)["spec"] for leaf in report.leaves} == {"one", "two"}
