"""Bring your own scikit-learn classifier.

``model: {type: sklearn, estimator: sklearn.ensemble.HistGradientBoostingClassifier, params:
{...}}``. A parameter value that is a mapping with an ``estimator`` key is itself an estimator
(``{estimator: sklearn.svm.SVC, params: {...}}``), and in a list such a mapping with a ``name``
is one of scikit-learn's ``(name, estimator)`` pairs, so a ``Pipeline``'s steps or a
``CalibratedClassifierCV``'s base estimator can be declared.

Specs arrive in pull requests, so every import path is untrusted: only modules under the
allowed prefixes (``sklearn.`` unless the project's configuration adds others) are imported,
at every level of nesting, and nesting is bounded. The outer class must be a classifier with
``predict_proba``, and the fitted estimator is stored with skops, which refuses to load types
nobody trusted. Nothing is pickled.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
from collections.abc import Mapping, Sequence
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
MAX_NESTING = 4  # a pipeline holding a calibrated SVC is 2; nothing real goes near 4
MAX_ESTIMATORS = 32  # in one model, counting every nested one
_UNSAFE_PARAMS = {  # parameters that would make scikit-learn read what a spec points at
    "memory": "memory caches fitted steps as pickles in a folder and loads them back, and no "
    "pickle is loaded here; leave it unset",
}
_NESTED_KEYS = ("estimator", "params")
_STEP_KEYS = ("name", "estimator", "params")

Where = tuple[str | int, ...]
"""A key path inside a spec's ``model`` section: ``("params", "steps", 1, "params", "C")``."""


class EstimatorError(ValueError):
    """A bad estimator path or parameter. ``key`` is where it was written, as a key path inside
    the ``model`` section, and ``unknown`` says the key itself (not its value) is the problem."""

    def __init__(self, message: str, key: Where = ("estimator",), *, unknown: bool = False) -> None:
        super().__init__(message)
        self.key = key
        self.unknown = unknown


class SklearnParams(ModelParams):
    estimator: str = Field(description="Import path of a scikit-learn classifier class.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Its constructor arguments; a mapping with an estimator key is an estimator.",
    )
    allowed_prefixes: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_PREFIXES),
        description="Module prefixes the estimator may come from (set by the project, never by "
        "a spec).",
    )


def import_estimator(
    path: str, allowed_prefixes: tuple[str, ...], key: Where = ("estimator",)
) -> type[Any]:
    """The scikit-learn estimator class at ``path``, imported only when it lies under an
    allowed prefix and defined there (not merely imported from elsewhere), as the stored model
    is checked on loading."""
    if not re.fullmatch(r"[A-Za-z_][\w.]*\.[A-Za-z_]\w*", path):
        raise EstimatorError(f"{path!r} is not an import path like sklearn.svm.SVC", key)
    if not path.startswith(allowed_prefixes):
        allowed = ", ".join(allowed_prefixes)
        raise EstimatorError(f"{path!r} is outside the allowed module prefixes ({allowed})", key)
    from sklearn.base import BaseEstimator  # heavy: only for specs that use scikit-learn

    module_name, _, class_name = path.rpartition(".")
    try:
        estimator_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise EstimatorError(f"{path!r} cannot be imported", key) from None
    if not (
        isinstance(estimator_class, type)
        and issubclass(estimator_class, BaseEstimator)
        and f"{estimator_class.__module__}.".startswith(allowed_prefixes)
    ):
        raise EstimatorError(f"{path!r} is not a scikit-learn estimator", key)
    return estimator_class


def build_estimator(path: str, params: Mapping[Any, Any], allowed_prefixes: tuple[str, ...]) -> Any:
    """An unfitted classifier with every nested estimator built, and scikit-learn's own
    parameter validation run on each up front, so a bad value is a spec error at collection,
    located at its key, not a crash mid-training."""
    from sklearn.base import is_classifier

    estimator = _Builder(allowed_prefixes).estimator(path, params, (), depth=0)
    if not is_classifier(estimator):
        raise EstimatorError(f"{path!r} is not a scikit-learn classifier")
    if not hasattr(estimator, "predict_proba"):  # SVC has one only with probability: true
        raise EstimatorError(f"{path!r} has no predict_proba with these parameters")
    return estimator


