"""Tamper-evident audit trail of training events.

Each event is serialised with ``canonical_json`` and becomes a leaf of an RFC 9162 Merkle tree,
so a published tree head commits to the whole history: inclusion proofs show that an event was
logged, and consistency proofs show that a later log only appended to an earlier one.
"""

from nethical_runner.audit.merkle import (
    canonical_json,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "canonical_json",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "merkle_root",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]
