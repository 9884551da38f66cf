"""`agentdesk eval retrieval --json` on a tiny BEIR dataset written by the test."""

from __future__ import annotations

import json

import pytest

from evals import retrieval
from serving.cli import main

DOCS = {
    "d1": ("Kafka consumer lag", "Consumer lag grows when partitions are unbalanced."),
    "d2": ("Postgres vacuum", "A long transaction blocks vacuum and bloat grows."),
    "d3": ("Redis eviction", "The allkeys-lru policy evicts the least recently used keys."),
    "d4": ("Rollbacks", "Roll back a bad deploy with the previous image tag."),
    "d5": ("Disk alerts", "Brokers stop accepting writes when the disk is full."),
}
QUERIES = {"q1": "why is consumer lag growing", "q2": "what blocks vacuum",
           "q3": "undo a bad release", "q9": "a query with no qrels in this split"}
QRELS = [("q1", "d1", 1), ("q2", "d2", 2), ("q3", "d4", 1)]


def _beir(tmp_path):
    corpus, queries = tmp_path / "corpus", tmp_path / "queries"
    (queries / "qrels").mkdir(parents=True)
    corpus.mkdir()
    (corpus / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, (t, x) in DOCS.items()))
    (queries / "queries.jsonl").write_text("".join(
        json.dumps({"_id": i, "text": t}) + "\n" for i, t in QUERIES.items()))
    (queries / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in QRELS))
    return corpus, queries


def test_eval_retrieval_json_shape(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AGENTDESK_RERANKER", raising=False)
    corpus, queries = _beir(tmp_path)
    argv = ["eval", "retrieval", "--corpus", str(corpus), "--queries", str(queries),
            "--split", "test", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)  # exactly one JSON object on stdout
    assert out["dataset"] == "corpus" and out["queries"] == 3
    assert set(out["methods"]) == {"bm25", "dense", "hybrid", "hybrid_rerank"}
    for name, m in out["methods"].items():
        assert {"ndcg@10", "recall@100", "mrr@10", "p50_ms", "p95_ms"} <= set(m), name
        assert 0 <= m["ndcg@10"] <= 1 and m["p95_ms"] >= m["p50_ms"] >= 0
    assert out["methods"]["hybrid"]["recall@100"] == 1.0
    rr = out["methods"]["hybrid_rerank"]
    assert rr["reranked"] is False and "reranker skipped" in rr["note"]
    assert {"docs": 5, "chunks": 5} == {k: out["index"][k] for k in ("docs", "chunks")}
    assert out["index"]["encode_docs_per_s"] > 0 and out["index"]["encode_cached"] is False

    assert main(argv[:-1] + ["--methods", "bm25", "--json"]) == 0  # second run: cache hit
    again = json.loads(capsys.readouterr().out)
    assert again["index"]["encode_cached"] is True and list(again["methods"]) == ["bm25"]
    assert again["methods"]["bm25"]["ndcg@10"] == out["methods"]["bm25"]["ndcg@10"]
    assert main(argv[:-1] + ["--methods", "nope"]) == 2


def test_eval_retrieval_bad_folders_get_a_clear_error(tmp_path, capsys):
    corpus, queries = _beir(tmp_path)
    base = ["eval", "retrieval", "--corpus", str(corpus), "--queries", str(queries), "--json"]
    assert main([*base, "--split", "dev"]) == 2
    assert "dev.tsv not found; splits here: test" in capsys.readouterr().err
    assert main(["eval", "retrieval", "--corpus", str(tmp_path / "nope"), "--queries", str(queries),
                 "--split", "test", "--json"]) == 2
    assert "corpus.jsonl not found" in capsys.readouterr().err
    (corpus / "corpus.jsonl").write_text('{"_id": "d1", "text": "ok"}\n{broken\n')
    assert main([*base, "--split", "test"]) == 2
    err = capsys.readouterr()
    assert "corpus.jsonl:2: not JSON" in err.err and err.out == ""  # nothing half-written on stdout


@pytest.fixture
def no_indexing(monkeypatch):
    """Bad input must be refused before the corpus is indexed and encoded (minutes on real data)."""
    def bench(*_a, **_k):
        raise AssertionError("the corpus was indexed")
    monkeypatch.setattr(retrieval, "Bench", bench)


def _run(corpus, queries, *extra):
    return main(["eval", "retrieval", "--corpus", str(corpus), "--queries", str(queries),
                 "--split", "test", "--json", *extra])


@pytest.mark.parametrize("bad_line", ["q2\td2\n", "q2 0 d2 1\n", "q2\t0\td2\t1\n"])
def test_eval_retrieval_malformed_qrels_line_is_an_error(tmp_path, capsys, no_indexing, bad_line):
    """A 2-column line used to be skipped (its query vanished from the figures); TREC-style
    lines ended in "no query has a judgement", hiding that the format was the problem."""
    corpus, queries = _beir(tmp_path)
    qrels = queries / "qrels" / "test.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n" + bad_line)
    assert _run(corpus, queries) == 2
    err = capsys.readouterr()
    assert "test.tsv:3: expected query-id<TAB>corpus-id<TAB>score" in err.err and err.out == ""
    qrels.write_text("q1 0 d1 1\nq2 0 d2 2\n")  # a whole TREC file
    assert _run(corpus, queries) == 2
    assert "test.tsv:1: expected query-id<TAB>corpus-id<TAB>score" in capsys.readouterr().err


