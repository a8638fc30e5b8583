"""A check: one threshold of a spec as a named, located, judgeable unit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nethical_runner._words import cohort_named
from nethical_runner.checks.outcome import Outcome
from nethical_runner.run.results import CohortFailure, CohortResult, SpecResult
from nethical_runner.spec.yaml_source import KeyPath


class TrainingFailed(Exception):
    """What a check needs was not produced (its cohort did not train, say)."""


@dataclass(frozen=True)
class Check:
    """``gate[accuracy]`` of cohort ``alpha``, written at ``key`` in the spec."""

    kind: str
    name: str
    cohort_id: str | None  # None for checks across cohorts
    key: KeyPath
    evaluate: Callable[[SpecResult], Outcome]

    @property
    def label(self) -> str:
        return f"{self.kind}[{self.name}]"

    def judge(self, result: SpecResult) -> Outcome:
        """The check's outcome on ``result``; missing inputs are a failed outcome that says
        why, never an exception, so every front end reports them alike."""
        try:
            return self.evaluate(result)
        except TrainingFailed as error:
            return Outcome.could_not_judge(str(error))


def cohort_result(result: SpecResult, cohort_id: str) -> CohortResult:
    found = result.cohorts[cohort_id]
    if isinstance(found, CohortFailure):
        raise TrainingFailed(f"{cohort_named(cohort_id)} could not be trained: {found.reason}")
    return found


def fallback_warning(trained: CohortResult, message: str) -> str | None:
    """A pass on synthetic rows that stood in for the declared data is never a plain pass."""
    if trained.dataset.fallback_reason is None:
        return None
    return f"passed on synthetic fallback data, not the declared data: {message}"
