"""Loads the plugin from the checkout when the package is not installed (the installed package
registers it through its ``pytest11`` entry point instead)."""

import importlib.metadata

try:
    importlib.metadata.distribution("nethical-runner")
except importlib.metadata.PackageNotFoundError:
    pytest_plugins = ["nethical_runner.pytest_plugin.plugin"]
