"""Embedded Postgres 16 with pgvector (the `pgserver` package) for machines with no DATABASE_URL."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def embedded_database_url(data_dir: Path, database: str = "agentdesk") -> str:
    """Start (or join) the embedded server under `data_dir/pg` and return a URL for `database`.

    pgserver shares one postmaster between processes using the same data folder
    (it keeps a list of handle pids), so the server, the CLI and tests can all call this.
    """
    import pgserver  # imported lazily: it is only needed when DATABASE_URL is unset

    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir))  # silences a platformdirs warning
    server = pgserver.get_server(data_dir / "pg", cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
        log.info("created embedded database %s", database)
    return server.get_uri(database)
