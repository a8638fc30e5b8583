"""Spec files: loading, validation and the typed configuration they describe."""

from nethical_runner.spec.loader import (
    DEFAULT_COHORT,
    Cohort,
    Spec,
    SpecError,
    load_spec,
)
from nethical_runner.spec.models import RunConfig, SpecDocument

__all__ = [
    "DEFAULT_COHORT",
    "Cohort",
    "RunConfig",
    "Spec",
    "SpecDocument",
    "SpecError",
    "load_spec",
]
