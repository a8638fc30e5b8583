"""Every example of README.md and docs/*.md is executed, so the documentation cannot rot.

Specs are loaded by the real loader, commands run in a temporary project, quoted output is
checked against what the tools really say (item ids against ``pytest --collect-only``, spec
locations against the located YAML reader), and links against the files and headings they
name. The dispositions a block can have are listed in ``tests/support/doc_examples.py``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from support.doc_examples import (
    COMMAND_LANGUAGES,
    OUTPUT_LANGUAGES,
    PAGES,
    ROOT,
    Block,
    anchors,
    blocks,
    commands,
    expected_lines,
    links,
    merge_sections,
    quoted_pattern,
)
from support.spec_keys import SPEC_PAGE, current_table, table

from nethical_runner.run.loading import load_spec
from nethical_runner.spec import SpecError
from nethical_runner.spec.jsonschema import schema_text
from nethical_runner.spec.yaml_source import KeyPath, read_yaml

README = ROOT / "README.md"
CI_SCRIPT = ROOT / ".ci" / "run"
MAX_NOT_RUN = 6  # shown-only blocks stay few; each names its reason
ITEM_ID = re.compile(r"(?P<id>specs/[\w./-]+\.ya?ml::\S+)")
LOCATION = re.compile(
    r"(?P<path>specs/[\w./-]+\.ya?ml):(?P<line>\d+):(?P<col>\d+) \((?P<key>[^)]+)\)"
)
ANNOTATION = re.compile(
    r"::\w+ file=(?P<path>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+),[^:]*::"
    r"(?P<section>\w+) (?P<key>[\w.]+)"
)


@dataclass(frozen=True)
class SpecExample:
    """A spec as a page shows it: a full block, or a fragment merged into its spec."""

    block: Block
    path: str
    text: str


@dataclass
class Page:
    """What one page's blocks ask for, in page order."""

    specs: list[SpecExample] = field(default_factory=list)
    files: list[SpecExample] = field(default_factory=list)  # other YAML files (workflows)
    commands: list[Block] = field(default_factory=list)
    failing: list[Block] = field(default_factory=list)  # commands that must fail as quoted
    invalid: list[SpecExample] = field(default_factory=list)  # specs that must be refused
    outputs: list[tuple[Block, SpecExample | None]] = field(default_factory=list)
    ci: list[Block] = field(default_factory=list)
    not_run: list[Block] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _full_specs(page: Path) -> dict[str, str]:
    return {b.spec_path: b.text for b in blocks(page) if b.spec_path}


def _readme_spec(block: Block) -> SpecExample | None:
    """For output quoted before any spec of its page: the README's spec of the path it names."""
    match = LOCATION.search(block.text) or ANNOTATION.search(block.text)
    path = match["path"] if match else None
    item = ITEM_ID.search(block.text)
    if path is None and item is not None:
        path = item["id"].split("::", 1)[0]
    shown = (SpecExample(b, b.spec_path, b.text) for b in blocks(README) if b.spec_path == path)
    return next(shown, None) if path else None


def plan(page: Path) -> Page:
    """Each block of ``page`` with its disposition; a block without one is a problem."""
    result = Page()
    shown: dict[str, str] = {}
    latest: SpecExample | None = None
    for block in blocks(page):
        if block.kind == "not-run":
            result.not_run.append(block)
            if not block.arg:
                result.problems.append(f"{block.where}: not-run without a reason")
        elif block.kind == "ci" and block.lang in COMMAND_LANGUAGES:
            result.ci.append(block)
        elif block.kind == "fails" and block.lang in COMMAND_LANGUAGES and block.arg.isdigit():
            result.failing.append(block)
        elif block.kind == "invalid" and block.spec_path:
            latest = SpecExample(block, block.spec_path, block.text)
            result.invalid.append(latest)
        elif block.kind == "output" and block.lang in OUTPUT_LANGUAGES:
            result.outputs.append((block, latest or _readme_spec(block)))
        elif block.kind == "fragment" and block.lang == "yaml":
            target = block.arg.removeprefix("of ").strip()
            base = shown.get(target) or _full_specs(README).get(target)
            if base is None and (ROOT / target).is_file():
                base = (ROOT / target).read_text(encoding="utf-8")
            if base is None:
                result.problems.append(f"{block.where}: fragment of unknown spec {target!r}")
                continue
            latest = SpecExample(block, target, merge_sections(base, block.text))
            result.specs.append(latest)
        elif block.kind is None and block.spec_path and block.spec_path.startswith("specs/"):
            shown[block.spec_path] = block.text
            latest = SpecExample(block, block.spec_path, block.text)
            result.specs.append(latest)
        elif block.kind is None and block.spec_path:
            result.files.append(SpecExample(block, block.spec_path, block.text))
        elif block.kind is None and block.lang in COMMAND_LANGUAGES:
            result.commands.append(block)
        else:
            result.problems.append(
                f"{block.where}: a ```{block.lang} block with no disposition (marker "
                f"{block.kind!r}); see tests/support/doc_examples.py"
            )
    return result