class _Builder:
    """Builds one model's estimators, counting them against :data:`MAX_ESTIMATORS`."""

    def __init__(self, allowed_prefixes: tuple[str, ...]) -> None:
        self.allowed_prefixes = allowed_prefixes
        self.built = 0

    def estimator(self, path: str, params: Mapping[Any, Any], at: Where, depth: int) -> Any:
        where: Where = (*at, "estimator")
        self.built += 1
        if depth > MAX_NESTING:
            raise EstimatorError(f"estimators are nested more than {MAX_NESTING} deep", where)
        if self.built > MAX_ESTIMATORS:
            raise EstimatorError(f"a model holds at most {MAX_ESTIMATORS} estimators", where)
        estimator_class = import_estimator(path, self.allowed_prefixes, where)
        known = estimator_class._get_param_names()  # the constructor's, as get_params reads
        missing = [name for name in _required(estimator_class) if name not in params]
        if missing:
            needed = ", ".join(missing)
            raise EstimatorError(
                f"{estimator_class.__name__} needs the parameter(s) {needed}", where
            )
        values = {}
        for name, value in params.items():
            if name not in known:
                message = _unknown(name, known, "parameter", f" of {estimator_class.__name__}")
                raise EstimatorError(message, (*at, "params", name), unknown=True)
            if name in _UNSAFE_PARAMS and value is not None:
                raise EstimatorError(_UNSAFE_PARAMS[name], (*at, "params", name))
            values[name] = self.value(value, (*at, "params", name), depth)
        try:
            estimator = estimator_class(**values)
            estimator._validate_params()
        except (ValueError, TypeError) as error:
            found = re.search(r"The '(\w+)' parameter", str(error))
            named = found.group(1) if found and found.group(1) in params else None
            key = (*at, "params", named) if named else (*at, "params") if params else where
            raise EstimatorError(str(error), key) from None
        if "steps" in values:  # a pipeline checks its steps' kinds and names only when fitted
            try:
                estimator._validate_steps()
            except (ValueError, TypeError) as error:
                raise EstimatorError(str(error), (*at, "params", "steps")) from None
        return estimator

    def value(self, value: Any, at: Where, depth: int) -> Any:
        """A parameter's value with every ``{estimator: ...}`` in it built: on its own, in a
        list, or as a list's ``{name: ..., estimator: ...}`` pair."""
        if isinstance(value, Mapping) and "estimator" in value:
            return self.nested(value, at, depth, _NESTED_KEYS)
        if isinstance(value, list):
            return [self.item(item, (*at, index), depth) for index, item in enumerate(value)]
        return value

    def item(self, item: Any, at: Where, depth: int) -> Any:
        if not (isinstance(item, Mapping) and "estimator" in item):
            return item
        if "name" not in item:
            return self.nested(item, at, depth, _NESTED_KEYS)
        name = item["name"]
        if not isinstance(name, str) or not name:
            raise EstimatorError("a step's name must be a non-empty string", (*at, "name"))
        return (name, self.nested(item, at, depth, _STEP_KEYS))

    def nested(
        self, declared: Mapping[Any, Any], at: Where, depth: int, keys: Sequence[str]
    ) -> Any:
        for key in declared:
            if key not in keys:
                raise EstimatorError(_unknown(key, keys, "key"), (*at, key), unknown=True)
        path, params = declared["estimator"], declared.get("params", {})
        if not isinstance(path, str):
            message = "must be an import path like sklearn.svm.SVC"
            raise EstimatorError(message, (*at, "estimator"))
        if not isinstance(params, Mapping):
            raise EstimatorError("must be a mapping of parameters", (*at, "params"))
        return self.estimator(path, params, at, depth + 1)


def _required(estimator_class: type[Any]) -> list[str]:
    """The constructor's parameters without a default (a Pipeline's steps)."""
    signature = inspect.signature(estimator_class.__init__)
    return [
        parameter.name
        for parameter in list(signature.parameters.values())[1:]
        if parameter.default is parameter.empty
        and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    ]


def _unknown(name: Any, known: Sequence[str], kind: str, owner: str = "") -> str:
    """``unknown parameter of X (did you mean 'n_estimators'?)``, or the known names."""
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f"; known {kind}s: {', '.join(known)}"
    return f"unknown {kind}{owner}{hint}"


def describe(path: str, params: Mapping[Any, Any]) -> str:
    """``Pipeline(StandardScaler, LogisticRegression)``: the class and, in parameter order,
    the estimators nested in it."""
    inner = []
    for value in params.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Mapping) and isinstance(item.get("estimator"), str):
                nested = item.get("params", {})
                inner.append(
                    describe(item["estimator"], nested if isinstance(nested, Mapping) else {})
                )
    name = path.rpartition(".")[2]
    return f"{name}({', '.join(inner)})" if inner else name


class EstimatorBacked(Model):
    """A model whose learned state is one fitted scikit-learn classifier, kept in skops'
    format; subclasses decide how to build and fit it."""

    estimator_: Any
    n_features_: np.ndarray

    def allowed_prefixes(self) -> tuple[str, ...]:
        return DEFAULT_ALLOWED_PREFIXES

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
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
        the import paths and scikit-learn's own parameter checks run up front; raises
        :class:`EstimatorError`. ``allowed_prefixes`` come from the project, never the spec."""
        if estimator is None:
            raise EstimatorError("type sklearn needs an estimator import path", ("type",))
        build_estimator(estimator, params, allowed_prefixes)
        return cls(
            SklearnParams(
                estimator=estimator, params=params, allowed_prefixes=list(allowed_prefixes)
            )
        )

    def display_name(self) -> str:
        return f"sklearn:{describe(self.params.estimator, self.params.params)}"

    def fit(
        self, X: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, seed: int
    ) -> SklearnModel:
        X = check_features(X)
        labels = check_labels(y, X.shape[0]).astype(np.int64)
        estimator = build_estimator(
            self.params.estimator, self.params.params, tuple(self.params.allowed_prefixes)
        )
        self.n_features_ = np.array(X.shape[1])
        self.estimator_ = _seeded(estimator, seed).fit(X, labels)
        return self

    def allowed_prefixes(self) -> tuple[str, ...]:
        return tuple(self.params.allowed_prefixes)


def _seeded(estimator: Any, seed: int) -> Any:
    """The estimator with every ``random_state`` left unset (or null), nested ones too, set to
    the training seed, so the same spec and seed give the same model."""
    unset = {
        name: seed
        for name, value in estimator.get_params(deep=True).items()
        if name.rpartition("__")[2] == "random_state" and value is None
    }
    return estimator.set_params(**unset)
