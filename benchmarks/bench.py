"""Benchmark the real pipeline as a user runs it, next to a bare scikit-learn floor.

Every measurement is one child process, so wall time includes imports and peak memory is the
whole process's (``ru_maxrss``):

* each seed model type through ``python -m nethical_runner train`` at each row count;
* the floor: scikit-learn's SGDClassifier (log loss, 10 epochs) on the same number of
  generated rows with a prediction on the 20% held out, measured in the same run;
* a CSV of the largest row count, read whole and read in chunks (``data.csv.chunk_rows``);
* collection of 200 specs (``pytest --collect-only``), which must train nothing; hypothesis'
  pytest plugin (a test extra, not a dependency) is switched off, as it adds its own
  per-session cost that has nothing to do with specs;
* 8 specs of a few seconds each through ``nethical-runner run``, in-process and on a Dask
  ``local:2`` cluster (its start and stop included): wall time, the controller's own peak
  memory and the largest worker's, and whether both runs gave the same metrics.

    python benchmarks/bench.py --sizes 10000 100000 1000000 --markdown benchmarks/results.md
    python benchmarks/bench.py --sections executors --markdown benchmarks/executors.md
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

SECTIONS = ("types", "torch", "csv", "collection", "executors")
DOCS_BEGIN, DOCS_END = "<!-- bench.py tables: begin -->", "<!-- bench.py tables: end -->"
SEED_TYPES = ("heuristic", "logistic", "simple_transformer", "anomaly", "correlation")
MEMORY_TARGET = 1.3  # every type's peak at 1,000,000 rows against the floor's
# The script this project replaces, on this kind of machine at 1,000,000 rows (issue 9).
OLD_SCRIPT_AT_1M = {"logistic": (8.1, 879), "correlation": (15.6, 879), "anomaly": (12.7, 523)}
CSV_HEADER = "violation_count,severity_max,recency_score,frequency_score,context_risk,label\n"
CSV_CHUNK_ROWS = 100_000
FLOOR = """
import numpy as np
from sklearn.linear_model import SGDClassifier
rng = np.random.default_rng(42)
X = rng.random(({rows}, 5))
y = (X[:, 0] + X[:, 1] > 1).astype(int)
cut = int({rows} * 0.8)
model = SGDClassifier(loss="log_loss", max_iter=10, tol=None, random_state=42)
model.fit(X[:cut], y[:cut])
model.predict_proba(X[cut:])
"""


def run(command: list[str], cwd: Path | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak resident memory (MB) and standard output of one child process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status):
            raise RuntimeError(f"{' '.join(command)} failed:\n{err.read()}")
        return wall, usage.ru_maxrss / 1024, out.read()


def bench_type(model_type: str, rows: int, epochs: int, batch_size: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as out:
        wall, peak, _ = run(
            [sys.executable, "-m", "nethical_runner", "train", "--model-type", model_type,
             "--num-samples", str(rows), "--epochs", str(epochs), "--batch-size",
             str(batch_size), "--out", out]
        )  # fmt: skip
        (record_path,) = Path(out).glob("models/*/*_metrics_*.json")
        record = json.loads(record_path.read_text())
    train_rows = record["data"]["rows"] - record["samples"]
    training_s = record["stage_ms"]["training"] / 1000
    return {
        "model": model_type,
        "rows": rows,
        "epochs": epochs,
        "wall s": round(wall, 2),
        "peak MB": round(peak),
        "training s": round(training_s, 2),
        "train rows/s/epoch": round(train_rows * epochs / training_s),
        "accuracy": round(record["accuracy"], 4),
        "ece": round(record["ece"], 4),
    }


def bench_floor(rows: int) -> dict[str, object]:
    wall, peak, _ = run([sys.executable, "-c", FLOOR.format(rows=rows)])
    return {"model": "floor: SGDClassifier", "rows": rows, "epochs": 10,
            "wall s": round(wall, 2), "peak MB": round(peak)}  # fmt: skip


def write_csv(path: Path, rows: int) -> None:
    """``rows`` rows of the risk features with a noisy label, written by pyarrow a block at a
    time (numpy's savetxt formats row by row in Python: minutes at 10,000,000 rows)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    rng = np.random.default_rng(0)
    names = CSV_HEADER.strip().split(",")
    with pa_csv.CSVWriter(path, pa.schema([(name, pa.float64()) for name in names[:-1]]
                          + [(names[-1], pa.int64())])) as writer:  # fmt: skip
        for start in range(0, rows, 1_000_000):
            X = np.round(rng.random((min(1_000_000, rows - start), 5)), 5)
            y = (X[:, 0] + X[:, 1] + rng.logistic(0, 0.05, len(X)) > 1).astype(np.int64)
            columns = [pa.array(X[:, j]) for j in range(5)] + [pa.array(y)]
            writer.write_table(pa.Table.from_arrays(columns, names=names))


def bench_csv(rows: int, chunk_rows: int | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        # In a child: pyarrow's memory pool keeps what it took, and a process this one starts
        # later would count the parent's pages in its own peak.
        subprocess.run(
            [sys.executable, __file__, "--write-csv", str(root / "rows.csv"), str(rows)],
            check=True,
        )
        chunking = f", chunk_rows: {chunk_rows}" if chunk_rows else ""
        (root / "spec.yaml").write_text(
            "version: 1\nname: csv\nmodel: {type: logistic}\ntraining: {batch_size: 256}\n"
            f"data:\n  source: csv\n  csv: {{path: rows.csv{chunking}}}\n"
            "gate: {min_accuracy: 0.5}\n"  # timed, not judged: run exits 1 on a missed gate
        )
        wall, peak, _ = run(
            [sys.executable, "-m", "nethical_runner", "run", "spec.yaml", "--out", "out"], root
        )
    how = f"in chunks of {chunk_rows}" if chunk_rows else "whole"
    return {
        "model": f"logistic, CSV read {how}",
        "rows": rows,
        "epochs": 10,
        "wall s": round(wall, 2),
        "peak MB": round(peak),
    }


def bench_csv_growth(sizes: list[int]) -> list[tuple[str, list[dict[str, object]]]]:
    """A CSV of each size from 1,000,000 rows up, read in chunks (and whole at the smallest):
    time per million rows and peak memory against the chunked run of the smallest."""
    large = sorted(size for size in sizes if size >= 1_000_000) or [max(sizes)]
    rows = [bench_csv(large[0], None)]
    chunked = [bench_csv(size, CSV_CHUNK_ROWS) for size in large]
    rows += chunked
    first = chunked[0]
    growth = [
        {
            "rows": row["rows"],
            "wall s": row["wall s"],
            "s per million rows": round(float(row["wall s"]) / (int(row["rows"]) / 1e6), 2),
            "time / smallest, per row": round(
                (float(row["wall s"]) / int(row["rows"]))
                / (float(first["wall s"]) / int(first["rows"])),
                2,
            ),
            "peak MB": row["peak MB"],
            "memory / smallest": round(float(row["peak MB"]) / float(first["peak MB"]), 2),
        }
        for row in chunked
    ]
    return [
        ("A CSV read whole or in chunks (logistic, 10 epochs)", rows),
        (f"Cost as the CSV grows, read in chunks of {CSV_CHUNK_ROWS}", growth),
    ]


def bench_collection(specs: int) -> dict[str, object]:
    template = (Path(__file__).parent.parent / "specs" / "logistic.yaml").read_text()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "specs").mkdir()
        for index in range(specs):
            text = template.replace("name: logistic", f"name: spec{index}")
            (root / "specs" / f"spec{index}.yaml").write_text(text)
        wall, peak, output = run(
            [sys.executable, "-m", "pytest", "specs/", "--collect-only", "-q",
             "-p", "no:cacheprovider", "-p", "no:hypothesispytest"], root
        )  # fmt: skip
        trained = any((root / "nethical-out").glob("**/*.npz"))
    seconds = re.search(r"collected in ([\d.]+)s", output)
    return {
        "specs": specs,
        "items": sum("::" in line for line in output.splitlines()),
        "collection s": float(seconds.group(1)) if seconds else None,
        "process wall s": round(wall, 2),
        "peak MB": round(peak),
        "trained anything": trained,
    }


# Two sets of 8 specs, each spec training for a few seconds in one process: on tables of the
# size most CI specs have, and on larger ones. name: (model, rows, epochs)
EXECUTOR_SPECS = {
    "tables of 10k-50k rows": {
        "logistic": ("logistic", 50_000, 200),
        "logistic_wide": ("logistic", 25_000, 400),
        "transformer": ("simple_transformer", 20_000, 24),
        "transformer_long": ("simple_transformer", 10_000, 48),
        "anomaly": ("anomaly", 50_000, 120),
        "anomaly_long": ("anomaly", 25_000, 240),
        "correlation": ("correlation", 50_000, 10),
        "heuristic": ("heuristic", 50_000, 10),
    },
    "tables of 20k-1M rows": {
        "logistic": ("logistic", 200_000, 80),
        "logistic_wide": ("logistic", 100_000, 160),
        "transformer": ("simple_transformer", 40_000, 12),
        "transformer_long": ("simple_transformer", 20_000, 24),
        "anomaly": ("anomaly", 200_000, 40),
        "anomaly_long": ("anomaly", 100_000, 80),
        "correlation": ("correlation", 400_000, 10),
        "heuristic": ("heuristic", 1_000_000, 10),
    },
}
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
MEASURED = """
import json, resource, sys
from nethical_runner.cli.main import main
if __name__ == "__main__":  # a LocalCluster's workers import this module again
    status = main(sys.argv[1:])
    print(json.dumps({
        "status": status,
        "controller MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "largest worker MB": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))
"""


def bench_executors(
    title: str, declared: dict[str, tuple[str, int, int]]
) -> list[dict[str, object]]:
    """The same 8 specs serially in one process, then on ``local:2``; the metrics must match.
    Then split by hand over two plain processes started at once, the most two processes can
    do on this machine without any scheduler: summed training time shows what two processes
    training side by side cost each other."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, (model, rows, epochs) in declared.items():
            (root / f"{name}.yaml").write_text(
                f"version: 1\nname: {name}\nmodel: {{type: {model}}}\n"
                f"training: {{epochs: {epochs}, batch_size: 256}}\n"
                f"data: {{source: synthetic, samples: {rows}}}\n"
                "gate: {min_accuracy: 0.5, max_ece: 1.0}\n"  # timed, not judged
            )
        (root / "measured.py").write_text(MEASURED)
        specs = sorted(str(path) for path in root.glob("*.yaml"))
        table, metrics = [], []
        for how, extra in (("in-process, serial", []), ("dask local:2", ["--dask", "local:2"])):
            out = root / ("dask" if extra else "serial")
            command = [sys.executable, "measured.py", "run", *specs, "--out", str(out), *extra]
            wall, _, output = run(command, root)
            measured = json.loads(output.strip().splitlines()[-1])
            records = [json.loads(p.read_text()) for p in out.glob("models/*/*_metrics_*.json")]
            records.sort(key=lambda record: record["spec"])
            metrics.append([(r["spec"], r["accuracy"], r["ece"], r["auc"]) for r in records])
            training = sum(r["stage_ms"]["training"] for r in records) / 1000
            table.append(
                {"specs": title, "executor": how, "wall s": round(wall, 2),
                 "training s, summed": round(training, 1),
                 "controller peak MB": round(measured["controller MB"]),
                 "largest worker peak MB": round(measured["largest worker MB"]) if extra else "-"}
            )  # fmt: skip
        out = root / "halves"
        start = time.perf_counter()
        halves = [
            subprocess.Popen(
                [sys.executable, "measured.py", "run", *specs[half::2], "--out", str(out)],
                cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={**os.environ, **ONE_THREAD},  # as Dask starts its workers
            )
            for half in (0, 1)
        ]  # fmt: skip
        if any(process.wait() for process in halves):
            raise RuntimeError("a half of the specs failed")
        wall = time.perf_counter() - start
        records = [json.loads(p.read_text()) for p in out.glob("models/*/*_metrics_*.json")]
        records.sort(key=lambda record: record["spec"])
        metrics.append([(r["spec"], r["accuracy"], r["ece"], r["auc"]) for r in records])
        table.append(
            {"specs": title, "executor": "2 processes, 4 specs each (no Dask)",
             "wall s": round(wall, 2),
             "training s, summed": round(sum(r["stage_ms"]["training"] for r in records) / 1000, 1),
             "controller peak MB": "-", "largest worker peak MB": "-"}
        )  # fmt: skip
    serial = float(table[0]["wall s"])  # type: ignore[arg-type]
    for row, found in zip(table, metrics, strict=True):
        row["speed-up"] = round(serial / float(row["wall s"]), 2)  # type: ignore[arg-type]
        row["same metrics"] = found == metrics[0]
    return table


def ratios(rows: list[dict[str, object]], size: int) -> list[dict[str, object]]:
    """Each type at ``size`` against the floor and against the script this replaces."""
    floor = next(r for r in rows if r["model"].startswith("floor") and r["rows"] == size)
    table = []
    for row in rows:
        if row["rows"] != size or row["model"] not in SEED_TYPES:
            continue
        # The old "logistic" was the heuristic scorer under another name: compare both to it.
        old = OLD_SCRIPT_AT_1M.get("logistic" if row["model"] == "heuristic" else row["model"])
        compare = old is not None and size == 1_000_000
        memory = round(row["peak MB"] / floor["peak MB"], 2)
        table.append(
            {
                "model": row["model"],
                "time / floor": round(row["wall s"] / floor["wall s"], 2),
                "memory / floor": memory,
                f"memory within {MEMORY_TARGET}x": memory <= MEMORY_TARGET,
                "old script s / MB": f"{old[0]} / {old[1]}" if compare else "-",
                "faster than old": row["wall s"] < old[0] if compare else "-",
                "x lighter than old": round(old[1] / row["peak MB"], 1) if compare else "-",
            }
        )
    return table


def main() -> int:
    if sys.argv[1:2] == ["--write-csv"]:  # bench_csv's child
        write_csv(Path(sys.argv[2]), int(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--types", nargs="+", default=list(SEED_TYPES), choices=SEED_TYPES)
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--transformer-epochs-at-1m", type=int, default=1,
        help="simple_transformer epochs at 1,000,000 rows (it reports rows/s per epoch)",
    )  # fmt: skip
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    parser.add_argument(
        "--docs", type=Path,
        help=f"replace the tables between {DOCS_BEGIN} and {DOCS_END} in this file",
    )  # fmt: skip
    parser.add_argument(
        "--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
        help="which measurements to run (default: all)",
    )  # fmt: skip
    args = parser.parse_args()
    sections = []
    if "types" in args.sections:
        sections += bench_types(args)
    if "torch" in args.sections:
        from torch_env import bench_correlation_torch  # installs a pinned torch on first use

        sizes = [size for size in args.sizes if size <= 1_000_000] or [min(args.sizes)]
        table = [
            row
            for size in (min(sizes), max(sizes))
            for row in bench_correlation_torch(size, args.epochs, args.batch_size)
        ]
        sections.append(
            ("correlation against a bare HistGradientBoosting, with and without torch", table)
        )
    if "csv" in args.sections:
        sections += bench_csv_growth(args.sizes)
    if "collection" in args.sections:
        sections.append(("Collecting 200 specs", [bench_collection(200)]))
    if "executors" in args.sections:
        title = "8 specs in one process, then on a Dask cluster of 2 worker processes"
        table = [
            row for name, specs in EXECUTOR_SPECS.items() for row in bench_executors(name, specs)
        ]
        sections.append((title, table))
    for title, table in sections:
        print(f"\n{title}\n{tabulate(table, headers='keys')}")
    text = "".join(
        f"**{title}**\n\n{tabulate(table, headers='keys', tablefmt='github')}\n\n"
        for title, table in sections
    )
    if args.markdown:
        args.markdown.write_text(text)
    if args.docs:
        before, _, rest = args.docs.read_text().partition(DOCS_BEGIN)
        _, found, after = rest.partition(DOCS_END)
        if not found:
            raise SystemExit(f"{args.docs}: no {DOCS_BEGIN} ... {DOCS_END} to replace")
        args.docs.write_text(f"{before}{DOCS_BEGIN}\n\n{text}{DOCS_END}{after}")
    return 0


def bench_types(args: argparse.Namespace) -> list[tuple[str, list[dict[str, object]]]]:
    rows = []
    sizes = [size for size in args.sizes if size <= 1_000_000] or [min(args.sizes)]
    for size in sizes:
        rows.append(bench_floor(size))
        for model_type in args.types:
            epochs = args.epochs
            if model_type == "simple_transformer" and size >= 1_000_000:
                epochs = args.transformer_epochs_at_1m
            rows.append(bench_type(model_type, size, epochs, args.batch_size))
            print(tabulate([rows[-1]], headers="keys"), flush=True)
    largest = max(sizes)
    return [
        ("Pipeline per model type (wall time and peak memory of the whole process)", rows),
        (f"Against the floor and the old script at {largest} rows", ratios(rows, largest)),
    ]


if __name__ == "__main__":
    sys.exit(main())
