"""The transformer on 64 real features, next to scikit-learn's MLP on the same split.

The synthetic data has five columns, so it cannot show whether the model copes with many tokens.
scikit-learn's ``load_digits`` (8x8 images, 64 pixel columns) can: the task is "odd against
even" (label = digit % 2), features are standardised with training statistics, and the
transformer trains with its default hyperparameters and the spec's training defaults, as a spec
that names only the model type would.

    python benchmarks/digits.py
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from tabulate import tabulate

from nethical_runner.models.simple_transformer import SimpleTransformerModel
from nethical_runner.spec.config import TrainingConfig


def digits_split(
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardised train and test features and odd/even labels, stratified 80/20."""
    X, digit = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, digit % 2, test_size=0.2, random_state=seed, stratify=digit % 2
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="split, MLP and transformer seed")
    args = parser.parse_args()
    X_train, X_test, y_train, y_test = digits_split(args.seed)
    training = TrainingConfig()

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # its default 200 iterations
        mlp = MLPClassifier(hidden_layer_sizes=(64, 64), random_state=args.seed)
        mlp.fit(X_train, y_train)
    mlp_s = time.perf_counter() - start
    mlp_accuracy = float(mlp.score(X_test, y_test))

    start = time.perf_counter()
    model = SimpleTransformerModel().fit(
        X_train, y_train, epochs=training.epochs, batch_size=training.batch_size, seed=args.seed
    )
    transformer_s = time.perf_counter() - start
    transformer_accuracy = float(np.mean((model.predict_proba(X_test)[:, 1] > 0.5) == y_test))

    rows = [
        {"model": "MLPClassifier(64, 64)", "accuracy": mlp_accuracy, "fit s": mlp_s},
        {
            "model": f"simple_transformer ({training.epochs} epochs, batch {training.batch_size})",
            "accuracy": transformer_accuracy,
            "fit s": transformer_s,
        },
    ]
    print(tabulate(rows, headers="keys", floatfmt=".4f"))
    print(f"gap (MLP - transformer): {mlp_accuracy - transformer_accuracy:+.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
