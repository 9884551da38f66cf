"""Postgres access: one URL resolver, tuned pools, and the app's own schema (audit log).

Every connection uses autocommit, `prepare_threshold=0` (the setting ARCHITECTURE.md fixes and
LangGraph's Postgres saver documents; note it prepares every statement, so a statement holding
several commands must be split) and `dict_row`. Pools check a connection before handing it out and
retire idle/old ones, because idle connections get cut during long model calls.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from importlib import resources

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from serving.settings import get_settings

log = logging.getLogger(__name__)

CONNECTION_KWARGS = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}

_url: str | None = None


def database_url() -> str:
    """DATABASE_URL when set, else the embedded pgserver database (started on first use)."""
    global _url
    if _url is None:
        settings = get_settings()
        if settings.database_url:
            try:
                conninfo_to_dict(settings.database_url)
            except psycopg.ProgrammingError:
                # `from None`, and no value in the message: psycopg's own error quotes the bad
                # part, which is often the password, and the pool repeats it on every retry.
                raise ValueError("DATABASE_URL is not a valid Postgres URL or connection string (special "
                                 "characters in the password must be percent-encoded: % as %25, @ as %40)") from None
            _url = settings.database_url
        else:
            from serving.embedded_pg import embedded_database_url

            _url = embedded_database_url(settings.data_dir)
    return _url


# When each pooled connection was last returned. A connection returned moments ago is alive;
# checking it anyway would add a round trip to every checkpoint write.
_returned_at: "weakref.WeakKeyDictionary[psycopg.AsyncConnection, float]" = weakref.WeakKeyDictionary()
CHECK_AFTER_IDLE_S = 2.0


async def _mark_returned(conn: psycopg.AsyncConnection) -> None:
    _returned_at[conn] = time.monotonic()


async def check_if_idle(conn: psycopg.AsyncConnection) -> None:
    if time.monotonic() - _returned_at.get(conn, 0.0) > CHECK_AFTER_IDLE_S:
        await AsyncConnectionPool.check_connection(conn)


def make_pool(url: str | None = None, *, max_size: int | None = None,
              synchronous_commit: bool = True) -> AsyncConnectionPool:
    """A pool that is not yet open; use `async with make_pool() as pool`.

    `synchronous_commit=False` sets it off for this pool's sessions only: a commit returns before
    its WAL reaches the disk (Postgres's asynchronous commit: a crash can lose the last few
    hundred ms of commits, never corrupt data)."""
    settings = get_settings()
    conninfo = url or database_url()
    kwargs = dict(CONNECTION_KWARGS)
    if not synchronous_commit:
        given = conninfo_to_dict(conninfo).get("options") or ""
        kwargs["options"] = f"{given} -c synchronous_commit=off".strip()
    return AsyncConnectionPool(
        conninfo=conninfo,
        min_size=1,
        max_size=max_size or settings.pool_max_size,
        kwargs=kwargs,
        check=check_if_idle,  # liveness check on checkout, for connections idle long enough to be cut
        reset=_mark_returned,
        max_idle=300,
        max_lifetime=1800,
        reconnect_timeout=60,
        timeout=30,
        open=False,
    )


def connect(url: str | None = None) -> psycopg.Connection:
    """A plain synchronous connection for the CLI and scripts."""
    return psycopg.connect(url or database_url(), **CONNECTION_KWARGS)


_pools: dict[int, AsyncConnectionPool] = {}


async def app_pool() -> AsyncConnectionPool:
    """The app's shared pool for the running event loop (pools are bound to one loop)."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(id(loop))
    if pool is None or pool.closed:
        pool = make_pool()
        _pools[id(loop)] = pool
        await pool.open(wait=True)
        await ensure_schema_async(pool)
    return pool


def schema_statements() -> list[str]:
    """schema.sql split into statements (the extended protocol runs one at a time)."""
    text = resources.files("serving").joinpath("schema.sql").read_text()
    lines = [line for line in text.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


async def ensure_schema_async(pool: AsyncConnectionPool) -> None:
    async with pool.connection() as conn:
        for statement in schema_statements():
            await conn.execute(statement)


def ensure_schema(conn: psycopg.Connection) -> None:
    for statement in schema_statements():
        conn.execute(statement)
