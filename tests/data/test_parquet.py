"""Parquet tables: the same rows as a CSV give the same metrics, whole and streamed, and a bad
file is a clear error naming the file (and the column) before its rows are read."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SpecWriter
from nethical_runner.data import DataError, load_dataset, parquet
from nethical_runner.data.identity import data_identity
from nethical_runner.run.cache import cache_key
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.results import CohortFailure, CohortResult, SpecResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import load_spec
from nethical_runner.spec.config import DataConfig

SPECS = Path(__file__).parents[2] / "specs"


def run(write_spec: SpecWriter, body: str) -> SpecResult:
    spec_path = write_spec("version: 1\nname: s\n" + textwrap.dedent(body), "specs/s.yaml")
    spec = load_spec(spec_path, root=write_spec.root)
    return run_spec(spec, RunSettings(write_spec.root / "out", cache_dir=write_spec.root / "c"))


def trained(result: SpecResult) -> CohortResult:
    (cohort,) = result.cohorts.values()
    assert isinstance(cohort, CohortResult), cohort
    return cohort


def failure(result: SpecResult) -> str:
    (cohort,) = result.cohorts.values()
    assert isinstance(cohort, CohortFailure), cohort
    return cohort.reason


def test_the_parquet_spec_gives_exactly_the_metrics_of_its_csv_twin(tmp_path: Path) -> None:
    root = SPECS.parent
    results = [
        trained(
            run_spec(
                load_spec(SPECS / f"breast_cancer_{kind}.yaml", root=root),
                RunSettings(tmp_path / kind, cache_dir=tmp_path / "cache"),
            )
        )
        for kind in ("csv", "parquet")
    ]
    from_csv, from_parquet = results
    assert from_parquet.dataset.source == "parquet"
    assert from_parquet.dataset.description == "parquet specs/data/breast_cancer.parquet (569 rows)"
    assert from_parquet.metrics == from_csv.metrics
    assert from_parquet.dataset.fingerprint == from_csv.dataset.fingerprint
    np.testing.assert_array_equal(
        from_parquet.validation_probabilities, from_csv.validation_probabilities
    )


def test_the_shipped_parquet_file_holds_the_csv_rows() -> None:
    """The file is generated from the CSV (see the spec's comment); regenerating changes nothing."""
    from_csv = pd.read_csv(SPECS / "data" / "breast_cancer.csv")
    pd.testing.assert_frame_equal(
        pd.read_parquet(SPECS / "data" / "breast_cancer.parquet"), from_csv
    )


def big_table(write_spec: SpecWriter, rows: int = 5000) -> None:
    """The same rows as a CSV and as a Parquet file of 700-row groups (the Parquet written from
    the CSV as pandas reads it, as a team converting its files would)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(rows, 4))
    y = (X @ [1.0, -0.5, 0.25, 0.0] + rng.normal(0, 0.5, rows) > 0).astype(int)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(target=y)
    csv = write_spec.root / "t.csv"
    frame.to_csv(csv, index=False)
    pq.write_table(
        pa.Table.from_pandas(pd.read_csv(csv), preserve_index=False),
        write_spec.root / "t.parquet",
        row_group_size=700,
    )


@pytest.mark.parametrize("chunk_rows", [None, 1000])
def test_streamed_parquet_equals_streamed_csv(
    write_spec: SpecWriter, chunk_rows: int | None
) -> None:
    big_table(write_spec)
    chunks = f", chunk_rows: {chunk_rows}" if chunk_rows else ""
    cohorts = [
        trained(
            run(
                write_spec,
                f"""\
                model: {{type: logistic}}
                training: {{epochs: 3}}
                data:
                  source: {kind}
                  {kind}: {{path: t.{kind}, label: target{chunks}}}
                """,
            )
        )
        for kind in ("csv", "parquet")
    ]
    from_csv, from_parquet = cohorts
    assert from_parquet.metrics == from_csv.metrics
    assert from_parquet.dataset.fingerprint == from_csv.dataset.fingerprint
    assert from_parquet.split.train_rows == from_csv.split.train_rows == 4000
    if chunk_rows:
        assert "read 1000 at a time" in from_parquet.dataset.description


def write_frame(write_spec: SpecWriter, frame: pd.DataFrame | pa.Table, **options: object) -> Path:
    table = (
        frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    )
    path = write_spec.root / "t.parquet"
    pq.write_table(table, path, **options)  # type: ignore[arg-type]
    return path


PARQUET = """\
model: {type: logistic}
data:
  source: parquet
  parquet: %s
"""


@pytest.mark.parametrize(
    ("frame", "section", "message"),
    [
        pytest.param(
            pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "target": [1, 1, 1, 1]}),
            "{path: t.parquet}",
            "DataError: t.parquet: label column 'target' holds one class only (1 in all 4 rows)",
            id="one class",
        ),
        pytest.param(
            pd.DataFrame({"a": [1.0, None, 3.0, 4.0], "target": [0, 1, 0, 1]}),
            "{path: t.parquet}",
            "DataError: t.parquet: column 'a' has 1 missing values (first at row 2); set na: "
            "drop to skip such rows",
            id="missing value",
        ),
        pytest.param(
            pd.DataFrame({"a": ["1", "2", "x", "4"], "target": [0, 1, 0, 1]}),
            "{path: t.parquet}",
            "DataError: t.parquet: column 'a' mixes numbers and text ('x' at row 3); fix the "
            "value, or list the features to use",
            id="mixed types",
        ),
        pytest.param(
            pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "target": ["no", "yes", "no", "maybe"]}),
            "{path: t.parquet}",
            "DataError: t.parquet: label column 'target' is not binary 0/1",
            id="labels not 0/1",
        ),
        pytest.param(
            pd.DataFrame({"a": [None, None, None, None], "target": [0, 1, 0, 1]}),
            "{path: t.parquet, features: [a]}",
            "DataError: t.parquet: column 'a' has no values in any row",
            id="a column of nulls",
        ),
        pytest.param(
            pd.DataFrame({"when": pd.date_range("2024-01-01", periods=4), "target": [0, 1, 0, 1]}),
            "{path: t.parquet, features: [when]}",
            "DataError: t.parquet: column 'when' holds timestamp[",
            id="a timestamp feature",
        ),
        pytest.param(
            pd.DataFrame({"a": [1.0, 2.0], "target": [0, 1]}),
            "{path: t.parquet, label: targt}",
            "DataError: t.parquet: no label column 'targt' (did you mean 'target'?; columns: a, "
            "target)",
            id="missing label",
        ),
    ],
)
def test_bad_parquet_tables_are_named_by_file_and_column(
    write_spec: SpecWriter, frame: pd.DataFrame, section: str, message: str
) -> None:
    write_frame(write_spec, frame)
    assert failure(run(write_spec, PARQUET % section)).startswith(message)


def test_labels_other_than_0_1_with_positive_and_nulls_dropped(write_spec: SpecWriter) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    frame = pd.DataFrame(
        {
            "x": np.where(np.arange(400) % 50 == 0, np.nan, x),
            "flag": x > 0,  # booleans are numbers, as in a CSV
            "diagnosis": np.where(x + rng.normal(0, 0.3, 400) > 0, "malignant", "benign"),
            "when": pd.date_range("2024-01-01", periods=400),  # not a guessed feature
        }
    )
    write_frame(write_spec, frame, row_group_size=64)
    cohort = trained(
        run(
            write_spec,
            PARQUET % "{path: t.parquet, label: diagnosis, positive: malignant, na: drop}",
        )
    )
    assert cohort.dataset.feature_names == ("x", "flag")
    assert cohort.dataset.rows == 392
    assert cohort.metrics["accuracy"] > 0.8


def test_a_dictionary_encoded_text_feature_reads_as_in_a_csv(write_spec: SpecWriter) -> None:
    words = pa.array(["spam", "ham", "spam", "eggs"] * 50).dictionary_encode()
    table = pa.table({"text": words, "target": pa.array([1, 0, 1, 0] * 50)})
    write_frame(write_spec, table)
    body = PARQUET % "{path: t.parquet, features: [text]}"
    assert failure(run(write_spec, body)) == (
        "DataError: text: text columns can only feed simple_transformer, not logistic"
    )


def test_duplicated_column_names_are_refused(write_spec: SpecWriter) -> None:
    table = pa.table(
        [pa.array([1.0, 2.0]), pa.array([3.0, 4.0]), pa.array([0, 1])], ["a", "a", "target"]
    )
    write_frame(write_spec, table)
    assert failure(run(write_spec, PARQUET % "{path: t.parquet}")) == (
        "DataError: t.parquet: duplicated column names: a"
    )


def good_file(write_spec: SpecWriter) -> bytes:
    frame = pd.DataFrame({"a": np.arange(100.0), "target": np.arange(100) % 2})
    return write_frame(write_spec, frame).read_bytes()


def parquet_config() -> DataConfig:
    return DataConfig.model_validate({"source": "parquet", "parquet": {"path": "t.parquet"}})


def load(root: Path) -> object:
    return load_dataset(
        parquet_config(), synthetic_kind="risk", seed=0, root=root, cache_dir=root / "cache"
    )


def test_a_file_that_is_not_parquet(write_spec: SpecWriter) -> None:
    write_spec("a,target\n1,0\n2,1\n", "t.parquet")
    with pytest.raises(DataError, match=r"^t\.parquet: not a Parquet file \(it does not begin"):
        load(write_spec.root)


def test_a_truncated_file(write_spec: SpecWriter) -> None:
    raw = good_file(write_spec)
    write_spec(raw[: len(raw) // 2] + raw[-8:], "t.parquet")  # the footer's length now lies
    with pytest.raises(DataError, match=r"^t\.parquet: truncated or corrupt Parquet file: its "):
        load(write_spec.root)
    write_spec(raw[:-1], "t.parquet")
    with pytest.raises(DataError, match=r"^t\.parquet: not a Parquet file"):
        load(write_spec.root)


def test_corrupt_pages_are_a_data_error(write_spec: SpecWriter) -> None:
    raw = bytearray(good_file(write_spec))
    raw[4:60] = b"\xff" * 56  # the first column chunk's pages
    write_spec(bytes(raw), "t.parquet")
    with pytest.raises(DataError, match=r"^t\.parquet: cannot be read as Parquet: "):
        load(write_spec.root)


def test_huge_declared_metadata_is_refused_before_it_is_parsed(
    write_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = good_file(write_spec)
    huge = raw[:-8] + (2**31 - 1).to_bytes(4, "little") + b"PAR1"
    write_spec(huge, "t.parquet")
    with pytest.raises(DataError, match=r"declares 2147483647 bytes of metadata in a file of"):
        load(write_spec.root)
    write_spec(raw, "t.parquet")
    monkeypatch.setattr(parquet, "MAX_FOOTER_BYTES", 100)
    with pytest.raises(DataError, match=r"its footer declares \d+ bytes of metadata, more than "):
        load(write_spec.root)


def test_rows_too_large_for_memory_are_refused_from_the_footer(
    write_spec: SpecWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    good_file(write_spec)
    monkeypatch.setattr(parquet, "MAX_READ_BYTES", 100)
    with pytest.raises(DataError, match=r"the part read declares \d+ bytes uncompressed, more "):
        load(write_spec.root)


def test_data_identity_and_cache_key_follow_the_parquet_bytes(write_spec: SpecWriter) -> None:
    good_file(write_spec)
    config = parquet_config()
    root = write_spec.root
    first = data_identity(config, root=root, cache_dir=root / "cache")
    assert first.startswith("sha256:")
    text = "version: 1\nname: s\n" + PARQUET % "{path: t.parquet}"
    spec = load_spec(write_spec(text, "specs/s.yaml"), root=root)
    run_config = spec.cohorts[0].config
    key = cache_key(run_config, first, spec.estimator_prefixes)
    frame = pd.DataFrame({"a": np.arange(100.0) + 1, "target": np.arange(100) % 2})
    write_frame(write_spec, frame)
    second = data_identity(config, root=root, cache_dir=root / "cache")
    assert second != first
    assert cache_key(run_config, second, spec.estimator_prefixes) != key
