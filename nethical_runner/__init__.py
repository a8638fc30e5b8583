"""nethical-runner: declarative training specs that run as pytest quality gates."""

__version__ = "0.1.0"
