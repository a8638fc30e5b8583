"""The champion: the model currently promoted for a spec's cohort, to compare a challenger with.

It is found through the ``.latest.json`` pointer that promotion writes in ``models/current``
(of this run's output root, or of a folder given with ``--nethical-champion``, such as a CI
artifact restored from the main branch) and made to predict this run's validation rows, so a
regression check can compare the two models on the same rows. Pointer and model file are
untrusted input: the pointer is read with a bound, may only name a regular file beside it,
and the model is loaded as any model file is, with the project's allowed estimator prefixes.
It is read before this run saves anything, so a promotion in this run cannot compare the
candidate with itself.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nethical_runner._names import pointer_file
from nethical_runner.models import ModelFileError, load_model
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import Cohort, Spec

POINTER_BYTES = 64 * 1024  # a pointer is a few names; anything larger is not one


@dataclass(frozen=True)
class Champion:
    """The champion's predictions of this run's validation rows, or why there are none.

    ``missing``: there is no champion yet (the regression items skip); ``error``: there is one
    but it cannot be used (they fail, saying why)."""

    pointer: Path
    model_path: Path | None = None
    run_id: str | None = None
    probabilities: np.ndarray | None = None
    missing: str | None = None
    error: str | None = None


def champion_folder(settings: RunSettings) -> Path:
    """``--nethical-champion DIR`` (an output root or its ``models/current``), else this run's
    ``models/current``."""
    if settings.champion_dir is None:
        return settings.out_dir / "models" / "current"
    nested = settings.champion_dir / "models" / "current"
    return nested if nested.is_dir() else settings.champion_dir


def find_champion(spec: Spec, cohort: Cohort, settings: RunSettings, rows: np.ndarray) -> Champion:
    """The promoted model of ``spec``/``cohort`` predicting ``rows`` (positive-class
    probabilities)."""
    folder = champion_folder(settings)
    pointer = folder / pointer_file(spec.name, cohort.id)
    if not pointer.exists():
        return Champion(pointer, missing=f"no champion yet: no {pointer.name} in {folder}")
    try:
        model_path, run_id = _read_pointer(pointer)
        model, _ = load_model(_regular_file(model_path), spec.estimator_prefixes)
        probabilities = np.asarray(model.predict_proba(rows)[:, 1], dtype=np.float64)
    except (ChampionError, ModelFileError) as error:
        return Champion(pointer, error=str(error))
    except (ValueError, TypeError, IndexError) as error:  # rows the champion cannot read
        return Champion(
            pointer, error=f"{pointer}: the champion cannot predict these rows: {error}"
        )
    if probabilities.shape != (rows.shape[0],) or not np.all(np.isfinite(probabilities)):
        return Champion(pointer, error=f"{model_path}: the champion's probabilities are unusable")
    return Champion(pointer, model_path, run_id, probabilities)


class ChampionError(Exception):
    """The pointer or the file it names cannot be used."""


def _read_pointer(pointer: Path) -> tuple[Path, str | None]:
    with open(_regular_file(pointer), "rb") as handle:
        raw = handle.read(POINTER_BYTES + 1)
    if len(raw) > POINTER_BYTES:
        raise ChampionError(f"{pointer}: larger than {POINTER_BYTES} bytes, not a pointer")
    try:
        document = json.loads(raw.decode("utf-8"))
        name = document["model"]
        run_id = document.get("run_id")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ChampionError(f"{pointer}: not a model pointer ({error})") from None
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise ChampionError(f"{pointer}: 'model' must name a file beside the pointer")
    return pointer.parent / name, run_id if isinstance(run_id, str) else None


def _regular_file(path: Path) -> Path:
    """``path`` itself when it is a regular file (a link, a FIFO or a folder is refused)."""
    try:
        mode = path.lstat().st_mode
    except OSError as error:
        raise ChampionError(f"{path}: cannot read: {error.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ChampionError(f"{path}: not a regular file")
    return path
