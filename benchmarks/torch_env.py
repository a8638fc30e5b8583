"""The correlation pipeline against a bare HistGradientBoosting floor, with and without PyTorch
importable beside the project.

ML teams often have torch installed next to everything else, and some imports (scikit-learn's
array-API shims, walked by skops for one) then import it: seconds and hundreds of megabytes no
spec asked for. So the same measurement runs twice: in the environment as it is, and with a
pinned CPU build of torch put on ``PYTHONPATH`` (installed once into a cache folder, never into
the project's environment). Each measurement is one child process, wall time with imports and
peak memory of the whole process (``ru_maxrss``), as in ``bench.py``; the floor generates the
same rows with the project's own generator (its module loaded by path, without the package),
fits scikit-learn's HistGradientBoostingClassifier with CorrelationModel's parameters on the
same 80% and predicts the held-out 20%.

    from torch_env import bench_correlation_torch
    rows = bench_correlation_torch(1_000_000, epochs=10, batch_size=256)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TORCH_VERSION = "2.13.0"  # pinned: an unpinned torch would pull several GB of CUDA wheels
SYNTHETIC = Path(__file__).resolve().parent.parent / "nethical_runner" / "data" / "synthetic.py"
HGB_FLOOR = """
import runpy
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
synthetic = runpy.run_path({synthetic!r})
X, y, _ = synthetic["correlation_features"]({rows}, 0.05, np.random.default_rng(42))
cut = int({rows} * 0.8)
model = HistGradientBoostingClassifier(
    max_iter=100, learning_rate=0.1, max_leaf_nodes=31, l2_regularization=0.0,
    early_stopping=False, random_state=42,
).fit(X[:cut], y[:cut])
model.predict_proba(X[cut:])
"""


def torch_target() -> Path:
    """Where the pinned torch is installed: a per-user cache folder, kept between runs."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "nethical-runner-bench" / f"torch-{TORCH_VERSION}"


def torch_env() -> dict[str, str]:
    """Environment variables that make torch importable in a child process: ``PYTHONPATH``
    with the cached install appended (after the project's own entries, so a worktree still
    wins). Installs torch there with pip on first use."""
    target = torch_target()
    if not (target / "torch" / "__init__.py").is_file():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
             f"torch=={TORCH_VERSION}"],
            check=True,
        )  # fmt: skip
    inherited = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": os.pathsep.join([*([inherited] if inherited else []), str(target)])}


def run(command: list[str], extra_env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one child process."""
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, **extra_env}
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status):
            err.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed:\n{err.read()}")
    return wall, usage.ru_maxrss / 1024


def bench_correlation_torch(rows: int, epochs: int, batch_size: int) -> list[dict[str, object]]:
    """Floor and correlation pipeline at ``rows``, without torch and then with it, as table rows
    with each pipeline's ratio to the floor measured right before it."""
    table: list[dict[str, object]] = []
    for torch, extra_env in (("no", {}), ("yes", torch_env())):
        floor_wall, floor_peak = run(
            [sys.executable, "-c", HGB_FLOOR.format(synthetic=str(SYNTHETIC), rows=rows)],
            extra_env,
        )
        with tempfile.TemporaryDirectory() as out:
            wall, peak = run(
                [sys.executable, "-m", "nethical_runner", "train", "--model-type", "correlation",
                 "--num-samples", str(rows), "--epochs", str(epochs), "--batch-size",
                 str(batch_size), "--out", out],
                extra_env,
            )  # fmt: skip
            (record_path,) = Path(out).glob("models/*/*_metrics_*.json")
            accuracy = json.loads(record_path.read_text())["accuracy"]
        table.append(
            {"model": "floor: HistGradientBoosting", "rows": rows, "torch": torch,
             "wall s": round(floor_wall, 2), "peak MB": round(floor_peak)}
        )  # fmt: skip
        table.append(
            {"model": "correlation", "rows": rows, "torch": torch, "wall s": round(wall, 2),
             "peak MB": round(peak), "time / floor": round(wall / floor_wall, 2),
             "memory / floor": round(peak / floor_peak, 2), "accuracy": round(accuracy, 4)}
        )  # fmt: skip
    return table


if __name__ == "__main__":
    from tabulate import tabulate

    sizes = [int(size) for size in sys.argv[1:]] or [10_000, 1_000_000]
    print(tabulate([row for size in sizes for row in bench_correlation_torch(size, 10, 256)],
                   headers="keys"))  # fmt: skip
