"""Model types by name. Adding a type is one module plus one line in ``REGISTRY``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from nethical_runner.models.anomaly import AnomalyModel
from nethical_runner.models.base import Model, ModelParams, read_npz
from nethical_runner.models.correlation import CorrelationModel
from nethical_runner.models.heuristic import HeuristicModel
from nethical_runner.models.logistic import LogisticModel
from nethical_runner.models.simple_transformer import SimpleTransformerModel
from nethical_runner.models.sklearn_estimator import SklearnModel

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


def load_model(source: Path | bytes) -> tuple[Model, dict[str, Any]]:
    """A saved model (a ``.npz`` file or its bytes) and the metadata stored with it, read
    without pickle."""
    meta, arrays = read_npz(io.BytesIO(source) if isinstance(source, bytes) else source)
    model = create_model(meta["type"], meta["params"])
    model.set_state(arrays)
    return model, meta["metadata"]


__all__ = ["REGISTRY", "SEED_TYPES", "Model", "ModelParams", "create_model", "load_model"]
