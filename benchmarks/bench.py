"""Benchmark the real pipeline: every model type at several row counts, one process each.

Each run is the command line a user would type (``python -m nethical_runner train ...``) in its
own process, so wall time includes imports and peak memory is the whole process's. Training
time per stage comes from the metrics record the run writes.

    python benchmarks/bench.py --sizes 10000 100000 --markdown benchmarks/results.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

SEED_TYPES = ("heuristic", "logistic", "simple_transformer", "anomaly", "correlation")


def run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise RuntimeError(f"{' '.join(command)} failed:\n{error}")
    return wall, usage.ru_maxrss / 1024


def bench_type(model_type: str, rows: int, epochs: int, batch_size: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as out:
        wall, peak = run(
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
        "wall s": round(wall, 2),
        "peak MB": round(peak),
        "training s": round(training_s, 2),
        "train rows/s per epoch": round(train_rows * epochs / training_s),
        "accuracy": round(record["accuracy"], 4),
        "ece": round(record["ece"], 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--types", nargs="+", default=list(SEED_TYPES), choices=SEED_TYPES)
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args()
    rows = [
        bench_type(model_type, size, args.epochs, args.batch_size)
        for size in args.sizes
        for model_type in args.types
    ]
    print(tabulate(rows, headers="keys"))
    if args.markdown:
        args.markdown.write_text(tabulate(rows, headers="keys", tablefmt="github") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