PLANS = {page: plan(page) for page in PAGES}


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _key_path(key: str) -> KeyPath:
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", key):
        parts.append(int(index) if index else name)
    return tuple(parts)


def _write_user_csv(project: Path) -> None:
    """The reader's own table the README's quick start gates (the same columns as the table
    its one-liner writes), for pages that validate or run its spec."""
    rows = np.random.default_rng(0).normal(size=(500, 3))
    label = (rows @ [3, -2, 1] > 0).astype(int)
    table = pd.DataFrame(rows, columns=["age", "visits", "spend"]).assign(churned=label)
    (project / "data").mkdir(parents=True, exist_ok=True)
    table.to_csv(project / "data" / "my.csv", index=False)


def _project(tmp: Path, with_examples: bool) -> Path:
    """A temporary project: the repository's example specs and data, or (for the README, which
    starts from a reader's own folder) nothing at all."""
    if with_examples:
        shutil.copytree(ROOT / "specs", tmp / "specs")
        _write_user_csv(tmp)
    else:
        tmp.mkdir(parents=True, exist_ok=True)
    return tmp


def _environment(tmp: Path) -> dict[str, str]:
    """``python`` and ``nethical-runner`` on PATH as a reader has them, running this checkout."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    # Wrappers, not links: a virtualenv's python finds its packages from the path it runs as.
    for name, module in (("python", ""), ("nethical-runner", " -m nethical_runner")):
        wrapper = bin_dir / name
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}"{module} "$@"\n')
        wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST_"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    env["NETHICAL_DIAGRAMS"] = "0"
    env["NETHICAL_CACHE_DIR"] = str(tmp / "kaggle-cache")
    try:
        importlib.metadata.distribution("nethical-runner")
    except importlib.metadata.PackageNotFoundError:
        env["PYTEST_PLUGINS"] = "nethical_runner.pytest_plugin.plugin"
    return env


def _run(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _script(block: Block) -> str:
    """A command block as a shell script; a Python block is fed to the reader's ``python``."""
    if block.lang == "python":
        return f"python - <<'PYTHON'\n{block.text}PYTHON\n"
    return block.text


def _write(project: Path, example: SpecExample) -> Path:
    target = project / example.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(example.text, encoding="utf-8")
    return target


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_every_block_has_a_disposition(page: Path) -> None:
    assert PLANS[page].problems == []


def test_shown_only_blocks_stay_few() -> None:
    not_run = [block.where for p in PLANS.values() for block in p.not_run]
    assert len(not_run) <= MAX_NOT_RUN, not_run


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_spec_examples_validate(page: Path, tmp_path: Path) -> None:
    """Each spec a page shows (fragments merged into theirs) loads as ``validate`` loads it."""
    project = _project(tmp_path / "project", with_examples=True)
    problems = []
    for example in PLANS[page].specs:
        path = _write(project, example)
        try:
            load_spec(path, root=project)
        except SpecError as error:
            problems.append(f"{example.block.where}: {error}")
    for other in PLANS[page].files:
        yaml.safe_load(other.text)  # a workflow or config file: at least valid YAML
    assert problems == []


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_files_shown_are_the_repository_files(page: Path) -> None:
    """A YAML file a page shows under the path of a repository file (the GitHub workflow) is
    that file, word for word."""
    differ = []
    for shown in PLANS[page].files:
        kept = ROOT / shown.path
        body = shown.text.split("\n", 1)[1]
        if kept.is_file() and body != kept.read_text(encoding="utf-8"):
            differ.append(f"{shown.block.where}: differs from {shown.path}")
    assert differ == []


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_quoted_locations_are_where_the_spec_has_them(page: Path) -> None:
    """``specs/x.yaml:18:17 (gate.min_accuracy)`` and GitHub annotations in quoted output
    point at the value of that key in the spec the page shows above them."""
    wrong = []
    for block, spec in PLANS[page].outputs:
        quoted = [(m, m["key"]) for m in LOCATION.finditer(block.text)]
        quoted += [(m, f"{m['section']}.{m['key']}") for m in ANNOTATION.finditer(block.text)]
        for match, key in quoted:
            if spec is None or match["path"] != spec.path:
                wrong.append(f"{block.where}: {match[0]!r} quotes a spec the page does not show")
                continue
            document = read_yaml(Path(spec.path), spec.text)
            assert _key_path(key) in document.marks, f"{block.where}: no {key} in {spec.path}"
            mark = document.mark_of(_key_path(key))
            if (int(match["line"]), int(match["col"])) != (mark.line, mark.column):
                wrong.append(
                    f"{block.where}: {match[0]!r} but {spec.block.where} has {key} at "
                    f"{mark.line}:{mark.column}"
                )
    assert wrong == []


