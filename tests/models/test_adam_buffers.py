"""Adam's in-place buffers change nothing of what it computes."""

from __future__ import annotations

import numpy as np
import pytest

from nethical_runner.models.optim import Adam


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_steps_match_the_plain_expressions_to_the_bit(weight_decay: float) -> None:
    rng = np.random.default_rng(0)
    size, rate, beta1, beta2, eps = 50, 0.05, 0.9, 0.999, 1e-8
    mask = (rng.random(size) < 0.5).astype(np.float64)
    optimiser = Adam(size, rate, weight_decay=weight_decay, decay_mask=mask)
    theta = rng.normal(size=size)
    expected = theta.copy()
    m, v = np.zeros(size), np.zeros(size)
    for step in range(1, 40):
        grad = rng.normal(size=size) * (rng.random(size) < 0.3)  # sparse, like hashed n-grams
        given = grad.copy()
        optimiser.step(theta, grad)
        m = beta1 * m + (1.0 - beta1) * grad
        v = beta2 * v + (1.0 - beta2) * grad * grad
        update = m / (1.0 - beta1**step) / (np.sqrt(v / (1.0 - beta2**step)) + eps)
        if weight_decay:
            update = update + weight_decay * mask * expected
        expected = expected - rate * update
        assert np.array_equal(grad, given)
    assert np.array_equal(theta, expected)
