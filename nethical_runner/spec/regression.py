"""The ``regression`` section: how far each metric may move against a baseline run.

A metric where higher is better (accuracy, precision, recall, F1, ROC AUC) may only *drop* by a
bound, one where lower is better (ECE, Brier score) may only *rise*; the two are separate
sections so that a bound on the wrong side (``max_drop: {ece: ...}``) is an unknown key at
collection rather than a check that can never fail. Kept in its own module so that the spec's
main models stay one screen per concern.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Change = Annotated[float, Field(ge=0.0, le=1.0)]
RelativeChange = Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)]
Level = Annotated[float, Field(gt=0.0, lt=1.0)]

HIGHER_IS_BETTER = ("accuracy", "precision", "recall", "f1", "auc")
LOWER_IS_BETTER = ("ece", "brier")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DropBounds(_Section):
    """Largest allowed drop of each metric where higher is better, in absolute units."""

    accuracy: Change | None = Field(None, description="Largest allowed drop of accuracy.")
    precision: Change | None = Field(None, description="Largest allowed drop of precision.")
    recall: Change | None = Field(None, description="Largest allowed drop of recall.")
    f1: Change | None = Field(None, description="Largest allowed drop of the F1 score.")
    auc: Change | None = Field(None, description="Largest allowed drop of ROC AUC.")


class RiseBounds(_Section):
    """Largest allowed rise of each metric where lower is better, in absolute units."""

    ece: Change | None = Field(None, description="Largest allowed rise of the calibration error.")
    brier: Change | None = Field(None, description="Largest allowed rise of the Brier score.")


class RelativeDropBounds(_Section):
    """Largest allowed drop as a share of the baseline value (0.01 = 1% of it)."""

    accuracy: RelativeChange | None = Field(None, description="Share of baseline accuracy.")
    precision: RelativeChange | None = Field(None, description="Share of baseline precision.")
    recall: RelativeChange | None = Field(None, description="Share of baseline recall.")
    f1: RelativeChange | None = Field(None, description="Share of the baseline F1 score.")
    auc: RelativeChange | None = Field(None, description="Share of baseline ROC AUC.")


class RelativeRiseBounds(_Section):
    """Largest allowed rise as a share of the baseline value (0.5 = half of it again)."""

    ece: RelativeChange | None = Field(None, description="Share of the baseline ECE.")
    brier: RelativeChange | None = Field(None, description="Share of the baseline Brier score.")


class RegressionConfig(_Section):
    """Bounds on how far metrics may move against a baseline run (``--nethical-baseline``) or
    against the champion, the model currently promoted for the same spec and cohort.

    Each metric named anywhere here becomes one ``regression[<metric>]`` item per cohort (with
    ``against: baseline``, when a baseline is given); every bound is inclusive, and an absolute
    and a relative bound on the same metric must both hold.
    """

    against: Literal["baseline", "champion"] = Field(
        "baseline",
        description="baseline: the metrics of an earlier run's results.json, on its own rows; "
        "champion: the promoted model predicting this run's validation rows, compared paired.",
    )
    confidence: Level | None = Field(
        None,
        description="Decide on the two-sided interval of the change at this level; absent: "
        "on the point change, with a warning when its 95% interval straddles the bound.",
    )
    on_inconclusive: Literal["fail", "warn"] = Field(
        "fail",
        description="What an interval that straddles the bound does: fail the item, or pass "
        "with a warning.",
    )

    max_drop: DropBounds = Field(
        DropBounds(), description="Absolute drops allowed, e.g. {accuracy: 0.01}."
    )
    max_rise: RiseBounds = Field(
        RiseBounds(), description="Absolute rises allowed, e.g. {ece: 0.01}."
    )
    rel_max_drop: RelativeDropBounds = Field(
        RelativeDropBounds(), description="Drops allowed relative to the baseline value."
    )
    rel_max_rise: RelativeRiseBounds = Field(
        RelativeRiseBounds(), description="Rises allowed relative to the baseline value."
    )


BOUND_SECTIONS = ("max_drop", "rel_max_drop", "max_rise", "rel_max_rise")


def bounded_metrics(config: RegressionConfig) -> list[str]:
    """The metrics any bound of ``config`` names, in the order of the spec format."""
    return [
        metric
        for metric in (*HIGHER_IS_BETTER, *LOWER_IS_BETTER)
        if any(getattr(getattr(config, s), metric, None) is not None for s in BOUND_SECTIONS)
    ]
