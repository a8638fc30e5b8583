"""Planted credentials never come out: not on stdout or stderr, not in a report, model, metrics
file, audit event, summary, cache file (by content or by name), JUnit XML, or exception.

A fake Kaggle key and an audit signing key are planted in the environment; the fake Kaggle
server does its worst with them (repeats the key in an error message, names the downloaded file
after it); then every output of the command line and of a pytest session is searched for the
key, for its Basic-auth form, and for the audit key.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support.kaggle_server import zip_bytes

from conftest import FAKE_KEY, USERNAME, Serve, SpecWriter
from nethical_runner.data.kaggle import DataUnavailable, fetch_dataset
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.results import CohortFailure
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import load_spec

AUDIT_KEY = "audit-signing-key-5f4dcc3b5aa765d6"
SECRETS = (FAKE_KEY, base64.b64encode(f"{USERNAME}:{FAKE_KEY}".encode()).decode(), AUDIT_KEY)


def risk_csv() -> bytes:
    X = np.random.default_rng(0).random((300, 5)).round(4)
    lines = ["violation_count,severity_max,recency_score,frequency_score,context_risk,label"]
    lines += [",".join(map(str, row)) + f",{int(row[0] + row[1] > 1)}" for row in X]
    return ("\n".join(lines) + "\n").encode()


def spec_text(fallback: str) -> str:
    return (
        "version: 1\nname: k\nmodel: {type: logistic}\ntraining: {epochs: 2}\n"
        "data:\n  source: kaggle\n  samples: 300\n"
        "  kaggle: {dataset: owner/risk-data, version: 1, file: risk.csv, timeout_s: 20}\n"
        f"  fallback: {fallback}\n"
        "gate: {max_ece: 0.5}\nsla: {calls: 10, warmup: 0}\naudit: {enabled: true}\n"
    )


def assert_clean(texts: list[str], folders: list[Path]) -> int:
    """No secret in ``texts`` or in any file (name or content) under ``folders``; returns how
    many files were searched, so a test can tell it searched something."""
    for secret in SECRETS:
        for text in texts:
            assert secret not in text
    searched = 0
    for folder in folders:
        for path in folder.rglob("*"):
            for secret in SECRETS:
                assert secret not in str(path), path
            if path.is_file():
                searched += 1
                content = path.read_bytes()
                for secret in SECRETS:
                    assert secret.encode() not in content, path
    return searched


@pytest.fixture
def planted(env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NETHICAL_AUDIT_KEY", AUDIT_KEY)
    return env


@pytest.mark.parametrize(
    ("mode", "fallback", "code", "redacted"),
    [
        ("error_echo", "synthetic", 0, "bad key ***"),
        ("error_echo", "none", 2, "bad key ***"),
        ("echo_name", "none", 2, "files: ___.csv"),
    ],
)
def test_the_command_line_never_shows_or_stores_a_credential(
    write_spec: SpecWriter,
    planted: Path,
    serve: Serve,
    tmp_path: Path,
    mode: str,
    fallback: str,
    code: int,
    redacted: str,
) -> None:
    serve(archive=risk_csv(), content_type="text/csv", mode=mode)
    spec = write_spec(spec_text(fallback), "specs/k.yaml")
    completed = subprocess.run(
        [sys.executable, "-m", "nethical_runner", "run", str(spec), "--out", str(tmp_path / "out"),
         "--cache-dir", str(planted)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == code, completed.stdout + completed.stderr
    assert redacted in completed.stdout  # the key was there to leak, and was redacted
    searched = assert_clean(
        [completed.stdout, completed.stderr], [tmp_path / "out", planted, planted.parent / "home"]
    )
    assert searched >= 5


def test_a_pytest_session_never_shows_or_stores_a_credential(
    write_spec: SpecWriter, planted: Path, serve: Serve, pytester: pytest.Pytester
) -> None:
    serve(mode="error_echo")
    write_spec(spec_text("none"), "specs/k.yaml")
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        "specs/", "-v", "-rA", "-l", "--tb=long", "-W", "default", "-p", "no:cacheprovider",
        f"--junitxml={junit}", "-o", "junit_logging=all", "--nethical-cache-dir", str(planted),
    )  # fmt: skip
    result.assert_outcomes(failed=4, passed=1)  # gate and SLA items fail; the audit log is intact
    assert "Kaggle answered HTTP 500" in result.stdout.str()
    assert_clean(
        [result.stdout.str(), result.stderr.str()],
        [pytester.path / "nethical-out", planted, junit.parent / "junit.xml"],
    )
    assert "***" in junit.read_text()


def test_exceptions_and_results_carry_no_credential(
    write_spec: SpecWriter, planted: Path, serve: Serve, tmp_path: Path
) -> None:
    serve(mode="error_echo")
    with pytest.raises(DataUnavailable) as caught:
        fetch_dataset("owner/risk-data", version=1, cache_dir=planted, timeout_s=20)
    error = caught.value
    assert_clean([str(error), repr(error), repr(error.args), error.message], [])
    result = run_spec(
        load_spec(write_spec(spec_text("none"), "specs/k.yaml")),
        RunSettings(tmp_path / "out", cache_dir=planted),
    )
    failure = result.cohorts["default"]
    assert isinstance(failure, CohortFailure)
    assert result.audit is not None and result.audit.error is None
    assert_clean([failure.reason, failure.details, result.audit.describe()], [tmp_path / "out"])


def test_a_downloaded_file_named_after_the_key_is_stored_under_a_redacted_name(
    planted: Path, serve: Serve
) -> None:
    serve(archive=risk_csv(), content_type="text/csv", mode="echo_name")
    entry = fetch_dataset("owner/risk-data", version=1, cache_dir=planted, timeout_s=20)
    assert sorted(path.name for path in entry.iterdir()) == [".complete", "___.csv"]
    assert_clean([], [planted])


def test_a_zip_download_named_after_the_key_leaves_no_trace(planted: Path, serve: Serve) -> None:
    serve(archive=zip_bytes({"risk.csv": risk_csv()}), mode="echo_name")
    entry = fetch_dataset("owner/risk-data", version=1, cache_dir=planted, timeout_s=20)
    assert (entry / "risk.csv").read_bytes() == risk_csv()
    assert_clean([], [planted])
