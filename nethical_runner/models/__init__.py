"""Model types by name. Adding a type is one module plus one line in ``REGISTRY``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from nethical_runner.models.anomaly import AnomalyModel
from nethical_runner.models.base import (
    Model,
    ModelFileError,
    ModelParams,
    feature_names_of,
    read_npz,
)
from nethical_runner.models.capabilities import (
    CAPABILITIES,
    EpochCallback,
    ReadsText,
    TrainsFromChunks,
    TrainsInEpochs,
)
from nethical_runner.models.correlation import CorrelationModel
from nethical_runner.models.heuristic import HeuristicModel
from nethical_runner.models.logistic import LogisticModel
from nethical_runner.models.simple_transformer import SimpleTransformerModel
from nethical_runner.models.sklearn_estimator import DEFAULT_ALLOWED_PREFIXES, SklearnModel

REGISTRY: dict[str, type[Model]] = {
    "heuristic": HeuristicModel,
    "logistic": LogisticModel,
    "simple_transformer": SimpleTransformerModel,
    "anomaly": AnomalyModel,
    "correlation": CorrelationModel,
    "sklearn": SklearnModel,
}
SCRIPT_TYPES = ("heuristic", "logistic", "simple_transformer", "anomaly", "correlation")
"""The types the ``train_any_model.py`` script this package replaces could train; the command
line trains these for ``--model-type all``."""


def create_model(type_name: str, params: dict[str, Any] | None = None) -> Model:
    """A fresh model of ``type_name``; raises pydantic's ValidationError for bad params."""
    return REGISTRY[type_name].from_params(params or {})


def build_model(
    type_name: str,
    params: dict[str, Any],
    estimator: str | None,
    estimator_prefixes: tuple[str, ...],
) -> Model:
    """A fresh model from a spec's ``model`` section (its ``type``, ``params`` and
    ``estimator``), validated up front.

    Only ``sklearn`` takes an ``estimator``, and only it is given the project's
    ``estimator_prefixes``; every other type is built from its params alone. Raises pydantic's
    ValidationError for bad params, an :class:`EstimatorError` for a bad estimator or one of
    its parameters, and ValueError for an ``estimator`` given to another type.
    """
    if REGISTRY[type_name] is SklearnModel:
        return SklearnModel.from_estimator(estimator, params, estimator_prefixes)
    if estimator is not None:
        raise ValueError("estimator is only for type sklearn")
    return REGISTRY[type_name].from_params(params)


def load_model(
    source: str | Path | bytes, allowed_prefixes: tuple[str, ...] = DEFAULT_ALLOWED_PREFIXES
) -> tuple[Model, dict[str, Any]]:
    """A saved model (a ``.npz`` file, by path, or its bytes) and the metadata stored with it,
    read without pickle; the model's ``feature_names`` are those it was trained on, when the
    file records them.

    A model file is input like any other: ``allowed_prefixes`` (the module prefixes a stored
    scikit-learn estimator may use) come from the caller, never from the file, and anything
    wrong with the file is a :class:`ModelFileError` naming it.
    """
    source = Path(source) if isinstance(source, str) else source
    path = source if isinstance(source, Path) else "<model bytes>"
    meta, arrays = read_npz(io.BytesIO(source) if isinstance(source, bytes) else source)
    try:
        model_class = REGISTRY[meta["type"]]
        params = dict(meta["params"])
        if "allowed_prefixes" in model_class.Params.model_fields:
            params["allowed_prefixes"] = list(allowed_prefixes)
        model = model_class.from_params(params)
        model.set_state(arrays)
        model.feature_names = feature_names_of(meta)
        return model, meta["metadata"]
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        detail = f"{type(error).__name__}: {error}"
        raise ModelFileError(f"{path}: not a model this package saved ({detail})") from None


__all__ = [
    "CAPABILITIES",
    "REGISTRY",
    "SCRIPT_TYPES",
    "EpochCallback",
    "Model",
    "ModelFileError",
    "ModelParams",
    "ReadsText",
    "TrainsFromChunks",
    "TrainsInEpochs",
    "build_model",
    "create_model",
    "load_model",
]
