"""Adam, the one optimiser every gradient-trained model type steps with.

The models keep all their weights in one flat float64 vector, so an optimiser step is a few
vectorised operations over that vector rather than a loop over named arrays.
"""

from __future__ import annotations

import numpy as np


class Adam:
    """Adam (Kingma and Ba, 2015) with bias-corrected moments, optionally with decoupled weight
    decay (AdamW, Loshchilov and Hutter, 2019) on a masked subset of the parameters.

    The moments are buffers updated in place, because the hashed weight vector of the anomaly
    model is large while its batches are small: fresh moment arrays every step would cost more
    than the arithmetic.
    """

    def __init__(
        self,
        size: int,
        learning_rate: float,
        *,
        weight_decay: float = 0.0,
        decay_mask: np.ndarray | None = None,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        self.learning_rate = learning_rate
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.first_moment = np.zeros(size)
        self.second_moment = np.zeros(size)
        self.steps = 0
        # Per-coordinate decay rate, or None: decay is decoupled from the gradient, so it
        # shrinks the decayed weights directly rather than through Adam's per-coordinate scale.
        self._decay: np.ndarray | None = None
        if weight_decay:
            mask = np.ones(size) if decay_mask is None else np.asarray(decay_mask, np.float64)
            if mask.shape != (size,):
                raise ValueError(f"decay_mask has shape {mask.shape}, expected ({size},)")
            self._decay = weight_decay * mask

    def step(self, theta: np.ndarray, grad: np.ndarray) -> None:
        """Move ``theta`` (updated in place) one step against ``grad``, which is left as given."""
        if theta.shape != self.first_moment.shape or grad.shape != theta.shape:
            raise ValueError(
                f"Adam was built for {self.first_moment.size} parameters, got theta "
                f"{theta.shape} and gradient {grad.shape}"
            )
        self.steps += 1
        beta1, beta2 = self.beta1, self.beta2
        self.first_moment *= beta1
        self.first_moment += (1.0 - beta1) * grad
        self.second_moment *= beta2
        self.second_moment += (1.0 - beta2) * grad * grad
        denominator = self.second_moment / (1.0 - beta2**self.steps)
        np.sqrt(denominator, out=denominator)
        denominator += self.eps
        update = self.first_moment / (1.0 - beta1**self.steps)
        update /= denominator
        if self._decay is not None:
            update += self._decay * theta
        update *= self.learning_rate
        theta -= update
