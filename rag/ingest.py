"""`agentdesk ingest PATH...`: load, chunk, embed and store files; idempotent by content hash.

An unchanged file (same bytes, same chunking version) is skipped without encoding; an edited file
has its old chunks replaced in one transaction; a file that fails to load is reported and the
rest of the batch still goes in. Progress is a tqdm bar on stderr; the summary gives chunks/s.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from tqdm import tqdm

from rag import chunking, store
from rag.dense import get_encoder
from rag.loaders import LoaderError, load, supported
from rag.types import Chunk, Document

log = logging.getLogger(__name__)
ENCODE_BATCH = 128  # chunks gathered across files before one encode call
# What one document's content can make the store refuse (NUL or a lone surrogate in a PDF's
# text or title, a value too long for an index); the batch goes on. A lost connection is an
# OperationalError and still stops the run.
BAD_DOCUMENT = (psycopg.DataError, psycopg.IntegrityError, psycopg.errors.ProgramLimitExceeded,
                UnicodeEncodeError)


@dataclass
class IngestReport:
    files: int = 0  # supported files seen
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    chunks: int = 0  # chunks written in this run
    seconds: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return (f"{self.files} files: {self.added} added, {self.replaced} replaced, "
                f"{self.unchanged} unchanged, {len(self.skipped)} skipped; {self.chunks} chunks "
                f"in {self.seconds:.1f} s ({self.chunks_per_s:.1f} chunks/s)")


def iter_files(paths: Iterable[str | Path], report: IngestReport) -> Iterator[Path]:
    """Supported files under `paths` (folders recursively, sorted for a stable order)."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and supported(f))
            if not found:  # "0 files" and exit 0 read as success for a folder of .docx
                report.skipped.append((str(p), "no .md, .txt, .html or .pdf file in this folder"))
            yield from found
        elif p.is_file():
            if supported(p):
                yield p
            else:
                report.skipped.append((str(p), f"unsupported file type {p.suffix or '(none)'}"))
        else:
            report.skipped.append((str(p), "no such file or directory"))


def ingest_paths(paths: Iterable[str | Path], conn: psycopg.Connection | None = None,
                 progress: bool = True, reset: bool = False) -> IngestReport:
    """Raises store.EncoderMismatch, before any work, when the store holds another encoder's
    embeddings; `reset` empties the store first (a new encoder needs every document again)."""
    report = IngestReport()
    own = conn is None
    if own:
        from serving.db import connect

        conn = connect()
    try:
        encoder = get_encoder()
        if reset:
            store.drop_store(conn)
        vector = store.ensure_schema(conn, encoder.dim)
        store.claim_encoder(conn, store.encoder_id(encoder))
        files = list(dict.fromkeys(p.resolve() for p in iter_files(paths, report)))  # no dupes
        report.files = len(files)
        t0 = time.perf_counter()
        pending: list[tuple[Document, list[Chunk], bool]] = []  # (doc, chunks, is_new)

        def flush() -> None:
            # One encode call for many small files keeps batches full (docs/rag.md: throughput).
            if not pending:
                return
            chunks = [c for _, cs, _ in pending for c in cs]
            embeddings = encoder.encode([c.index_text for c in chunks])
            at = 0
            for doc, cs, is_new in pending:
                at += len(cs)
                try:
                    store.replace_document(conn, doc, cs, embeddings[at - len(cs):at], vector)
                except BAD_DOCUMENT as e:
                    if conn.broken or conn.closed:
                        raise  # the server is gone: every later document would fail too
                    # The transaction rolled back, so the old version (if any) is still there.
                    report.skipped.append((doc.source, f"not stored: {type(e).__name__}: {e}"))
                    log.warning("skipped %s: %s", doc.source, e)
                    continue
                report.chunks += len(cs)
                report.added += is_new
                report.replaced += not is_new
            pending.clear()

        for path in tqdm(files, desc="ingest", unit="file", file=sys.stderr,
                         disable=not progress):
            try:
                doc = load(path)
            except LoaderError as e:
                report.skipped.append((str(path), str(e)))
                log.warning("skipped %s: %s", path, e)
                continue
            # Chunking rules are part of the hash: changing them re-indexes on the next run.
            doc.content_hash = hashlib.sha256(
                f"{doc.content_hash}|{chunking.VERSION}|{chunking.MAX_WORDS}|"
                f"{chunking.OVERLAP_WORDS}|{encoder.name}".encode()).hexdigest()
            old = store.document_hash(conn, doc.source)
            if old == doc.content_hash:
                report.unchanged += 1
                continue
            pending.append((doc, chunking.chunk_document(doc), old is None))
            if sum(len(cs) for _, cs, _ in pending) >= ENCODE_BATCH:
                flush()
        flush()
        report.seconds = time.perf_counter() - t0
    finally:
        if own:
            conn.close()
    return report


def main(args: argparse.Namespace) -> int:
    """Exit 0 when every named file went in (or was unchanged), 1 if any was skipped."""
    try:
        report = ingest_paths(args.paths, reset=getattr(args, "reset", False))
    except store.EncoderMismatch as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(report.summary())
    return 1 if report.skipped else 0
