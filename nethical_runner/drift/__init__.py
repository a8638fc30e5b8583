"""Ethical drift tracking: cohorts, slices and successive runs of a spec compared.

``declared`` lists what a spec asks for, ``inputs`` is what a run hands over of each trained
cohort, ``measure`` measures a run (with ``stats`` for the bootstrap, ``slices`` for evaluation
slices and ``history`` for earlier runs), ``comparison`` holds spreads and drops, ``result``
judges each check, and ``report`` writes the old script's JSON report.
"""

from nethical_runner.drift.declared import DriftCheck, declared_checks
from nethical_runner.drift.inputs import CohortEvaluation, MissedThreshold
from nethical_runner.drift.measure import track_drift, tracks_drift
from nethical_runner.drift.result import DriftFailure, DriftResult, DriftVerdict

__all__ = [
    "CohortEvaluation",
    "DriftCheck",
    "DriftFailure",
    "DriftResult",
    "DriftVerdict",
    "MissedThreshold",
    "declared_checks",
    "track_drift",
    "tracks_drift",
]
