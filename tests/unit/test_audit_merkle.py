"""RFC 6962 Merkle tree: the published CT test vectors, then properties of every proof."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from teranga.audit import merkle

# The Certificate Transparency reference leaves and roots used by transparency-dev/merkle
# (testonly/constants.go) and Chromium's merkle_tree tests.
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
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
CT_CONSISTENCY = {
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
HASHES = [merkle.leaf_hash(x) for x in CT_LEAVES]


def test_roots_match_the_rfc_6962_vectors() -> None:
    for n in range(len(CT_LEAVES) + 1):
        assert merkle.root(HASHES[:n]).hex() == CT_ROOTS[n], n


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert merkle.leaf_hash(b"").hex() == CT_ROOTS[1]
    assert merkle.node_hash(HASHES[0], HASHES[1]).hex() == CT_ROOTS[2]
    assert merkle.leaf_hash(HASHES[0] + HASHES[1]) != merkle.node_hash(HASHES[0], HASHES[1])


def test_inclusion_vectors() -> None:
    for (index, size), want in CT_INCLUSION.items():
        proof = merkle.inclusion_proof(index, HASHES[:size])
        assert [p.hex() for p in proof] == want
        root = bytes.fromhex(CT_ROOTS[size])
        assert merkle.verify_inclusion(index, size, HASHES[index], proof, root)


def test_consistency_vectors() -> None:
    for (m, n), want in CT_CONSISTENCY.items():
        proof = merkle.consistency_proof(m, n, HASHES)
        assert [p.hex() for p in proof] == want, (m, n)
        first, second = bytes.fromhex(CT_ROOTS[m]), bytes.fromhex(CT_ROOTS[n])
        assert merkle.verify_consistency(m, n, first, second, proof)
        assert not merkle.verify_consistency(m, n, second, first, proof)


def test_frontier_extends_like_a_full_recomputation() -> None:
    frontier: list[bytes] = []
    for i, h in enumerate(HASHES):
        frontier = merkle.append(frontier, i, h)
        assert merkle.frontier_root(frontier).hex() == CT_ROOTS[i + 1]
        assert len(frontier) == bin(i + 1).count("1")


leaf_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=70).map(
    lambda xs: [merkle.leaf_hash(x + i.to_bytes(2, "big")) for i, x in enumerate(xs)]
)


@given(leaf_lists, st.data())
def test_every_inclusion_proof_verifies_and_a_changed_leaf_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    n = len(leaves)
    index = data.draw(st.integers(0, n - 1))
    root = merkle.root(leaves)
    proof = merkle.inclusion_proof(index, leaves)
    assert merkle.verify_inclusion(index, n, leaves[index], proof, root)
    assert not merkle.verify_inclusion(index, n, merkle.leaf_hash(b"forged"), proof, root)
    if n > 1:
        other = data.draw(st.integers(0, n - 1).filter(lambda i: i != index))
        assert not merkle.verify_inclusion(other, n, leaves[index], proof, root)
        forged = list(leaves)
        forged[other] = merkle.leaf_hash(b"forged")
        assert not merkle.verify_inclusion(index, n, leaves[index], proof, merkle.root(forged))


@given(leaf_lists, st.data())
def test_every_consistency_proof_verifies_and_a_changed_leaf_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    n = len(leaves)
    m = data.draw(st.integers(0, n))
    first, second = merkle.root(leaves[:m]), merkle.root(leaves)
    proof = merkle.consistency_proof(m, n, leaves)
    assert merkle.verify_consistency(m, n, first, second, proof)
    if m >= 1:
        # A history rewritten inside the first m leaves no longer extends the witnessed tree.
        changed = data.draw(st.integers(0, m - 1))
        forged = list(leaves)
        forged[changed] = merkle.leaf_hash(b"forged")
        forged_proof = merkle.consistency_proof(m, n, forged)
        assert not merkle.verify_consistency(m, n, first, merkle.root(forged), forged_proof)
        if m < n:
            assert not merkle.verify_consistency(m, n, first, second, proof[1:])
