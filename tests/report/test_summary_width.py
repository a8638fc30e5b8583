"""The terminal summary table fits a terminal: a spec with every kind of check, long cohort ids
and a Kaggle fallback reason gave a 165-column table; now every row is at most 120 wide and the
model and data cut from a cell are whole in a note below."""

from __future__ import annotations

from pathlib import Path

import pytest

from nethical_runner.cli.main import main

SPEC = """\
version: 1
name: breast_cancer_gate
model: {type: logistic}
training: {epochs: 2}
data:
  source: kaggle
  kaggle: {dataset: uciml/breast-cancer-wisconsin-data, file: data.csv, label: diagnosis,
           positive: M}
  fallback: synthetic
  samples: 400
cohorts: [{id: candidate}, {id: seed_7, training: {seed: 7}}]
gate: {min_accuracy: 0.5}
sla: {}
regression:
  max_drop: {accuracy: 0.05}
drift:
  max_spread: {accuracy: 0.5}
audit: {enabled: true}
"""


def test_every_row_fits_and_nothing_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-kaggle"))
    spec = tmp_path / "wide.yaml"
    spec.write_text(SPEC)
    code = main(["run", str(spec), "--out", str(tmp_path / "out"), "--cache-dir",
                 str(tmp_path / "cache"), "--baseline", str(tmp_path / "none.json"),
                 "--baseline-missing", "skip"])  # fmt: skip
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("spec "))
    table = lines[start : start + 4]
    headers = "spec cohort model on data accuracy ECE p95 ms gate SLA drift regression audit"
    assert table[0].split() == headers.split()
    assert all(len(line) <= 120 for line in table), [len(line) for line in table]
    assert all("...[1]  " in row for row in table[2:])  # cut, with the number of its note
    note = lines[start + 4]  # one note: both cohorts have the same model and data
    assert note.startswith("[1] model logistic, data synthetic (fallback: no_credentials: ")
    assert not lines[start + 5].startswith("[2]")
