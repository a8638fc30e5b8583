"""Which way a changed spec key moves the bar: LOOSENED, TIGHTENED or merely CHANGED.

A reviewer's question about a spec diff is "does this let a worse model through?". Thresholds
answer it by their name: a ``min_*`` bound loosens when it goes down, a ``max_*`` bound (and
every ``*_ms`` latency target, every ``max_spread``/``max_drop``/``max_rise`` entry) when it
goes up. Adding a threshold adds a check (tightened); removing one removes a check (loosened).
A few policy keys also decide whether a miss fails CI (``sla.on_breach``, ``sla.warn_margin``,
the ``confidence`` and ``on_inconclusive`` of each section, ``drift.false_discovery_rate``,
``data.fallback``, ``audit.enabled``) and are ranked from strict to lenient. A gate's or a
regression's ``confidence`` tightens as it rises, since an inconclusive interval fails there by
default (a point decision is a confidence of 0); an SLA's or drift's loosens, since there a
breach needs the whole interval beyond the bound.

Keys that change how a gated metric is computed rather than the bar it must clear (the ECE's
bins and confidence, the decision threshold, the validation split, how latency is timed, what a
regression is measured against) count as LOOSENED, "possibly": their direction depends on the
model (15 ECE bins to 1 turns a failing ``max_ece`` into a pass), and a reviewer must look.
Everything else (epochs, samples, model parameters...) is CHANGED: it moves the metrics, but in
no direction a rule could call and not by changing what is measured.

The rules read key names, not a fixed list, so sections added later that follow the naming
(``drift.max_spread.accuracy``) are classified without changes here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Verdict = Literal["LOOSENED", "TIGHTENED", "CHANGED"]
LOOSENED: Verdict = "LOOSENED"
TIGHTENED: Verdict = "TIGHTENED"
CHANGED: Verdict = "CHANGED"

KeyPath = tuple[str, ...]

THRESHOLD_SECTIONS = ("gate", "sla", "drift", "regression")
_UPPER_PREFIXES = ("max_", "rel_max_")
_LOWER_PREFIXES = ("min_", "rel_min_")


class _Absent:
    """A key that is not there (neither written nor defaulted) on one side of a diff."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class Policy:
    """A key that is not a threshold but decides how hard a miss hits.

    ``order`` ranks values from strict to lenient (for enums and booleans); without it a
    larger number is more lenient. ``absent`` is the value the key stands for when its
    section is there but the key is not (``sla.confidence`` absent: no interval, i.e. 0).
    """

    order: tuple[Any, ...] | None = None
    absent: Any = ABSENT
    absent_with_section: bool = False  # ``absent`` also applies when the whole section is gone
    lenient_when_larger: bool = True  # for numbers: whether a larger value lets more through


POLICIES: dict[KeyPath, Policy] = {
    ("sla", "on_breach"): Policy(order=("fail", "warn")),
    ("sla", "warn_margin"): Policy(),
    ("sla", "confidence"): Policy(absent=0.0),
    ("sla", "on_inconclusive"): Policy(order=("fail", "warn"), absent="warn"),
    ("gate", "confidence"): Policy(absent=0.0, lenient_when_larger=False),
    ("gate", "on_inconclusive"): Policy(order=("fail", "warn"), absent="fail"),
    ("regression", "confidence"): Policy(absent=0.0, lenient_when_larger=False),
    ("regression", "on_inconclusive"): Policy(order=("fail", "warn"), absent="fail"),
    ("drift", "confidence"): Policy(absent=0.95),
    ("drift", "on_inconclusive"): Policy(order=("fail", "warn"), absent="warn"),
    ("drift", "false_discovery_rate"): Policy(lenient_when_larger=False),
    ("data", "fallback"): Policy(order=("none", "synthetic"), absent="none"),
    ("audit", "enabled"): Policy(order=(True, False), absent=False, absent_with_section=True),
    ("drift", "min_samples"): Policy(),  # smaller slices are not judged: larger lets more by
}

