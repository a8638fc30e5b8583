"""What a model type can do beyond the :class:`~nethical_runner.models.base.Model` interface.

A type declares a capability by naming the protocol among its bases, so that what the run may
ask of a model is written on the model type rather than guessed from its attribute names; the
model contract test checks that each declaration and the methods present agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from nethical_runner.models.base import Model

Chunks = Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]]
EpochCallback = Callable[[int, int], None]
"""Told ``(epochs_done, epochs)`` after each pass over the training rows."""


@runtime_checkable
class TrainsFromChunks(Protocol):
    """Trains on data too large for memory, read a chunk at a time."""

    def fit_chunks(
        self,
        chunks: Chunks,
        *,
        epochs: int,
        batch_size: int,
        seed: int,
        on_epoch: EpochCallback | None = None,
    ) -> Model:
        """Learn from the (features, labels) pieces ``chunks()`` yields; ``chunks`` may be
        called several times (once per pass over the data)."""
        ...


@runtime_checkable
class TrainsInEpochs(Protocol):
    """Trains in passes over its rows and says when each ends, so that whoever runs a long
    training can show how far it is; the model itself never prints."""

    def fit_epochs(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        epochs: int,
        batch_size: int,
        seed: int,
        on_epoch: EpochCallback | None,
    ) -> Model:
        """``fit``, calling ``on_epoch`` after each of the ``epochs`` passes (never, for a
        configuration that makes none: anomaly's ``isolation_forest``); the callback changes
        nothing of what is learnt."""
        ...


@runtime_checkable
class ReadsText(Protocol):
    """Reads text features, which the data layer encodes as trailing columns of byte tokens."""

    def with_token_columns(self, token_columns: int) -> Model:
        """The same untrained model, told how many trailing columns of ``X`` are byte tokens."""
        ...


CAPABILITIES: tuple[type, ...] = (TrainsFromChunks, TrainsInEpochs, ReadsText)
"""Every capability a model type may declare."""
