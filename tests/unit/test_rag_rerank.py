"""The reranker step with a tiny randomly initialised cross-encoder saved to a temp dir."""

from __future__ import annotations

import pytest

from rag.rerank import get_reranker
from rag.types import Hit

WORDS = ["cat", "dog", "mat", "sat", "wool", "warm", "the", "on", "a", "is"]


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory):
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    path = tmp_path_factory.mktemp("tiny-ce")
    vocab = path / "vocab.txt"  # a WordPiece vocab built here: nothing is downloaded
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=5 + len(WORDS), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64,
                        num_labels=1)
    BertForSequenceClassification(config).save_pretrained(path)
    BertTokenizer(vocab_file=str(vocab)).save_pretrained(path)
    return str(path)


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
