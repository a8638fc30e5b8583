"""Data mistakes are collection errors located at the key that is wrong, in pytest and in
``nethical-runner validate`` alike, and a correct spec is collected from its files' headers
only; a warning about fallback data points at the spec's data section."""

from __future__ import annotations

import fnmatch
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SpecWriter
from nethical_runner.cli.main import main
from nethical_runner.run.loading import load_spec
from nethical_runner.spec import SpecError

BREAST_CANCER = Path(__file__).parents[2] / "specs" / "data" / "breast_cancer.csv"
# pandas registers its Arrow extension types once per process, on its first Parquet use; pytester
# unloads the modules an inner run imported, and the second registration would fail, so the
# first use happens here, before any inner run.
pd.DataFrame({"a": [0]}).to_parquet(io.BytesIO())
SPEC = """\
version: 1
name: s
model: {type: %s}
data:
  source: %s
  %s:
    path: %s
    label: %s
%s"""


def spec(path: str, label: str = "target", model: str = "logistic", source: str = "csv") -> str:
    return SPEC % (model, source, source, path, label, "")


def with_lines(text: str, *lines: str) -> str:
    return text + "".join(f"{line}\n" for line in lines)


def cancer(write_spec: SpecWriter, name: str = "data/cancer.csv") -> None:
    write_spec(BREAST_CANCER.read_text(), name)


def cancer_parquet(write_spec: SpecWriter, name: str = "data/cancer.parquet") -> None:
    path = write_spec.root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.read_csv(BREAST_CANCER).to_parquet(path, index=False)


