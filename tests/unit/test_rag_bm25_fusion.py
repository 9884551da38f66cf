import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from rag.bm25 import BM25Index, tokenize
from rag.fusion import hybrid, normalize, rrf, weighted

DOCS = ["The cat sat on the mat.", "Dogs and cats are friends.", "A mat made of wool.",
        "Cats chase mice; mice flee cats.", "Nothing relevant here at all.",
        "Wool socks keep feet warm in winter."]


def test_tokenizer_stems_and_drops_stop_words():
    assert tokenize("The cats are Running to the MAT") == ["cat", "run", "mat"]


@pytest.mark.parametrize("query", ["cat mat", "cats chasing mice mice", "wool", "unknown word"])
def test_scores_equal_rank_bm25(query):
    toks = [tokenize(d) for d in DOCS]
    ours = BM25Index(toks).scores(tokenize(query))
    ref = BM25Okapi(toks).get_scores(tokenize(query))
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def test_negative_idf_gets_rank_bm25_epsilon_floor():
    toks = [tokenize(d) for d in ["cat dog", "cat bird", "cat fish"]]  # "cat" df > N/2
    np.testing.assert_allclose(BM25Index(toks).scores(["cat"]),
                               BM25Okapi(toks).get_scores(["cat"]), rtol=1e-5)


def test_search_returns_positive_top_k():
    idx = BM25Index([tokenize(d) for d in DOCS])
    hits = idx.search("mice wool", 10)
    assert [i for i, _ in hits][:1] == [3] and all(s > 0 for _, s in hits)
    assert {i for i, _ in hits} == {2, 3, 5}  # zero-score documents are not returned
    assert BM25Index([]).search("x", 3) == []


def test_rrf_matches_formula():
    a = [("x", 9.0), ("y", 5.0), ("z", 1.0)]
    b = [("y", 0.9), ("w", 0.8)]
    out = dict(rrf([a, b], k=60))
    assert out["y"] == pytest.approx(1 / 62 + 1 / 61)
    assert out["x"] == pytest.approx(1 / 61)
    assert out["w"] == pytest.approx(1 / 62)
    assert [i for i, _ in rrf([a, b])][0] == "y"


def test_weighted_fusion_normalises_and_floors_missing():
    a = [("x", 10.0), ("y", 0.0)]
    b = [("y", 0.5), ("z", 0.3)]
    out = dict(weighted([a, b], [0.5, 0.5], "minmax"))
    assert out == pytest.approx({"x": 0.5, "y": 0.5, "z": 0.0})
    z = normalize(np.array([1.0, 2.0, 3.0]), "zscore")
    assert z.mean() == pytest.approx(0) and z.std() == pytest.approx(1)
    assert [i for i, _ in hybrid(a, b, method="rrf")] == [i for i, _ in rrf([a, b])]
    assert weighted([[], b], [0.5, 0.5])[0][0] == "y"


# A rare query term (an error code, a name) in one chunk only: BM25 returns that chunk alone.
DENSE_20 = [(f"d{i}", 0.6 - i * 0.01) for i in range(20)] + [("exact", 0.30)]


@pytest.mark.parametrize("bm25", [[("exact", 7.3)], [("exact", 7.3), ("other", 7.3)]],
                         ids=["one hit", "tied hits"])
@pytest.mark.parametrize("norm", ["minmax", "zscore"])
def test_a_degenerate_list_still_credits_its_hits(bm25, norm):
    """Before, min-max gave a one-hit (or all-tied) list 1.0 for its hits AND for every candidate
    it did not return (z-score: 0.0 for both): the one chunk with the rare term came 21st of 21."""
    if norm == "minmax":  # the production norm: the BM25 credit lifts it to the top
        assert [i for i, _ in hybrid(bm25, DENSE_20, norm=norm)][0] == "exact"
    scores = dict(weighted([bm25, DENSE_20], [1.0, 0.0], norm))  # the BM25 list alone
    assert scores["exact"] == 1.0 and scores["d0"] == 0.0 and scores["d19"] == 0.0
    assert scores.get("other", 1.0) == 1.0
    np.testing.assert_array_equal(normalize(np.array([7.3, 7.3]), norm), [1.0, 1.0])


def _old_weighted(rankings, weights, method):
    """The fusion as evaluated in docs/rag.md, written out, for lists with >= 2 distinct scores."""
    ids = list(dict.fromkeys(i for r in rankings for i, _ in r))
    total = dict.fromkeys(ids, 0.0)
    for ranking, w in zip(rankings, weights):
        v = np.array([s for _, s in ranking])
        if method == "minmax":
            norm = (v - v.min()) / (v.max() - v.min())
        else:
            norm = (v - v.mean()) / v.std()
        got = dict(zip([i for i, _ in ranking], norm))
        for i in ids:
            total[i] += w * got.get(i, norm.min())
    return total


@pytest.mark.parametrize("norm", ["minmax", "zscore"])
def test_fused_scores_of_normal_lists_are_unchanged(norm):
    rng = np.random.default_rng(7)
    for _ in range(50):
        pool = [f"c{i}" for i in range(60)]
        bm25 = sorted(zip(rng.choice(pool, 30, replace=False).tolist(),
                          rng.gamma(2.0, 3.0, 30).tolist()), key=lambda p: -p[1])
        dense = sorted(zip(rng.choice(pool, 40, replace=False).tolist(),
                           rng.uniform(-0.1, 0.9, 40).tolist()), key=lambda p: -p[1])
        expected = _old_weighted([bm25, dense], [0.55, 0.45], norm)
        assert dict(hybrid(bm25, dense, norm=norm)) == pytest.approx(expected, rel=1e-12, abs=1e-12)
