"""Compressed tables: read only when the spec declares the compression, and never decompressed
past the size a Kaggle archive may unpack to, so a small file cannot cost gigabytes of memory.

The bombs are built in the test from gzip members of repeated rows, each a few hundred bytes
that expand to a mebibyte: a file of kilobytes that decompresses to any size asked for.
"""

from __future__ import annotations

import bz2
import gzip
import resource
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import SpecWriter
from nethical_runner._files import atomic_write_json
from nethical_runner.data import compressed, load_dataset, stream_data
from nethical_runner.data.errors import DataError
from nethical_runner.data.kaggle import MARKER, _manifest, fetch_dataset
from nethical_runner.data.tables import MAX_COLUMNS
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.results import CohortFailure, CohortResult, SpecResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import load_spec
from nethical_runner.spec.config import DataConfig

LIMIT = 32 * 1024**2  # the decompression limit in these tests; the real one is 2 GiB
ROWS = b"0.1,0.2,0\n0.3,0.4,1\n"


@pytest.fixture(autouse=True)
def small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compressed, "MAX_DECOMPRESSED_BYTES", LIMIT)


def gzip_bomb(path: Path, expanded: int, header: bytes = b"a,b,label\n") -> Path:
    """A gzip file of ``header`` and then ``expanded`` bytes of rows, written as repeated
    members (a gzip file may hold any number of them), so building it costs no memory."""
    block = ROWS * ((1 << 20) // len(ROWS))
    member = gzip.compress(block, compresslevel=9, mtime=0)
    with path.open("wb") as handle:
        handle.write(gzip.compress(header, mtime=0))
        for _ in range(-(-expanded // len(block))):
            handle.write(member)
    return path


def plain_rows(rows: int = 200) -> bytes:
    rng = np.random.default_rng(0)
    lines = [b"a,b,label"]
    lines += [f"{rng.random():.4f},{rng.random():.4f},{i % 2}".encode() for i in range(rows)]
    return b"\n".join(lines) + b"\n"


def run(write_spec: SpecWriter, csv: str, extra: str = "") -> SpecResult:
    spec_path = write_spec(
        "version: 1\nname: s\nmodel: {type: logistic}\ntraining: {epochs: 2}\n"
        f"data:\n  source: csv\n  csv: {csv}\n{extra}",
        "specs/s.yaml",
    )
    root = write_spec.root
    return run_spec(load_spec(spec_path, root=root), RunSettings(root / "out"))


def reason(result: SpecResult) -> str:
    (cohort,) = result.cohorts.values()
    assert isinstance(cohort, CohortFailure), f"trained: {cohort}"
    return cohort.reason


def peak_rss_growth_mib(started_kib: int) -> float:
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - started_kib) / 1024


def test_an_undeclared_gzip_file_is_refused_from_its_first_bytes(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    """pandas picked gzip from the ``.gz`` name and parsed the whole expansion."""
    gzip_bomb(tmp_path / "t.csv.gz", 3 * LIMIT)
    assert (tmp_path / "t.csv.gz").stat().st_size < 300_000
    started, rss = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert reason(run(write_spec, "{path: t.csv.gz}")) == (
        "DataError: t.csv.gz: the file is gzip-compressed; set data.*.compression: gzip to read it"
    )
    assert time.monotonic() - started < 5
    assert peak_rss_growth_mib(rss) < 64


def test_a_declared_gzip_bomb_is_refused_at_the_limit_before_parsing(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    gzip_bomb(tmp_path / "t.csv.gz", 3 * LIMIT)
    started, rss = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert reason(run(write_spec, "{path: t.csv.gz, compression: gzip}")) == (
        f"DataError: t.csv.gz: decompresses to more than {LIMIT} bytes, the limit for "
        "extracted data"
    )
    assert time.monotonic() - started < 5
    assert peak_rss_growth_mib(rss) < 64


def test_a_gzip_bomb_is_refused_when_read_in_chunks_too(
    write_spec: SpecWriter, tmp_path: Path
) -> None:
    gzip_bomb(tmp_path / "t.csv.gz", 3 * LIMIT)
    started = time.monotonic()
    csv = "{path: t.csv.gz, compression: gzip, chunk_rows: 1000}"
    assert reason(run(write_spec, csv, "  split: {method: temporal}\n")) == (
        f"DataError: t.csv.gz: decompresses to more than {LIMIT} bytes, the limit for "
        "extracted data"
    )
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("declared", [False, True], ids=["undeclared", "declared"])
def test_a_gzipped_header_wider_than_the_column_limit_is_refused(
    write_spec: SpecWriter, tmp_path: Path, declared: bool
) -> None:
    """The header check read the compressed bytes, found no plain line, and let pandas judge."""
    header = ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1)).encode() + b",label\n"
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(header + b"1," * (MAX_COLUMNS + 1) + b"0\n"))
    started = time.monotonic()
    found = reason(
        run(write_spec, "{path: t.csv.gz, compression: gzip}" if declared else "{path: t.csv.gz}")
    )
    assert found == (
        f"DataError: t.csv.gz: {MAX_COLUMNS + 2} columns, more than the {MAX_COLUMNS} a table "
        "may have"
        if declared
        else "DataError: t.csv.gz: the file is gzip-compressed; set data.*.compression: gzip to "
        "read it"
    )
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("compression", "pack"), [("gzip", gzip.compress), ("bz2", bz2.compress)], ids=["gzip", "bz2"]
)
def test_a_declared_compressed_file_reads_the_same_rows_as_the_plain_one(
    tmp_path: Path, compression: str, pack: object
) -> None:
    assert callable(pack)
    (tmp_path / "t.csv").write_bytes(plain_rows())
    (tmp_path / "t.csv.x").write_bytes(pack(plain_rows()))
    plain = DataConfig.model_validate({"source": "csv", "csv": {"path": "t.csv"}})
    packed = DataConfig.model_validate(
        {"source": "csv", "csv": {"path": "t.csv.x", "compression": compression}}
    )
    kwargs = {"synthetic_kind": "risk", "seed": 0, "root": tmp_path, "cache_dir": tmp_path}
    assert load_dataset(packed, **kwargs).fingerprint == load_dataset(plain, **kwargs).fingerprint


