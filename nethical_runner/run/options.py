"""The run's options, defined once for both front ends.

The pytest plugin adds each as ``--nethical-<name>`` and the command line as ``--<name>``, with
the same help and meaning, so ``pytest specs/ --nethical-baseline B`` and ``nethical-runner run
specs/*.yaml --baseline B`` are the same run. (The result cache is pytest's alone: it lives in
pytest's cache folder, so ``--nethical-no-cache`` has no command-line twin.) Each front end
reads an option into :class:`~nethical_runner.run.settings.RunSettings` or a check's input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nethical_runner.run.executors import DEFAULT_RETRIES, Executor, executor_for

DEFAULT_OUT_DIR = "nethical-out"
DEFAULT_SPEC_DIRS = ("specs",)
BASELINE_MISSING = ("error", "skip")  # --baseline-missing: a path with nothing at it is...
OUT_DIR_HELP = "root folder of every output: models, reports, audit log (default: nethical-out)"


@dataclass(frozen=True)
class RunOption:
    name: str  # the flag without its front end's prefix: ``out`` is --nethical-out / --out
    help: str
    metavar: str
    parse: Callable[[str], Any] = Path  # how both front ends read the value
    choices: tuple[str, ...] | None = None  # the only values taken, when the option is a word


def retry_count(text: str) -> int:
    """``--nethical-dask-retries`` / ``--dask-retries``: a count from 0 to 100."""
    if not text.isdigit() or int(text) > 100:
        raise ValueError(f"{text!r} is not a retry count from 0 to 100")
    return int(text)


RUN_OPTIONS = (
    RunOption("out", OUT_DIR_HELP, "DIR"),
    RunOption(
        "cache-dir",
        "where Kaggle datasets are cached (default: $NETHICAL_CACHE_DIR or "
        "~/.cache/nethical-runner)",
        "DIR",
    ),
    RunOption(
        "baseline",
        "results.json of a baseline run (e.g. main's CI): adds regression[<metric>] checks for "
        "specs with a regression section",
        "PATH",
    ),
    RunOption(
        "baseline-missing",
        "what a baseline path with nothing at it means: error (default) or skip, for the "
        "first run of a workflow that restores main's results.json: regression[...] items "
        "skip with 'no baseline yet'. A file that is there but unreadable or no results.json "
        "is an error either way",
        "{error,skip}",
        parse=str,
        choices=BASELINE_MISSING,
    ),
    RunOption(
        "accept-baseline",
        "accept this run as the new baseline of drift[<metric>.vs_previous], saying why: its "
        "comparisons with the last baseline are reported, not judged, and later runs compare "
        "with it (a run failing its drift checks is otherwise never a baseline)",
        "REASON",
        parse=str,
    ),
    RunOption(
        "champion",
        "where the promoted models that `regression: {against: champion}` compares with are "
        "found: an output root or its models/current folder, e.g. main's CI artifact "
        "(default: the output root's)",
        "DIR",
    ),
    RunOption(
        "dask",
        "train cohorts on Dask: local[:N] (a cluster of N worker processes on this machine, "
        "started and stopped by the run) or a scheduler address such as tcp://host:8786; "
        "outputs are still written here only (needs the dask extra)",
        "ADDRESS",
        parse=str,
    ),
    RunOption(
        "dask-retries",
        f"how many times a cohort whose Dask worker died is tried again on another "
        f"(default: {DEFAULT_RETRIES})",
        "N",
        parse=retry_count,
    ),
)


def executor_from(address: str | None, retries: int | None, prefix: str) -> Executor:
    """The executor the two Dask options name; ValueError, naming the option as the front end
    spells it (``prefix``: ``--nethical-`` or ``--``), for values that cannot be used."""
    if address is None and retries is not None:
        raise ValueError(f"{prefix}dask-retries is for a Dask run: give {prefix}dask ADDRESS too")
    try:
        return executor_for(address, DEFAULT_RETRIES if retries is None else retries)
    except ValueError as error:
        raise ValueError(f"{prefix}dask: {error}") from None
