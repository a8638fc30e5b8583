"""Adam, the one optimiser every gradient-trained model type steps with.

The models keep all their weights in one flat float64 vector, so an optimiser step is a few
vectorised operations over that vector rather than a loop over named arrays.
"""

from __future__ import annotations

import numpy as np


class Adam:
    """Adam (Kingma and Ba, 2015) with bias-corrected moments, optionally with decoupled weight
    decay (AdamW, Loshchilov and Hutter, 2019) on a masked subset of the parameters.

    The moments, and the scratch arrays a step computes in, are buffers updated in place,
    because the hashed weight vector of the anomaly model is large while its batches are small:
    fresh arrays every step would cost more than the arithmetic. Every operation is the one a
    plain expression would do, in the same order, so the iterates are the same to the bit.
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
        self._scratch = np.empty(size)
        self._update = np.empty(size)
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
        scratch, update = self._scratch, self._update
        self.first_moment *= beta1
        self.first_moment += np.multiply(1.0 - beta1, grad, out=scratch)
        self.second_moment *= beta2
        np.multiply(1.0 - beta2, grad, out=scratch)
        self.second_moment += np.multiply(scratch, grad, out=scratch)
        denominator = np.divide(self.second_moment, 1.0 - beta2**self.steps, out=scratch)
        np.sqrt(denominator, out=denominator)
        denominator += self.eps
        np.divide(self.first_moment, 1.0 - beta1**self.steps, out=update)
        update /= denominator
        if self._decay is not None:
            update += np.multiply(self._decay, theta, out=scratch)
        update *= self.learning_rate
        theta -= update
