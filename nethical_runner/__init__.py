"""nethical-runner: declarative training specs that run as pytest quality gates.

From Python: ``from nethical_runner import load_spec, run_spec, load_model`` (see
:mod:`nethical_runner.api`). Those names are imported on first use, so importing the package,
as pytest does for the plugin's entry point in every run, loads no model or data code; the
package's ``__init__.pyi`` gives type checkers their signatures.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_model", "load_spec", "run_spec"]
_API = ("load_model", "load_spec", "run_spec")


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("nethical_runner.api"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
