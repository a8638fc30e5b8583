"""The typed shape of a spec: the single source of truth for validation and the JSON Schema.

Every section forbids unknown keys and refuses type coercion, so a misspelt threshold or a
quoted number is an error at collection rather than a check that silently never runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nethical_runner.models import REGISTRY
from nethical_runner.spec.regression import RegressionConfig

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=64)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Level = Annotated[float, Field(gt=0.0, lt=1.0)]  # of a two-sided interval: 0.95
OnInconclusive = Literal["fail", "warn"]
if TYPE_CHECKING:
    ModelType = str
else:  # the registered names, as an enum in the JSON Schema and a closed set in validation
    ModelType = Literal[tuple(REGISTRY)]


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


class ColumnsConfig(Section):
    """Which columns of a table are features and label, and what to do with gaps: the keys
    every table source shares, whatever its file format."""

    label: str | None = Field(
        None, description="Label column; the first whose name contains label or target if absent."
    )
    features: list[str] | None = Field(
        None,
        min_length=1,
        description="Feature columns; absent: the old script's five risk features if all present, "
        "else every numeric column but the label. A text column listed here becomes byte "
        "tokens (simple_transformer only).",
    )
    positive: str | int | None = Field(
        None, description="The label value that means 1, for labels that are not 0/1."
    )
    na: Literal["error", "drop"] = Field(
        "error", description="Missing values: an error naming the column, or drop the rows."
    )
    text_length: int = Field(64, ge=1, le=4096, description="Bytes kept of each text value.")


class TableConfig(ColumnsConfig):
    """A delimited text table (CSV): the shared column keys plus how the text is laid out."""

    delimiter: str = Field(",", min_length=1, max_length=1, description="Field separator.")
    compression: Literal["none", "gzip", "bz2"] = Field(
        "none",
        description="How the file is compressed; compressed content is read only when declared, "
        "and never decompressed past 2 GiB, the bound of an unpacked Kaggle archive.",
    )

    @field_validator("features")
    @classmethod
    def _features_are_distinct(cls, value: list[str] | None) -> list[str] | None:
        """A feature listed twice selects a column twice, which pandas returns as a table
        rather than a column; say so at collection instead of failing mid-training."""
        for index, name in enumerate(value or []):
            if name in value[:index]:  # type: ignore[index]
                raise ValueError(f"{name!r} is listed twice")
        return value


def _chunk_rows() -> Any:
    """The ``chunk_rows`` field of a file source (a new field object for each model)."""
    return Field(
        None,
        ge=1000,
        le=10_000_000,
        description="Read and train this many rows at a time, so a file larger than memory "
        "can be used (models that train from chunks: logistic; temporal split only).",
    )


class CsvConfig(TableConfig):
    path: str = Field(
        min_length=1, description="CSV file, relative to the project root; may not leave it."
    )
    chunk_rows: int | None = _chunk_rows()


class ParquetConfig(ColumnsConfig):
    path: str = Field(
        min_length=1, description="Parquet file, relative to the project root; may not leave it."
    )
    chunk_rows: int | None = _chunk_rows()


TABLE_SOURCES = ("csv", "parquet")
"""Sources whose ``path`` names a file below the project root."""


class KaggleConfig(TableConfig):
    dataset: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*/[A-Za-z0-9][A-Za-z0-9_-]*$",
        description="owner/slug of the Kaggle dataset.",
    )
    version: int | None = Field(None, ge=1, description="Dataset version; latest if absent.")
    file: str = Field(min_length=1, description="CSV file inside the dataset.")
    timeout_s: float = Field(60.0, gt=0, le=3600, description="Time limit of the download.")


class DataConfig(Section):
    source: Literal["synthetic", "csv", "parquet", "kaggle"] = Field(
        "synthetic", description="Where the rows come from."
    )
    samples: int | None = Field(
        None,
        ge=10,
        le=100_000_000,
        description="Rows to generate (synthetic: default 10000) or at most to read (csv, "
        "parquet, kaggle: default all).",
    )
    csv: CsvConfig | None = Field(None, description="For source csv.")
    parquet: ParquetConfig | None = Field(None, description="For source parquet.")
    kaggle: KaggleConfig | None = Field(None, description="For source kaggle.")
    fallback: Literal["none", "synthetic"] = Field(
        "none",
        description="When csv, parquet or kaggle data cannot be had: fail (none), or train on "
        "synthetic data and say so in every result (synthetic).",
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
    split: SplitConfig = Field(
        SplitConfig(), description="How rows are divided into training and validation parts."
    )

    def consistency_problems(self) -> list[tuple[tuple[str, ...], str]]:
        """Rules across keys, as (key path inside ``data``, message)."""
        problems: list[tuple[tuple[str, ...], str]] = []
        for source in (*TABLE_SOURCES, "kaggle"):
            if self.source == source and getattr(self, source) is None:
                problems.append(((), f"source {source} needs a {source} section"))
            elif self.source != source and getattr(self, source) is not None:
                problems.append(((source,), f"only read when source is {source}"))
        if self.chunk_rows and self.split.method != "temporal":
            problems.append((("split", "method"), "chunk_rows needs the temporal split"))
        if self.source == "synthetic" and self.fallback != "none":
            problems.append((("fallback",), "applies only to csv, parquet and kaggle sources"))
        return problems

    @property
    def table(self) -> CsvConfig | ParquetConfig | None:
        """The section of a file source below the project root (csv or parquet), if any."""
        if self.source == "csv":
            return self.csv
        if self.source == "parquet":
            return self.parquet
        return None

    @property
    def chunk_rows(self) -> int | None:
        """Rows read at a time when the file source is streamed; None when read whole."""
        table = self.table
        return table.chunk_rows if table is not None else None


class ModelConfig(Section):
    type: ModelType = Field(description="Which model to train.")
    estimator: str | None = Field(
        None,
        description="For type sklearn: import path of a scikit-learn classifier, e.g. "
        "sklearn.ensemble.HistGradientBoostingClassifier.",
    )
    params: dict[str, Any] = Field({}, description="Hyperparameters, validated per model type.")


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
    """Thresholds a model must reach to be promoted; every bound is inclusive.

    With ``confidence`` each threshold is decided on the two-sided interval at that level:
    pass when the whole interval is on the good side, fail when it is on the bad side,
    inconclusive when it straddles the threshold (failed unless ``on_inconclusive: warn``).
    """

    max_ece: Probability | None = Field(None, description="Largest allowed calibration error.")
    min_accuracy: Probability | None = Field(None, description="Smallest allowed accuracy.")
    min_precision: Probability | None = Field(None, description="Smallest allowed precision.")
    min_recall: Probability | None = Field(None, description="Smallest allowed recall.")
    min_f1: Probability | None = Field(None, description="Smallest allowed F1 score.")
    min_auc: Probability | None = Field(None, description="Smallest allowed ROC AUC.")
    max_brier: Probability | None = Field(None, description="Largest allowed Brier score.")
    confidence: Level | None = Field(
        None,
        description="Decide every threshold on the two-sided interval at this level (Wilson "
        "for accuracy, precision and recall; a stratified BCa bootstrap for the others); "
        "absent: on the point value, with a warning when the 95% interval straddles it.",
    )
    on_inconclusive: OnInconclusive = Field(
        "fail",
        description="What an interval that straddles its threshold does to the item (and to "
        "promotion): fail it, or pass with a warning.",
    )


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

    When none of p50/p95/p99/avg/max is written, the old script's targets apply (p95 220, p99 500,
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
        "four pipeline stage timings as the old script measured them.",
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
    confidence: Level | None = Field(
        None,
        description="Bootstrap interval level; a breach is called only when the whole "
        "interval lies above the target, inconclusive when it straddles it.",
    )
    on_inconclusive: OnInconclusive = Field(
        "warn",
        description="What a latency whose interval straddles its target does: pass with a "
        "warning, or fail.",
    )
    stages: StageBudgets = Field(
        StageBudgets(), description="Wall-clock budgets of the pipeline stages."
    )
    resource: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Under --nethical-dask: time inference on a worker holding this Dask "
        "resource (e.g. GPU, started with --resources GPU=1), the machine that will serve the "
        "model; without it, or without a cluster, latency is timed in the controlling process.",
    )

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


class AuditConfig(Section):
    """The tamper-evident audit log of training events (``<out>/audit``); off unless enabled."""

    enabled: bool = Field(
        False, description="Append every training run's events to the audit log and verify it."
    )
    chunk_size: int = Field(
        1000, ge=1, le=1_000_000, description="Most events per chunk file of the audit log."
    )


class SliceWhere(Section):
    """Which validation rows a slice holds: one feature column compared with one condition."""

    column: str = Field(min_length=1, description="A feature column of the cohort's data.")
    equals: float | None = Field(None, description="Rows whose value equals this number.")
    in_: list[float] | None = Field(
        None, alias="in", min_length=1, description="Rows whose value is one of these numbers."
    )
    between: list[float] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="[low, high]: rows whose value lies in this closed interval.",
    )

    @field_validator("between")
    @classmethod
    def _ordered(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(f"low {value[0]:g} is above high {value[1]:g}")
        return value

    @model_validator(mode="after")
    def _one_condition(self) -> SliceWhere:
        """One condition per slice, so that a slice's rows never depend on which of several
        conditions a reader assumes wins."""
        given = [name for name in ("equals", "in_", "between") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of equals, in, between")
        return self


class SliceConfig(Section):
    """An evaluation slice: each cohort's model is also judged on these validation rows."""

    id: Name = Field(description="Slice id, used in reports and messages.")
    where: SliceWhere = Field(description="The condition a validation row must meet.")


