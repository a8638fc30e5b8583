"""Training settings a spec writes that its model never reads.

``epochs: 50`` on a gradient-boosted model is valid (the key exists for every type) but changes
nothing: the model fits in one call. Refusing it would break a spec whose cohorts differ only
in their model type, so it is a warning, located at the key as an error would be, and given
once per place it is written however many cohorts inherit it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from nethical_runner.models import REGISTRY, Model, TrainsInEpochs
from nethical_runner.models.base import EPOCH_SETTINGS
from nethical_runner.spec.config import RunConfig
from nethical_runner.spec.yaml_source import Document, KeyPath, Problem, format_key, value_at


class Cohort(Protocol):
    """What is read of a loaded cohort (:class:`nethical_runner.spec.loader.Cohort`)."""

    @property
    def id(self) -> str: ...
    @property
    def origin(self) -> KeyPath: ...
    @property
    def model(self) -> Model: ...
    @property
    def config(self) -> RunConfig: ...


_READERS = ", ".join(name for name, kind in REGISTRY.items() if issubclass(kind, TrainsInEpochs))


def ignored_settings(path: Path, document: Document, cohorts: Sequence[Cohort]) -> list[Problem]:
    """A warning for each ``training.epochs`` or ``training.batch_size`` written where a cohort
    whose model does not read it takes it from, naming every such cohort (of several)."""
    ignoring: dict[KeyPath, list[str]] = {}
    for cohort in cohorts:
        model = cohort.model
        for setting in sorted(EPOCH_SETTINGS - model.training_settings()):
            written = _written_at(document, cohort.origin, ("training", setting))
            if written is None:
                continue
            method = cohort.config.model.params.get("method")
            fitted = model.display_name() + (f" with method {method}" if method else "")
            named = f"cohort {cohort.id} ({fitted})" if len(cohorts) > 1 else fitted
            ignoring.setdefault(written, []).append(named)
    return sorted(
        (
            Problem(
                path,
                document.key_mark_of(written),
                format_key(written),
                f"has no effect on {' and '.join(models)}: "
                f"{'it fits' if len(models) == 1 else 'they fit'} in one call, not in epochs of "
                f"mini-batches (epochs and batch_size apply to {_READERS})",
            )
            for written, models in ignoring.items()
        ),
        key=lambda warning: (warning.mark.line, warning.mark.column),
    )


def _written_at(document: Document, origin: KeyPath, key: KeyPath) -> KeyPath | None:
    """Where the cohort declared at ``origin`` takes ``key`` from, if it is written at all
    (a spec built from command-line flags has no marks, only its data)."""
    for candidate in ((*origin, *key), key) if origin else (key,):
        if value_at(document.data, candidate) is not None:
            return candidate
    return None
