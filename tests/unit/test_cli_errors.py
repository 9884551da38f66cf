"""The CLI's answer to a database it cannot reach: one line naming host, port and database (never
the password) and what to check, exit code 2, instead of a traceback."""

from __future__ import annotations

from pathlib import Path

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
