"""The typed shape of a spec: the single source of truth for validation and the JSON Schema.

Every section forbids unknown keys and refuses type coercion, so a misspelt threshold or a
quoted number is an error at collection rather than a check that silently never runs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nethical_runner.models import REGISTRY

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=64)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
ModelType = Literal[tuple(REGISTRY)]  # type: ignore[valid-type]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TrainingConfig(Section):
    epochs: int = Field(10, ge=1, le=100_000, description="Passes over the training rows.")
    batch_size: int = Field(32, ge=1, le=10_000_000, description="Rows per optimisation step.")
    seed: int = Field(42, ge=0, le=2**32 - 1, description="Seed of every random choice.")


class SplitConfig(Section):
    train_fraction: float = Field(
        0.8,
        gt=0.0,
        lt=1.0,
        description="Share of rows used for training; the rest validates.",
    )
    method: Literal["temporal", "stratified"] = Field(
        "temporal",
        description="temporal: the first rows train, the last validate (no look-ahead); "
        "stratified: a seeded shuffle keeping the class balance in both parts.",
    )


class DataConfig(Section):
    source: Literal["synthetic"] = Field("synthetic", description="Where the rows come from.")
    samples: int = Field(10_000, ge=10, le=100_000_000, description="Rows to generate or use.")
    label_noise: float = Field(
        0.05,
        ge=0.0,
        le=0.5,
        description="Scale of the logistic noise added to a synthetic row's score before "
        "its label rule, so that rows near the boundary get uncertain labels and no model "
        "can be perfect.",
    )
    seed: int | None = Field(
        None,
        ge=0,
        le=2**32 - 1,
        description="Seed of the data; the training seed when absent.",
    )
    split: SplitConfig = Field(default_factory=SplitConfig)


class ModelConfig(Section):
    type: ModelType = Field(description="Which model to train.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Hyperparameters, validated per model type."
    )


class MetricsConfig(Section):
    ece_bins: int = Field(15, ge=1, le=1000, description="Equal-width bins of the ECE.")
    ece_confidence: Literal["positive", "top_label"] = Field(
        "positive",
        description="positive: p(class 1) against the label; top_label: max(p, 1-p) against "
        "correctness.",
    )
    decision_threshold: Probability = Field(
        0.5, description="Probability at or above which a row is predicted positive."
    )


class GateConfig(Section):
    """Thresholds a model must reach to be promoted; every bound is inclusive."""

    max_ece: Probability | None = Field(None, description="Largest allowed calibration error.")
    min_accuracy: Probability | None = Field(None, description="Smallest allowed accuracy.")
    min_precision: Probability | None = Field(None, description="Smallest allowed precision.")
    min_recall: Probability | None = Field(None, description="Smallest allowed recall.")
    min_f1: Probability | None = Field(None, description="Smallest allowed F1 score.")
    min_auc: Probability | None = Field(None, description="Smallest allowed ROC AUC.")
    max_brier: Probability | None = Field(None, description="Largest allowed Brier score.")


DEFAULT_GATE = GateConfig(max_ece=0.08, min_accuracy=0.85)


class AuditConfig(Section):
    """The tamper-evident audit log of training events (``<out>/audit``); off unless enabled."""

    enabled: bool = Field(
        False, description="Append every training run's events to the audit log and verify it."
    )
    chunk_size: int = Field(
        1000, ge=1, le=1_000_000, description="Most events per chunk file of the audit log."
    )


class RunConfig(Section):
    """Everything one training run (one cohort) needs."""

    version: Literal[1] = Field(description="Spec format version.")
    name: Name = Field(description="Used in test ids and output file names.")
    model: ModelConfig
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    gate: GateConfig = Field(
        default=DEFAULT_GATE,
        description="When absent: max_ece 0.08 and min_accuracy 0.85. When present: exactly "
        "the thresholds it lists.",
    )
    audit: AuditConfig = Field(default_factory=AuditConfig)


class CohortOverride(Section):
    """One cohort: a training run of the spec with some sections overridden."""

    id: Name = Field(description="Cohort id, used in test ids.")
    training: dict[str, Any] | None = Field(None, description="Overrides of `training`.")
    data: dict[str, Any] | None = Field(None, description="Overrides of `data`.")
    model: dict[str, Any] | None = Field(None, description="Overrides of `model`.")


class SpecDocument(RunConfig):
    """A spec file as written: the run configuration plus its cohorts."""

    cohorts: list[CohortOverride] = Field(
        default_factory=list,
        description="Training runs of this spec; one cohort named `default` when absent.",
    )
