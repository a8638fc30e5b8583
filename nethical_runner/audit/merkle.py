"""RFC 9162 Merkle tree hashing (SHA-256) for the tamper-evident audit log.

The audit log commits to its history with a Merkle tree head, so that anyone holding an old head
can check that a newer log only appended to it (consistency) and that a given event is in the log
(inclusion) without trusting whoever wrote it. The tree is exactly the Certificate Transparency
one rather than an ad hoc variant, so heads and proofs can be checked by any RFC 6962 / RFC 9162
implementation, and the 0x00 / 0x01 prefixes keep leaf and interior hashes in separate domains so
an interior node can never be passed off as a leaf.

Verifiers take untrusted input and answer with a bool instead of raising: a malformed proof is
simply a proof that does not verify, and callers should not need a try block to learn that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

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

_HASH_SIZE = 32
_EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the prefix keeps leaf hashes disjoint from node hashes."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the interior-node half of the domain separation."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def canonical_json(event: Mapping[str, Any]) -> bytes:
    """The leaf bytes of an audit event.

    A leaf hash is only reproducible if every writer and verifier turns the same event into the
    same bytes, so key order and whitespace are fixed, text stays UTF-8 rather than depending on
    an escaping choice, and NaN / Infinity are refused because they are not JSON at all and other
    parsers would reject or reinterpret them.
    """
    return json.dumps(
        dict(event),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 section 2.1.1 over the raw leaf data."""
    if not leaves:
        return _EMPTY_ROOT
    return _subtree_root([leaf_hash(leaf) for leaf in leaves])


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 section 2.1.3.1.

    Raises ValueError when ``index`` is not a position in ``leaves``: asking for the proof of an
    entry the log does not hold is a caller bug, not an unverifiable proof.
    """
    if not 0 <= index < len(leaves):
        raise ValueError(f"index {index} is outside a tree of {len(leaves)} leaves")
    return _path([leaf_hash(leaf) for leaf in leaves], index)


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) of RFC 9162 section 2.1.4.1.

    The proof is empty for ``old_size`` 0 (every tree extends the empty one) and for
    ``old_size == len(leaves)`` (a tree is consistent with itself). Raises ValueError when
    ``old_size`` is negative or larger than the tree.
    """
    if not 0 <= old_size <= len(leaves):
        raise ValueError(f"old size {old_size} is outside a tree of {len(leaves)} leaves")
    if old_size in (0, len(leaves)):
        return []
    return _subproof([leaf_hash(leaf) for leaf in leaves], old_size, complete=True)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows raw ``leaf`` at ``index`` in the tree of ``size`` with ``root``.

    This is the algorithm of RFC 9162 section 2.1.3.2. Index and size are bound only through the
    shape of the path they imply, so a proof can also satisfy another index or size with the same
    shape (leaf 2 of 3 and leaf 1 of 2 both have a single left sibling); take ``size`` and
    ``root`` from the same trusted tree head, and the index from the entry being checked.
    """
    if not 0 <= index < size or not _all_hashes(root, *proof):
        return False
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(r, root)


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """Whether ``proof`` shows the ``new_size`` tree is an append-only extension of the old one.

    This is the algorithm of RFC 9162 section 2.1.4.2, plus the two cases it leaves to the
    caller. Equal sizes need an empty proof and equal roots. ``old_size`` 0 needs an empty proof
    too, since every tree extends the empty one, and ``old_root`` must be the empty tree's root,
    SHA-256(b""): that tree has exactly one root, and accepting any other value would vouch for a
    tree head that cannot exist.
    """
    if not 0 <= old_size <= new_size or not _all_hashes(old_root, new_root, *proof):
        return False
    if old_size == 0:
        new_is_valid = new_size > 0 or hmac.compare_digest(new_root, _EMPTY_ROOT)
        return not proof and hmac.compare_digest(old_root, _EMPTY_ROOT) and new_is_valid
    if old_size == new_size:
        return not proof and hmac.compare_digest(old_root, new_root)
    if not proof:
        return False
    # A power-of-two old tree is a complete subtree of the new one, so RFC 9162 omits its root
    # from the proof and the verifier supplies it.
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(fr, old_root) and hmac.compare_digest(sr, new_root)


def _all_hashes(*values: object) -> bool:
    """Every value is a 32-byte string; anything else can only be a malformed proof or root."""
    return all(isinstance(v, (bytes, bytearray)) and len(v) == _HASH_SIZE for v in values)


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_root(hashes: Sequence[bytes]) -> bytes:
    """MTH of a non-empty run of leaf hashes, built bottom-up without recursion.

    Pairing neighbours level by level and carrying an unpaired last node up unchanged gives the
    same tree as splitting at k: the first k leaves form a complete subtree that pairing consumes
    whole, and the remainder, never larger than k, reduces to one node that waits at the end of
    each level until it meets the left subtree's root. Each leaf hash is combined once, so this
    is linear in the number of leaves.
    """
    level = list(hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _path(hashes: Sequence[bytes], m: int) -> list[bytes]:
    """PATH(m, D[n]) over leaf hashes: recursion depth is log2(n), total hashing linear."""
    n = len(hashes)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(hashes[:k], m), _subtree_root(hashes[k:])]
    return [*_path(hashes[k:], m - k), _subtree_root(hashes[:k])]


def _subproof(hashes: Sequence[bytes], m: int, complete: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) over leaf hashes, with ``complete`` as the RFC's flag b.

    b records whether D[0:m] is still the whole old tree: its root is then known to the verifier
    and left out, while a root of a mere piece of the old tree has to be sent.
    """
    n = len(hashes)
    if m == n:
        return [] if complete else [_subtree_root(hashes)]
    k = _split(n)
    if m <= k:
        return [*_subproof(hashes[:k], m, complete), _subtree_root(hashes[k:])]
    return [*_subproof(hashes[k:], m - k, False), _subtree_root(hashes[:k])]
