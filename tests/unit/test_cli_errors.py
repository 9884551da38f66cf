"""The CLI's answer to bad input: a database it cannot reach is one line naming host, port and
database (never the password) and what to check, exit code 2, instead of a traceback; counts that
make no sense are usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving import db
from serving.cli import main


def test_unreachable_database_is_one_clear_line(tmp_path: Path, monkeypatch, capsys) -> None:
    doc = tmp_path / "note.md"
    doc.write_text("# Note\n\nSome text to ingest.\n")
    monkeypatch.setattr(db, "_url", "postgresql://postgres:hunter2@127.0.0.1:1/nowhere?connect_timeout=3")
    assert main(["ingest", str(doc)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: Postgres at 127.0.0.1:1/nowhere failed: connection failed")
    assert "DATABASE_URL" in err and "hunter2" not in err


def test_a_database_url_that_does_not_parse_never_echoes_its_password(tmp_path: Path, monkeypatch, capsys) -> None:
    """psycopg quotes the bad part ('invalid percent-encoded token: "Pa55%word!"'), and the pool
    repeated it on the server's console on every retry."""
    doc = tmp_path / "note.md"
    doc.write_text("# Note\n\nSome text to ingest.\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:Pa55%word!@127.0.0.1:5432/test")
    monkeypatch.setattr(db, "_url", None)
    from serving.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["ingest", str(doc)]) == 2
    finally:
        get_settings.cache_clear()
        monkeypatch.setattr(db, "_url", None)
    err = capsys.readouterr().err
    assert "DATABASE_URL is not a valid Postgres URL" in err and "%25" in err
    assert "Pa55" not in err


@pytest.mark.parametrize("argv, message", [
    (["bench", "load", "--threads", "0"], "--threads: must be 1 or more, got 0"),
    (["bench", "load", "--turns", "many"], "--turns: 'many' is not an integer"),
    (["bench", "load", "--model-latency-ms", "-5"], "--model-latency-ms: must be 0 or more"),
    (["bench", "orchestrator", "--turns", "0"], "--turns: must be 1 or more"),
    (["prune", "--older-than", "-1"], "--older-than: must be 0 or more"),
])
def test_counts_that_make_no_sense_are_usage_errors(argv, message, capsys) -> None:
    """Zero turns used to end in a traceback from statistics.mean; zero threads 'succeeded'."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_dataset_that_is_not_utf8_is_one_clear_line(tmp_path: Path, capsys) -> None:
    """Bad UTF-8 in a JSONL used to be a UnicodeDecodeError traceback; now its file and line."""
    (tmp_path / "corpus.jsonl").write_bytes(b'{"_id": "d1", "text": "ok"}\n{"_id": "d2", "text": "caf\xe9"}\n')
    assert main(["eval", "retrieval", "--corpus", str(tmp_path), "--queries", str(tmp_path), "--split", "test"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: {tmp_path / 'corpus.jsonl'}:2: not UTF-8"