def test_a_declared_gzip_file_streams_in_chunks(tmp_path: Path) -> None:
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(plain_rows(3000)))
    config = DataConfig.model_validate(
        {
            "source": "csv",
            "csv": {"path": "t.csv.gz", "compression": "gzip", "chunk_rows": 1000},
            "split": {"method": "temporal"},
        }
    )
    with stream_data(config, tmp_path) as streamed:
        assert streamed.dataset.rows == 3000
        assert streamed.split.train_rows == 2400
        assert sum(y.size for _, y in streamed.train_chunks()) == 2400


@pytest.mark.parametrize(
    ("content", "declared", "message"),
    [
        (plain_rows(), "gzip", "compression gzip is declared, but the file is not compressed"),
        (
            bz2.compress(plain_rows()),
            "gzip",
            "compression gzip is declared, but the file is bz2-compressed",
        ),
        (
            gzip.compress(plain_rows())[:-30],
            "gzip",
            "cannot be decompressed as gzip: Compressed file ended before the end-of-stream "
            "marker was reached",
        ),
        (
            b"\xfd7zXZ\x00" + b"\x00" * 20,
            "none",
            "the file is xz-compressed, which is not read; decompress it, or compress it with "
            "gzip or bz2",
        ),
        (
            b"PK\x03\x04" + b"\x00" * 20,
            "none",
            "the file is a zip archive, which is not read; decompress it, or compress it with "
            "gzip or bz2",
        ),
        (
            bz2.compress(plain_rows()),
            "none",
            "the file is bz2-compressed; set data.*.compression: bz2 to read it",
        ),
    ],
    ids=["plain as gzip", "bz2 as gzip", "truncated gzip", "xz", "zip", "undeclared bz2"],
)
def test_a_compression_that_does_not_match_says_so(
    tmp_path: Path, content: bytes, declared: str, message: str
) -> None:
    (tmp_path / "t.csv").write_bytes(content)
    config = DataConfig.model_validate(
        {"source": "csv", "csv": {"path": "t.csv", "compression": declared}}
    )
    with pytest.raises(DataError) as caught:
        load_dataset(config, synthetic_kind="risk", seed=0, root=tmp_path, cache_dir=tmp_path)
    assert str(caught.value) == f"t.csv: {message}"


def kaggle_entry(cache: Path, files: dict[str, bytes]) -> None:
    """A complete cache entry of ``owner/data`` as a fetch leaves it, so no network is used."""
    entry = cache / "owner" / "data" / "latest"
    entry.mkdir(parents=True)
    for name, content in files.items():
        (entry / name).write_bytes(content)
    atomic_write_json(entry / MARKER, _manifest(entry, "owner/data", None))
    assert fetch_dataset("owner/data", version=None, cache_dir=cache) == entry


@pytest.mark.parametrize("declared", [None, "gzip"])
def test_a_gzip_bomb_inside_a_kaggle_dataset_is_refused(
    tmp_path: Path, declared: str | None
) -> None:
    """The archive's bound let a small ``.csv.gz`` member through, which pandas then expanded."""
    gzip_bomb(tmp_path / "bomb.gz", 3 * LIMIT)
    kaggle_entry(tmp_path / "cache", {"data.csv.gz": (tmp_path / "bomb.gz").read_bytes()})
    kaggle = {"dataset": "owner/data", "file": "data.csv.gz"}
    if declared:
        kaggle["compression"] = declared
    config = DataConfig.model_validate({"source": "kaggle", "kaggle": kaggle})
    started = time.monotonic()
    with pytest.raises(DataError) as caught:
        load_dataset(
            config, synthetic_kind="risk", seed=0, root=tmp_path, cache_dir=tmp_path / "cache"
        )
    shown = "kaggle owner/data (latest version) data.csv.gz"
    assert str(caught.value) == (
        f"{shown}: decompresses to more than {LIMIT} bytes, the limit for extracted data"
        if declared
        else f"{shown}: the file is gzip-compressed; set data.*.compression: gzip to read it"
    )
    assert time.monotonic() - started < 5


def test_a_declared_gzip_file_trains(write_spec: SpecWriter, tmp_path: Path) -> None:
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(plain_rows()))
    (cohort,) = run(write_spec, "{path: t.csv.gz, compression: gzip}").cohorts.values()
    assert isinstance(cohort, CohortResult), cohort


def test_the_limit_is_the_one_for_kaggle_archives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    assert fetch_dataset.__kwdefaults__["max_extracted_bytes"] == compressed.MAX_DECOMPRESSED_BYTES


@pytest.mark.slow
def test_a_bomb_past_the_real_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()
    limit = compressed.MAX_DECOMPRESSED_BYTES
    gzip_bomb(tmp_path / "t.csv.gz", limit + (1 << 20))
    assert (tmp_path / "t.csv.gz").stat().st_size < 8 * 1024**2
    config = DataConfig.model_validate(
        {"source": "csv", "csv": {"path": "t.csv.gz", "compression": "gzip"}}
    )
    started, rss = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataError, match=f"decompresses to more than {limit} bytes"):
        load_dataset(config, synthetic_kind="risk", seed=0, root=tmp_path, cache_dir=tmp_path)
    assert time.monotonic() - started < 60
    assert peak_rss_growth_mib(rss) < 64
