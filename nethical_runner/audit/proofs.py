"""Inclusion proofs: evidence that one event is in the log, checkable offline.

``prove`` takes the proof from a log that verifies and writes it with everything a third party
needs except trust: the event's exact bytes, its index, and the audit path. ``check_proof``
recomputes the root from those and compares it with a root and size the checker already trusts
(a head published elsewhere, a signed head file), never with the ones inside the proof, which
whoever made the proof could have chosen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from nethical_runner.audit.merkle import inclusion_proof, leaf_hash, verify_inclusion
from nethical_runner.audit.signing import AuditKey
from nethical_runner.audit.verify import verify

PROOF_FORMAT = "nethical-audit-inclusion/1"


class ProofError(Exception):
    """No proof can be made or checked from this input; the message says why."""


class EventOutOfRange(ProofError):
    """The log holds no event at the index asked for."""


def prove(directory: Path, index: int, *, key: AuditKey | Literal["env"] | None = "env") -> dict:
    """The inclusion proof of event ``index`` against the latest head of a verified log."""
    report = verify(directory, key=key)
    head = report.latest
    if not report.ok or head is None:
        raise ProofError(f"no proof from a log that does not verify:\n{report.render()}")
    if not 0 <= index < head.tree_size:
        raise EventOutOfRange(
            f"event {index} is not in the log (it holds events 0-{head.tree_size - 1})"
        )
    leaves = report.leaves[: head.tree_size]
    return {
        "format": PROOF_FORMAT,
        "algorithm": "RFC 9162 inclusion proof, SHA-256",
        "index": index,
        "tree_size": head.tree_size,
        "root": head.root,
        "head": head.sequence,
        "head_timestamp": head.timestamp,
        "leaf": leaves[index].decode("utf-8"),
        "leaf_hash": leaf_hash(leaves[index]).hex(),
        "proof": [node.hex() for node in inclusion_proof(leaves, index)],
    }


@dataclass(frozen=True)
class ProofCheck:
    valid: bool
    message: str


def check_proof(document: Any, *, root: str, tree_size: int) -> ProofCheck:
    """Whether ``document`` (a proof from :func:`prove`) shows its event in the tree of
    ``tree_size`` leaves with ``root`` (hex). Raises ProofError for an unusable root."""
    try:
        trusted_root = bytes.fromhex(root)
    except ValueError:
        raise ProofError(f"--root {root!r} is not a hex string") from None
    if len(trusted_root) != 32:
        raise ProofError(f"--root must be 64 hex digits (a SHA-256), got {len(root)}")
    parsed = _parse(document)
    if isinstance(parsed, str):
        return ProofCheck(False, f"proof invalid: {parsed}")
    leaf, index, path = parsed
    if not verify_inclusion(leaf, index, tree_size, path, trusted_root):
        return ProofCheck(
            False,
            f"proof invalid: event {index} with this leaf and audit path does not lead to root "
            f"{root[:16]}... of a tree of {tree_size} events",
        )
    event = json.loads(leaf)
    if isinstance(event, dict) and event.get("index") != index:
        return ProofCheck(
            False, f"proof invalid: the leaf says it is event {event.get('index')}, not {index}"
        )
    what = _describe(event)
    return ProofCheck(
        True,
        f"proof valid: event {index}{what} is in the log of {tree_size} events with root "
        f"{root[:16]}...",
    )


def _parse(document: Any) -> tuple[bytes, int, list[bytes]] | str:
    """The leaf bytes, index and audit path of a proof document, or what is wrong with it."""
    if not isinstance(document, Mapping):
        return "not a JSON object"
    if document.get("format") != PROOF_FORMAT:
        return f"format is {document.get('format')!r}, expected {PROOF_FORMAT!r}"
    leaf, index, path = document.get("leaf"), document.get("index"), document.get("proof")
    if not isinstance(leaf, str):
        return "leaf is missing or not a string"
    if not isinstance(index, int) or isinstance(index, bool):
        return "index is missing or not an integer"
    if not isinstance(path, list) or not all(isinstance(node, str) for node in path):
        return "proof is missing or not a list of hex strings"
    try:
        nodes = [bytes.fromhex(node) for node in path]
        json.loads(leaf)
    except ValueError as error:
        return f"malformed: {error}"
    return leaf.encode("utf-8"), index, nodes


def _describe(event: Any) -> str:
    if not isinstance(event, dict):
        return ""
    scope = "/".join(str(p) for p in (event.get("spec"), event.get("cohort")) if p)
    return f" ({event.get('type')} of {scope})" if scope else f" ({event.get('type')})"
