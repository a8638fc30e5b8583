"""Slow, failing and lying Kaggle servers, through the real client.

Each ends in a clear ``DataUnavailable`` (or, with ``fallback: synthetic``, in training on
synthetic rows that say why), leaves nothing half-written in the cache, and never quotes a
credential. A server that never finishes is stopped by the spec's time limit: the error says so
and the client's process was killed. How long that took is not asserted, since it depends on
the machine's load; a fault that must not end in a timeout gets a limit no load reaches.
Malicious archives (traversal, links, bombs) are covered in ``test_kaggle_fetch.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from support.kaggle_server import zip_bytes

from conftest import FAKE_KEY, Serve, SpecWriter, sweep
from nethical_runner.data.kaggle import DataUnavailable, fetch_dataset
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.results import CohortFailure, CohortResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import load_spec

TIME_LIMIT = 1.0  # for the faults that end in a timeout
NO_LIMIT = 120.0  # for the others: starting the client on a busy machine must not time out
MIB = 1024 * 1024
DATASET = "owner/data-set"

FAULTS: dict[str, tuple[str, str]] = {
    "unavailable": (
        "client_error",
        "Kaggle answered HTTP 503 for owner/data-set: HTTPError: Service Unavailable",
    ),
    "download_error": (
        "client_error",
        "Kaggle answered HTTP 500 for owner/data-set: HTTPError: 500 Server Error: Internal "
        "Server Error for url: http://localhost/download/owner/data-set/archive.zip",
    ),
    "slow": ("timeout", "Kaggle download of owner/data-set did not finish within 1 s"),
    "stall": ("timeout", "Kaggle download of owner/data-set did not finish within 1 s"),
    "endless": ("timeout", "Kaggle download of owner/data-set did not finish within 1 s"),
    "hang": ("timeout", "Kaggle download of owner/data-set did not finish within 1 s"),
    "html": ("bad_archive", "the download of owner/data-set is not a valid zip file"),
    "redirect_loop": (
        "client_error",
        "the Kaggle client failed on owner/data-set: TooManyRedirects: Exceeded 30 redirects.",
    ),
}
# Cut downloads and a Content-Length that lies are covered by test_kaggle_fetch.py; here they
# only go through the pipeline.
IN_THE_PIPELINE = FAULTS | {
    "short_header": ("bad_archive", "the download of owner/data-set is not a valid zip file"),
}


def archive() -> bytes:
    return zip_bytes({"risk.csv": os.urandom(256 * 1024)})


def leftovers(cache: Path) -> list[str]:
    folder = cache / "owner" / "data-set"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def time_limit(reason: str) -> float:
    return TIME_LIMIT if reason == "timeout" else NO_LIMIT


def assert_killed(children: list[subprocess.Popen[bytes]]) -> None:
    """The time limit fired while the client was still running, and the client was killed."""
    assert children, "the client was never started"
    assert [child.returncode for child in children] == [-signal.SIGKILL] * len(children)


@pytest.mark.parametrize("mode", sweep(FAULTS, default={"unavailable", "hang", "html"}))
def test_a_faulty_server_ends_in_a_clear_reason_within_the_time_limit(
    env: Path, serve: Serve, child_processes: list[subprocess.Popen[bytes]], mode: str
) -> None:
    serve(archive=archive(), mode=mode)
    reason, message = FAULTS[mode]
    with pytest.raises(DataUnavailable) as caught:
        fetch_dataset(DATASET, version=1, cache_dir=env, timeout_s=time_limit(reason))
    assert caught.value.reason == reason
    assert caught.value.message.startswith(message), caught.value.message
    assert FAKE_KEY not in str(caught.value)
    assert leftovers(env) == []
    if reason == "timeout":
        assert_killed(child_processes)


def test_an_endless_download_stops_at_the_size_limit_long_before_the_time_limit(
    env: Path, serve: Serve
) -> None:
    """A server that never stops sending would fill the disk until the time limit; the
    download may not grow past the size an archive may unpack to: the error is the size limit's,
    not the time limit's."""
    serve(mode="endless")
    with pytest.raises(DataUnavailable) as caught:
        fetch_dataset(DATASET, version=1, cache_dir=env, timeout_s=60, max_extracted_bytes=MIB)
    assert str(caught.value) == (
        f"bad_archive: the download of owner/data-set is larger than {MIB} bytes"
    )
    assert leftovers(env) == []


def kaggle_spec(fallback: str, limit: float = TIME_LIMIT) -> str:
    return (
        "version: 1\nname: k\nmodel: {type: logistic}\ntraining: {epochs: 2}\n"
        "data:\n  source: kaggle\n  samples: 500\n"
        f"  kaggle: {{dataset: {DATASET}, version: 1, file: risk.csv, timeout_s: {limit:g}}}\n"
        f"  fallback: {fallback}\n"
    )


@pytest.mark.parametrize(
    "mode",
    [
        "stall",
        "html",
        pytest.param("unavailable", marks=pytest.mark.slow),
        pytest.param("endless", marks=pytest.mark.slow),
        pytest.param("redirect_loop", marks=pytest.mark.slow),
        pytest.param("short_header", marks=pytest.mark.slow),
    ],
)
def test_a_faulty_server_fails_the_cohort_or_falls_back_as_declared(
    write_spec: SpecWriter, env: Path, serve: Serve, tmp_path: Path, mode: str
) -> None:
    serve(archive=archive(), mode=mode)
    reason, message = IN_THE_PIPELINE[mode]
    settings = RunSettings(tmp_path / "out", cache_dir=env)
    limit = time_limit(reason)

    failed = run_spec(load_spec(write_spec(kaggle_spec("none", limit), "k.yaml")), settings)
    failed = failed.cohorts["default"]
    assert isinstance(failed, CohortFailure)
    assert failed.reason.startswith(f"DataUnavailable: {reason}: {message}")

    trained = run_spec(load_spec(write_spec(kaggle_spec("synthetic", limit), "k.yaml")), settings)
    trained = trained.cohorts["default"]
    assert isinstance(trained, CohortResult)
    assert trained.dataset.label.startswith(f"synthetic (fallback: {reason}: {message}")
    assert leftovers(env) == []
    for output in (tmp_path / "out").rglob("*"):
        assert not output.is_file() or FAKE_KEY.encode() not in output.read_bytes()


def test_a_stalled_server_fails_the_pytest_items_within_the_time_limit(
    write_spec: SpecWriter, env: Path, serve: Serve, pytester: pytest.Pytester
) -> None:
    serve(archive=archive(), mode="stall")
    write_spec(kaggle_spec("none"), "specs/k.yaml")
    result = pytester.runpytest("specs/", "--nethical-cache-dir", str(env))
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*cohort default could not be trained: DataUnavailable: timeout: Kaggle download of "
         "owner/data-set did not finish within 1 s*"]
    )  # fmt: skip
