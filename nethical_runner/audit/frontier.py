"""Incremental RFC 9162 tree roots: the root after every appended leaf, in one pass.

``verify`` compares every tree head of the log with the events it covers. Recomputing
``merkle_root`` over each head's prefix would cost O(events x heads); the frontier instead keeps
the roots of the perfect subtrees the tree decomposes into (one per set bit of its size, as
Certificate Transparency's "compact range"), so the root at any size is a fold of at most
log2(size) hashes and the whole log is read once.
"""

from __future__ import annotations

import hashlib

from nethical_runner.audit.merkle import leaf_hash, node_hash

_EMPTY_ROOT = hashlib.sha256(b"").digest()


class MerkleFrontier:
    """The right edge of a growing Merkle tree; ``root()`` equals ``merkle_root`` of the leaves
    appended so far."""

    def __init__(self) -> None:
        self._subtrees: list[tuple[int, bytes]] = []  # (leaf count, root), largest first
        self.size = 0

    def append(self, leaf: bytes) -> None:
        """Add raw leaf data (it is hashed with the 0x00 leaf prefix here)."""
        self.append_hash(leaf_hash(leaf))

    def append_hash(self, hashed: bytes) -> None:
        """Add an already hashed leaf; equal-sized neighbours merge like a binary counter."""
        count, node = 1, hashed
        while self._subtrees and self._subtrees[-1][0] == count:
            _, left = self._subtrees.pop()
            count, node = count * 2, node_hash(left, node)
        self._subtrees.append((count, node))
        self.size += 1

    def root(self) -> bytes:
        """MTH of the leaves so far: the largest subtree is the RFC's left part of size k, and
        the rest, folded from the right, is its right part."""
        if not self._subtrees:
            return _EMPTY_ROOT
        node = self._subtrees[-1][1]
        for _, left in reversed(self._subtrees[:-1]):
            node = node_hash(left, node)
        return node