def test_a_missing_csv_is_a_collection_error_at_its_path_naming_the_folder(
    write_spec: SpecWriter, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    write_spec(spec("data/missing.csv"), "specs/s.yaml")
    root = pytester.path.resolve()
    expected = (
        f"specs/s.yaml:7:11: data.csv.path: data/missing.csv: file not found (resolved against "
        f"{root})"
    )
    result = pytester.runpytest("specs/", "--collect-only")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting specs/s.yaml*", expected])
    capsys.readouterr()
    monkeypatch.chdir(pytester.path)
    assert main(["validate", "specs/s.yaml"]) == 2
    assert expected in capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            spec("../outside.csv"),
            "specs/s.yaml:7:11: data.csv.path: ../outside.csv: leaves the project root, to "
            "{parent}/outside.csv (resolved against {root})",
            id="outside the root",
        ),
        pytest.param(
            spec("data/cancer.csv", label="targt"),
            "specs/s.yaml:8:12: data.csv.label: 'targt' is not a column of data/cancer.csv (did "
            "you mean 'target'?; columns: mean_radius, *, worst_fractal_dimension, target)",
            id="label typo, target past the 20th column",
        ),
        pytest.param(
            with_lines(spec("data/cancer.csv"), "    features: [mean_radius, mean_radiuss]"),
            "specs/s.yaml:9:29: data.csv.features[[]1]: 'mean_radiuss' is not a column of "
            "data/cancer.csv (did you mean 'mean_radius'?; columns: *)",
            id="feature typo",
        ),
        pytest.param(
            with_lines(spec("data/cancer.csv", model="heuristic"), "    chunk_rows: 5000"),
            "specs/s.yaml:9:17: data.csv.chunk_rows: heuristic cannot train from chunks (types "
            "that can: logistic); drop chunk_rows to load the whole table",
            id="chunk_rows for a type that cannot stream",
        ),
        pytest.param(
            spec("data/cancer.parquet", label="diagnosis", source="parquet"),
            "specs/s.yaml:8:12: data.parquet.label: 'diagnosis' is not a column of "
            "data/cancer.parquet (columns: mean_radius, *, target)",
            id="parquet label",
        ),
        pytest.param(
            with_lines(
                spec("data/cancer.csv"),
                "cohorts:",
                "  - {id: one}",
                "  - {id: two, data: {csv: {label: Target}}}",
            ),
            "specs/s.yaml:11:35: cohorts[[]1].data.csv.label: 'Target' is not a column of "
            "data/cancer.csv (did you mean 'target'?; columns: *)",
            id="in a cohort's override",
        ),
    ],
)
def test_a_data_mistake_is_located_at_its_key_in_collection_and_validate(
    write_spec: SpecWriter,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
    text: str,
    expected: str,
) -> None:
    cancer(write_spec)
    cancer_parquet(write_spec)
    write_spec(text, "specs/s.yaml")
    root = pytester.path.resolve()
    expected = expected.format(root=root, parent=root.parent)
    result = pytester.runpytest("specs/", "--collect-only")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting specs/s.yaml*", expected])
    assert "Traceback" not in result.stdout.str()
    capsys.readouterr()
    monkeypatch.chdir(pytester.path)
    assert main(["validate", "specs/s.yaml"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert any(fnmatch.fnmatchcase(line, expected) for line in err), err


def test_a_wide_table_names_the_near_columns_rather_than_a_cut_list(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    names = [f"feature_{i:03d}" for i in range(200)] + ["target"]
    write_spec.csv([names, [0] * 200 + [1]], "data/wide.csv")
    write_spec(spec("data/wide.csv", label="targets"), "specs/s.yaml")
    result = pytester.runpytest("specs/", "--collect-only")
    result.stdout.fnmatch_lines(
        [
            "specs/s.yaml:8:12: data.csv.label: 'targets' is not a column of data/wide.csv (did "
            "you mean 'target'? (201 columns))"
        ]
    )


def test_a_missing_file_with_a_synthetic_fallback_is_collected(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    write_spec(with_lines(spec("data/missing.csv"), "  fallback: synthetic"), "specs/s.yaml")
    assert pytester.runpytest("specs/", "--collect-only").ret == 0


def _bytes_read() -> int:
    """Bytes this process has read through system calls so far (Linux)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="counts reads through /proc")
@pytest.mark.parametrize("source", ["csv", "parquet"])
def test_a_correct_spec_is_collected_from_the_header_alone(
    write_spec: SpecWriter, source: str
) -> None:
    """A 32 MB table costs collection its header: a CSV's first line, a Parquet footer."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((400_000, 10)), columns=[f"x{i}" for i in range(10)])
    frame["target"] = rng.integers(0, 2, len(frame))
    path = write_spec.root / f"data/big.{source}"
    path.parent.mkdir(parents=True)
    if source == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False, compression=None)
    size = path.stat().st_size
    assert size > 30_000_000
    spec_path = write_spec(
        with_lines(spec(f"data/big.{source}", source=source), "    features: [x0, x9]"),
        "specs/s.yaml",
    )
    load_spec(spec_path, root=write_spec.root)  # imports and caches warmed up
    before = _bytes_read()
    loaded = load_spec(spec_path, root=write_spec.root)
    read = _bytes_read() - before
    assert loaded.cohorts[0].config.data.source == source
    assert read < 200_000, f"read {read} bytes of a {size}-byte file to collect it"


def test_a_fallback_warning_points_at_the_data_section_of_the_spec(
    write_spec: SpecWriter, pytester: pytest.Pytester
) -> None:
    text = with_lines(
        spec("data/missing.csv"),
        "  fallback: synthetic",
        "  samples: 2000",
        "training: {epochs: 2}",
        "gate: {min_accuracy: 0.5}",
    )
    write_spec(text, "specs/s.yaml")
    result = pytester.runpytest("specs/")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        ["*specs/s.yaml:6: NethicalWarning: passed on synthetic fallback data, not the declared*"]
    )
    assert "pytest_plugin" not in result.stdout.str()


def test_a_folder_or_a_link_out_of_the_root_is_refused_at_its_path(
    write_spec: SpecWriter, tmp_path_factory: pytest.TempPathFactory
) -> None:
    (write_spec.root / "data" / "folder.csv").mkdir(parents=True)
    outside = tmp_path_factory.mktemp("elsewhere") / "secret.csv"
    outside.write_text("a,target\n1,0\n")
    (write_spec.root / "data" / "link.csv").symlink_to(outside)
    root = write_spec.root.resolve()
    for path, expected in [
        ("data/folder.csv", f"data/folder.csv: not a file (resolved against {root})"),
        (
            "data/link.csv",
            f"data/link.csv: leaves the project root, to {outside.resolve()} (resolved against "
            f"{root})",
        ),
    ]:
        spec_path = write_spec(spec(path), "specs/s.yaml")
        with pytest.raises(SpecError) as error:
            load_spec(spec_path, root=write_spec.root)
        (problem,) = error.value.problems
        assert (problem.key, problem.mark.line, problem.message) == ("data.csv.path", 7, expected)
