"""Option definitions shared by the pytest plugin and the command line."""

from __future__ import annotations

DEFAULT_OUT_DIR = "nethical-out"
DEFAULT_SPEC_DIRS = ("specs",)
OUT_DIR_HELP = "root folder of every output: models, reports, audit log (default: nethical-out)"
CACHE_DIR_HELP = (
    "where Kaggle datasets are cached (default: $NETHICAL_CACHE_DIR or ~/.cache/nethical-runner)"
)
