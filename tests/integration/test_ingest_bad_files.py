"""A bad file in an ingest batch is reported and skipped; the rest of the batch goes in."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from rag import ingest
from rag.ingest import ingest_paths
from serving.db import CONNECTION_KWARGS

PLAIN_PG = os.environ.get("AGENTDESK_TEST_PLAIN_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def conn():
    """A connection whose search_path is a fresh schema, so no other test's chunks are seen."""
    schema = "rag_bad_" + uuid.uuid4().hex[:10]
    with psycopg.connect(PLAIN_PG, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    with psycopg.connect(make_conninfo(PLAIN_PG, options=f"-c search_path={schema}"),
                         **CONNECTION_KWARGS) as c:
        yield c
    with psycopg.connect(PLAIN_PG, autocommit=True) as c:
        c.execute(f"DROP SCHEMA {schema} CASCADE")


def _stored(conn) -> list[str]:
    return [Path(r["source"]).name for r in
            conn.execute("SELECT source FROM rag_documents ORDER BY source").fetchall()]


def test_a_late_nul_and_a_non_utf8_name_are_skipped_not_fatal(tmp_path, conn):
    # Both used to abort the run: psycopg.DataError at insert, UnicodeEncodeError at the
    # first query.
    if sys.platform != "linux":
        pytest.skip("needs a file system that takes any bytes as a name")
    (tmp_path / "a.md").write_text("# Alpha\nAlpha text.\n")
    (tmp_path / "b.txt").write_bytes(b"Beta notes\n\n" + b"Some text. " * 1000 + b"\x00 late NUL.")
    (tmp_path / os.fsdecode(b"caf\xe9.md")).write_text("# Cafe\nCoffee.\n")
    (tmp_path / "d.md").write_text("# Delta\nDelta text.\n")
    report = ingest_paths([tmp_path], conn, progress=False)
    assert (report.files, report.added) == (4, 2)
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert reasons["b.txt"] == "binary content in a text file"
    assert reasons[os.fsdecode(b"caf\xe9.md")].startswith("file name is not UTF-8")
    assert _stored(conn) == ["a.md", "d.md"]


def test_a_document_the_store_refuses_is_skipped_and_the_batch_goes_on(tmp_path, conn, monkeypatch):
    for name in ("a.md", "b.md", "c.md"):
        (tmp_path / name).write_text(f"# {name}\nText of {name}.\n")
    assert ingest_paths([tmp_path], conn, progress=False).added == 3
    for name in ("a.md", "b.md", "c.md"):
        (tmp_path / name).write_text(f"# {name}\nNew text of {name}.\n")

    def load(path):  # a NUL the loaders let through, say from a PDF parser
        doc = real_load(path)
        if path.name == "b.md":
            doc.title += "\x00"
        return doc

    real_load = ingest.load
    monkeypatch.setattr(ingest, "load", load)
    report = ingest_paths([tmp_path], conn, progress=False)
    assert report.replaced == 2 and [Path(p).name for p, _ in report.skipped] == ["b.md"]
    assert report.skipped[0][1].startswith("not stored: DataError")
    texts = {Path(r["source"]).name: r["text"] for r in
             conn.execute("SELECT source, text FROM rag_chunks").fetchall()}
    # The refused edit rolled back: b.md keeps its old chunks; the others have their new ones.
    assert texts == {"a.md": "New text of a.md.", "b.md": "Text of b.md.",
                     "c.md": "New text of c.md."}


def test_a_folder_with_no_supported_file_is_reported_not_a_silent_success(tmp_path, conn):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.docx").write_bytes(b"PK\x03\x04 not ours")
    report = ingest_paths([tmp_path / "docs"], conn, progress=False)
    assert report.files == 0
    assert report.skipped == [(str(tmp_path / "docs"), "no .md, .txt, .html or .pdf file in this folder")]
