"""pytest hooks: options, spec collection and the training session.

Registered through the ``pytest11`` entry point, so installing the package is enough for
``pytest specs/`` to work in any project.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nethical_runner import fixtures, reportplugin
from nethical_runner.items import SESSION_KEY, SpecFile
from nethical_runner.models.sklearn_estimator import DEFAULT_ALLOWED_PREFIXES
from nethical_runner.options import (
    CACHE_DIR_HELP,
    DEFAULT_OUT_DIR,
    DEFAULT_SPEC_DIRS,
    OUT_DIR_HELP,
)
from nethical_runner.pipeline import RunSettings, default_cache_dir
from nethical_runner.session import TrainingSession

SPEC_SUFFIXES = (".yaml", ".yml")
SPEC_ROOTS_KEY = pytest.StashKey[tuple[Path, ...]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nethical", "nethical-runner training specs")
    group.addoption("--nethical-out", metavar="DIR", default=None, help=OUT_DIR_HELP)
    group.addoption("--nethical-cache-dir", metavar="DIR", default=None, help=CACHE_DIR_HELP)
    reportplugin.add_options(group)
    parser.addini(
        "nethical_spec_dirs",
        type="linelist",
        default=list(DEFAULT_SPEC_DIRS),
        help="folders (relative to the rootdir) whose YAML files a bare `pytest` collects as specs",
    )
    parser.addini("nethical_out", default=DEFAULT_OUT_DIR, help=OUT_DIR_HELP)
    parser.addini(
        "nethical_estimator_prefixes",
        type="linelist",
        default=list(DEFAULT_ALLOWED_PREFIXES),
        help="module prefixes a `type: sklearn` model may import its estimator from "
        "(default: sklearn.)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "nethical(kind): a check generated from a nethical-runner spec"
    )
    out_dir = Path(config.getoption("--nethical-out") or config.getini("nethical_out"))
    cache_option = config.getoption("--nethical-cache-dir")
    cache_dir = Path(cache_option).resolve() if cache_option else default_cache_dir()
    settings = RunSettings(out_dir.resolve(), cache_dir=cache_dir)
    config.stash[SESSION_KEY] = TrainingSession(settings)
    config.stash[SPEC_ROOTS_KEY] = _spec_roots(config)
    config.pluginmanager.register(fixtures, "nethical-fixtures")
    reportplugin.configure(config)


def _spec_roots(config: pytest.Config) -> tuple[Path, ...]:
    """Where YAML files are specs: the configured spec folders, plus any file or folder named
    on the command line (the rootdir itself excepted, so that ``pytest .`` behaves like a bare
    ``pytest`` and never collects CI workflows or test data)."""
    roots = [config.rootpath / folder for folder in config.getini("nethical_spec_dirs")]
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        for arg in config.args:
            path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
            if path != config.rootpath.resolve():
                roots.append(path)
    return tuple(root.resolve() for root in roots)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SpecFile | None:
    if file_path.suffix not in SPEC_SUFFIXES:
        return None
    resolved = file_path.resolve()
    roots = parent.config.stash[SPEC_ROOTS_KEY]
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        return None
    return SpecFile.from_parent(parent, path=file_path)
