"""What drift measures of one trained cohort, in drift's own terms.

Drift compares cohorts by their validation predictions and records their outcome; it does not
need the model, the data set or the gate that produced them. The run layer hands each trained
cohort over as a :class:`CohortEvaluation`, so drift never depends on the pipeline's types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MissedThreshold:
    """A gate threshold the cohort's model did not meet."""

    metric: str
    key: str  # the spec key, e.g. "min_accuracy"
    threshold: float
    actual: float | None  # None when the metric is undefined on the validation rows


@dataclass(frozen=True, eq=False)  # arrays do not compare as one truth value
class CohortEvaluation:
    """One cohort's validation outcome: its predictions, its metrics and its gate result."""

    spec_name: str
    cohort_id: str
    model_type: str
    labels: np.ndarray  # validation labels
    probabilities: np.ndarray  # predicted probability of the positive class, per validation row
    rows: np.ndarray  # the validation feature rows, which slices select from
    feature_names: tuple[str, ...]
    metrics: Mapping[str, Any]
    samples: int
    data_label: str  # where the data came from, as reports name it
    fallback: bool  # trained on synthetic fallback rows instead of the declared data
    promoted: bool
    missed: tuple[MissedThreshold, ...]
