"""The run's options, defined once for both front ends.

The pytest plugin adds each as ``--nethical-<name>`` and the command line as ``--<name>``, with
the same help and meaning, so ``pytest specs/ --nethical-baseline B`` and ``nethical-runner run
specs/*.yaml --baseline B`` are the same run. (The result cache is pytest's alone: it lives in
pytest's cache folder, so ``--nethical-no-cache`` has no command-line twin.) Each front end
reads an option into :class:`~nethical_runner.run.settings.RunSettings` or a check's input.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_OUT_DIR = "nethical-out"
DEFAULT_SPEC_DIRS = ("specs",)
OUT_DIR_HELP = "root folder of every output: models, reports, audit log (default: nethical-out)"


@dataclass(frozen=True)
class RunOption:
    name: str  # the flag without its front end's prefix: ``out`` is --nethical-out / --out
    help: str
    metavar: str
    is_path: bool = True  # the command line reads it as a Path; else as text


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
        "accept-baseline",
        "accept this run as the new baseline of drift[<metric>.vs_previous], saying why: its "
        "comparisons with the last baseline are reported, not judged, and later runs compare "
        "with it (a run failing its drift checks is otherwise never a baseline)",
        "REASON",
        is_path=False,
    ),
    RunOption(
        "champion",
        "where the promoted models that `regression: {against: champion}` compares with are "
        "found: an output root or its models/current folder, e.g. main's CI artifact "
        "(default: the output root's)",
        "DIR",
    ),
)
