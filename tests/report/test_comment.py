"""``nethical-runner comment``: one pull-request comment body from a real run's results.json,
with the hidden marker, the failing checks, metric deltas, the spec diff, escaping and a size
bound."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from support import specdiff_repo
from support.specdiff_repo import Repo

from nethical_runner._escape import ZERO_WIDTH_SPACE
from nethical_runner.cli.main import main
from nethical_runner.report.comment import MARKER, MAX_BODY_BYTES

git_env = specdiff_repo.git_env
repo = specdiff_repo.repo

SPEC = """\
version: 1
name: review
model: {type: heuristic}
data: {samples: 600}
cohorts: [{id: alpha}, {id: beta, training: {seed: 7}}]
gate: {min_accuracy: 0.5, max_ece: 0.3}
"""


def run(root: Path, spec: str = SPEC, *extra: str) -> Path:
    path = root / "review.yaml"
    path.write_text(spec)
    out = root / "out"
    main(["run", str(path), "--out", str(out), *extra])
    return out / "results.json"


def comment(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["comment", *args])
    captured = capsys.readouterr()
    return code, captured.out or captured.err


def test_a_failing_run_lists_its_failing_checks_under_the_marker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = run(tmp_path, SPEC.replace("min_accuracy: 0.5", "min_accuracy: 0.999"))
    code, body = comment(capsys, "--results", str(results))
    assert code == 0
    assert body.startswith(MARKER + "\n## nethical-runner failed: 2 failed, 2 passed, 0 skipped")
    assert body.count(MARKER) == 1
    failing = [line for line in body.splitlines() if line.startswith("| `review::")]
    assert [line.split(" | ")[0] for line in failing] == [
        "| `review::alpha::gate[accuracy]`",
        "| `review::beta::gate[accuracy]`",
    ]
    assert all("accuracy 0." in line and "&lt; 0.999" in line for line in failing)
    assert all(line.endswith(f"`{tmp_path / 'review.yaml'}:6` |") for line in failing)


def test_deltas_against_a_baseline_show_what_moved_and_mark_what_got_worse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = run(tmp_path)
    document = json.loads(results.read_text())
    alpha = document["specs"][0]["cohorts"][0]
    alpha["metrics"]["accuracy"] += 0.05  # the baseline was better
    alpha["metrics"]["ece"] -= 0.01
    baseline = tmp_path / "main.json"
    baseline.write_text(json.dumps(document))
    code, body = comment(capsys, "--results", str(results), "--baseline", str(baseline))
    assert code == 0
    rows = [line for line in body.splitlines() if line.startswith("| `review` | `alpha`")]
    assert [row.split(" | ")[2] for row in rows] == ["accuracy", "ece"]
    assert all(row.endswith("** (worse) |") for row in rows)
    assert "**-0.0500** (worse)" in rows[0] and "**+0.0100** (worse)" in rows[1]
    assert "1 cohort with no metric changed." in body  # beta


def test_no_baseline_yet_is_said_and_a_wrong_baseline_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = run(tmp_path)
    missing = tmp_path / "baseline" / "results.json"
    code, body = comment(
        capsys, "--results", str(results), "--baseline", str(missing), "--baseline-missing", "skip"
    )
    assert code == 0 and "No metric deltas: no baseline yet" in body
    code, error = comment(capsys, "--results", str(results), "--baseline", str(missing))
    assert code == 2 and "cannot read" in error
    code, error = comment(capsys, "--results", str(tmp_path / "nowhere.json"))
    assert code == 2 and "nowhere.json: cannot read" in error


def test_deltas_against_the_champion_come_from_its_regression_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = SPEC + "regression:\n  against: champion\n  max_drop: {accuracy: 0.01}\n"
    run(tmp_path, spec)  # promotes the champions
    results = run(tmp_path, spec.replace("data: {samples: 600}", "data: {samples: 700}"))
    code, body = comment(capsys, "--results", str(results))
    assert code == 0
    table = body.split("### Metrics against the champion")[1]
    rows = [line for line in table.splitlines() if line.startswith("| `review`")]
    assert [row.split(" | ")[1:3] for row in rows] == [["`alpha`", "accuracy"],
                                                       ["`beta`", "accuracy"]]  # fmt: skip


def test_the_spec_diff_table_of_the_pull_request(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    spec = repo.path / "specs" / "mine.yaml"
    spec.write_text(spec.read_text().replace("min_accuracy: 0.85", "min_accuracy: 0.8"))
    results = run(repo.path)
    code, body = comment(capsys, "--results", str(results), "--diff-base", "main")
    assert code == 0
    assert "### Spec changes" in body and "#### `specs/mine.yaml`" in body
    assert "| `gate.min_accuracy` | 0.85 | 0.8 | **LOOSENED** | lowered |" in body
    code, error = comment(capsys, "--results", str(results), "--diff-base", "no-such-branch")
    assert code == 2 and "'no-such-branch' is not a commit" in error


def attacked(results: Path, names: dict[str, str]) -> Path:
    """The results file with its spec, cohort and message replaced by hostile text."""
    document: dict[str, Any] = json.loads(results.read_text())
    spec = document["specs"][0]
    spec["name"] = names["spec"]
    for cohort in spec["cohorts"]:
        cohort["cohort"] = names["cohort"]
        for check in cohort["checks"]:
            check.update(spec=names["spec"], cohort=names["cohort"], message=names["message"])
            check["outcome"] = "failed"
    results.write_text(json.dumps(document))
    return results


def test_names_and_messages_cannot_mention_link_hide_or_fake_the_marker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = attacked(run(tmp_path), {
        "spec": "<!-- nethical-runner --> <img src=x onerror=alert(1)>",
        "cohort": "x](javascript:alert(1)) @org/team",
        "message": "cc @octocat and @org/team, see https://evil.example/x www.evil.example "
        "owner/repo#12 [click](javascript:alert(1)) <!-- hidden --> <b>bold</b>\nline two",
    })  # fmt: skip
    code, body = comment(capsys, "--results", str(results), "--output", str(tmp_path / "c.md"))
    assert code == 0 and body == ""
    body = (tmp_path / "c.md").read_text()
    assert body.count(MARKER) == 1 and body.startswith(MARKER)
    assert body.count("<!--") == 1
    for attack in ("@octocat", "@org/team", "https://", "www.evil", "repo#12", "\nline two"):
        assert attack not in body, attack  # nowhere, not even in a code span
    outside_code = re.sub(r"(`+)(.+?)\1", "", body)  # a code span shows its text literally
    for attack in (r"(?<!\\)\]\(javascript:", "<img", "<b>", "<!-- hidden"):
        assert not re.search(attack, outside_code), attack  # "\]" is a literal bracket
    assert f"@{ZERO_WIDTH_SPACE}octocat" in body  # still readable
    assert "&lt;b&gt;bold&lt;/b&gt;" in body
    table_rows = [line for line in body.splitlines() if line.startswith("| `")]
    assert table_rows and all(line.count(" | ") == 3 for line in table_rows)  # 4 cells each


def test_a_huge_results_file_gives_a_comment_github_accepts_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = run(tmp_path)
    document = json.loads(results.read_text())
    cohort = document["specs"][0]["cohorts"][0]
    template = cohort["checks"][0]
    cohort["checks"] = [
        {**template, "check": f"gate[c{n}]", "outcome": "failed", "message": "é" * 2000}
        for n in range(400)
    ]
    results.write_text(json.dumps(document))
    code, body = comment(capsys, "--results", str(results))
    assert code == 0
    assert len(body.encode()) <= MAX_BODY_BYTES < 65536
    assert body.rstrip().endswith("the rest is in results.json and summary.md.")
    assert body.startswith(MARKER)
    assert all(line.endswith(" |") for line in body.splitlines() if line.startswith("| `"))


def test_a_results_file_of_the_wrong_shape_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"format": 1, "specs": [{"cohorts": "x"}]}))
    code, error = comment(capsys, "--results", str(results))
    assert code == 2 and "malformed results" in error
