"""`agentdesk eval retrieval`: BM25 / dense / hybrid / hybrid_rerank on a BEIR-layout dataset.

Runs in process with the production code (rag.chunking, rag.bm25, rag.dense, rag.fusion,
rag.rerank); no database. Documents are chunked like ingested files; a document's score is its
best chunk's. Embeddings are cached under data_dir/cache/embeddings by corpus hash, encoder and
chunking settings, so a second run does not re-encode. Progress goes to stderr, results to stdout.

`python -m evals.retrieval tune --corpus D --queries D --split train` sweeps the fusion weight and
normalisation (use a train split only; the chosen values are constants in rag/fusion.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from evals.jsonl import DatasetError, read_jsonl, text_lines
from rag import chunking, fusion
from rag.bm25 import BM25Index, tokenize
from rag.dense import MAX_SEQ_LENGTH, DenseIndex, get_encoder
from rag.rerank import get_reranker
from rag.types import Document, Hit, Section

ALL_METHODS = ("bm25", "bm25_rerank", "dense", "rrf", "hybrid", "hybrid_rerank")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


_LAYOUT = "a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv"


# Only these are read as text; a title may be null (some BEIR exports write it so).
_STRINGS = {"text": (str,), "title": (str, type(None))}
_QRELS_FORMAT = "query-id<TAB>corpus-id<TAB>score"


def _jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    rows = []
    for n, row in read_jsonl(path, _LAYOUT):
        if any(k not in row for k in required):
            raise DatasetError(f"{path}:{n}: each line needs {', '.join(required)}")
        for k, kinds in _STRINGS.items():
            if k in row and not isinstance(row[k], kinds):
                raise DatasetError(f'{path}:{n}: "{k}" must be a string')
        rows.append(row)
    return rows


def _read_qrels(qrels_file: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for n, line in text_lines(qrels_file):
        parts = line.rstrip("\r\n").split("\t")
        # A short line used to be skipped (its query vanished) and a TREC file (spaces, 4
        # columns) ended in "no query has a judgement": name the line and the format instead.
        if len(parts) != 3:
            raise DatasetError(f"{qrels_file}:{n}: expected {_QRELS_FORMAT}, "
                               f"got {line.strip()[:80]!r}")
        if n == 1 and not parts[2].strip().lstrip("-").isdigit():
            continue  # header row
        try:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
        except ValueError:
            raise DatasetError(f"{qrels_file}:{n}: the score must be an integer, got {parts[2]!r}") from None
    return qrels


def _check_coverage(qrels: dict[str, dict[str, int]], doc_ids: set[str], query_ids: set[str],
                    qrels_file: Path, corpus_file: Path, queries_file: Path) -> None:
    """Judged documents missing from the corpus are scored as misses, which lowers every figure:
    warn with counts, and refuse when the corpus and the qrels share no document at all."""
    judged = {d for q in query_ids for d in qrels[q]}  # only the scored queries' judgements matter
    missing_docs = judged - doc_ids
    if missing_docs == judged:
        raise DatasetError(f"none of the {len(judged)} documents judged in {qrels_file} is in "
                           f"{corpus_file}; are they from the same dataset?")
    if missing_docs:
        _log(f"warning: {len(missing_docs)} of {len(judged)} documents judged in {qrels_file} "
             f"are not in {corpus_file}; they count as misses")
    missing_queries = set(qrels) - query_ids
    if missing_queries:
        _log(f"warning: {len(missing_queries)} of {len(qrels)} queries judged in {qrels_file} "
             f"are not in {queries_file}; they are not scored")


def load_beir(corpus_dir: Path, queries_dir: Path, split: str):
    corpus_file, queries_file = corpus_dir / "corpus.jsonl", queries_dir / "queries.jsonl"
    corpus = _jsonl(corpus_file, ("_id", "text"))
    if not corpus:
        raise DatasetError(f"{corpus_file} has no documents")
    queries = {str(q["_id"]): q["text"] for q in _jsonl(queries_file, ("_id", "text"))}
    qrels_file = queries_dir / "qrels" / f"{split}.tsv"
    if not qrels_file.is_file():
        found = sorted(p.stem for p in (queries_dir / "qrels").glob("*.tsv"))
        raise DatasetError(f"{qrels_file} not found; splits here: {', '.join(found) or 'none'}")
    qrels = _read_qrels(qrels_file)
    queries = {q: t for q, t in queries.items() if q in qrels}
    if not queries:
        raise DatasetError(f"no query in {queries_file} has a judgement in {qrels_file}")
    _check_coverage(qrels, {str(d["_id"]) for d in corpus}, set(queries), qrels_file, corpus_file,
                    queries_file)
    return corpus, queries, qrels


def ndcg_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], rels: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, r in rels.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    return next((1.0 / (i + 1) for i, d in enumerate(ranked[:k]) if rels.get(d, 0) > 0), 0.0)


class Bench:
    """The corpus indexed with production code; methods return doc ids, best first."""

    def __init__(self, corpus: list[dict], corpus_file: Path) -> None:
        self.chunks = []
        for d in corpus:
            text = d.get("text") or ""
            doc = Document(str(d["_id"]), d.get("title") or "", [Section([], text)],
                           hashlib.sha1(text.encode()).hexdigest())
            self.chunks.extend(chunking.chunk_document(doc))
        self.doc_of = [c.source for c in self.chunks]
        texts = [c.index_text for c in self.chunks]
        _log(f"bm25: indexing {len(texts)} chunks")
        self.bm25 = BM25Index([tokenize(t) for t in tqdm(texts, file=sys.stderr, desc="tokenize")])
        self.encoder = get_encoder()
        self.embeddings, self.docs_per_s, self.cached = self._embeddings(texts, corpus_file,
                                                                         len(corpus))
        self.dense = DenseIndex(self.embeddings)
        self.reranker, self.rerank_note = get_reranker()

    def _embeddings(self, texts: list[str], corpus_file: Path, n_docs: int):
        h = hashlib.sha1()
        with corpus_file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(f"{self.encoder.name}|{self.encoder.backend}|{MAX_SEQ_LENGTH}|{chunking.VERSION}|"
                 f"{chunking.MAX_WORDS}|{chunking.OVERLAP_WORDS}".encode())
        from serving.settings import get_settings

        cache = get_settings().data_dir / "cache" / "embeddings"
        npy, meta = cache / f"{h.hexdigest()[:24]}.npy", cache / f"{h.hexdigest()[:24]}.json"
        if npy.exists() and meta.exists():
            _log(f"dense: embeddings from cache {npy}")
            return np.load(npy), json.loads(meta.read_text())["encode_docs_per_s"], True
        _log(f"dense: encoding {len(texts)} chunks with {self.encoder.name} "
             f"({self.encoder.backend})")
        t0 = time.perf_counter()
        emb = self.encoder.encode(texts, progress=True)
        rate = n_docs / (time.perf_counter() - t0)  # documents (not chunks) per second
        cache.mkdir(parents=True, exist_ok=True)
        np.save(npy, emb)
        meta.write_text(json.dumps({"encode_docs_per_s": rate, "chunks": len(texts)}))
        return emb, rate, False

    def _chunk_ranking(self, ranked: list[tuple[int, float]]) -> list[tuple[str, float]]:
        return [(str(i), s) for i, s in ranked]

    def bm25_chunks(self, q: str, n: int = fusion.CANDIDATES):
        return self._chunk_ranking(self.bm25.search(q, n))

    def dense_chunks(self, q: str, n: int = fusion.CANDIDATES):
        return self._chunk_ranking(self.dense.search(self.encoder.encode([q])[0], n))

    def to_docs(self, ranked: list[tuple[str, float]]) -> list[str]:
        # A document ranks where its best chunk ranks.
        return list(dict.fromkeys(self.doc_of[int(i)] for i, _ in ranked))

    def rerank(self, q: str, ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
        hits = [Hit(i, "", "", 0, self.chunks[int(i)].index_text, s) for i, s in ranked]
        return [(h.chunk_id, h.score) for h in self.reranker.rerank(q, hits)]

    def method(self, name: str, dense_weight: float = fusion.DENSE_WEIGHT,
               norm: str = fusion.NORM) -> Callable[[str], list[str]]:
        deep = 2 * fusion.CANDIDATES  # chunks > docs: retrieve deeper so recall@100 is on docs
        if name == "bm25":
            return lambda q: self.to_docs(self.bm25_chunks(q, deep))
        if name == "dense":
            return lambda q: self.to_docs(self.dense_chunks(q, deep))
        if name == "rrf":
            return lambda q: self.to_docs(fusion.hybrid(self.bm25_chunks(q), self.dense_chunks(q),
                                                        method="rrf"))
        if name == "hybrid":
            return lambda q: self.to_docs(fusion.hybrid(self.bm25_chunks(q), self.dense_chunks(q),
                                                        dense_weight=dense_weight, norm=norm))
        if name in ("hybrid_rerank", "bm25_rerank"):
            base = self.method(name.removesuffix("_rerank"))
            if self.reranker is None:
                return base
            first = (lambda q: fusion.hybrid(self.bm25_chunks(q), self.dense_chunks(q))) \
                if name == "hybrid_rerank" else self.bm25_chunks
            return lambda q: self.to_docs(self.rerank(q, first(q)))
        raise ValueError(f"unknown method {name!r}; choose from {', '.join(ALL_METHODS)}")


def evaluate(fn: Callable[[str], list[str]], queries: dict[str, str],
             qrels: dict[str, dict[str, int]], desc: str) -> dict[str, float]:
    nd, rc, mr, ms = [], [], [], []
    for qid, text in tqdm(queries.items(), file=sys.stderr, desc=desc):
        t0 = time.perf_counter()
        ranked = fn(text)
        ms.append((time.perf_counter() - t0) * 1000)
        nd.append(ndcg_at(ranked, qrels[qid]))
        rc.append(recall_at(ranked, qrels[qid]))
        mr.append(mrr_at(ranked, qrels[qid]))
    return {"ndcg@10": round(float(np.mean(nd)), 4), "recall@100": round(float(np.mean(rc)), 4),
            "mrr@10": round(float(np.mean(mr)), 4),
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2)}


def run(corpus_dir: Path, queries_dir: Path, split: str, methods: list[str]) -> dict:
    corpus, queries, qrels = load_beir(corpus_dir, queries_dir, split)
    bench = Bench(corpus, corpus_dir / "corpus.jsonl")
    for q in list(queries.values())[:5]:  # warm caches (stemmer, ONNX session) before timing
        bench.method("hybrid")(q)
    out: dict = {"dataset": corpus_dir.resolve().name, "split": split, "queries": len(queries),
                 "methods": {}, "index": {"docs": len(corpus), "chunks": len(bench.chunks),
                                          "encode_docs_per_s": round(bench.docs_per_s, 1),
                                          "encode_cached": bench.cached,
                                          "encoder": f"{bench.encoder.name} "
                                                     f"({bench.encoder.backend})"},
                 "fusion": {"method": "weighted", "norm": fusion.NORM,
                            "dense_weight": fusion.DENSE_WEIGHT,
                            "candidates": fusion.CANDIDATES}}
    for m in methods:
        res = evaluate(bench.method(m), queries, qrels, m)
        if m.endswith("_rerank") and bench.reranker is None:
            # Reported with the un-reranked numbers so the shape stays stable; the note says so.
            res = {**res, "reranked": False,
                   "note": f"{bench.rerank_note}; figures are {m.removesuffix('_rerank')} "
                           "without rerank"}
        out["methods"][m] = res
    return out


def main(args: argparse.Namespace) -> int:
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in ALL_METHODS]
    if bad or not methods:  # checked before the corpus is indexed and encoded, which takes minutes
        what = f"unknown method(s): {', '.join(bad)}" if bad else "--methods names no method"
        _log(f"error: {what}; choose from {', '.join(ALL_METHODS)}")
        return 2
    try:
        result = run(Path(args.corpus), Path(args.queries), args.split, methods)
    except DatasetError as exc:
        _log(f"error: {exc}")
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['dataset']} ({args.split}, {result['queries']} queries)")
        for m, r in result["methods"].items():
            print(f"  {m:14s} " + "  ".join(f"{k}={v}" for k, v in r.items()))
        print(f"  index: {result['index']}")
    return 0


def tune(corpus_dir: Path, queries_dir: Path, split: str) -> dict:
    """Sweep dense weight x normalisation for weighted fusion; train split only."""
    corpus, queries, qrels = load_beir(corpus_dir, queries_dir, split)
    bench = Bench(corpus, corpus_dir / "corpus.jsonl")
    pre = {qid: (bench.bm25_chunks(t), bench.dense_chunks(t))
           for qid, t in tqdm(queries.items(), file=sys.stderr, desc="retrieve")}
    table: dict[str, float] = {}
    for norm in ("minmax", "zscore"):
        for w in np.round(np.arange(0.2, 0.81, 0.05), 2):
            nd = [ndcg_at(bench.to_docs(fusion.weighted([b, d], [1 - w, w], norm)), qrels[q])
                  for q, (b, d) in pre.items()]
            table[f"{norm}@{w}"] = round(float(np.mean(nd)), 4)
    nd = [ndcg_at(bench.to_docs(fusion.rrf([b, d])), qrels[q]) for q, (b, d) in pre.items()]
    table["rrf"] = round(float(np.mean(nd)), 4)
    best = max((k for k in table if k != "rrf"), key=table.get)
    return {"best": best, "ndcg@10": table[best], "sweep": table}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["tune"])
    p.add_argument("--corpus", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--split", default="train")
    a = p.parse_args()
    print(json.dumps(tune(Path(a.corpus), Path(a.queries), a.split), indent=1))