# What each key changes about how a gated metric is computed (``note`` of its rows).
COMPUTED_BY: dict[KeyPath, str] = {
    ("metrics", "ece_bins"): "how ece is computed",
    ("metrics", "ece_confidence"): "how ece is computed",
    ("metrics", "decision_threshold"): "how accuracy, precision, recall and f1 are computed",
    ("data", "split", "method"): "which rows every metric is computed on",
    ("data", "split", "train_fraction"): "which rows every metric is computed on",
    ("sla", "scope"): "what latency is measured",
    ("sla", "batch_size"): "what latency is measured",
    ("sla", "warmup"): "what latency is measured",
    ("regression", "against"): "what regressions are measured against",
}


def rule_key(path: KeyPath) -> KeyPath:
    """The key a rule is written for: a cohort override ``cohorts.<id>.data.fallback`` follows
    the rule of ``data.fallback``."""
    return path[2:] if len(path) > 2 and path[0] == "cohorts" else path


def threshold_direction(path: KeyPath) -> Literal["upper", "lower"] | None:
    """``upper`` when a larger value lets more through, ``lower`` for the opposite, ``None``
    for a key that is not a threshold."""
    key = rule_key(path)
    if len(key) < 2 or key[0] not in THRESHOLD_SECTIONS or key in POLICIES or key in COMPUTED_BY:
        return None
    for part in reversed(key[1:]):
        if part.startswith(_LOWER_PREFIXES):
            return "lower"
        if part.startswith(_UPPER_PREFIXES):
            return "upper"
    if key[0] == "sla" and key[-1].endswith("_ms"):
        return "upper"
    return None


def is_threshold(path: KeyPath) -> bool:
    return threshold_direction(path) is not None


def classify(
    path: KeyPath, old: Any, new: Any, *, section_on_both_sides: bool = True
) -> tuple[Verdict, str]:
    """The verdict of one changed key and a short reason for it.

    ``section_on_both_sides`` false means the key's section was added or removed as a whole
    (its checks with it). A cohort's override section is not such a section: without it the
    cohort inherits the spec's values, so its keys are judged as if it were there.
    """
    direction = threshold_direction(path)
    if direction is not None:
        if old is ABSENT:
            return TIGHTENED, "check added"
        if new is ABSENT:
            return LOOSENED, "check removed"
        return _numeric(old, new, lenient_when_larger=direction == "upper")
    section_moved = not section_on_both_sides and rule_key(path) == path
    computed = COMPUTED_BY.get(rule_key(path))
    if computed is not None:
        if section_moved:
            return CHANGED, "section added" if old is ABSENT else "section removed"
        return LOOSENED, f"possibly loosened: changes {computed}"
    policy = POLICIES.get(rule_key(path))
    if policy is None:
        return CHANGED, ""
    if section_moved and not policy.absent_with_section:
        return CHANGED, "section added" if old is ABSENT else "section removed"
    old = policy.absent if old is ABSENT else old
    new = policy.absent if new is ABSENT else new
    if old is ABSENT or new is ABSENT:
        return CHANGED, ""
    if policy.order is not None:
        if old not in policy.order or new not in policy.order:
            return CHANGED, ""
        looser = policy.order.index(new) > policy.order.index(old)
        return (LOOSENED, "more lenient") if looser else (TIGHTENED, "stricter")
    return _numeric(old, new, lenient_when_larger=policy.lenient_when_larger)


def _numeric(old: Any, new: Any, *, lenient_when_larger: bool) -> tuple[Verdict, str]:
    numbers = (int, float)
    if isinstance(old, bool) or isinstance(new, bool):
        return CHANGED, ""
    if not isinstance(old, numbers) or not isinstance(new, numbers) or old == new:
        return CHANGED, ""
    raised = new > old
    note = "raised" if raised else "lowered"
    return (LOOSENED if raised == lenient_when_larger else TIGHTENED), note
