"""The typed shape of a spec: the single source of truth for validation and the JSON Schema.

Every section forbids unknown keys and refuses type coercion, so a misspelt threshold or a
quoted number is an error at collection rather than a check that silently never runs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

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

Milliseconds = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class StageBudgets(Section):
    """Wall-clock budget of each pipeline stage; the keys are the pipeline's stage names."""

    data_load_ms: Milliseconds | None = Field(None, description="Reading or generating rows.")
    preprocessing_ms: Milliseconds | None = Field(
        None, description="Splitting the rows into training and validation parts."
    )
    training_ms: Milliseconds | None = Field(None, description="Fitting the model.")
    validation_ms: Milliseconds | None = Field(
        None, description="Predicting the validation rows and computing the metrics."
    )


class SlaConfig(Section):
    """Latency targets, each an inclusive upper bound in milliseconds.

    When none of p50/p95/p99/avg/max is written, the seed's targets apply (p95 220, p99 500,
    avg 100); when any is written, exactly the written ones are checked, as for the gate.
    """

    p50_ms: Milliseconds | None = Field(None, description="Median latency target.")
    p95_ms: Milliseconds | None = Field(None, description="95th percentile latency target.")
    p99_ms: Milliseconds | None = Field(None, description="99th percentile latency target.")
    avg_ms: Milliseconds | None = Field(None, description="Mean latency target.")
    max_ms: Milliseconds | None = Field(None, description="Largest single latency allowed.")
    scope: Literal["inference", "stages"] = Field(
        "inference",
        description="inference: latency of predict_proba calls on validation rows; stages: the "
        "four pipeline stage timings as the seed measured them.",
    )
    calls: int = Field(200, ge=10, le=1_000_000, description="Timed predict calls.")
    warmup: int = Field(20, ge=0, le=1_000_000, description="Untimed calls before timing.")
    batch_size: int = Field(1, ge=1, le=1_000_000, description="Validation rows per call.")
    warn_margin: float = Field(
        0.10,
        ge=0.0,
        allow_inf_nan=False,
        description="Share above a target that is a warning rather than a breach.",
    )
    on_breach: Literal["fail", "warn"] = Field(
        "fail", description="What a breach does to its test item: fail it, or pass with a warning."
    )
    confidence: float | None = Field(
        None,
        gt=0.0,
        lt=1.0,
        description="Bootstrap interval level; a breach is called only when the whole "
        "interval lies above the target.",
    )
    stages: StageBudgets = Field(default_factory=StageBudgets)

    @field_validator("p95_ms", "p99_ms", "max_ms")
    @classmethod
    def _percentile_targets_do_not_decrease(
        cls, value: float | None, info: ValidationInfo
    ) -> float | None:
        """A higher percentile below a lower one's target is a typo, not a tighter SLA; checked
        per field so that the error points at the key that is out of order."""
        order = ("p50_ms", "p95_ms", "p99_ms", "max_ms")
        if value is None or info.field_name is None:
            return value
        for lower in order[: order.index(info.field_name)]:
            bound = info.data.get(lower)
            if bound is not None and value < bound:
                raise ValueError(
                    f"{value:g} is below {lower} {bound:g} (a higher percentile cannot have a "
                    "lower target)"
                )
        return value


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
    sla: SlaConfig | None = Field(
        None,
        description="Latency targets checked for every cohort; absent: no SLA checks.",
    )


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
