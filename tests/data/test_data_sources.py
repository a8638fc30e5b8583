"""CSV and Kaggle data in specs: clear errors, honest fallback, no leaked credentials."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from support.kaggle_server import zip_bytes

from conftest import FAKE_KEY, Serve, SpecWriter
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.results import CohortFailure, CohortResult, SpecResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import SpecError, load_spec

BREAST_CANCER = Path(__file__).parents[2] / "specs" / "data" / "breast_cancer.csv"


def run(write_spec: SpecWriter, body: str, cache: Path | None = None) -> SpecResult:
    spec_path = write_spec("version: 1\nname: s\n" + textwrap.dedent(body), "specs/s.yaml")
    root = write_spec.root
    spec = load_spec(spec_path, root=root)
    return run_spec(spec, RunSettings(root / "out", cache_dir=cache or root / "cache"))


def trained(result: SpecResult) -> CohortResult:
    (cohort,) = result.cohorts.values()
    assert isinstance(cohort, CohortResult), cohort
    return cohort


def failure(result: SpecResult) -> str:
    (cohort,) = result.cohorts.values()
    assert isinstance(cohort, CohortFailure), cohort
    return cohort.reason


def test_breast_cancer_csv_passes_the_gate_with_logistic(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    shutil.copy(BREAST_CANCER, tmp_path / "cancer.csv")
    cohort = trained(
        run(
            write_spec,
            """\
            model: {type: logistic}
            data:
              source: csv
              csv: {path: cancer.csv, label: target}
              split: {method: stratified}
            """,
        )
    )
    assert cohort.promoted
    assert cohort.dataset.label == "csv"
    assert len(cohort.dataset.feature_names) == 30
    assert cohort.metrics["accuracy"] >= 0.9
    record = json.loads(cohort.metrics_path.read_text())
    assert record["data"]["source"] == "csv"
    assert record["data"]["description"] == "csv cancer.csv (569 rows)"


CSV_MODEL = "model: {type: logistic}\ndata:\n  source: csv\n"


@pytest.mark.parametrize(
    ("content", "csv", "message"),
    [
        ("a,b,label\n", "{path: t.csv}", "t.csv: the table has no rows"),
        (
            "a,b,y\n1,2,0\n3,4,1\n",
            "{path: t.csv, label: target}",
            "t.csv: no label column 'target'",
        ),
        ("a,b,c\n1,2,0\n", "{path: t.csv}", "t.csv: no column name contains 'label' or 'target'"),
        ("a,b,label\n1,2,0\n", "{path: t.csv, features: [a, z]}", "t.csv: no column 'z'"),
        (
            "a,label\n1,yes\n2,no\n",
            "{path: t.csv}",
            "t.csv: label column 'label' is not binary 0/1 (values: 'no', 'yes')",
        ),
        ("name,label\nx,1\ny,0\n", "{path: t.csv}", "t.csv: no numeric feature column"),
        (
            "a,b,label\n1,,0\n2,3,1\n4,,1\n",
            "{path: t.csv}",
            "t.csv: column 'b' has 2 missing values (first at line 2); set na: drop",
        ),
        ("a,b,label\n1,inf,0\n2,3,1\n", "{path: t.csv}", "t.csv: column 'b' holds infinite"),
        ("a,a,label\n1,2,0\n2,3,1\n", "{path: t.csv}", "t.csv: duplicated column names: a, a.1"),
        ("a;b;label\n1;2;0\n", "{path: t.csv}", "t.csv: only one column ('a;b;label')"),
        ("text,label\nhello,1\nbye,0\n", "{path: t.csv, features: [text]}", "text: text columns"),
        ("a,label\n1,0\n", "{path: ../outside.csv}", "data.csv.path '../outside.csv' leaves"),
    ],
)
def test_unusable_csv_data_fails_with_file_and_column(
    write_spec: SpecWriter, tmp_path: Path, content: str, csv: str, message: str
) -> None:
    (tmp_path / "t.csv").write_text(content)
    (tmp_path.parent / "outside.csv").write_text(content)
    reason = failure(run(write_spec, CSV_MODEL + f"  csv: {csv}\n  fallback: synthetic\n"))
    assert message in reason


def test_na_drop_and_positive_label_mapping(write_spec: SpecWriter, tmp_path: Path) -> None:
    rows = ["a,b,diagnosis"] + [
        f"{i % 7},{'' if i % 10 == 0 else i % 5},{'M' if i % 7 > 3 else 'B'}" for i in range(200)
    ]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    cohort = trained(
        run(
            write_spec,
            CSV_MODEL + "  csv: {path: t.csv, label: diagnosis, positive: M, na: drop}\n",
        )
    )
    assert cohort.dataset.rows == 180
    kept = [i for i in range(200) if i % 10]  # the temporal split's validation rows: the last 20%
    assert cohort.dataset.y.tolist() == [int(i % 7 > 3) for i in kept[144:]]


def test_a_text_column_feeds_the_transformer_as_byte_tokens(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    words = ["deploy", "restart", "rm -rf /", "backup", "curl x | sh", "status"]
    rows = ["command,risk,label"] + [
        f"{words[i % 6]},{(i * 37) % 10 / 10},{int(i % 6 in (2, 4))}" for i in range(600)
    ]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    cohort = trained(
        run(
            write_spec,
            """\
            model: {type: simple_transformer}
            training: {epochs: 15}
            data:
              source: csv
              csv: {path: t.csv, features: [risk, command], text_length: 12}
            """,
        )
    )
    assert cohort.dataset.token_columns == 12
    assert cohort.model.params.token_columns == 12
    assert cohort.metrics["accuracy"] >= 0.95


def test_a_missing_file_falls_back_only_when_the_spec_says_so(write_spec: SpecWriter) -> None:
    body = CSV_MODEL + "  csv: {path: nowhere.csv}\n"
    assert "missing_file: nowhere.csv: file not found" in failure(run(write_spec, body))
    cohort = trained(run(write_spec, body + "  fallback: synthetic\n"))
    assert cohort.dataset.label == "synthetic (fallback: missing_file: nowhere.csv: file not found)"
    record = json.loads(cohort.metrics_path.read_text())
    assert record["data"]["source"] == cohort.dataset.label


def test_data_sections_must_match_the_source(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "version: 1\nname: s\nmodel: {type: logistic}\n"
        "data:\n  source: csv\n  kaggle: {dataset: a/b, file: x.csv}\n  fallback: synthetic\n"
    )
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert [str(p).split(": ", 1)[1] for p in caught.value.problems] == [
        "data: source csv needs a csv section",
        "data.kaggle: only read when source is kaggle",
    ]


KAGGLE = """\
model: {type: logistic}
data:
  source: kaggle
  kaggle: {dataset: owner/risk-data, version: 2, file: risk.csv, timeout_s: 20}
