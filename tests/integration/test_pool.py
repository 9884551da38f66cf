"""The tuned pool: settings as ARCHITECTURE.md fixes them, and a cut connection is replaced."""

from __future__ import annotations

from psycopg.rows import dict_row

from serving import db


async def test_pool_connection_settings():
    async with db.make_pool(max_size=2) as pool:
        async with pool.connection() as conn:
            assert conn.autocommit is True
            assert conn.prepare_threshold == 0
            assert conn.row_factory is dict_row
        assert pool.max_idle == 300 and pool.max_lifetime == 1800


async def test_connection_cut_while_idle_is_replaced(monkeypatch):
    monkeypatch.setattr(db, "CHECK_AFTER_IDLE_S", 0.0)  # every checkout is "idle long enough"
    async with db.make_pool(max_size=1) as pool:
        async with pool.connection() as conn:
            pid = (await (await conn.execute("SELECT pg_backend_pid() AS pid")).fetchone())["pid"]
        with db.connect() as killer:  # what a Postgres restart or an idle timeout does to it
            killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
        async with pool.connection() as conn:
            row = await (await conn.execute("SELECT pg_backend_pid() AS pid")).fetchone()
        assert row["pid"] != pid