class MetricBounds(Section):
    """One bound per metric; a metric left out is reported and not checked."""

    accuracy: Probability | None = Field(
        None, description="Bound on accuracy; absent: not checked."
    )
    precision: Probability | None = Field(
        None, description="Bound on precision; absent: not checked."
    )
    recall: Probability | None = Field(None, description="Bound on recall; absent: not checked.")
    f1: Probability | None = Field(None, description="Bound on f1; absent: not checked.")
    auc: Probability | None = Field(None, description="Bound on auc; absent: not checked.")
    ece: Probability | None = Field(None, description="Bound on ece; absent: not checked.")


class DriftConfig(Section):
    """How far cohorts, slices and successive runs may drift apart; every bound inclusive."""

    max_spread: MetricBounds | None = Field(
        None,
        description="Largest allowed max - min of each metric across cohorts, checked as "
        "drift[<metric>]; absent: accuracy 0.05 and ece 0.03; {} checks none.",
    )
    max_slice_spread: MetricBounds | None = Field(
        None,
        description="Largest allowed max - min of each metric across the slices of one "
        "cohort's validation data, checked per cohort as drift[slice.<metric>].",
    )
    baseline: Literal["previous"] = Field(
        "previous",
        description="What max_drop compares with: the same cohort in the latest earlier run "
        "of this spec recorded in the drift folder.",
    )
    max_drop: MetricBounds | None = Field(
        None,
        description="Largest allowed worsening of each metric against the baseline (a fall, "
        "or a rise for ece), checked as drift[<metric>.vs_previous].",
    )
    min_samples: int = Field(
        30,
        ge=1,
        le=100_000_000,
        description="Slices with fewer validation rows are reported and not judged.",
    )
    confidence: Level = Field(
        0.95,
        description="Bootstrap interval level; drift is called only when the whole interval "
        "lies beyond the bound, so noise on small cohorts is not called drift.",
    )
    on_inconclusive: OnInconclusive = Field(
        "warn",
        description="What a bound exceeded within noise (the interval reaches back inside it) "
        "does: pass with a warning, or fail.",
    )
    false_discovery_rate: Level | None = Field(
        None,
        description="Benjamini-Hochberg control across the spec's drift and slice checks: "
        "only checks among the discoveries at this rate fail, the other exceeded bounds are "
        "inconclusive; absent: each check at its own level.",
    )
    group: Name | None = Field(
        None,
        description="Runs of any spec naming the same group in the same drift folder "
        "accumulate: each report also compares the latest recorded result of every other "
        "cohort of the group.",
    )


