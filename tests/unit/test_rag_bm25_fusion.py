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
