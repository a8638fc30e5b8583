"""The one interface every model type follows.

Modelled on scikit-learn's estimators: hyperparameters are validated up front (a pydantic model
per type, so a spec error points at the offending key), ``fit`` learns, ``predict_proba`` returns
an ``(n, 2)`` array of class probabilities. Unlike scikit-learn, a model's learned state is a flat
mapping of numpy arrays, so it can be stored as ``.npz`` and loaded without pickle.
"""

from __future__ import annotations

import importlib
import io
import json
import math
import zipfile
import zlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
from numpy.lib import format as np_format
from pydantic import BaseModel, ConfigDict

from nethical_runner._escape import brief, clip
from nethical_runner._files import atomic_write_bytes

_META_KEY = "__meta__"
# What a model file may expand to: no model here comes near; a zip bomb does at once.
MAX_MODEL_BYTES = 1024**3
MAX_EXPANSION = 100  # times the file's size; saved weights compress by little
_EXPANSION_FLOOR = 16 * 1024**2
_STORED_KINDS = "biufc"  # what get_state returns: bools and numbers
EPOCH_SETTINGS = frozenset({"epochs", "batch_size"})
"""The ``training`` settings that only a model trained in passes of mini-batches reads."""
_HEADER_READERS = {
    (1, 0): np_format.read_array_header_1_0,
    (2, 0): np_format.read_array_header_2_0,
}


class ModelFileError(ValueError):
    """A file that is not a model this package saved, or one whose content it will not trust."""


class ModelParams(BaseModel):
    """Base of every model type's hyperparameters: unknown keys and coerced types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Model(ABC):
    """A binary classifier trained on a numeric feature matrix.

    ``X`` is always a 2-D float array (rows x features); text and action sequences reach a model
    already encoded as integer token columns by the data layer.
    """

    type_name: ClassVar[str]
    Params: ClassVar[type[ModelParams]] = ModelParams

    def __init__(self, params: ModelParams | None = None) -> None:
        self.params = params if params is not None else self.Params()
        # The training table's feature columns in order, saved with the model; None when it was
        # fitted on a bare array.
        self.feature_names: tuple[str, ...] | None = None

    def display_name(self) -> str:
        """How reports name the model: its type, unless the type has more to say."""
        return self.type_name

    def training_settings(self) -> frozenset[str]:
        """Which of :data:`EPOCH_SETTINGS` this model's training reads (``seed`` it always
        may): a spec that sets one it does not is told so at collection, and the metrics record
        says which applied, because a setting that silently changes nothing misleads whoever
        tunes it. A model fitted in one call reads neither."""
        return frozenset()

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Model:
        """A fresh model from its hyperparameters; raises pydantic's ValidationError for bad
        ones, so a spec error is reported before any data is read."""
        return cls(cls.Params.model_validate(params))

    @classmethod
    def synthetic_kind(cls, params: ModelParams) -> str:
        """The synthetic generator whose rows this model type is meant for."""
        return "risk"

    @abstractmethod
    def fit(
        self, X: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, seed: int
    ) -> Model:
        """Learn from ``X`` and 0/1 labels ``y``; deterministic for a given ``seed``."""

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(n, 2)``; column 1 is the positive class.

        ``X`` is an array whose columns are the features in training order, or a pandas
        DataFrame: its columns are checked against :attr:`feature_names` by name, and one that
        lacks a feature, has another, or holds them in another order is refused rather than
        reordered, because a silently reordered frame scores the wrong features.
        """
        return self._predict_proba(_matrix_of(X, self.feature_names))

    @abstractmethod
    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        """:meth:`predict_proba` of a plain feature matrix."""

    @abstractmethod
    def get_state(self) -> dict[str, np.ndarray]:
        """Everything ``fit`` learned, as named numpy arrays (no object arrays)."""

    @abstractmethod
    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what ``get_state`` returned."""

    def to_npz_bytes(self, metadata: dict[str, Any] | None = None) -> bytes:
        """Serialise type, params, learned arrays and caller metadata into one ``.npz`` blob."""
        meta = {
            "type": self.type_name,
            "params": self.params.model_dump(mode="json"),
            "metadata": metadata or {},
            "features": list(self.feature_names) if self.feature_names is not None else None,
        }
        arrays: dict[str, Any] = dict(self.get_state())
        if _META_KEY in arrays:
            raise ValueError(f"state key {_META_KEY!r} is reserved")
        arrays[_META_KEY] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()

    def save(self, path: Path, metadata: dict[str, Any] | None = None) -> None:
        atomic_write_bytes(path, self.to_npz_bytes(metadata))


def estimator_to_array(estimator: Any) -> np.ndarray:
    """A fitted scikit-learn estimator as bytes in skops' format: plain data, no pickle."""
    import skops.io

    return np.frombuffer(skops.io.dumps(estimator), dtype=np.uint8)


