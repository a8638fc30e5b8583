"""``nethical-runner diff`` under attack: links out of the repository, files that are not specs,
oversized blobs, a spec folder that holds nothing, and hostile text in the output.

The diff's markdown goes to a pull request's step summary, so whatever it prints is public:
each test plants a secret where an attacker would point the diff and checks it never appears.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support import specdiff_repo
from support.specdiff_repo import BASE_SPEC, Repo, diff_rows

from nethical_runner.cli.main import main
from nethical_runner.report.specdiff import gitsource
from nethical_runner.spec.yaml_source import MAX_SPEC_BYTES

# fixtures of the shared repository helpers, registered in this module by name
git_env = specdiff_repo.git_env
repo = specdiff_repo.repo

SECRET = "s3cr3t-token-9f2c"

# Files a runner's home holds, shaped enough like a spec that a naive diff prints their values.
DOCKER_CONFIG = json.dumps(
    {
        "version": 1,
        "name": "mine",
        "model": {"type": "logistic"},
        "auths": {"ghcr.io": {"auth": SECRET}},
    }
)
KUBE_CONFIG = f"""\
apiVersion: v1
kind: Config
users:
  - name: admin
    user: {{token: {SECRET}}}
"""


def both_formats(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[list[int], str]:
    """Exit codes and everything printed by the table and the markdown output."""
    codes, printed = [], ""
    for format_ in ("table", "md"):
        codes.append(main(["diff", *args, "--format", format_]))
        captured = capsys.readouterr()
        printed += captured.out + captured.err
    return codes, printed


@pytest.mark.parametrize(
    ("name", "text"), [("config.json", DOCKER_CONFIG), ("config", KUBE_CONFIG)]
)
def test_a_spec_linked_to_a_file_outside_the_repository_is_never_read(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str
) -> None:
    outside = tmp_path / "home" / name
    outside.parent.mkdir()
    outside.write_text(text)
    (repo.path / "specs/mine.yaml").unlink()
    (repo.path / "specs/mine.yaml").symlink_to(outside)
    (repo.path / "specs/added.yaml").symlink_to(outside)
    _codes, printed = both_formats(capsys, "HEAD")
    assert SECRET not in printed
    assert str(outside) not in printed
    _code, rows = diff_rows(capsys, "HEAD")
    assert rows["specs/mine.yaml (spec)"][1:3] == ["not a spec", "CHANGED"]
    assert "symbolic link, not followed" in rows["specs/mine.yaml (spec)"][3]
    assert "symbolic link, not followed" in rows["specs/added.yaml (spec)"][3]
    assert set(rows) == {"specs/mine.yaml (spec)", "specs/added.yaml (spec)"}


def test_a_link_inside_the_repository_and_a_linked_folder_are_not_followed(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("elsewhere/real.yaml", BASE_SPEC.replace("name: mine", "name: real"))
    (repo.path / "specs/inside.yaml").symlink_to(repo.path / "elsewhere/real.yaml")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "hidden.yaml").write_text(DOCKER_CONFIG)
    (repo.path / "specs/linked").symlink_to(outside, target_is_directory=True)
    _codes, printed = both_formats(capsys, "HEAD")
    assert SECRET not in printed and "hidden.yaml" not in printed
    _code, rows = diff_rows(capsys, "HEAD")
    assert set(rows) == {"specs/inside.yaml (spec)"}
    assert "symbolic link, not followed" in rows["specs/inside.yaml (spec)"][3]
    # a spec folder that is itself a link is refused outright
    (repo.path / "linked-specs").symlink_to(outside, target_is_directory=True)
    assert main(["diff", "HEAD", "--spec-dir", "linked-specs"]) == 2
    captured = capsys.readouterr()
    assert "linked-specs" in captured.err and "symbolic link" in captured.err
    assert SECRET not in captured.out + captured.err


def test_a_committed_link_is_reported_not_read(
    repo: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "config.json"
    outside.write_text(DOCKER_CONFIG)
    (repo.path / "specs/link.yaml").symlink_to(outside)
    head = repo.commit("a link")
    _codes, printed = both_formats(capsys, "HEAD~1", head)
    assert SECRET not in printed and str(outside) not in printed
    _code, rows = diff_rows(capsys, "HEAD~1", head)
    assert rows == {
        "specs/link.yaml (spec)": [
            "-",
            "not a spec",
            "CHANGED",
            "added; not a spec: specs/link.yaml: symbolic link, not followed",
        ]
    }


def test_a_special_file_is_reported_not_read(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(repo.path / "specs/pipe.yaml")  # reading it would block forever
    _code, rows = diff_rows(capsys, "HEAD")
    assert "not a regular file" in rows["specs/pipe.yaml (spec)"][3]


def test_an_oversized_blob_is_refused_by_its_size_before_it_is_read(
    repo: Repo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    padding = "# " + "x" * 1000 + "\n"
    huge = f"secret: {SECRET}\n" + padding * (MAX_SPEC_BYTES // len(padding) + 1) + BASE_SPEC
    repo.write("specs/huge.yaml", huge)
    head = repo.commit("huge")
    reads: list[tuple[str, ...]] = []
    real_git = gitsource.git

    def recording_git(top: Path, *args: str) -> bytes:
        reads.append(args)
        return real_git(top, *args)

    monkeypatch.setattr(gitsource, "git", recording_git)
    _codes, printed = both_formats(capsys, "HEAD~1", head)
    assert SECRET not in printed
    assert f"larger than {MAX_SPEC_BYTES} bytes" in printed
    blob_reads = [args for args in reads if args[0] in ("show", "cat-file") and "-s" not in args]
    assert all("huge" not in " ".join(args) for args in blob_reads)
    assert len(blob_reads) == 2 * 2  # mine.yaml at both revisions, in two formats
    # the same file in the working tree: refused by its size too
    repo.write("specs/huge.yaml", huge + "# more\n")
    _code, rows = diff_rows(capsys, "HEAD~1")
    assert f"larger than {MAX_SPEC_BYTES} bytes" in rows["specs/huge.yaml (spec)"][3]


def test_a_yaml_file_that_is_not_a_spec_is_named_with_its_reason_only(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    compose = "services:\n  db:\n    environment: {{PASSWORD: {}}}\n"
    repo.write("specs/compose.yaml", compose.format("old-" + SECRET))
    repo.write("specs/other-tool.yaml", f"version: 1\nname: x\nmodel: {{type: logistic}}\n"
               f"token: {SECRET}\n")  # fmt: skip
    base = repo.commit("not specs")
    repo.write("specs/compose.yaml", compose.format("new-" + SECRET))
    repo.write("specs/fresh.yaml", f"- {SECRET}\n")
    _codes, printed = both_formats(capsys, base)
    assert SECRET not in printed
    _code, rows = diff_rows(capsys, base)
    assert rows == {
        "specs/compose.yaml (spec)": [
            "not a spec",
            "not a spec",
            "CHANGED",
            "content changed; not a spec: specs/compose.yaml: no 'version: 1'",
        ],
        "specs/fresh.yaml (spec)": [
            "-",
            "not a spec",
            "CHANGED",
            "added; not a spec: specs/fresh.yaml: not a mapping of keys",
        ],
    }
    repo.write("specs/other-tool.yaml", f"version: 1\nname: x\nmodel: {{type: logistic}}\n"
               f"token: other-{SECRET}\n")  # fmt: skip
    _code, rows = diff_rows(capsys, base)
    assert rows["specs/other-tool.yaml (spec)"][3] == (
        "content changed; not a spec: specs/other-tool.yaml: top-level key at line 4 is no "
        "spec section"
    )


def test_no_spec_at_either_revision_is_an_error(
    repo: Repo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["diff", "HEAD", "--spec-dir", "spec"]) == 2  # a typo of specs
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error: no spec under spec at HEAD or in the working tree" in captured.err
    (repo.path / "tools").mkdir()
    monkeypatch.chdir(repo.path / "tools")  # specs/ is not relative to a subfolder
    assert main(["diff", "HEAD", "--fail-on-loosened"]) == 2
    assert "no spec under tools/specs at HEAD or in the working tree" in capsys.readouterr().err
    assert main(["diff", "HEAD", "--spec-dir", "../specs"]) == 0
    monkeypatch.chdir(repo.path)
    repo.write("notes/todo.yaml", "- write specs\n")
    assert main(["diff", "HEAD", "--spec-dir", "notes"]) == 2
    err = capsys.readouterr().err
    assert "no spec under notes" in err and "notes/todo.yaml: not a mapping of keys" in err


def test_changing_how_a_gated_metric_is_computed_counts_as_loosened(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("specs/mine.yaml", BASE_SPEC + "metrics: {ece_bins: 1}\n")
    code, rows = diff_rows(capsys, "HEAD", "--fail-on-loosened")
    assert code == 1
    assert rows == {
        "specs/mine.yaml metrics.ece_bins": [
            "15 (default)",
            "1",
            "LOOSENED",
            "possibly loosened: changes how ece is computed",
        ]
    }


def test_control_characters_and_markup_in_specs_are_escaped(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = BASE_SPEC.replace("{id: alpha}", '{id: alpha, training: {note: "a\\e]0;x\\a|b"}}')
    repo.write("specs/mine.yaml", hostile)
    _codes, printed = both_formats(capsys, "HEAD")
    assert "\x1b" not in printed and "\x07" not in printed
    assert "a\\x1b]0;x\\x07" in printed