class RunConfig(Section):
    """Everything one training run (one cohort) needs."""

    version: Literal[1] = Field(description="Spec format version.")
    name: Name = Field(description="Used in test ids and output file names.")
    model: ModelConfig = Field(description="The model to train and its hyperparameters.")
    training: TrainingConfig = Field(TrainingConfig(), description="How the model is fitted.")
    data: DataConfig = Field(DataConfig(), description="Where rows come from and how they split.")
    metrics: MetricsConfig = Field(MetricsConfig(), description="How metrics are computed.")
    gate: GateConfig = Field(
        default=DEFAULT_GATE,
        description="When absent: max_ece 0.08 and min_accuracy 0.85. When present: exactly "
        "the thresholds it lists.",
    )
    sla: SlaConfig | None = Field(
        None,
        description="Latency targets checked for every cohort; absent: no SLA checks.",
    )
    audit: AuditConfig = Field(
        AuditConfig(), description="The tamper-evident audit log; absent: disabled."
    )
    regression: RegressionConfig | None = Field(
        None, description="Allowed metric changes against --nethical-baseline; absent: none."
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
        [],
        description="Training runs of this spec; one cohort named `default` when absent.",
    )
    slices: list[SliceConfig] = Field(
        [],
        description="Evaluation slices of the validation data, judged for every cohort.",
    )
    drift: DriftConfig | None = Field(
        None,
        description="Drift across cohorts, slices and runs; absent: no drift checks (a "
        "report is still written when slices are declared).",
    )