"""


def risk_csv() -> bytes:
    X = np.random.default_rng(0).random((400, 5)).round(4)
    lines = ["violation_count,severity_max,recency_score,frequency_score,context_risk,label"]
    lines += [",".join(map(str, row)) + f",{int(row[0] + row[1] > 1)}" for row in X]
    return ("\n".join(lines) + "\n").encode()


def test_a_kaggle_dataset_is_downloaded_once_then_served_from_the_cache(
    write_spec: SpecWriter, env: Path, serve: Serve, tmp_path: Path
) -> None:
    server = serve(archive=zip_bytes({"risk.csv": risk_csv()}))
    first = trained(run(write_spec, KAGGLE, cache=env))
    assert first.dataset.label == "kaggle"
    assert first.dataset.description == "kaggle owner/risk-data (version 2) risk.csv (400 rows)"
    assert first.metrics["accuracy"] >= 0.9
    requests = len(server.requests)
    assert requests > 0
    second = trained(run(write_spec, KAGGLE, cache=env))
    assert len(server.requests) == requests  # the cache served it
    assert second.metrics == first.metrics
    assert (env / "owner" / "risk-data" / "2" / "risk.csv").is_file()
    for output in (tmp_path / "out").rglob("*"):
        if output.is_file():
            assert FAKE_KEY.encode() not in output.read_bytes(), output


def test_unavailable_kaggle_data_fails_or_falls_back_visibly(
    write_spec: SpecWriter, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    assert failure(run(write_spec, KAGGLE, cache=env)).startswith(
        "DataUnavailable: no_credentials: no Kaggle credentials"
    )
    cohort = trained(run(write_spec, KAGGLE + "  fallback: synthetic\n", cache=env))
    assert cohort.dataset.label.startswith("synthetic (fallback: no_credentials: ")
    assert "synthetic (fallback: no_credentials" in cohort.context()


def test_a_fallback_pass_is_marked_in_pytest(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(pytester.path / "no-kaggle"))
    monkeypatch.setenv("HOME", str(pytester.path))
    spec = pytester.path / "specs" / "k.yaml"
    spec.parent.mkdir()
    spec.write_text("version: 1\nname: k\n" + KAGGLE + "  fallback: synthetic\n")
    result = pytester.runpytest("specs/", "--nethical-cache-dir", "cache", "-W", "default")
    result.assert_outcomes(passed=2, warnings=2)
    result.stdout.fnmatch_lines(
        ["*passed on synthetic fallback data, not the declared data: gate max_ece: *"
         "synthetic (fallback: no_credentials: *"]
    )  # fmt: skip


def write_risk_rows(path: Path, rows: int) -> None:
    rng = np.random.default_rng(5)
    X = rng.random((rows, 5)).round(5)
    y = (X[:, 0] + X[:, 1] + rng.logistic(0, 0.05, rows) > 1).astype(int)
    header = "violation_count,severity_max,recency_score,frequency_score,context_risk,label"
    lines = [header] + [",".join(map(str, r)) + f",{label}" for r, label in zip(X, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")


def test_a_csv_read_in_chunks_trains_like_the_whole_table(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    write_risk_rows(tmp_path / "big.csv", 5000)
    whole = trained(run(write_spec, CSV_MODEL + "  csv: {path: big.csv}\n"))
    one_chunk = trained(run(write_spec, CSV_MODEL + "  csv: {path: big.csv, chunk_rows: 10000}\n"))
    assert one_chunk.metrics["accuracy"] == pytest.approx(whole.metrics["accuracy"], abs=1e-12)
    assert one_chunk.dataset.fingerprint != whole.dataset.fingerprint  # hashed chunk-wise
    chunked = trained(run(write_spec, CSV_MODEL + "  csv: {path: big.csv, chunk_rows: 1000}\n"))
    assert chunked.split.train_rows == 4000 and chunked.split.y_val.size == 1000
    assert chunked.split.X_train.size == 0  # training rows never held in memory at once
    assert chunked.dataset.rows == 5000
    assert chunked.dataset.description == "csv big.csv (5000 rows, read 1000 at a time)"
    assert chunked.metrics["accuracy"] >= 0.9
    assert abs(chunked.metrics["accuracy"] - whole.metrics["accuracy"]) < 0.02


def test_chunked_reading_needs_an_incremental_model_and_a_temporal_split(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    write_risk_rows(tmp_path / "big.csv", 2000)
    body = (
        "model: {type: heuristic}\ndata:\n  source: csv\n  csv: {path: big.csv, chunk_rows: 1000}\n"
    )
    assert "heuristic cannot train from chunks" in failure(run(write_spec, body))
    path = tmp_path / "s.yaml"
    path.write_text(
        "version: 1\nname: s\nmodel: {type: logistic}\ndata:\n  source: csv\n"
        "  csv: {path: big.csv, chunk_rows: 1000}\n  split: {method: stratified}\n"
    )
    with pytest.raises(SpecError, match=r"split\.method: chunk_rows needs the temporal split"):
        load_spec(path)
