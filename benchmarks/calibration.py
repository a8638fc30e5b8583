"""Calibration of the gradient-trained linear model against scikit-learn's exact solve.

For every seed, the ``logistic`` type with its defaults (and the spec's default training
settings) is fitted on the same temporal 80/20 split as scikit-learn's LogisticRegression
(default ``C``) on the same standardised features; the table gives both ECEs and accuracies
on the held-out rows, and the largest gaps over the seeds.

    python benchmarks/calibration.py --seeds 1 2 3 4 5 6 7 8 9 10
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tabulate import tabulate

from nethical_runner.data.synthetic import generate
from nethical_runner.metrics.classification import expected_calibration_error
from nethical_runner.models.logistic import LogisticModel
from nethical_runner.spec.config import TrainingConfig

Table = tuple[np.ndarray, np.ndarray]


def xor_table(seed: int) -> Table:
    """Two uniform features whose label is the XOR of their signs: no linear model does better
    than 0.5, so a calibrated one says about 0.5 everywhere."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(4000, 2))
    return X, ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)


def synthetic_table(seed: int) -> Table:
    X, y, _ = generate("risk", 10_000, 0.05, seed)
    return X, y


def breast_cancer_table(seed: int) -> Table:
    path = Path(__file__).parent.parent / "specs" / "data" / "breast_cancer.csv"
    frame = np.genfromtxt(path, delimiter=",", skip_header=1)
    return frame[:, :-1], frame[:, -1].astype(np.int64)


TABLES: dict[str, Callable[[int], Table]] = {
    "xor": xor_table,
    "synthetic": synthetic_table,
    "breast cancer": breast_cancer_table,
}


def compare(name: str, seed: int, training: TrainingConfig) -> dict[str, object]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = TABLES[name](seed)
    cut = int(len(y) * 0.8)
    model = LogisticModel().fit(
        X[:cut], y[:cut], epochs=training.epochs, batch_size=training.batch_size, seed=seed
    )
    ours = model.predict_proba(X[cut:])[:, 1]
    scaler = StandardScaler().fit(X[:cut])
    exact = LogisticRegression().fit(scaler.transform(X[:cut]), y[:cut])
    theirs = exact.predict_proba(scaler.transform(X[cut:]))[:, 1]
    held_out = y[cut:]
    return {
        "table": name,
        "seed": seed,
        "ece": expected_calibration_error(held_out, ours),
        "sklearn ece": expected_calibration_error(held_out, theirs),
        "accuracy": float(np.mean((ours >= 0.5) == held_out)),
        "sklearn accuracy": float(np.mean((theirs >= 0.5) == held_out)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(1, 11)))
    parser.add_argument("--tables", nargs="+", choices=list(TABLES), default=list(TABLES))
    parser.add_argument("--epochs", type=int, default=TrainingConfig().epochs)
    parser.add_argument("--batch-size", type=int, default=TrainingConfig().batch_size)
    args = parser.parse_args()
    training = TrainingConfig(epochs=args.epochs, batch_size=args.batch_size)
    rows = [compare(name, seed, training) for name in args.tables for seed in args.seeds]
    print(tabulate(rows, headers="keys", floatfmt=".4f"))
    summary = []
    for name in args.tables:
        mine = [row for row in rows if row["table"] == name]
        summary.append(
            {
                "table": name,
                "largest ece gap": max(abs(r["ece"] - r["sklearn ece"]) for r in mine),
                "largest accuracy gap": max(
                    abs(r["accuracy"] - r["sklearn accuracy"]) for r in mine
                ),
            }
        )
    print(f"\n{tabulate(summary, headers='keys', floatfmt='.4f')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
