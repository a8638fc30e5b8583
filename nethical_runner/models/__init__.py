"""Model types by name. Adding a type is one module plus one line in ``REGISTRY``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from nethical_runner.models.anomaly import AnomalyModel
from nethical_runner.models.base import Model, ModelFileError, ModelParams, read_npz
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
SEED_TYPES = ("heuristic", "logistic", "simple_transformer", "anomaly", "correlation")


def create_model(type_name: str, params: dict[str, Any] | None = None) -> Model:
    """A fresh model of ``type_name``; raises pydantic's ValidationError for bad params."""
    model_class = REGISTRY[type_name]
    return model_class(model_class.Params.model_validate(params or {}))


def load_model(
    source: Path | bytes, allowed_prefixes: tuple[str, ...] = DEFAULT_ALLOWED_PREFIXES
) -> tuple[Model, dict[str, Any]]:
    """A saved model (a ``.npz`` file or its bytes) and the metadata stored with it, read
    without pickle.

    A model file is input like any other: ``allowed_prefixes`` (the module prefixes a stored
    scikit-learn estimator may use) come from the caller, never from the file, and anything
    wrong with the file is a :class:`ModelFileError` naming it.
    """
    path = source if isinstance(source, Path) else "<model bytes>"
    meta, arrays = read_npz(io.BytesIO(source) if isinstance(source, bytes) else source)
    try:
        model_class = REGISTRY[meta["type"]]
        params = dict(meta["params"])
        if "allowed_prefixes" in model_class.Params.model_fields:
            params["allowed_prefixes"] = list(allowed_prefixes)
        model = model_class(model_class.Params.model_validate(params))
        model.set_state(arrays)
        return model, meta["metadata"]
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        detail = f"{type(error).__name__}: {error}"
        raise ModelFileError(f"{path}: not a model this package saved ({detail})") from None


__all__ = [
    "REGISTRY",
    "SEED_TYPES",
    "Model",
    "ModelFileError",
    "ModelParams",
    "create_model",
    "load_model",
]
