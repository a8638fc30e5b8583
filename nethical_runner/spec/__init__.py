"""Spec files: loading, validation and the typed configuration they describe."""

from nethical_runner.spec.config import RunConfig, SpecDocument
from nethical_runner.spec.loader import (
    DEFAULT_COHORT,
    Cohort,
    Spec,
    SpecError,
    load_spec,
)

__all__ = [
    "DEFAULT_COHORT",
    "Cohort",
    "RunConfig",
    "Spec",
    "SpecDocument",
    "SpecError",
    "load_spec",
]
