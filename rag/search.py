"""Hybrid search over the app's chunk store: the public API the research agent calls.

BM25 runs in process over a cached index of all chunks; dense runs in Postgres (pgvector HNSW) or
exactly in process (numpy) when the server has no pgvector. The cache is rebuilt when the store's
version counter (rag.store: bumped by every write, in commit order) changes, which one cheap query
checks per search. The two retrievers run concurrently, then weighted fusion (rag.fusion), then the
optional rerank; a rerank that fails returns the fused order with a note.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import psycopg
from psycopg_pool import AsyncConnectionPool

from rag import fusion, store
from rag.bm25 import BM25Index, tokenize
from rag.dense import DenseIndex, get_encoder
from rag.rerank import get_reranker, record_failure
from rag.types import Chunk, Hit, SearchResult

log = logging.getLogger(__name__)
EMPTY: tuple[Any, ...] = ("empty",)  # no tables yet: nothing ingested


@dataclass
class _Snapshot:
    version: tuple[Any, ...]
    chunks: list[Chunk]
    bm25: BM25Index
    vector: bool
    dense: DenseIndex | None  # only on the exact (no pgvector) path
    mismatch: str | None = None  # why dense search is off: the store's encoder is not ours


def _default_pool() -> Awaitable[AsyncConnectionPool]:
    from serving.db import app_pool

    return app_pool()


class Retriever:
    """Stateful per process: holds the cached index. Steps are public so the graph can use them."""

    def __init__(self, pool: Callable[[], Awaitable[AsyncConnectionPool]] = _default_pool) -> None:
        self._pool = pool
        self._snap: _Snapshot | None = None
        self._locks: dict[int, asyncio.Lock] = {}  # asyncio locks belong to one event loop

    async def snapshot(self) -> _Snapshot:
        """The cached index, rebuilt first if the store changed (one cheap query per call)."""
        pool = await self._pool()
        async with pool.connection() as conn:
            version = await self._version(conn)
            if self._snap is not None and self._snap.version == version:
                return self._snap
            lock = self._locks.setdefault(id(asyncio.get_running_loop()), asyncio.Lock())
            async with lock:
                if self._snap is None or self._snap.version != version:
                    vector = bool(await store.async_uses_pgvector(conn))
                    self._snap = await self._build(conn, version, vector)
            return self._snap

    @staticmethod
    async def _version(conn: Any) -> tuple[Any, ...]:
        """The store's version counter; the old (count, max(updated_at)) key for a store not
        written since the counter came in; EMPTY when there are no tables."""
        try:
            row = await (await conn.execute(store.VERSION_SQL)).fetchone()
            if row is not None:
                return ("v", row["v"])
        except psycopg.errors.UndefinedTable:
            pass
        try:
            row = await (await conn.execute(store.LEGACY_VERSION_SQL)).fetchone()
            return ("n", row["n"], row["at"])
        except psycopg.errors.UndefinedTable:  # nothing ingested yet
            return EMPTY

    async def _build(self, conn: Any, version: tuple[Any, ...], vector: bool) -> _Snapshot:
        # Exact path: embeddings come in the same statement as the chunks, so the two can't
        # drift apart if an ingest commits in between.
        sql = store.CHUNKS_SQL if vector else store.CHUNKS_WITH_EMBEDDINGS_SQL
        try:
            rows = [] if version == EMPTY else await (await conn.execute(sql)).fetchall()
        except psycopg.errors.UndefinedTable:  # mid `ingest --reset`: the tables are being rebuilt
            rows = []
        chunks = [Chunk(r["chunk_id"], r["source"], r["title"], r["position"],
                        list(r["headings"]), r["text"]) for r in rows]

        def index() -> BM25Index:  # tokenising thousands of chunks: off the event loop
            return BM25Index([tokenize(c.index_text) for c in chunks])

        bm25 = await asyncio.to_thread(index)
        stored, current = await store.async_stored_encoder(conn), store.encoder_id(get_encoder())
        if stored is not None and stored != current and chunks:
            # Another model's vectors: dense scores would be noise, and of another width an error.
            mismatch = (f"dense search is off: {store.EncoderMismatch(stored, current)} "
                        "These results come from BM25 alone.")
            return _Snapshot(version, chunks, bm25, vector, None, mismatch)
        dense = None
        if not vector and chunks:
            dense = DenseIndex(np.array([r["embedding"] for r in rows], dtype=np.float32))
        return _Snapshot(version, chunks, bm25, vector, dense)

    @staticmethod
    def _hit(c: Chunk, score: float) -> Hit:
        return Hit(c.chunk_id, c.source, c.title, c.position, c.text, score, c.headings)

    async def bm25(self, query: str, n: int = fusion.CANDIDATES,
                   snap: _Snapshot | None = None) -> list[Hit]:
        snap = snap or await self.snapshot()
        ranked = await asyncio.to_thread(snap.bm25.search, query, n)
        return [self._hit(snap.chunks[i], s) for i, s in ranked]

    async def dense(self, query: str, n: int = fusion.CANDIDATES,
                    snap: _Snapshot | None = None) -> list[Hit]:
        snap = snap or await self.snapshot()
        if not snap.chunks or snap.mismatch:
            return []
        vec = (await asyncio.to_thread(get_encoder().encode, [query]))[0]
        if snap.dense is not None:
            return [self._hit(snap.chunks[i], s) for i, s in snap.dense.search(vec, n)]
        pool = await self._pool()
        async with pool.connection() as conn:
            rows = await store.hnsw_search(conn, vec, n)
        return [Hit(r["chunk_id"], r["source"], r["title"], r["position"], r["text"],
                    float(r["score"]), list(r["headings"])) for r in rows]

    @staticmethod
    def fuse(bm25: list[Hit], dense: list[Hit]) -> list[Hit]:
        by_id = {h.chunk_id: h for h in [*dense, *bm25]}
        fused = fusion.hybrid([(h.chunk_id, h.score) for h in bm25],
                              [(h.chunk_id, h.score) for h in dense])
        return [replace(by_id[i], score=s) for i, s in fused]

    @staticmethod
    async def rerank(query: str, hits: list[Hit]) -> tuple[list[Hit], list[str]]:
        """(hits, notes). No reranker, or one that fails: the fused order and a note saying why."""
        reranker, note = get_reranker()
        if reranker is None:
            return hits, [note] if note else []
        try:
            return await asyncio.to_thread(reranker.rerank, query, hits), []
        except Exception as e:  # a model that loads but cannot score must not break search
            log.warning("reranker %s failed: %r", reranker.name, e)
            return hits, [record_failure(reranker.name, e)]

    async def search(self, query: str, k: int = 5) -> SearchResult:
        snap = await self.snapshot()
        bm25, dense = await asyncio.gather(self.bm25(query, snap=snap),
                                           self.dense(query, snap=snap))
        hits, notes = await self.rerank(query, self.fuse(bm25, dense))
        return SearchResult(hits[:k], [snap.mismatch, *notes] if snap.mismatch else notes)


_retriever = Retriever()


def retriever() -> Retriever:
    return _retriever


async def search(query: str, k: int = 5) -> SearchResult:
    """Top-k chunks for `query` from the app's store, best first, with notes (e.g. no reranker)."""
    return await _retriever.search(query, k)