def estimator_from_array(blob: np.ndarray, allowed_prefixes: tuple[str, ...]) -> Any:
    """Load an estimator stored by :func:`estimator_to_array`.

    skops refuses types it does not know to be safe, and *calls* the ones it is told to trust
    (as constructors). So trust goes only to names that are classes defined under the allowed
    module prefixes (``sklearn.`` by default): not to functions (scikit-learn's test utilities
    include one that runs any Python script), and not to a class some allowed module merely
    imported from elsewhere.
    """
    import skops.io

    data = blob.tobytes()
    try:
        unknown = skops.io.get_untrusted_types(data=data)
    except Exception as error:  # skops parses the file here: any failure means "not readable"
        raise ModelFileError(f"the stored estimator cannot be read: {error}") from None
    for name in unknown:
        if not _allowed_class(name, allowed_prefixes):
            allowed = ", ".join(allowed_prefixes)
            raise ModelFileError(
                f"refused: the stored estimator names {name}, which is not a class under the "
                f"allowed prefixes ({allowed})"
            )
    return skops.io.loads(data, trusted=unknown)


def _allowed_class(name: str, allowed_prefixes: tuple[str, ...]) -> bool:
    """Whether ``name`` is a class defined under one of ``allowed_prefixes``; only modules under
    those prefixes are imported to find out."""
    if not name.startswith(allowed_prefixes):
        return False
    module_name, _, attribute = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except Exception:  # not importable: nothing to trust
        return False
    return isinstance(found, type) and f"{found.__module__}.".startswith(allowed_prefixes)


