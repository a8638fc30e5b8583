"""``nethical-runner diff`` on real git repositories made in temporary folders."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support import specdiff_repo
from support.specdiff_repo import BASE_SPEC, Repo, diff_rows, new_repo

from nethical_runner.cli.main import main
from nethical_runner.report.specdiff import CHANGED, LOOSENED, TIGHTENED, classify
from nethical_runner.report.specdiff.rules import ABSENT

# fixtures of the shared repository helpers, registered in this module by name
git_env = specdiff_repo.git_env
repo = specdiff_repo.repo


def test_threshold_changes_are_classified_by_their_direction(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    changed = (
        BASE_SPEC.replace("max_ece: 0.08", "max_ece: 0.05")
        .replace("min_accuracy: 0.85", "min_accuracy: 0.80\n  min_recall: 0.8")
        .replace("p95_ms: 220", "p95_ms: 300\n  on_breach: warn")
        .replace("  p99_ms: 500\n", "")
        .replace("epochs: 10", "epochs: 5")
        .replace("{id: beta, training: {seed: 7}}", "{id: beta, training: {seed: 8}}")
    )
    repo.write("specs/mine.yaml", changed)
    repo.commit("loosen and tighten")
    code, rows = diff_rows(capsys, "main", "feature")
    assert code == 0
    assert rows == {
        "specs/mine.yaml training.epochs": ["10", "5", CHANGED, ""],
        "specs/mine.yaml gate.max_ece": ["0.08", "0.05", TIGHTENED, "lowered"],
        "specs/mine.yaml gate.min_accuracy": ["0.85", "0.8", LOOSENED, "lowered"],
        "specs/mine.yaml gate.min_recall": ["-", "0.8", TIGHTENED, "check added"],
        "specs/mine.yaml sla.p95_ms": ["220", "300", LOOSENED, "raised"],
        "specs/mine.yaml sla.p99_ms": ["500", "-", LOOSENED, "check removed"],
        "specs/mine.yaml sla.on_breach": ["fail (default)", "warn", LOOSENED, "more lenient"],
        "specs/mine.yaml cohorts[beta].training.seed": ["7", "8", CHANGED, ""],
    }
    assert main(["diff", "main", "feature", "--fail-on-loosened"]) == 1
    table = capsys.readouterr().out
    assert "gate.min_accuracy" in table and "LOOSENED" in table
    assert "4 loosened, 2 tightened, 2 changed in 1 spec (main -> feature)" in table


def test_only_tightening_passes_fail_on_loosened(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("specs/mine.yaml", BASE_SPEC.replace("min_accuracy: 0.85", "min_accuracy: 0.9"))
    code, rows = diff_rows(capsys, "HEAD", "--fail-on-loosened")
    assert code == 0
    assert rows == {"specs/mine.yaml gate.min_accuracy": ["0.85", "0.9", TIGHTENED, "raised"]}


def test_defaults_count_replacing_the_default_gate_loosens_it(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    without_gate = BASE_SPEC.split("gate:")[0]
    repo.write("specs/mine.yaml", without_gate)
    base = repo.commit("seed gate")
    repo.write("specs/mine.yaml", without_gate + "gate: {min_accuracy: 0.8}\n")
    _code, rows = diff_rows(capsys, base)
    assert rows == {
        "specs/mine.yaml gate.max_ece": ["0.08 (default)", "-", LOOSENED, "check removed"],
        "specs/mine.yaml gate.min_accuracy": ["0.85 (default)", "0.8", LOOSENED, "lowered"],
    }
    # the same values written out explicitly are no change at all
    repo.write("specs/mine.yaml", without_gate + "gate: {max_ece: 0.08, min_accuracy: 0.85}\n")
    assert diff_rows(capsys, base)[1] == {}


def test_added_removed_and_renamed_specs_and_cohorts(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("specs/other.yaml", BASE_SPEC.replace("name: mine", "name: other"))
    base = repo.commit("two specs")
    repo.git("rm", "-q", "specs/other.yaml")
    repo.git("mv", "specs/mine.yaml", "specs/renamed.yaml")
    repo.write(
        "specs/renamed.yaml",
        BASE_SPEC.replace("  - {id: beta, training: {seed: 7}}\n", "  - {id: gamma}\n"),
    )
    repo.write("specs/nested/new.yml", "version: 1\nname: fresh\nmodel: {type: heuristic}\n")
    code, rows = diff_rows(capsys, base, "--fail-on-loosened")
    assert code == 1
    assert rows == {
        "specs/nested/new.yml (spec)": ["-", "fresh", TIGHTENED, "spec added, 2 checks"],
        "specs/other.yaml (spec)": ["other", "-", LOOSENED, "spec removed, 8 checks"],
        "specs/renamed.yaml (file)": ["specs/mine.yaml", "specs/renamed.yaml", CHANGED, "renamed"],
        "specs/renamed.yaml cohorts[beta]": [  # one row, not one per key inside it
            "{training: {seed: 7}}",
            "-",
            LOOSENED,
            "cohort removed",
        ],
        "specs/renamed.yaml cohorts[gamma]": ["-", "(no overrides)", TIGHTENED, "cohort added"],
    }


def test_sections_unknown_to_this_version_follow_the_naming_rules(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write(
        "specs/mine.yaml",
        BASE_SPEC
        + "drift: {max_spread: {accuracy: 0.05}}\n"
        + "regression: {max_drop: {accuracy: 0.01}, rel_max_rise: {ece: 0.5}}\n",
    )
    base = repo.commit("drift and regression")
    repo.write(
        "specs/mine.yaml",
        BASE_SPEC
        + "drift: {max_spread: {accuracy: 0.08}}\n"
        + "regression: {max_drop: {accuracy: 0.005}, rel_max_rise: {ece: 1.0}}\n",
    )
    _, rows = diff_rows(capsys, base)
    assert rows == {
        "specs/mine.yaml drift.max_spread.accuracy": ["0.05", "0.08", LOOSENED, "raised"],
        "specs/mine.yaml regression.max_drop.accuracy": ["0.01", "0.005", TIGHTENED, "lowered"],
        "specs/mine.yaml regression.rel_max_rise.ece": ["0.5", "1.0", LOOSENED, "raised"],
    }


def test_default_base_is_the_merge_base_with_main_against_the_working_tree(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("specs/mine.yaml", BASE_SPEC.replace("min_accuracy: 0.85", "min_accuracy: 0.8"))
    repo.commit("feature work")
    repo.git("checkout", "-q", "main")
    repo.write("specs/mine.yaml", BASE_SPEC.replace("epochs: 10", "epochs: 20"))
    repo.commit("main moved on")  # not part of the feature's diff
    repo.git("checkout", "-q", "feature")
    repo.write("specs/draft.yaml", "version: 1\nname: draft\nmodel: {type: heuristic}\n")
    code, rows = diff_rows(capsys)
    assert code == 0
    assert set(rows) == {"specs/mine.yaml gate.min_accuracy", "specs/draft.yaml (spec)"}
    main(["diff"])
    assert "(merge base with main (" in capsys.readouterr().out


def test_the_default_branch_comes_from_origin_head(
    tmp_path: Path, git_env: None, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    origin = new_repo(tmp_path / "origin", branch="trunk")
    origin.write("specs/mine.yaml", BASE_SPEC)
    origin.commit("base")
    subprocess.run(["git", "clone", "-q", str(origin.path), str(tmp_path / "clone")], check=True)
    clone = Repo(tmp_path / "clone")
    clone.git("checkout", "-q", "-b", "feature")
    clone.write("specs/mine.yaml", BASE_SPEC.replace("p95_ms: 220", "p95_ms: 250"))
    monkeypatch.chdir(clone.path / "specs")  # from a subfolder, specs given relative to it
    _code, rows = diff_rows(capsys, "--spec-dir", ".")
    assert rows == {"specs/mine.yaml sla.p95_ms": ["220", "250", LOOSENED, "raised"]}
    main(["diff", "--spec-dir", "."])
    assert "merge base with origin/trunk" in capsys.readouterr().out
    # without origin/HEAD, main or master there is no default to fall back to
    bare = new_repo(tmp_path / "bare", branch="develop")
    bare.write("specs/mine.yaml", BASE_SPEC)
    bare.commit("base")
    monkeypatch.chdir(bare.path)
    assert main(["diff"]) == 2
    assert "name BASE explicitly" in capsys.readouterr().err
    assert main(["diff", "no-such-ref"]) == 2
    assert "'no-such-ref' is not a commit" in capsys.readouterr().err


def test_an_unreadable_spec_is_reported_not_a_crash(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("specs/mine.yaml", "version: 1\nname: [unclosed\n")
    code, rows = diff_rows(capsys, "HEAD")
    assert code == 0
    ((key, (old, new, change, note)),) = rows.items()
    assert (key, old, new, change) == ("specs/mine.yaml (spec)", "valid", "invalid", CHANGED)
    assert "invalid YAML" in note


def test_outside_a_repository_is_an_error(
    tmp_path: Path, git_env: None, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert main(["diff"]) == 2
    assert "error: git rev-parse" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("key", "old", "new", "verdict"),
    [
        (("gate", "min_auc"), 0.9, 0.8, LOOSENED),
        (("gate", "max_brier"), 0.2, 0.1, TIGHTENED),
        (("sla", "stages", "training_ms"), 100, 200, LOOSENED),
        (("sla", "warn_margin"), 0.1, 0.2, LOOSENED),
        (("sla", "confidence"), ABSENT, 0.95, LOOSENED),
        (("sla", "calls"), 200, 20, CHANGED),
        (("drift", "max_spread", "ece"), 0.03, 0.02, TIGHTENED),
        (("cohorts", "beta", "data", "fallback"), "none", "synthetic", LOOSENED),
        (("cohorts", "beta", "data", "fallback"), ABSENT, "synthetic", LOOSENED),
        (("audit", "enabled"), True, False, LOOSENED),
        (("audit", "enabled"), True, ABSENT, LOOSENED),
        (("model", "params", "max_leaf_nodes"), 31, 63, CHANGED),
        (("gate", "min_accuracy"), 0.8, "high", CHANGED),
        (("gate", "confidence"), ABSENT, 0.95, TIGHTENED),  # inconclusive fails by default
        (("gate", "confidence"), 0.99, 0.9, LOOSENED),
        (("gate", "on_inconclusive"), ABSENT, "warn", LOOSENED),
        (("regression", "on_inconclusive"), "warn", "fail", TIGHTENED),
        (("regression", "confidence"), 0.9, 0.95, TIGHTENED),
        (("drift", "confidence"), ABSENT, 0.99, LOOSENED),  # drift needs the whole interval
        (("drift", "on_inconclusive"), ABSENT, "fail", TIGHTENED),
        (("drift", "false_discovery_rate"), 0.05, 0.1, TIGHTENED),
        (("sla", "on_inconclusive"), "fail", "warn", LOOSENED),
        # how a gated metric is computed: possibly loosened either way
        (("metrics", "ece_bins"), 15, 1, LOOSENED),
        (("metrics", "ece_bins"), 10, 20, LOOSENED),
        (("metrics", "ece_confidence"), "positive", "top_label", LOOSENED),
        (("metrics", "decision_threshold"), 0.5, 0.3, LOOSENED),
        (("cohorts", "beta", "data", "split", "method"), ABSENT, "stratified", LOOSENED),
        (("sla", "warmup"), 20, 200, LOOSENED),
        (("regression", "against"), "champion", "baseline", LOOSENED),
        # fewer slices are judged as min_samples rises: it is no lower bound of a metric
        (("drift", "min_samples"), 30, 100, LOOSENED),
        (("drift", "min_samples"), 100, 30, TIGHTENED),
    ],
)
def test_classification_rules(key: tuple[str, ...], old: object, new: object, verdict: str) -> None:
    assert classify(key, old, new)[0] == verdict


@pytest.mark.parametrize(
    ("key", "old", "new", "verdict"),
    [
        (("sla", "scope"), ABSENT, "stages", CHANGED),  # the whole sla section is new
        (("regression", "against"), "champion", ABSENT, CHANGED),
        # a cohort's override section only overrides: its keys count though it is new
        (("cohorts", "beta", "data", "split", "train_fraction"), ABSENT, 0.5, LOOSENED),
        (("cohorts", "beta", "data", "fallback"), ABSENT, "synthetic", LOOSENED),
    ],
)
def test_a_section_added_or_removed_whole(
    key: tuple[str, ...], old: object, new: object, verdict: str
) -> None:
    assert classify(key, old, new, section_on_both_sides=False)[0] == verdict
