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


class TableConfig(Section):
    """How to read a table: which columns are features and label, and what to do with gaps."""

    label: str | None = Field(
        None, description="Label column; the first whose name contains label or target if absent."
    )
    features: list[str] | None = Field(
        None,
        min_length=1,
        description="Feature columns; absent: the seed's five risk features if all present, "
        "else every numeric column but the label. A text column listed here becomes byte "
        "tokens (simple_transformer only).",
    )
    positive: str | int | None = Field(
        None, description="The label value that means 1, for labels that are not 0/1."
    )
    na: Literal["error", "drop"] = Field(
        "error", description="Missing values: an error naming the column, or drop the rows."
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="Field separator.")
    text_length: int = Field(64, ge=1, le=4096, description="Bytes kept of each text value.")


class CsvConfig(TableConfig):
    path: str = Field(
        min_length=1, description="CSV file, relative to the project root; may not leave it."
    )


class KaggleConfig(TableConfig):
    dataset: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*/[A-Za-z0-9][A-Za-z0-9_-]*$",
        description="owner/slug of the Kaggle dataset.",
    )
    version: int | None = Field(None, ge=1, description="Dataset version; latest if absent.")
    file: str = Field(min_length=1, description="CSV file inside the dataset.")
    timeout_s: float = Field(60.0, gt=0, le=3600, description="Time limit of the download.")


class DataConfig(Section):
    source: Literal["synthetic", "csv", "kaggle"] = Field(
        "synthetic", description="Where the rows come from."
    )
    samples: int | None = Field(
        None,
        ge=10,
        le=100_000_000,
        description="Rows to generate (synthetic: default 10000) or at most to read (csv, "
        "kaggle: default all).",
    )
    csv: CsvConfig | None = Field(None, description="For source csv.")
    kaggle: KaggleConfig | None = Field(None, description="For source kaggle.")
    fallback: Literal["none", "synthetic"] = Field(
        "none",
        description="When csv or kaggle data cannot be had: fail (none), or train on synthetic "
        "data and say so in every result (synthetic).",
    )
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

    def consistency_problems(self) -> list[tuple[tuple[str, ...], str]]:
        """Rules across keys, as (key path inside ``data``, message)."""
        problems = []
        for source in ("csv", "kaggle"):
            if self.source == source and getattr(self, source) is None:
                problems.append(((), f"source {source} needs a {source} section"))
            elif self.source != source and getattr(self, source) is not None:
                problems.append(((source,), f"only read when source is {source}"))
        if self.source == "synthetic" and self.fallback != "none":
            problems.append((("fallback",), "applies only to csv and kaggle sources"))
        return problems


class ModelConfig(Section):
    type: ModelType = Field(description="Which model to train.")
    estimator: str | None = Field(
        None,
        description="For type sklearn: import path of a scikit-learn classifier, e.g. "
        "sklearn.ensemble.HistGradientBoostingClassifier.",
    )
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