def read_npz(source: str | Path | IO[bytes]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metadata and arrays of a saved model (a file, by path, or its bytes from the result
    cache).

    Raises :class:`ModelFileError` for anything that is not such a file (a pickle, an ``.npy``
    array, an archive with object arrays), and for one that would cost more to read than its
    arrays could (see :func:`read_arrays`).
    """
    source = Path(source) if isinstance(source, str) else source
    path = source if isinstance(source, Path) else "<model bytes>"
    arrays = read_arrays(source)
    try:
        meta = json.loads(arrays.pop(_META_KEY).tobytes().decode())
    except (KeyError, ValueError) as error:
        detail = f"{type(error).__name__}: {error}"
        raise ModelFileError(f"{path}: not a model this package saved ({detail})") from None
    return meta, arrays


def stamped(model_file: bytes, metadata: dict[str, Any]) -> bytes:
    """The same model file with other caller metadata, without loading the model: its arrays
    (a fitted estimator among them, as skops bytes) are copied as they are."""
    meta, arrays = read_npz(io.BytesIO(model_file))
    meta["metadata"] = metadata
    members: dict[str, Any] = dict(arrays)
    members[_META_KEY] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **members)
    return buffer.getvalue()


def stored_identity(model_file: bytes) -> tuple[str, dict[str, Any]]:
    """The type and parameters a model file declares, read from its header alone."""
    meta, _ = read_npz(io.BytesIO(model_file))
    try:
        return str(meta["type"]), dict(meta["params"])
    except (KeyError, TypeError, ValueError) as error:
        detail = f"{type(error).__name__}: {error}"
        raise ModelFileError(f"<model bytes>: not a model this package saved ({detail})") from None


def read_arrays(source: Path | IO[bytes]) -> dict[str, np.ndarray]:
    """The named arrays of an ``.npz`` archive, read without pickle: every size is judged from
    the zip directory and the ``.npy`` headers before any array is allocated
    (:func:`_checked_members`). Raises :class:`ModelFileError` for anything else."""
    path = source if isinstance(source, Path) else "<model bytes>"
    try:
        if not zipfile.is_zipfile(source):  # a pickle, an .npy array: never handed to numpy
            raise ModelFileError("not an .npz archive")
        if not isinstance(source, Path):
            source.seek(0)
        with zipfile.ZipFile(source) as bundle:
            arrays = {}
            for member in _checked_members(bundle, _file_size(source)):
                with bundle.open(member) as stream:
                    array = np_format.read_array(stream, allow_pickle=False)
                arrays[member.filename.removesuffix(".npy")] = array
    except (
        OSError, ValueError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
        zlib.error,
    ) as error:  # fmt: skip
        raise ModelFileError(f"{path}: not a model file: {error}") from None
    return arrays


def _file_size(source: Path | IO[bytes]) -> int:
    if isinstance(source, Path):
        return source.stat().st_size
    return source.seek(0, io.SEEK_END)


def _checked_members(bundle: zipfile.ZipFile, file_size: int) -> list[zipfile.ZipInfo]:
    """The archive's members, once their sizes, dtypes and shapes are known to be sane.

    A zip member's expanded size is free for its writer to choose (a megabyte of deflate
    expands to a gigabyte of zeros), and numpy allocates whatever shape an ``.npy`` header
    declares before reading a byte. So the directory's sizes must fit the file
    (:data:`MAX_EXPANSION` times it, and :data:`MAX_MODEL_BYTES` at most), and each header must
    declare a plain numeric dtype and exactly as many bytes as its member holds; zipfile stops a
    member at its declared size, so a stream longer than declared cannot cost more.
    """
    members = bundle.infolist()
    total = sum(member.file_size for member in members)
    allowed = min(MAX_MODEL_BYTES, MAX_EXPANSION * file_size + _EXPANSION_FLOOR)
    if total > allowed:
        raise ValueError(
            f"its members expand to {total} bytes, more than the {allowed} allowed for a file "
            f"of {file_size} bytes"
        )
    for member in members:
        name = member.filename
        if not name.endswith(".npy") or member.is_dir():
            raise ValueError(f"member {name!r} is not an .npy array")
        with bundle.open(member) as stream:
            try:
                version = np_format.read_magic(stream)
            except ValueError as error:
                raise ValueError(f"member {name!r}: {error}") from None
            if version not in _HEADER_READERS:
                shown = ".".join(map(str, version))
                raise ValueError(
                    f"member {name!r} is in .npy format version {shown}, which is not read"
                )
            shape, _, dtype = _HEADER_READERS[version](stream)
            if dtype.hasobject or dtype.kind not in _STORED_KINDS:
                shown = "object" if dtype.hasobject else dtype.str
                raise ValueError(f"member {name!r} holds dtype {shown}, which is not loaded")
            declared = math.prod(shape) * dtype.itemsize
            held = member.file_size - stream.tell()
            if declared != held:
                raise ValueError(
                    f"member {name!r} declares {declared} bytes of {dtype.str} (shape {shape}) "
                    f"but holds {held}"
                )
    return members


def _matrix_of(X: Any, feature_names: tuple[str, ...] | None) -> Any:
    """``X`` as it is, or a DataFrame's values once its columns are the model's features in
    their order (a model that recorded no names takes a frame as the array it holds). The
    values are laid out by row, as an array is, so both give the same probabilities to the
    last bit."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "to_numpy"):
        return X
    given = [str(name) for name in columns]
    if feature_names is not None and given != list(feature_names):
        raise ValueError(_frame_mismatch(given, feature_names))
    return np.ascontiguousarray(X.to_numpy())