def _output_checks() -> list[tuple[Block, SpecExample | None]]:
    return [(b, s) for p in PLANS.values() for b, s in p.outputs if ITEM_ID.search(b.text)]


@pytest.mark.parametrize(
    ("block", "spec"), _output_checks(), ids=lambda v: v.where if isinstance(v, Block) else ""
)
def test_quoted_item_ids_are_collected(
    block: Block, spec: SpecExample | None, tmp_path: Path
) -> None:
    """Item ids a page quotes are ids ``pytest --collect-only -q`` gives for its spec."""
    assert spec is not None, f"{block.where}: item ids with no spec above them"
    project = _project(tmp_path / "project", with_examples=False)
    shutil.copytree(ROOT / "specs" / "data", project / "specs" / "data")
    _write_user_csv(project)
    _write(project, spec)
    collected = _run(
        f"python -m pytest {shlex.quote(spec.path)} --collect-only -q -p no:cacheprovider",
        project,
        _environment(tmp_path),
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr
    ids = set(collected.stdout.split())
    quoted = [m["id"] for m in ITEM_ID.finditer(block.text)]
    assert [i for i in quoted if i not in ids] == [], collected.stdout


def _command_pages() -> list[Path]:
    return [page for page in PAGES if PLANS[page].commands and page != README]


@pytest.mark.parametrize("page", _command_pages(), ids=_page_id)
def test_commands_of_a_page_run(page: Path, tmp_path: Path) -> None:
    """A page's commands, in order, in a copy of the example project with the page's specs."""
    project = _project(tmp_path / "project", with_examples=True)
    for example in PLANS[page].specs:
        if example.block.kind is None:
            _write(project, example)
    env = _environment(tmp_path)
    for block in PLANS[page].commands:
        done = _run(_script(block), project, env)
        assert done.returncode == 0, f"{block.where}:\n{done.stdout}\n{done.stderr}"


def _failing_pages() -> list[Path]:
    return [page for page in PAGES if PLANS[page].failing]


@pytest.mark.parametrize("page", _failing_pages(), ids=_page_id)
def test_commands_shown_failing_fail_as_quoted(page: Path, tmp_path: Path) -> None:
    """A command shown with its error exits with the code its block names and prints each
    line quoted under it."""
    project = _project(tmp_path / "project", with_examples=True)
    env = _environment(tmp_path)
    wrong = []
    for block in PLANS[page].failing:
        for command, quoted in expected_lines(block):
            done = _run(command, project, env)
            printed = (done.stdout + done.stderr).replace(str(project), "/home/me/project")
            if done.returncode != int(block.arg):
                wrong.append(f"{block.where}: {command}: exit {done.returncode}\n{printed}")
            for line in quoted:
                if not any(map(quoted_pattern(line).fullmatch, printed.split("\n"))):
                    wrong.append(f"{block.where}: {line!r} not printed by {command}:\n{printed}")
    assert wrong == []


@pytest.mark.parametrize("page", [p for p in PAGES if PLANS[p].invalid], ids=_page_id)
def test_specs_shown_refused_are_refused_as_quoted(page: Path, tmp_path: Path) -> None:
    """A spec shown with its problems is refused, with each quoted line among them."""
    project = _project(tmp_path / "project", with_examples=True)
    wrong = []
    for example in PLANS[page].invalid:
        with pytest.raises(SpecError) as refused:
            load_spec(_write(project, example), root=project)
        problems = str(refused.value).replace(f"{project}/", "")
        problems = problems.replace(str(project), "/home/me/project")
        for block, spec in PLANS[page].outputs:
            if spec is not example:
                continue
            for line in block.text.strip().split("\n"):
                if not any(map(quoted_pattern(line).fullmatch, problems.split("\n"))):
                    wrong.append(f"{block.where}: {line!r} not among\n{problems}")
    assert wrong == []


@dataclass(frozen=True)
class QuickStart:
    """The reader's project after the README's commands, and what those commands printed."""

    project: Path
    env: dict[str, str]
    output: str


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory: pytest.TempPathFactory) -> QuickStart:
    """The README's quick start, end to end, in an empty folder: its commands in order, with
    its specs saved where it says to save them."""
    tmp = tmp_path_factory.mktemp("quick-start")
    project = _project(tmp / "project", with_examples=False)
    env = _environment(tmp)
    for example in PLANS[README].specs:
        if example.block.kind is None:
            _write(project, example)
    output = ""
    for block in PLANS[README].commands:
        done = _run(_script(block), project, env)
        assert done.returncode == 0, f"{block.where}:\n{done.stdout}\n{done.stderr}"
        output += done.stdout
    return QuickStart(project, env, output)


