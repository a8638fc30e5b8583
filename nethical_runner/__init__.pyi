# What type checkers see of the package: its version and the Python API, which __init__.py
# imports from nethical_runner.api on first use.
from nethical_runner.api import load_model as load_model
from nethical_runner.api import load_spec as load_spec
from nethical_runner.api import run_spec as run_spec

__version__: str
__all__ = ["__version__", "load_model", "load_spec", "run_spec"]
