"""The Python API: load a spec, run it, load a model it saved.

What a notebook or a script needs without the command line or pytest, each a thin call into
the layers the front ends use, so a spec behaves the same from Python as in CI. Paths may be
``str`` or :class:`~pathlib.Path`. Imported on first use of ``nethical_runner.load_model`` (and
the others), so ``import nethical_runner`` stays cheap.
"""

from __future__ import annotations

import os
from pathlib import Path

from nethical_runner.models import Model
from nethical_runner.models import load_model as _load_model_and_metadata
from nethical_runner.models.sklearn_estimator import DEFAULT_ALLOWED_PREFIXES
from nethical_runner.run import loading
from nethical_runner.run.options import DEFAULT_OUT_DIR
from nethical_runner.run.pipeline import run_spec as _run_spec
from nethical_runner.run.results import SpecResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import Spec

PathLike = str | os.PathLike[str]


def load_spec(
    path: PathLike,
    *,
    root: PathLike | None = None,
    estimator_prefixes: tuple[str, ...] = DEFAULT_ALLOWED_PREFIXES,
) -> Spec:
    """The validated spec at ``path``, as ``nethical-runner validate`` reads it.

    Data paths in it are relative to ``root`` (the working directory when absent), and a
    ``sklearn`` model may import only from ``estimator_prefixes``. Raises
    :class:`nethical_runner.spec.SpecError` holding every problem of the file, each located
    (``spec.yaml:7:12: model.params.C: ...``).
    """
    return loading.load_spec(
        Path(path), estimator_prefixes, Path(root) if root is not None else None
    )


def run_spec(
    spec: PathLike | Spec,
    *,
    out_dir: PathLike = DEFAULT_OUT_DIR,
    root: PathLike | None = None,
    estimator_prefixes: tuple[str, ...] = DEFAULT_ALLOWED_PREFIXES,
) -> SpecResult:
    """Train every cohort of ``spec`` (a path, or a spec from :func:`load_spec`) in this
    process and return what they produced; models and metrics records are saved under
    ``out_dir`` as ``nethical-runner train`` saves them.

    ``result.cohorts`` maps each cohort id to a ``CohortResult`` (``metrics``, ``verdicts``,
    ``promoted``, ``model_path``) or, for one that failed, a ``CohortFailure`` with its
    ``reason``: one cohort's failure does not stop the others. A spec error raises
    :class:`nethical_runner.spec.SpecError` before anything trains.
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec, root=root, estimator_prefixes=estimator_prefixes)
    return _run_spec(spec, RunSettings(Path(out_dir).resolve()))


def load_model(
    source: PathLike | bytes, *, allowed_prefixes: tuple[str, ...] = DEFAULT_ALLOWED_PREFIXES
) -> Model:
    """The model saved at ``source`` (a ``.npz`` path, or its bytes), read without pickle.

    ``model.predict_proba(X)`` takes an array or a pandas DataFrame; a frame's columns must be
    ``model.feature_names`` in that order. A stored scikit-learn estimator is loaded only if
    every type it names is a class under ``allowed_prefixes``. Raises
    :class:`nethical_runner.models.ModelFileError` for a file it will not trust.
    """
    if not isinstance(source, bytes):
        source = Path(source)
    model, _ = _load_model_and_metadata(source, allowed_prefixes)
    return model
