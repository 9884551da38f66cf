"""The reranker step with a tiny randomly initialised cross-encoder saved to a temp dir."""

from __future__ import annotations

import pytest

from rag.rerank import get_reranker
from rag.types import Hit

WORDS = ["cat", "dog", "mat", "sat", "wool", "warm", "the", "on", "a", "is"]


def build_cross_encoder(path, type_vocab_size: int = 2) -> str:
    """A tiny random BERT cross-encoder with 64 positions (FlagReranker's default is 512)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    vocab = path / "vocab.txt"  # a WordPiece vocab built here: nothing is downloaded
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=5 + len(WORDS), type_vocab_size=type_vocab_size, hidden_size=16,
                        num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                        max_position_embeddings=64, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(path)
    BertTokenizer(vocab_file=str(vocab)).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory):
    return build_cross_encoder(tmp_path_factory.mktemp("tiny-ce"))


@pytest.fixture(scope="module")
def broken_cross_encoder(tmp_path_factory):
    """Loads fine, fails at run time: one segment type, but a (query, passage) pair has two."""
    return build_cross_encoder(tmp_path_factory.mktemp("broken-ce"), type_vocab_size=1)


@pytest.fixture(autouse=True)
def no_remembered_failures(monkeypatch):
    from rag import rerank

    monkeypatch.setattr(rerank, "_failures", {}, raising=False)


def _hits() -> list[Hit]:
    texts = ["the cat sat on the mat", "a dog is warm", "wool is warm", "the mat", "dog dog"]
    return [Hit(f"c{i}", f"s{i}", "t", i, t, 1.0 - i / 10) for i, t in enumerate(texts)]


def test_reranker_orders_by_cross_encoder_scores(tiny_cross_encoder, monkeypatch):
    monkeypatch.setenv("AGENTDESK_RERANKER", tiny_cross_encoder)
    reranker, note = get_reranker()
    assert note is None and reranker is not None
    hits = _hits()
    expected = reranker.scores("cat on mat", [h.text for h in hits[:4]])
    out = reranker.rerank("cat on mat", hits, depth=4)
    assert [h.score for h in out[:4]] == sorted(expected, reverse=True)
    assert sorted(h.chunk_id for h in out[:4]) == ["c0", "c1", "c2", "c3"]
    assert out[4].chunk_id == "c4" and out[4].score == hits[4].score  # below depth: unchanged


async def test_graph_step_uses_configured_reranker(tiny_cross_encoder, monkeypatch):
    from rag.search import Retriever

    monkeypatch.setenv("AGENTDESK_RERANKER", tiny_cross_encoder)
    hits, notes = await Retriever.rerank("cat", _hits())
    assert notes == [] and len(hits) == 5


def test_reranker_skipped_with_clear_note(monkeypatch, tmp_path):
    monkeypatch.delenv("AGENTDESK_RERANKER", raising=False)
    assert get_reranker() == (None, "reranker skipped: no weights configured (set AGENTDESK_RERANKER)")
    monkeypatch.setenv("AGENTDESK_RERANKER", str(tmp_path / "missing"))
    reranker, note = get_reranker()
    assert reranker is None and "no local weights" in note
    reranker, note = get_reranker("BAAI/some-reranker-not-in-cache")
    assert reranker is None and "no local weights" in note


LONG = [" ".join(["the cat sat on the mat"] * 30), " ".join(["wool is warm"] * 40), "dog dog"]


async def test_inputs_longer_than_the_position_table_are_cut_to_fit(tiny_cross_encoder,
                                                                    monkeypatch):
    """max_length was 512 for every model; with 64 positions a long passage ran past the table and
    FlagEmbedding failed with an AttributeError, which broke every search."""
    from rag.search import Retriever

    monkeypatch.setenv("AGENTDESK_RERANKER", tiny_cross_encoder)
    reranker, _ = get_reranker()
    hits = [Hit(f"c{i}", f"s{i}", "t", i, t, 1.0 - i / 10) for i, t in enumerate(LONG)]
    expected = reranker.scores("cat on mat", LONG)
    out, notes = await Retriever.rerank("cat on mat", hits)
    assert notes == [] and [h.score for h in out] == sorted(expected, reverse=True)
    assert reranker.model.max_length == 64


class _FixedRetriever:
    """Retriever.search over fixed BM25 / dense lists: no database."""

    def __new__(cls):
        from rag.search import Retriever

        class R(Retriever):
            async def snapshot(self):
                from types import SimpleNamespace
                return SimpleNamespace(mismatch=None)

            async def bm25(self, query, n=100, snap=None):
                return _hits()[:3]

            async def dense(self, query, n=100, snap=None):
                return list(reversed(_hits()))

        return R()


async def test_a_reranker_failing_at_run_time_leaves_search_in_fused_order(broken_cross_encoder,
                                                                           monkeypatch):
    from rag import rerank
    from rag.search import Retriever

    monkeypatch.setenv("AGENTDESK_RERANKER", broken_cross_encoder)
    reranker, note = get_reranker()
    assert reranker is not None and note is None  # it loads
    r = _FixedRetriever()
    fused = Retriever.fuse(await r.bm25("q"), await r.dense("q"))
    res = await r.search("cat on the mat", k=5)
    assert [h.chunk_id for h in res.hits] == [h.chunk_id for h in fused[:5]]
    assert [h.score for h in res.hits] == [h.score for h in fused[:5]]
    assert len(res.notes) == 1
    assert res.notes[0].startswith("reranker failed (IndexError: ")
    assert res.notes[0].endswith("; results in fused order")

    # The failure is remembered: the next searches do not run the model again for a while.
    calls = []
    monkeypatch.setattr(rerank.Reranker, "rerank", lambda *a, **k: calls.append(a) or [])
    again = await r.search("cat", k=5)
    assert calls == [] and again.notes == res.notes and len(again.hits) == 5
    monkeypatch.setattr(rerank, "FAILURE_TTL", 0.0)  # once it expires, it is tried again
    await r.search("cat", k=5)
    assert len(calls) == 1


def test_a_load_failure_is_not_retried_on_every_query(tmp_path, monkeypatch):
    from rag import rerank

    (tmp_path / "config.json").write_text("{not json")
    monkeypatch.setenv("AGENTDESK_RERANKER", str(tmp_path))
    loads = []
    real = rerank._load
    monkeypatch.setattr(rerank, "_load", lambda name: loads.append(name) or real(name))
    for _ in range(3):
        reranker, note = get_reranker()
        assert reranker is None and "failed to load" in note
    assert len(loads) == 1


def test_max_length_follows_the_position_table():
    from types import SimpleNamespace as C

    from rag.rerank import max_length

    assert max_length(None) == 512
    assert max_length(C(max_position_embeddings=64, model_type="bert")) == 64
    assert max_length(C(max_position_embeddings=2048, model_type="bert")) == 512
    # XLM-RoBERTa (bge-reranker): 514 positions, of which 2 sit before the first token
    xlmr = C(max_position_embeddings=514, model_type="xlm-roberta", pad_token_id=1)
    assert max_length(xlmr) == 512
    assert max_length(C(max_position_embeddings=130, model_type="roberta", pad_token_id=1)) == 128
