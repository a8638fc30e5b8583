"""A trained cohort in the terms of the domain packages that read it after the run."""

from __future__ import annotations

from nethical_runner.drift.inputs import CohortEvaluation, MissedThreshold
from nethical_runner.run.results import CohortResult


def drift_input(result: CohortResult) -> CohortEvaluation:
    """What drift measures of ``result``: its validation predictions and its outcome."""
    return CohortEvaluation(
        spec_name=result.spec_name,
        cohort_id=result.cohort_id,
        model_type=result.model_type,
        labels=result.split.y_val,
        probabilities=result.validation_probabilities,
        rows=result.split.X_val,
        feature_names=tuple(result.dataset.feature_names),
        metrics=result.metrics,
        samples=int(result.metrics["samples"]),
        data_label=result.dataset.label,
        fallback=result.dataset.fallback_reason is not None,
        promoted=result.promoted,
        missed=tuple(
            MissedThreshold(v.threshold.metric, v.threshold.key, v.threshold.value, v.actual)
            for v in result.verdicts
            if not v.passed
        ),
    )
