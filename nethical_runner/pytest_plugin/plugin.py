"""pytest hooks: options, spec collection and the training session.

Registered through the ``pytest11`` entry point, so installing the package is enough for
``pytest specs/`` to work in any project.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nethical_runner._escape import terminal
from nethical_runner.drift.baseline import accepted_reason
from nethical_runner.models.sklearn_estimator import DEFAULT_ALLOWED_PREFIXES
from nethical_runner.pytest_plugin import fixtures, item_reports
from nethical_runner.pytest_plugin import reporting as reportplugin
from nethical_runner.pytest_plugin.items import SESSION_KEY, CheckItem, SpecFile
from nethical_runner.pytest_plugin.progress import progress_watcher
from nethical_runner.pytest_plugin.session import TrainingSession
from nethical_runner.run.cache import ResultCache
from nethical_runner.run.executors import Executor
from nethical_runner.run.options import (
    DEFAULT_OUT_DIR,
    DEFAULT_SPEC_DIRS,
    OUT_DIR_HELP,
    RUN_OPTIONS,
    executor_from,
    retry_count,
)
from nethical_runner.run.settings import RunSettings, default_cache_dir

SPEC_SUFFIXES = (".yaml", ".yml")
SPEC_ROOTS_KEY = pytest.StashKey[tuple[Path, ...]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nethical", "nethical-runner training specs")
    for option in RUN_OPTIONS:
        group.addoption(
            f"--nethical-{option.name}",
            metavar=option.metavar,
            default=None,
            choices=option.choices,
            help=option.help,
        )
    group.addoption(
        "--nethical-no-cache",
        action="store_true",
        help="retrain every spec instead of reusing results of unchanged specs (pytest's "
        "--cache-clear also starts from an empty cache)",
    )
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


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "nethical(kind): a check generated from a nethical-runner spec"
    )
    config.stash[SPEC_ROOTS_KEY] = _spec_roots(config)
    config.pluginmanager.register(fixtures, "nethical-fixtures")
    config.pluginmanager.register(item_reports, "nethical-item-reports")
    if config.pluginmanager.hasplugin("xdist"):
        from nethical_runner.pytest_plugin import xdist_scheduling

        config.pluginmanager.register(xdist_scheduling, "nethical-xdist-scheduling")
    reportplugin.configure(config)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Set up training here rather than at configure time, once pytest's cache (where
    training results are kept) exists."""
    config = session.config
    out_dir = Path(config.getoption("--nethical-out") or config.getini("nethical_out"))
    cache_option = config.getoption("--nethical-cache-dir")
    cache_dir = Path(cache_option).resolve() if cache_option else default_cache_dir()
    worker_input = getattr(config, "workerinput", None)
    champion = config.getoption("--nethical-champion")
    executor = _executor(config)
    settings = RunSettings(
        out_dir.resolve(),
        cache_dir=cache_dir,
        champion_dir=Path(champion).resolve() if champion else None,
        result_cache=_result_cache(config),
        session=worker_input["testrunuid"] if worker_input else None,
        accept_baseline=_accepted(config),
    )
    config.stash[SESSION_KEY] = TrainingSession(settings, executor, progress_watcher(config))
    if not config.option.collectonly:
        executor.start()  # a local cluster starts while pytest collects


def _executor(config: pytest.Config) -> Executor:
    """The executor of ``--nethical-dask``; a value that cannot be one is a usage error, and
    so is a local cluster under pytest-xdist, which would start one in every xdist worker."""
    address = config.getoption("--nethical-dask")
    retries = config.getoption("--nethical-dask-retries")
    try:
        count = None if retries is None else retry_count(retries)
    except ValueError as error:
        raise pytest.UsageError(f"--nethical-dask-retries: {error}") from None
    try:
        executor = executor_from(address, count, "--nethical-")
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    worker = getattr(config, "workerinput", None) is not None
    under_xdist = worker or getattr(config.option, "dist", "no") != "no"
    if under_xdist and address is not None and address.startswith("local"):
        raise pytest.UsageError(
            "--nethical-dask local starts a cluster in each pytest-xdist worker: use -n for "
            "one machine, or --nethical-dask with a scheduler's address"
        )
    return executor


def pytest_collection_finish(session: pytest.Session) -> None:
    """On a cluster, hand over every spec the selected items need at once, so they train side
    by side while pytest runs the first items (in-process, each trains when first needed)."""
    training = session.config.stash.get(SESSION_KEY, None)
    if training is None or not training.executor.runs_elsewhere:
        return
    if session.config.option.collectonly:
        return
    for item in session.items:
        if isinstance(item, CheckItem):
            training.submit(item.spec)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    training = session.config.stash.get(SESSION_KEY, None)
    if training is not None:
        training.close()


def pytest_report_header(config: pytest.Config) -> str | None:
    training = config.stash.get(SESSION_KEY, None)
    if training is None or not training.executor.runs_elsewhere:
        return None
    return f"nethical-runner: training on {training.executor.description}"


def _accepted(config: pytest.Config) -> str | None:
    """The reason of ``--nethical-accept-baseline``; an empty one is a usage error."""
    try:
        return accepted_reason(config.getoption("--nethical-accept-baseline"))
    except ValueError as error:
        raise pytest.UsageError(f"--nethical-accept-baseline: {error}") from None


def _result_cache(config: pytest.Config) -> ResultCache | None:
    """Training results live in pytest's own cache folder, so ``--cache-clear`` empties them
    and ``-p no:cacheprovider`` turns them off like every other cached state."""
    cache = getattr(config, "cache", None)
    if cache is None or config.getoption("--nethical-no-cache"):
        return None
    return ResultCache(cache.mkdir("nethical-results"))


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
    shown = _escaped_id(file_path, parent.config)
    if shown is None:
        return SpecFile.from_parent(parent, path=file_path)
    return SpecFile.from_parent(parent, path=file_path, nodeid=shown, name=shown.rpartition("/")[2])


def _escaped_id(path: Path, config: pytest.Config) -> str | None:
    """pytest prints a file's node id as it is; a file name with a line break (or bytes that
    are not UTF-8) would print a line of the spec writer's choosing, a workflow command on
    GitHub. Such a file gets an escaped id and name (``:`` too, which ids split on); its
    collection then fails with the located problem (see ``load_spec``)."""
    try:
        relative = path.relative_to(config.rootpath).as_posix()
    except ValueError:
        relative = path.as_posix()
    shown = terminal(relative)
    return None if shown == relative else shown.replace(":", "\\x3a")
