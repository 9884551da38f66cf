"""The chunk store in Postgres: documents, chunks, embeddings; pgvector HNSW when available.

With the `vector` extension (the embedded pgserver has it) embeddings are `vector(dim)` with an
HNSW cosine index and dense search runs in SQL. Without it they are `real[]` and dense search is
exact in process (rag.search loads them once per store version). Which one a table uses is fixed
when it is created and read back from the catalog afterwards.

The store version is a counter row in `rag_meta` (key 'version'). Every transaction that changes
rag_chunks or rag_documents increments it as its last statement (`bump_version`), so the row lock
orders the increments by commit: a reader that sees the same number sees the same chunks. (The
old key, count(*) and max(updated_at), could stay the same across a replacement: updated_at is
the insert time, not the commit time, so a slower transaction could commit an older timestamp.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg

from rag.types import Chunk, Document

LOCK_ID = 716254  # advisory lock: concurrent starters don't race on CREATE
EF_SEARCH = 100  # HNSW candidate list; >= the fusion depth so recall at 100 holds


def vector_literal(vec: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vec.tolist()) + "]"


def _schema(vector: bool, dim: int) -> str:
    emb = f"vector({dim})" if vector else "real[]"
    hnsw = ("CREATE INDEX IF NOT EXISTS rag_chunks_hnsw ON rag_chunks "
            "USING hnsw (embedding vector_cosine_ops);") if vector else ""
    return f"""
    CREATE TABLE IF NOT EXISTS rag_documents (
        source       text PRIMARY KEY,
        title        text NOT NULL,
        content_hash text NOT NULL,
        chunks       int  NOT NULL,
        updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE TABLE IF NOT EXISTS rag_chunks (
        chunk_id   text PRIMARY KEY,
        source     text NOT NULL REFERENCES rag_documents (source) ON DELETE CASCADE,
        title      text NOT NULL,
        position   int  NOT NULL,
        headings   text[] NOT NULL DEFAULT '{{}}',
        text       text NOT NULL,
        embedding  {emb} NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX IF NOT EXISTS rag_chunks_source ON rag_chunks (source);
    CREATE TABLE IF NOT EXISTS rag_meta (key text PRIMARY KEY, value text NOT NULL);
    INSERT INTO rag_meta (key, value) VALUES ('version', '0') ON CONFLICT (key) DO NOTHING;
    {hnsw}
    """


def ensure_schema(conn: psycopg.Connection, dim: int) -> bool:
    """Create the tables if needed; return True when embeddings are pgvector columns."""
    with conn.transaction():
        conn.execute(f"SELECT pg_advisory_xact_lock({LOCK_ID})")
        vector = uses_pgvector(conn)
        if vector is None:  # no table yet: pick the layout from what the server offers
            available = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
            if available:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            vector = bool(available)
        for stmt in filter(str.strip, _schema(vector, dim).split(";")):
            conn.execute(stmt, prepare=False)  # DDL: one statement per call, never prepared
    return vector


class EncoderMismatch(RuntimeError):
    """The store's embeddings come from another encoder: the two vector spaces cannot be mixed."""

    def __init__(self, stored: str, current: str) -> None:
        super().__init__(
            f"the chunk store was embedded with {stored}, but the encoder now is {current} "
            "(AGENTDESK_ENCODER): vectors of two models cannot be compared. Set AGENTDESK_ENCODER back, "
            "or rebuild the store with `agentdesk ingest --reset PATH...` (every document again).")
        self.stored, self.current = stored, current


def encoder_id(encoder: Any) -> str:
    """What makes two embeddings comparable: the model (its backend is only a speed choice)."""
    return f"{encoder.name} ({encoder.dim} dims)"


_ENCODER_SQL = "SELECT value FROM rag_meta WHERE key = 'encoder'"


def claim_encoder(conn: psycopg.Connection, current: str) -> None:
    """Record `current` as the store's encoder; EncoderMismatch if chunks of another are stored.
    A store from before this record holds what the encoder of its first ingest made; that was
    the bundled MiniLM unless AGENTDESK_ENCODER said otherwise, so it is taken to be `current`."""
    with conn.transaction():
        conn.execute(f"SELECT pg_advisory_xact_lock({LOCK_ID})")
        row = conn.execute(_ENCODER_SQL).fetchone()
        stored = None if row is None else _first(row)
        has_chunks = conn.execute("SELECT EXISTS (SELECT 1 FROM rag_chunks) AS e").fetchone()
        if stored is not None and stored != current and _first(has_chunks):
            raise EncoderMismatch(stored, current)
        conn.execute("INSERT INTO rag_meta (key, value) VALUES ('encoder', %s) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (current,))


async def async_stored_encoder(conn: psycopg.AsyncConnection) -> str | None:
    try:
        row = await (await conn.execute(_ENCODER_SQL)).fetchone()
    except psycopg.errors.UndefinedTable:  # a store from before the record: no mismatch known
        return None
    return None if row is None else _first(row)


META_TABLE_SQL = "CREATE TABLE IF NOT EXISTS rag_meta (key text PRIMARY KEY, value text NOT NULL)"
# The last statement of every transaction that writes rag_chunks / rag_documents. An upsert, so a
# store whose rag_meta predates the counter gets the row; the row lock makes a concurrent writer
# wait for this commit and then add to the committed value.
BUMP_VERSION_SQL = ("INSERT INTO rag_meta (key, value) VALUES ('version', '1') ON CONFLICT (key) "
                    "DO UPDATE SET value = (rag_meta.value::bigint + 1)::text")


def bump_version(conn: psycopg.Connection) -> None:
    conn.execute(BUMP_VERSION_SQL)


def drop_store(conn: psycopg.Connection) -> None:
    """`agentdesk ingest --reset`: every document, chunk and the encoder record, gone. The version
    counter stays (and goes up): a search process never takes the rebuilt store for the old one."""
    with conn.transaction():
        conn.execute(f"SELECT pg_advisory_xact_lock({LOCK_ID})")
        for table in ("rag_chunks", "rag_documents"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(META_TABLE_SQL)
        conn.execute("DELETE FROM rag_meta WHERE key <> 'version'")
        bump_version(conn)


def uses_pgvector(conn: psycopg.Connection) -> bool | None:
    """True/False for an existing rag_chunks table (vector vs real[]), None if there is none."""
    row = conn.execute(
        "SELECT udt_name FROM information_schema.columns WHERE table_name = 'rag_chunks' "
        "AND column_name = 'embedding' AND table_schema = current_schema()").fetchone()
    return None if row is None else _first(row) == "vector"


def _first(row: Any) -> Any:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def document_hash(conn: psycopg.Connection, source: str) -> str | None:
    row = conn.execute("SELECT content_hash FROM rag_documents WHERE source = %s",
                       (source,)).fetchone()
    return None if row is None else _first(row)


def replace_document(conn: psycopg.Connection, doc: Document, chunks: Sequence[Chunk],
                     embeddings: np.ndarray, vector: bool) -> None:
    """Swap a document's chunks atomically: readers see the old or the new version, never both."""
    cast = "%s::vector" if vector else "%s::real[]"
    rows = [(c.chunk_id, c.source, c.title, c.position, c.headings, c.text,
             vector_literal(e) if vector else e.tolist()) for c, e in zip(chunks, embeddings)]
    with conn.transaction():
        conn.execute("DELETE FROM rag_documents WHERE source = %s", (doc.source,))
        conn.execute("INSERT INTO rag_documents (source, title, content_hash, chunks) "
                     "VALUES (%s, %s, %s, %s)",
                     (doc.source, doc.title, doc.content_hash, len(chunks)))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO rag_chunks (chunk_id, source, title, position, headings,"
                            f" text, embedding) VALUES (%s, %s, %s, %s, %s, %s, {cast})", rows)
        bump_version(conn)  # last: the row lock is held only from here to the commit


# --- async reads used by rag.search -------------------------------------------------------

VERSION_SQL = "SELECT value AS v FROM rag_meta WHERE key = 'version'"
# A store not written since the counter came in (no rag_meta, or no row yet): the old key.
LEGACY_VERSION_SQL = "SELECT count(*) AS n, max(updated_at) AS at FROM rag_chunks"
CHUNKS_SQL = ("SELECT chunk_id, source, title, position, headings, text FROM rag_chunks "
              "ORDER BY source, position")
CHUNKS_WITH_EMBEDDINGS_SQL = ("SELECT chunk_id, source, title, position, headings, text, "
                              "embedding FROM rag_chunks ORDER BY source, position")


async def async_uses_pgvector(conn: psycopg.AsyncConnection) -> bool | None:
    cur = await conn.execute(
        "SELECT udt_name FROM information_schema.columns WHERE table_name = 'rag_chunks' "
        "AND column_name = 'embedding' AND table_schema = current_schema()")
    row = await cur.fetchone()
    return None if row is None else _first(row) == "vector"


async def hnsw_search(conn: psycopg.AsyncConnection, query_vec: np.ndarray,
                      k: int) -> list[dict[str, Any]]:
    lit = vector_literal(query_vec)
    async with conn.transaction():  # SET LOCAL must not leak into the pooled connection
        await conn.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, k)}")
        cur = await conn.execute(
            "SELECT chunk_id, source, title, position, headings, text, 1 - (embedding <=> %s::vector) "
            "AS score FROM rag_chunks ORDER BY embedding <=> %s::vector LIMIT %s", (lit, lit, k))
        return [dict(r) for r in await cur.fetchall()]


async def delete_source(source: str) -> int:
    """Delete one document and its chunks from the app's store; returns the chunks removed."""
    from serving.db import app_pool

    pool = await app_pool()
    async with pool.connection() as conn:
        if await async_uses_pgvector(conn) is None:
            return 0
        async with conn.transaction():
            cur = await conn.execute("DELETE FROM rag_chunks WHERE source = %s", (source,))
            removed = cur.rowcount
            cur = await conn.execute("DELETE FROM rag_documents WHERE source = %s", (source,))
            has_meta = await (await conn.execute(
                "SELECT to_regclass('rag_meta') IS NOT NULL AS e")).fetchone()
            if (removed or cur.rowcount) and _first(has_meta):
                await conn.execute(BUMP_VERSION_SQL)
        return removed