def test_the_quick_start_gates_the_readers_csv(quick_start: QuickStart) -> None:
    """The one-liner wrote the table, validate accepted the spec, and both items passed."""
    assert (quick_start.project / "data" / "my.csv").is_file()
    assert "specs/my_model.yaml: ok" in quick_start.output
    assert "2 passed" in quick_start.output


def test_the_quick_start_failure_is_the_one_it_quotes(quick_start: QuickStart) -> None:
    """Step 5 raises min_accuracy to 0.95; pytest then prints exactly the quoted failure."""
    project, env = quick_start.project, quick_start.env
    text = README.read_text(encoding="utf-8")
    assert "Raise `min_accuracy` to `0.95`" in text
    spec = project / "specs" / "my_model.yaml"
    original = spec.read_text()
    assert original.count("min_accuracy: 0.8\n") == 1
    spec.write_text(original.replace("min_accuracy: 0.8\n", "min_accuracy: 0.95\n"))
    try:
        failed = _run("python -m pytest specs/my_model.yaml -p no:cacheprovider", project, env)
    finally:
        spec.write_text(original)
    assert failed.returncode == 1, failed.stdout
    quoted = next(b for b, _ in PLANS[README].outputs if "threshold at specs/my_model" in b.text)
    for line in quoted.text.strip().split("\n"):
        assert line in failed.stdout, f"{quoted.where}: {line!r} not in\n{failed.stdout}"


def _ci_commands() -> list[str]:
    """Each command .ci/run runs, split into words as the shell would."""
    found = []
    for line in CI_SCRIPT.read_text().split("\n"):
        code = line.split(" || ", 1)[0].split("  #", 1)[0].strip()
        if code.startswith("python "):
            found.append(shlex.split(code))
    return found


def test_commands_shown_as_run_by_ci_are_in_the_ci_script() -> None:
    """Each shown command is one .ci/run runs, word for word, with at most extra options
    (``--quiet``, ``-p no:cacheprovider``) in between."""
    script = _ci_commands()
    missing = []
    blocks_ = [b for p in PLANS.values() for b in p.ci]
    assert blocks_, "the README's two commands are marked as run by .ci/run"
    for block in blocks_:
        for line in commands(block):
            for command in line.split(" && "):
                words = shlex.split(command, comments=True)
                if not any(_in_order(words, ran) for ran in script):
                    missing.append(f"{block.where}: {command}")
    assert missing == []


def _in_order(words: list[str], ran: list[str]) -> bool:
    rest = iter(ran)
    return ran[: len(words[:3])] == words[:3] and all(word in rest for word in words)


def test_the_two_readme_commands_come_first() -> None:
    first = blocks(README)[0]
    assert first.kind == "ci"
    assert first.text == (
        "python -m pip install . && python -m pytest specs/\n"
        "python -m pip install '.[test]' && python -m pytest tests/\n"
    )


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_links_resolve_to_files_and_headings(page: Path) -> None:
    broken = []
    for line, target in links(page):
        if re.match(r"^[a-z]+:", target):
            continue  # a web address
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{_page_id(page)}:{line}: {target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{_page_id(page)}:{line}: {target}: no such heading")
    assert broken == []


def test_the_readme_stays_short() -> None:
    assert len(README.read_text(encoding="utf-8").split("\n")) < 250


def test_the_key_table_is_the_schema() -> None:
    """docs/spec.md lists every key the loader accepts, as the packaged schema describes it."""
    shown = current_table(SPEC_PAGE.read_text(encoding="utf-8"))
    assert shown == table(json.loads(schema_text())), "python tests/support/spec_keys.py --write"
