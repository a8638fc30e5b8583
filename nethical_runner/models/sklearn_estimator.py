"""Bring your own scikit-learn classifier.

``model: {type: sklearn, estimator: sklearn.ensemble.HistGradientBoostingClassifier, params:
{...}}``. Specs arrive in pull requests, so the import path is untrusted: only modules under the
allowed prefixes (``sklearn.`` unless the project's configuration adds others) are imported, the
class must be a classifier with ``predict_proba``, and the fitted estimator is stored with skops,
which refuses to load types nobody trusted. Nothing is pickled.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import numpy as np
from pydantic import Field

from nethical_runner.models.base import (
    Model,
    ModelParams,
    check_features,
    check_labels,
    estimator_from_array,
    estimator_to_array,
)

DEFAULT_ALLOWED_PREFIXES = ("sklearn.",)


class EstimatorError(ValueError):
    """A bad estimator path or parameter; ``param`` names the offending parameter, if any, and
    ``unknown`` says the parameter itself (not its value) is the problem."""

    def __init__(self, message: str, param: str | None = None, *, unknown: bool = False) -> None:
        super().__init__(message)
        self.param = param
        self.unknown = unknown


class SklearnParams(ModelParams):
    estimator: str = Field(description="Import path of a scikit-learn classifier class.")
    params: dict[str, Any] = Field(default_factory=dict, description="Its constructor arguments.")
    allowed_prefixes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_PREFIXES),
        description="Module prefixes the estimator may come from (set by the project, never by "
        "a spec).",
    )


def import_estimator(path: str, allowed_prefixes: tuple[str, ...]) -> type:
    """The class at ``path``, imported only when it lies under an allowed prefix."""
    if not re.fullmatch(r"[A-Za-z_][\w.]*\.[A-Za-z_]\w*", path):
        raise EstimatorError(f"{path!r} is not an import path like sklearn.svm.SVC")
    if not path.startswith(allowed_prefixes):
        allowed = ", ".join(allowed_prefixes)
        raise EstimatorError(f"{path!r} is outside the allowed module prefixes ({allowed})")
    from sklearn.base import is_classifier  # heavy: only for specs that use scikit-learn

    module_name, _, class_name = path.rpartition(".")
    try:
        estimator_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise EstimatorError(f"{path!r} cannot be imported") from None
    if not isinstance(estimator_class, type):
        raise EstimatorError(f"{path!r} is not a scikit-learn classifier")
    try:
        default = estimator_class()
    except Exception as error:  # meta-estimators need estimator objects, which YAML cannot hold
        raise EstimatorError(f"{path!r} cannot be created from a spec: {error}") from None
    if not is_classifier(default):
        raise EstimatorError(f"{path!r} is not a scikit-learn classifier")
    if not hasattr(estimator_class, "predict_proba"):
        raise EstimatorError(f"{path!r} has no predict_proba")
    return estimator_class


def build_estimator(path: str, params: dict[str, Any], allowed_prefixes: tuple[str, ...]) -> Any:
    """An unfitted estimator, with scikit-learn's own parameter validation run up front so a
    bad value is a spec error at collection, not a crash mid-training."""
    estimator_class = import_estimator(path, allowed_prefixes)
    known = estimator_class().get_params()
    for name in params:
        if name not in known:
            message = f"unknown parameter of {estimator_class.__name__}"
            raise EstimatorError(message, param=name, unknown=True)
    try:
        estimator = estimator_class(**params)
        estimator._validate_params()
    except (ValueError, TypeError) as error:
        found = re.search(r"The '(\w+)' parameter", str(error))
        raise EstimatorError(str(error), param=found.group(1) if found else None) from None
    return estimator


class EstimatorBacked(Model):
    """A model whose learned state is one fitted scikit-learn classifier, kept in skops'
    format; subclasses decide how to build and fit it."""

    estimator_: Any
    n_features_: np.ndarray

    def allowed_prefixes(self) -> tuple[str, ...]:
        return DEFAULT_ALLOWED_PREFIXES

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.estimator_.predict_proba(check_features(X, int(self.n_features_)))

    def get_state(self) -> dict[str, np.ndarray]:
        return {"n_features": self.n_features_, "estimator": estimator_to_array(self.estimator_)}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.n_features_ = state["n_features"]
        self.estimator_ = estimator_from_array(state["estimator"], self.allowed_prefixes())


class SklearnModel(EstimatorBacked):
    type_name = "sklearn"
    Params = SklearnParams
    params: SklearnParams

    @classmethod
    def from_estimator(
        cls, estimator: str | None, params: dict[str, Any], allowed_prefixes: tuple[str, ...]
    ) -> SklearnModel:
        """A model from a spec's ``estimator`` import path and its constructor ``params``, with
        the import path and scikit-learn's own parameter checks run up front; raises
        :class:`EstimatorError`. ``allowed_prefixes`` come from the project, never the spec."""
        if estimator is None:
            raise EstimatorError("type sklearn needs an estimator import path", param="")
        build_estimator(estimator, params, allowed_prefixes)
        return cls(
            SklearnParams(
                estimator=estimator, params=params, allowed_prefixes=list(allowed_prefixes)
            )
        )

    def fit(
        self, X: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, seed: int
    ) -> SklearnModel:
        X = check_features(X)
        labels = check_labels(y, X.shape[0]).astype(np.int64)
        estimator = build_estimator(
            self.params.estimator, self.params.params, tuple(self.params.allowed_prefixes)
        )
        if "random_state" in estimator.get_params() and "random_state" not in self.params.params:
            estimator.set_params(random_state=seed)
        self.n_features_ = np.array(X.shape[1])
        self.estimator_ = estimator.fit(X, labels)
        return self

    def allowed_prefixes(self) -> tuple[str, ...]:
        return tuple(self.params.allowed_prefixes)
