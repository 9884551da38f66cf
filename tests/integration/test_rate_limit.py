"""The per-user run limit is one bucket in Postgres, shared by server replicas: two limiters with
their own connection pools (two processes' worth) together allow the rate once, concurrent takes
never over-draw, the bucket refills with time, and a database that is down fails open onto the
process's own bucket instead of refusing every run."""

from __future__ import annotations

import asyncio
import logging
import uuid

import psycopg
import pytest

from serving.db import database_url, ensure_schema_async, make_pool
from serving.rate_limit import SharedTokenBucket


@pytest.fixture
async def replicas():
    """A factory of limiters, each on its own pool, all on one scope private to the test."""
    pools, scope = [], f"test-{uuid.uuid4().hex[:8]}"

    async def limiter(per_minute: float) -> SharedTokenBucket:
        pool = make_pool(database_url(), max_size=4)
        await pool.open(wait=True)
        await ensure_schema_async(pool)
        pools.append(pool)

        async def connection():
            return pool.connection()

        return SharedTokenBucket(per_minute, scope=scope, connection=connection)

    yield limiter
    if pools:
        async with pools[0].connection() as conn:
            await conn.execute("DELETE FROM agentdesk_rate_buckets WHERE bucket LIKE %s", (f"{scope}:%",))
    for pool in pools:
        await pool.close()


async def test_two_replicas_share_one_bucket(replicas):
    a, b = await replicas(3), await replicas(3)
    waits = [await a.take("carol"), await b.take("carol"), await a.take("carol"), await b.take("carol")]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(20.0, abs=1.0)  # 3 per minute: one token every 20 s
    assert await a.take("dave") == 0.0  # per user


async def test_concurrent_takes_never_overdraw(replicas):
    a, b = await replicas(5), await replicas(5)
    waits = await asyncio.gather(*[(a if i % 2 else b).take("erin") for i in range(20)])
    assert sum(w == 0.0 for w in waits) == 5, waits


async def test_bucket_refills_with_time(replicas):
    a = await replicas(3)
    for _ in range(3):
        assert await a.take("frank") == 0.0
    assert await a.take("frank") > 0
    async with a._conn() as conn:  # 21 s later, as far as the bucket can tell
        await conn.execute("UPDATE agentdesk_rate_buckets SET updated_at = updated_at - interval '21 seconds' "
                           "WHERE bucket = %s", (f"{a.scope}:frank",))
    assert await a.take("frank") == 0.0
    assert await a.take("frank") > 0


async def test_database_down_fails_open_onto_the_process_bucket(caplog):
    async def dead():  # nothing listens on port 1: the connect fails at once
        return await psycopg.AsyncConnection.connect("postgresql://postgres@127.0.0.1:1/none", connect_timeout=2)

    limiter = SharedTokenBucket(2, connection=dead)
    with caplog.at_level(logging.WARNING, logger="serving.rate_limit"):
        waits = [await limiter.take("gina") for _ in range(3)]
    assert waits[:2] == [0.0, 0.0] and waits[2] > 0  # still limited, by this process alone
    assert "database unavailable" in caplog.text