def test_eval_retrieval_qrels_that_are_not_utf8_name_the_line(tmp_path, capsys, no_indexing):
    corpus, queries = _beir(tmp_path)
    (queries / "qrels" / "test.tsv").write_bytes(b"query-id\tcorpus-id\tscore\nq1\td\xe91\t1\n")
    assert _run(corpus, queries) == 2
    assert "test.tsv:2: not UTF-8" in capsys.readouterr().err


def test_eval_retrieval_qrels_for_unknown_docs_and_queries(tmp_path, capsys, no_indexing):
    """Judged documents missing from the corpus were scored as misses without a word."""
    corpus, queries = _beir(tmp_path)
    (queries / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\tgone\t1\nq7\td3\t1\n")
    _, scored, qrels = retrieval.load_beir(corpus, queries, "test")
    err = capsys.readouterr().err
    assert "warning: 1 of 3 documents judged in" in err and "they count as misses" in err
    assert "warning: 1 of 4 queries judged in" in err and "they are not scored" in err
    assert set(scored) == {"q1", "q2", "q3"} and qrels["q3"] == {"gone": 1}  # kept and scored
    (queries / "qrels" / "test.tsv").write_text("q1\tx1\t1\nq2\tx2\t1\n")
    assert _run(corpus, queries) == 2
    err = capsys.readouterr()
    assert "none of the 2 documents judged in" in err.err and err.out == ""


def test_eval_retrieval_empty_corpus_is_an_error(tmp_path, capsys, no_indexing):
    """An empty corpus.jsonl used to report every metric as 0.0."""
    corpus, queries = _beir(tmp_path)
    (corpus / "corpus.jsonl").write_text("\n")
    assert _run(corpus, queries) == 2
    assert "corpus.jsonl has no documents" in capsys.readouterr().err


@pytest.mark.parametrize("methods", ["", " , "])
def test_eval_retrieval_empty_method_list_is_an_error(tmp_path, capsys, no_indexing, methods):
    """Used to index and encode the whole corpus, then print no figures."""
    corpus, queries = _beir(tmp_path)
    assert _run(corpus, queries, "--methods", methods) == 2
    err = capsys.readouterr()
    assert "error: --methods names no method; choose from bm25," in err.err and err.out == ""


@pytest.mark.parametrize("file, row, field", [
    ("corpus", {"_id": "d1", "title": "t", "text": 123}, "text"),
    ("corpus", {"_id": "d1", "title": ["a list"], "text": "ok"}, "title"),
    ("queries", {"_id": "q1", "text": ["a list"]}, "text"),
])
def test_eval_retrieval_non_string_text_is_an_error(tmp_path, capsys, no_indexing,
                                                    file, row, field):
    """Used to end in an AttributeError traceback."""
    corpus, queries = _beir(tmp_path)
    folder = corpus if file == "corpus" else queries
    (folder / f"{file}.jsonl").write_text(json.dumps(row) + "\n")
    assert _run(corpus, queries) == 2
    assert f'{file}.jsonl:1: "{field}" must be a string' in capsys.readouterr().err