def _frame_mismatch(given: list[str], feature_names: tuple[str, ...]) -> str:
    given_set, expected_set = set(given), set(feature_names)
    missing = [name for name in feature_names if name not in given_set]
    unknown = [name for name in given if name not in expected_set]
    problems = []
    if missing:
        problems.append(f"lacks the model's feature(s) {_names(missing)}")
    if unknown:
        problems.append(f"has column(s) the model was not trained on: {_names(unknown)}")
    if not problems:
        problems.append("holds the model's features in another order")
    return (
        f"the DataFrame {'; '.join(problems)}; the model expects the columns in this order: "
        f"{_names(list(feature_names))} (select them with frame[list(model.feature_names)])"
    )


def _names(names: list[str]) -> str:
    return clip(", ".join(brief(name) for name in names))


def feature_names_of(meta: dict[str, Any]) -> tuple[str, ...] | None:
    """The feature names a model file's header records, or None for a file without them."""
    names = meta.get("features")
    if names is None:
        return None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ModelFileError("its feature names are not a list of strings")
    return tuple(names)


def check_features(X: np.ndarray, n_features: int | None = None) -> np.ndarray:
    """Validate a feature matrix once, at the model boundary, with messages a user can act on."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"features must be a 2-D array, got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"model was trained on {n_features} features, got {X.shape[1]}")
    if not np.all(np.isfinite(X)):
        raise ValueError("features contain NaN or infinite values")
    return X


def check_labels(y: np.ndarray, n_rows: int) -> np.ndarray:
    y = np.asarray(y).ravel()
    if y.size != n_rows:
        raise ValueError(f"{n_rows} feature rows but {y.size} labels")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0 or 1")
    return y.astype(np.float64)


def as_two_columns(p_positive: np.ndarray) -> np.ndarray:
    """scikit-learn's ``predict_proba`` layout from the positive-class probability."""
    return np.column_stack([1.0 - p_positive, p_positive])


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Overflow-free logistic function."""
    out = np.empty_like(z, dtype=np.float64)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    exp_z = np.exp(z[~positive])
    out[~positive] = exp_z / (1.0 + exp_z)
    return out


def standardizer(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale learned from training rows only; constant columns keep scale 1."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    return mean, scale


_PLATT_TOLERANCE = 1e-14  # of the mean log loss: a smaller decrease is rounding error


def fit_platt(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Slope and intercept of ``sigmoid(a * logit + b)`` fitted to the labels by Newton's method.

    Targets are Platt's smoothed labels, ``(n+ + 1) / (n+ + 2)`` and ``1 / (n- + 2)``, which keep
    the optimum finite even when the training logits separate the classes perfectly.
    """
    n_pos = float(labels.sum())
    n_neg = labels.size - n_pos
    target = np.where(labels > 0, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    design = np.column_stack([logits, np.ones_like(logits)])

    def loss(ab: np.ndarray) -> float:
        s = design @ ab
        return float(np.mean(np.logaddexp(0.0, s) - target * s))

    ab = np.array([1.0, 0.0])
    current = loss(ab)
    for _ in range(50):
        prob = sigmoid(design @ ab)
        gradient = design.T @ (prob - target) / labels.size
        hessian = (design.T * (prob * (1.0 - prob))) @ design / labels.size + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        if 0.5 * float(gradient @ step) < _PLATT_TOLERANCE:  # the decrease a step promises
            break
        # Far from the optimum a Newton step can overshoot: halve it until the loss decreases.
        # When no fraction of it does, the optimum has been reached to rounding error.
        for _ in range(30):
            candidate = ab - step
            candidate_loss = loss(candidate)
            if candidate_loss < current:
                break
            step /= 2.0
        else:
            break
        ab, current = candidate, candidate_loss
    return ab
