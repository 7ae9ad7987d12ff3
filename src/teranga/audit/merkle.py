"""RFC 6962 Merkle tree hashing and proofs (§2.1), pure: no database, no clock.

Everything works on *leaf hashes* (``leaf_hash(entry_bytes)``), so callers store 32 bytes
per leaf and never re-read entries to build a proof. Indexes are 0-based leaf indexes;
sizes are leaf counts. Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 (the same
algorithms as transparency-dev/merkle), generation follows RFC 6962's PATH and PROOF.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes, in one pass (a compact range folded from the right)."""
    frontier: list[bytes] = []
    for i, h in enumerate(leaves):
        frontier = append(frontier, i, h)
    return frontier_root(frontier)


def append(frontier: list[bytes], size: int, leaf: bytes) -> list[bytes]:
    """Add leaf number ``size`` to a compact range of ``size`` leaves.

    The frontier holds the roots of the perfect subtrees that make up the tree, largest
    (leftmost) first, one per set bit of ``size``; it lets the integrator extend the tree
    without re-reading earlier leaves.
    """
    out = [*frontier, leaf]
    n = size
    while n & 1:  # each trailing one bit is a subtree of the new leaf's size: merge it
        right = out.pop()
        out[-1] = node_hash(out[-1], right)
        n >>= 1
    return out


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    if not frontier:
        return EMPTY_ROOT
    r = frontier[-1]
    for h in reversed(frontier[:-1]):
        r = node_hash(h, r)
    return r


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the sibling hashes from leaf ``index`` up to the root."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} outside a tree of {n}")
    return _path(index, leaves)


def _path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, d[:k]), root(d[k:])]
    return [*_path(m - k, d[k:]), root(d[:k])]


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def consistency_proof(m: int, n: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]): shows the tree of the first ``m`` leaves is a prefix of ``n``."""
    if not 0 <= m <= n <= len(leaves):
        raise ValueError(f"no consistency proof from {m} to {n} over {len(leaves)} leaves")
    if m in (0, n):
        return []
    return _subproof(m, leaves[:n], True)


def _subproof(m: int, d: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if whole else [root(d)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, d[:k], whole), root(d[k:])]
    return [*_subproof(m - k, d[k:], False), root(d[:k])]


def verify_consistency(
    m: int, n: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    if not 0 <= m <= n:
        return False
    if m == n:
        return not proof and first_root == second_root
    if m == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof:
        return False
    path = list(proof)
    if m & (m - 1) == 0:  # m is a power of two: its root is a node of the larger tree
        path.insert(0, first_root)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
