"""Seeded synthetic data, generated with vectorised numpy (no per-row Python).

Each generator follows the script this replaces, with the defects that made its scores
meaningless removed: there, every validation row also appeared in training and the classes
never overlapped, so any model scored 100%. Here ``label_noise`` sets how much the classes
overlap, so no model can be perfect and a gate measures something real.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Rows = tuple[np.ndarray, np.ndarray, tuple[str, ...]]
Generator = Callable[[int, float, np.random.Generator], Rows]

RISK_FEATURES = (
    "violation_count",
    "severity_max",
    "recency_score",
    "frequency_score",
    "context_risk",
)
CORRELATION_FEATURES = (
    "agent_count",
    "action_rate",
    "entropy_variance",
    "time_correlation",
    "payload_similarity",
)
NORMAL_ACTIONS = (
    "read", "process", "write", "fetch", "transform", "load", "query", "filter", "aggregate",
    "request", "authenticate", "respond", "open", "close", "connect", "send", "receive",
    "validate", "store", "analyze", "report", "access", "modify", "delete",
)  # fmt: skip
MALICIOUS_ACTIONS = (
    "exfiltrate", "cover_tracks", "escalate", "scan", "exploit", "inject", "brute_force",
    "bypass", "steal", "hide", "probe", "breach", "extract", "intercept", "decrypt", "leak",
    "overflow", "execute", "control",
)  # fmt: skip
ACTIONS = ("<pad>", *NORMAL_ACTIONS, *MALICIOUS_ACTIONS)  # token id = index; 0 is padding
MAX_SEQUENCE = 24
SEQUENCE_FEATURES = tuple(f"sequence[{i}]" for i in range(MAX_SEQUENCE))
OUTLIER_FEATURES = tuple(f"x{i}" for i in range(5))
_WORLD_SEED = 20_240_611  # fixes the "normal behaviour" Markov chain across data seeds
_BLOCK_ROWS = 65_536


def risk_features(samples: int, label_noise: float, rng: np.random.Generator) -> Rows:
    """The old script's five risk scores, uniform in [0, 1); positive when violation_count +
    severity_max > 1 after logistic noise of scale ``label_noise``: rows near the boundary get
    uncertain labels while the true probability stays a smooth function a model can match."""
    X = rng.random((samples, len(RISK_FEATURES)))
    score = X[:, 0] + X[:, 1] + _logistic_noise(samples, label_noise, rng)
    return X, (score > 1.0).astype(np.int64), RISK_FEATURES


def correlation_features(samples: int, label_noise: float, rng: np.random.Generator) -> Rows:
    """The old script's multi-agent features with its three attack patterns (escalating,
    coordinated, distributed) against quiet normal activity, plus what makes the problem real:
    busy but benign bursts that look like attacks, low-and-slow attacks that look normal (a share of
    ``4 * label_noise`` each), and multiplicative jitter on every value."""
    y = (rng.random(samples) < 0.35).astype(np.int64)
    # Per row: [low, high) ranges of the five features for the profile the row is drawn from.
    profiles = np.array(
        [
            [[1, 4], [1, 10], [0.05, 0.3], [0.0, 0.25], [0.0, 0.3]],  # quiet normal
            [[3, 12], [10, 45], [0.2, 0.7], [0.2, 0.6], [0.2, 0.6]],  # busy benign burst
            [[6, 16], [25, 100], [0.4, 0.9], [0.5, 0.75], [0.4, 0.8]],  # escalating
            [[4, 11], [20, 60], [0.3, 0.7], [0.75, 1.0], [0.6, 0.95]],  # coordinated
            [[10, 21], [15, 50], [0.65, 1.0], [0.3, 0.6], [0.25, 0.65]],  # distributed
            [[2, 6], [5, 25], [0.1, 0.5], [0.2, 0.55], [0.2, 0.5]],  # low-and-slow attack
        ]
    )
    hard = rng.random(samples) < min(4 * label_noise, 0.5)
    attack_kind = rng.integers(2, 5, samples)
    profile = np.where(y == 1, np.where(hard, 5, attack_kind), np.where(hard, 1, 0))
    width = len(CORRELATION_FEATURES)
    X = np.empty((samples, width))
    for start in range(0, samples, _BLOCK_ROWS):  # blocks keep the temporaries small
        block = slice(start, start + _BLOCK_ROWS)
        low, high = profiles[profile[block], :, 0], profiles[profile[block], :, 1]
        values = low + (high - low) * rng.random(low.shape)
        values[:, 0] = np.floor(values[:, 0])  # agent_count is a count
        values[:, 1:] *= rng.lognormal(0.0, 0.1, (low.shape[0], width - 1))
        values[:, 2:] = np.clip(values[:, 2:], 0.0, 1.0)
        X[block] = values
    return X, y, CORRELATION_FEATURES


def action_sequences(samples: int, label_noise: float, rng: np.random.Generator) -> Rows:
    """Variable-length action sequences as ``uint8`` token ids (0 pads the tail).

    Normal behaviour is a Markov chain over the normal actions (fixed across data seeds, so all
    cohorts share one world). About 30% of rows are anomalous: a malicious sub-sequence of two to
    four actions, built from malicious and overlapping normal actions, injected at a random
    position. A share ``label_noise`` of normal rows carries one malicious action on its own and
    as many anomalies are a single injected action, so neither class is clean. Lengths of 8 to
    24 actions make a held-out sequence that also occurs in training vanishingly unlikely.
    """
    vocabulary = len(NORMAL_ACTIONS)
    world = np.random.default_rng(_WORLD_SEED)
    transitions = world.dirichlet(np.full(vocabulary, 0.3), size=vocabulary)
    cumulative = np.cumsum(transitions, axis=1)
    cumulative[:, -1] = 1.0
    lengths = rng.integers(8, MAX_SEQUENCE + 1, samples)
    tokens = np.empty((samples, MAX_SEQUENCE), dtype=np.uint8)  # ids < 256: a byte per action
    tokens[:, 0] = rng.integers(0, vocabulary, samples)
    # Row r of the chain's CDF, shifted by r, so one sorted array serves every current state:
    # the next state of a row in state r is where r + u falls in that array, minus r's offset.
    shifted = (cumulative + np.arange(vocabulary)[:, None]).ravel()
    search = _RightSearch(shifted, vocabulary)
    for position in range(1, MAX_SEQUENCE):
        previous = tokens[:, position - 1].astype(np.int64)
        found = search(previous + rng.random(samples))
        tokens[:, position] = np.minimum(found - previous * vocabulary, vocabulary - 1)
    tokens += 1  # ids 1..vocabulary are normal actions; 0 stays free for padding

    y = (rng.random(samples) < 0.3).astype(np.int64)
    malicious = np.arange(vocabulary + 1, len(ACTIONS), dtype=np.uint8)
    overlap = np.array(
        [ACTIONS.index(a) for a in ("access", "modify", "delete", "read", "send")], dtype=np.uint8
    )
    pool = np.concatenate([malicious, malicious, overlap])
    single = rng.random(samples) < label_noise
    injected_length = np.where(single, 1, rng.integers(2, 5, samples))
    start = rng.integers(0, lengths - injected_length + 1)
    for offset in range(4):
        rows = np.flatnonzero((y == 1) & (offset < injected_length))
        first = malicious if offset == 0 else pool  # an attack always starts with a malicious step
        tokens[rows, start[rows] + offset] = rng.choice(first, rows.size)
    decoys = np.flatnonzero((y == 0) & single)
    tokens[decoys, rng.integers(0, lengths[decoys])] = rng.choice(malicious, decoys.size)

    tokens[np.arange(MAX_SEQUENCE)[None, :] >= lengths[:, None]] = 0
    return tokens, y, SEQUENCE_FEATURES


class _RightSearch:
    """``np.searchsorted(values, keys, side="right")`` for keys in ``[0, top]``, the same
    indices about five times as fast on a million keys.

    A binary search per key is the generator's largest cost. Here ``[0, top]`` is cut into
    cells of width 2**-10, and each cell knows the answers for its two edges; multiplying a key
    by a power of two is exact, so a key's cell is exact too, and where both edges agree (all but
    about 2% of keys) that is the key's answer. Only the rest are searched.
    """

    _CELLS_PER_UNIT = 1024

    def __init__(self, values: np.ndarray, top: float) -> None:
        self.values = values
        edges = np.arange(int(np.ceil(top * self._CELLS_PER_UNIT)) + 2) / self._CELLS_PER_UNIT
        answers = np.searchsorted(values, edges, side="right")
        self.low, self.high = answers[:-1], answers[1:]

    def __call__(self, keys: np.ndarray) -> np.ndarray:
        cell = (keys * self._CELLS_PER_UNIT).astype(np.intp)
        found = self.low[cell]
        unsure = np.flatnonzero(found != self.high[cell])
        found[unsure] = np.searchsorted(self.values, keys[unsure], side="right")
        return found


def outliers(samples: int, label_noise: float, rng: np.random.Generator) -> Rows:
    """Numeric rows for isolation forests: normal rows from one correlated Gaussian, about 30%
    anomalies from a wider one centred nearby, so the two overlap in the middle; ``label_noise``
    narrows the anomalies' spread (more overlap)."""
    dims = len(OUTLIER_FEATURES)
    mixing = np.random.default_rng(_WORLD_SEED).normal(size=(dims, dims)) / np.sqrt(dims)
    y = (rng.random(samples) < 0.3).astype(np.int64)
    spread = np.where(y == 1, 4.0 * (1.0 - label_noise), 1.0)
    X = (rng.normal(size=(samples, dims)) * spread[:, None]) @ mixing
    return X, y, OUTLIER_FEATURES


def _logistic_noise(samples: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    return rng.logistic(0.0, scale, samples) if scale > 0 else np.zeros(samples)


GENERATORS: dict[str, Generator] = {
    "risk": risk_features,
    "correlation": correlation_features,
    "sequence": action_sequences,
    "outliers": outliers,
}


FEATURE_NAMES: dict[str, tuple[str, ...]] = {
    "risk": RISK_FEATURES,
    "correlation": CORRELATION_FEATURES,
    "sequence": SEQUENCE_FEATURES,
    "outliers": OUTLIER_FEATURES,
}


def feature_names(kind: str) -> tuple[str, ...]:
    """The columns generator ``kind`` produces, known without generating a row (a spec's
    slices are checked against them before anything trains)."""
    return FEATURE_NAMES[kind]


def generate(kind: str, samples: int, label_noise: float, seed: int) -> Rows:
    """Features, labels and feature names of ``samples`` rows from generator ``kind``."""
    return GENERATORS[kind](samples, label_noise, np.random.default_rng(seed))
