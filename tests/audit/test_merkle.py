"""Tests for the RFC 9162 Merkle tree of the audit log.

Three independent sources of truth: published RFC 6962 test vectors, a naive reference written
straight from the RFC's recursive definitions, and the worked example of RFC 9162 section 2.1.5.
The property tests then check that proofs verify and that every kind of tampering is rejected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nethical_runner.audit import (
    canonical_json,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 64


# --- Naive reference, transcribed from RFC 9162 section 2.1 ------------------------------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_leaf(data: bytes) -> bytes:
    return _sha256(b"\x00" + data)


def ref_node(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right)


def ref_split(n: int) -> int:
    k = 1
    while 2 * k < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return ref_leaf(d[0])
    k = ref_split(n)
    return ref_node(ref_mth(d[:k]), ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = ref_split(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_split(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


# --- Fixtures --------------------------------------------------------------------------------

# Leaves of assorted lengths, including the empty one, so no test relies on a fixed leaf size.
LEAVES = [bytes(range(i % 7)) + f"event-{i}".encode() * (i % 3) for i in range(2 * MAX_SIZE + 1)]


@cache
def root_of(size: int) -> bytes:
    return merkle_root(LEAVES[:size])


def flip(data: bytes, position: int, mask: int = 0x01) -> bytes:
    mutated = bytearray(data)
    mutated[position] ^= mask
    return bytes(mutated)


# --- RFC 6962 test vectors -------------------------------------------------------------------

CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

CT_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]

_H = {
    "leaf1": "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "leaf4": "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "leaf6": "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "pair23": "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "pair45": "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "pair67": "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "quad4567": "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
}
_N = {name: bytes.fromhex(h) for name, h in _H.items()}
_N["leaf0"] = CT_ROOTS[1]
_N["pair01"] = CT_ROOTS[2]
_N["quad0123"] = CT_ROOTS[4]

CT_INCLUSION = [
    (0, 8, ["leaf1", "pair23", "quad4567"]),
    (5, 8, ["leaf4", "pair67", "quad0123"]),
    (2, 3, ["pair01"]),
    (1, 5, ["leaf0", "pair23", "leaf4"]),
]

CT_CONSISTENCY = [
    (1, 8, ["leaf1", "pair23", "quad4567"]),
    (6, 8, ["pair45", "pair67", "quad0123"]),
    (2, 5, ["pair23", "leaf4"]),
    (6, 7, ["pair45", "leaf6", "quad0123"]),
]


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    expected = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle_root([]).hex() == expected


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"") == CT_ROOTS[1]
    assert node_hash(leaf_hash(CT_LEAVES[0]), leaf_hash(CT_LEAVES[1])) == CT_ROOTS[2]
    assert leaf_hash(b"x") == _sha256(b"\x00x")
    assert node_hash(b"l", b"r") == _sha256(b"\x01lr")


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_rfc6962_roots(size: int) -> None:
    assert merkle_root(CT_LEAVES[:size]) == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "names"), CT_INCLUSION)
def test_rfc6962_inclusion_vectors(index: int, size: int, names: list[str]) -> None:
    expected = [_N[name] for name in names]
    assert inclusion_proof(CT_LEAVES[:size], index) == expected
    assert verify_inclusion(CT_LEAVES[index], index, size, expected, CT_ROOTS[size])


@pytest.mark.parametrize(("old", "new", "names"), CT_CONSISTENCY)
def test_rfc6962_consistency_vectors(old: int, new: int, names: list[str]) -> None:
    expected = [_N[name] for name in names]
    assert consistency_proof(CT_LEAVES[:new], old) == expected
    assert verify_consistency(old, new, CT_ROOTS[old], CT_ROOTS[new], expected)


# --- Agreement with the naive reference ------------------------------------------------------


@pytest.mark.parametrize("size", range(MAX_SIZE + 1))
def test_matches_reference(size: int) -> None:
    leaves = LEAVES[:size]
    assert merkle_root(leaves) == ref_mth(leaves)
    for index in range(size):
        assert inclusion_proof(leaves, index) == ref_path(index, leaves)
    assert consistency_proof(leaves, 0) == []
    for old in range(1, size + 1):
        assert consistency_proof(leaves, old) == ref_proof(old, leaves)


@pytest.mark.parametrize("size", [255, 256, 257, 1000, 1025])
def test_matches_reference_on_larger_trees(size: int) -> None:
    leaves = [i.to_bytes(4, "big") for i in range(size)]
    assert merkle_root(leaves) == ref_mth(leaves)
    for index in (0, 1, size // 3, size - 2, size - 1):
        assert inclusion_proof(leaves, index) == ref_path(index, leaves)
    for old in (1, 2, 3, size // 2, size - 1):
        assert consistency_proof(leaves, old) == ref_proof(old, leaves)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=150), st.data())
def test_matches_reference_on_arbitrary_leaves(leaves: list[bytes], data: st.DataObject) -> None:
    assert merkle_root(leaves) == ref_mth(leaves)
    if leaves:
        index = data.draw(st.integers(0, len(leaves) - 1))
        old = data.draw(st.integers(1, len(leaves)))
        assert inclusion_proof(leaves, index) == ref_path(index, leaves)
        assert consistency_proof(leaves, old) == ref_proof(old, leaves)


# --- The worked example of RFC 9162 section 2.1.5 ---------------------------------------------


class Rfc9162Example:
    """The seven-leaf tree d0..d6 with its nodes named as in the RFC's figures.

    The RFC calls the leaf data d0..d6 and also a node "d"; the node is ``dd`` here.
    """

    d = tuple(f"d{i}".encode() for i in range(7))
    a, b, c, dd, e, f, j = map(ref_leaf, d)
    g = ref_node(a, b)
    h = ref_node(c, dd)
    i = ref_node(e, f)
    k = ref_node(g, h)
    l = ref_node(i, j)  # noqa: E741 - the RFC's name for this node.
    root = ref_node(k, l)
    hash0 = ref_node(g, c)  # the tree of size 3
    hash1 = k  # the tree of size 4
    hash2 = ref_node(k, i)  # the tree of size 6


def test_rfc9162_example_roots() -> None:
    ex = Rfc9162Example
    assert merkle_root(ex.d) == ex.root
    assert merkle_root(ex.d[:3]) == ex.hash0
    assert merkle_root(ex.d[:4]) == ex.hash1
    assert merkle_root(ex.d[:6]) == ex.hash2


def test_rfc9162_example_inclusion_proofs() -> None:
    ex = Rfc9162Example
    expected = {
        0: [ex.b, ex.h, ex.l],
        3: [ex.c, ex.g, ex.l],
        4: [ex.f, ex.j, ex.k],
        6: [ex.i, ex.k],
    }
    for index, path in expected.items():
        assert inclusion_proof(ex.d, index) == path
        assert verify_inclusion(ex.d[index], index, 7, path, ex.root)


def test_rfc9162_example_consistency_proofs() -> None:
    ex = Rfc9162Example
    expected = {
        3: (ex.hash0, [ex.c, ex.dd, ex.g, ex.l]),
        4: (ex.hash1, [ex.l]),
        6: (ex.hash2, [ex.i, ex.j, ex.k]),
    }
    for old, (old_root, proof) in expected.items():
        assert consistency_proof(ex.d, old) == proof
        assert verify_consistency(old, 7, old_root, ex.root, proof)


# --- Inclusion proofs: everything valid verifies, every tampering fails ----------------------


def tampered_proofs(proof: list[bytes], filler: bytes) -> list[list[bytes]]:
    """One byte flipped in each element in turn, plus an element dropped or added at each end."""
    variants = [
        [*proof[:pos], flip(p, (7 * pos + 3) % 32), *proof[pos + 1 :]]
        for pos, p in enumerate(proof)
    ]
    variants += [[*proof, filler], [filler, *proof]]
    if proof:
        variants += [proof[:-1], proof[1:]]
    return variants


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_inclusion_proofs_verify_and_resist_tampering(size: int) -> None:
    leaves = LEAVES[:size]
    root = root_of(size)
    for index in range(size):
        leaf = leaves[index]
        proof = inclusion_proof(leaves, index)
        assert verify_inclusion(leaf, index, size, proof, root)

        for bad in tampered_proofs(proof, root):
            assert not verify_inclusion(leaf, index, size, bad, root)
        for other in range(size):
            if other != index:
                assert not verify_inclusion(leaf, other, size, proof, root)
        for other_size in (size - 1, size + 1, 2 * size):
            if index < other_size and other_size != size:
                assert not verify_inclusion(leaf, index, other_size, proof, root_of(other_size))
        assert not verify_inclusion(leaf, size, size, proof, root)
        assert not verify_inclusion(leaf + b"!", index, size, proof, root)
        assert not verify_inclusion(leaf, index, size, proof, flip(root, index % 32))
        assert not verify_inclusion(leaf, index, size, proof, root_of(size + 1))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 2 * MAX_SIZE),
    st.data(),
    st.integers(0, 31),
    st.integers(1, 255),
)
def test_inclusion_rejects_any_byte_mutation(
    size: int, data: st.DataObject, position: int, mask: int
) -> None:
    leaves = LEAVES[:size]
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(leaves, index)
    if not proof:
        return
    target = data.draw(st.integers(0, len(proof) - 1))
    proof[target] = flip(proof[target], position, mask)
    assert not verify_inclusion(leaves[index], index, size, proof, root_of(size))


@cache
def inclusion_length(index: int, size: int) -> int:
    return len(inclusion_proof(LEAVES[:size], index))


def test_inclusion_proof_of_another_length_than_the_claim_needs_is_rejected() -> None:
    # The verifier must consume exactly as many elements as the claimed index and size call for;
    # otherwise the right-hand tail of a genuine path could stretch a claim about a small tree
    # up to the real root, e.g. "the last leaf of a 3-leaf tree is leaf 0 of a 1-leaf tree".
    for size in range(1, 17):
        root = root_of(size)
        for index in range(size):
            proof = inclusion_proof(LEAVES[:size], index)
            for claimed_size in range(1, 33):
                for claimed_index in range(claimed_size):
                    if inclusion_length(claimed_index, claimed_size) != len(proof):
                        leaf = LEAVES[index]
                        assert not verify_inclusion(leaf, claimed_index, claimed_size, proof, root)


# --- Consistency proofs ----------------------------------------------------------------------


@pytest.mark.parametrize("new", range(1, MAX_SIZE + 1))
def test_consistency_proofs_verify_and_resist_tampering(new: int) -> None:
    leaves = LEAVES[:new]
    new_root = root_of(new)
    for old in range(1, new + 1):
        old_root = root_of(old)
        proof = consistency_proof(leaves, old)
        assert verify_consistency(old, new, old_root, new_root, proof)
        assert not verify_consistency(old, new, old_root, new_root, [*proof, new_root])
        assert not verify_consistency(old, new, flip(old_root, 5), new_root, proof)
        assert not verify_consistency(old, new, old_root, flip(new_root, 9), proof)
        if old == new:
            assert proof == []
            continue

        for bad in tampered_proofs(proof, old_root):
            assert not verify_consistency(old, new, old_root, new_root, bad)
        assert not verify_consistency(old, new, old_root, new_root, [])
        assert not verify_consistency(old, new, new_root, old_root, proof)
        assert not verify_consistency(old, new, old_root, new_root, [proof[0], *proof])
        for other_old in (old - 1, old + 1):
            if 1 <= other_old <= new:
                other_root = root_of(other_old)
                assert not verify_consistency(other_old, new, other_root, new_root, proof)
        for other_new in (new - 1, new + 1, 2 * new):
            if other_new > old:
                other_root = root_of(other_new)
                assert not verify_consistency(old, other_new, old_root, other_root, proof)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 2 * MAX_SIZE),
    st.data(),
    st.integers(0, 31),
    st.integers(1, 255),
)
def test_consistency_rejects_any_byte_mutation(
    new: int, data: st.DataObject, position: int, mask: int
) -> None:
    old = data.draw(st.integers(1, new - 1))
    proof = consistency_proof(LEAVES[:new], old)
    target = data.draw(st.integers(0, len(proof) - 1))
    proof[target] = flip(proof[target], position, mask)
    assert not verify_consistency(old, new, root_of(old), root_of(new), proof)


@cache
def consistency_length(old: int, new: int) -> int:
    return len(consistency_proof(LEAVES[:new], old))


def test_consistency_proof_of_another_length_than_the_claim_needs_is_rejected() -> None:
    for new in range(2, 17):
        for old in range(1, new):
            proof = consistency_proof(LEAVES[:new], old)
            roots = (root_of(old), root_of(new))
            for claimed_new in range(2, 25):
                for claimed_old in range(1, claimed_new):
                    if consistency_length(claimed_old, claimed_new) != len(proof):
                        assert not verify_consistency(claimed_old, claimed_new, *roots, proof)


def test_consistency_from_the_empty_tree_needs_an_empty_proof_and_the_empty_root() -> None:
    empty = merkle_root([])
    assert verify_consistency(0, 0, empty, empty, [])
    assert verify_consistency(0, 5, empty, root_of(5), [])
    assert not verify_consistency(0, 5, empty, root_of(5), [root_of(5)])
    assert not verify_consistency(0, 5, root_of(1), root_of(5), [])
    assert not verify_consistency(0, 0, empty, root_of(1), [])
    assert not verify_consistency(0, 0, root_of(1), root_of(1), [])


# --- Malformed input: verifiers answer False, generators raise --------------------------------


def test_inclusion_verifier_rejects_malformed_input_without_raising() -> None:
    leaves = LEAVES[:5]
    proof = inclusion_proof(leaves, 2)
    root = root_of(5)
    assert verify_inclusion(leaves[2], 2, 5, proof, root)
    for bad_root in (b"", root[:31], root + b"\x00", bytes(64)):
        assert not verify_inclusion(leaves[2], 2, 5, proof, bad_root)
    for bad_element in (b"", proof[0][:31], proof[0] + b"\x00"):
        assert not verify_inclusion(leaves[2], 2, 5, [bad_element, *proof[1:]], root)
    text_element: list = ["x" * 32, *proof[1:]]
    assert not verify_inclusion(leaves[2], 2, 5, text_element, root)
    for index, size in ((5, 5), (6, 5), (-1, 5), (2, -5), (0, 0), (-1, -1)):
        assert not verify_inclusion(leaves[2], index, size, proof, root)
    assert not verify_inclusion(leaves[0], 0, 1, [], root_of(1)[:16])


def test_consistency_verifier_rejects_malformed_input_without_raising() -> None:
    proof = consistency_proof(LEAVES[:7], 3)
    old_root, new_root = root_of(3), root_of(7)
    assert verify_consistency(3, 7, old_root, new_root, proof)
    for bad in (b"", old_root[:31], old_root + b"\x00"):
        assert not verify_consistency(3, 7, bad, new_root, proof)
        assert not verify_consistency(3, 7, old_root, bad, proof)
        assert not verify_consistency(3, 7, old_root, new_root, [bad, *proof[1:]])
        assert not verify_consistency(3, 3, bad, bad, [])
    for old, new in ((7, 3), (-1, 7), (3, -7), (-3, -1), (8, 7)):
        assert not verify_consistency(old, new, old_root, new_root, proof)


def test_generators_refuse_positions_outside_the_tree() -> None:
    leaves = LEAVES[:4]
    for index in (-1, 4, 10):
        with pytest.raises(ValueError, match="outside"):
            inclusion_proof(leaves, index)
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof([], 0)
    for old in (-1, 5):
        with pytest.raises(ValueError, match="outside"):
            consistency_proof(leaves, old)
    assert consistency_proof(leaves, 0) == []
    assert consistency_proof(leaves, 4) == []
    assert consistency_proof([], 0) == []


def test_large_tree_proofs_verify() -> None:
    leaves = [i.to_bytes(4, "big") for i in range(100_003)]
    root = merkle_root(leaves)
    for index in (0, 65_536, 100_002):
        assert verify_inclusion(
            leaves[index], index, len(leaves), inclusion_proof(leaves, index), root
        )
    old = 70_001
    proof = consistency_proof(leaves, old)
    assert verify_consistency(old, len(leaves), merkle_root(leaves[:old]), root, proof)


# --- Canonical JSON --------------------------------------------------------------------------


def test_canonical_json_is_independent_of_key_order_and_compact() -> None:
    first = canonical_json({"b": [1, 2.5, None], "a": {"y": True, "x": "z"}})
    second = canonical_json({"a": {"x": "z", "y": True}, "b": [1, 2.5, None]})
    assert first == second == b'{"a":{"x":"z","y":true},"b":[1,2.5,null]}'


def test_canonical_json_keeps_text_as_utf8() -> None:
    assert canonical_json({"model": "réseau ✓"}) == '{"model":"réseau ✓"}'.encode()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_canonical_json_refuses_non_json_numbers(value: float) -> None:
    with pytest.raises(ValueError):
        canonical_json({"loss": value})
