"""Per-user run rate limits: a token bucket kept in Postgres, shared by every server replica.

An in-process bucket lets each of N replicas allow the full rate, so N times the limit in all.
`SharedTokenBucket` keeps the bucket in `agentdesk_rate_buckets` and takes a token with one
atomic UPSERT (the row lock serialises concurrent takes, across processes too). Its commit skips
the WAL flush: a bucket lost in a database crash only forgives a few runs. When the database
cannot be reached, the limiter fails open onto an in-process `TokenBucket` and logs why: a
limiter must not be the thing that takes the service down, and the run itself will report the
database error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import psycopg
from psycopg.rows import tuple_row
from psycopg_pool import PoolTimeout

log = logging.getLogger(__name__)


class TokenBucket:
    """Per-key token bucket in process memory: `per_minute` takes a minute, bursts up to that."""

    def __init__(self, per_minute: float):
        self.enabled = per_minute > 0  # AGENTDESK_RUNS_PER_MINUTE=0 turns the limit off
        self.capacity = max(1.0, per_minute)
        self.refill = per_minute / 60.0
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, who: str, now: float | None = None) -> float:
        """0 when allowed, else seconds until the next take is allowed."""
        now = time.monotonic() if now is None else now
        tokens, last = self._state.get(who, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.refill)
        if tokens >= 1:
            self._state[who] = (tokens - 1, now)
            return 0.0
        self._state[who] = (tokens, now)
        return (1 - tokens) / self.refill if self.refill else 60.0


# All SET expressions read the row as it was (`b.*`), so the refill is computed once per take.
_TAKE = """
INSERT INTO agentdesk_rate_buckets AS b (bucket, tokens, updated_at, allowed)
VALUES (%(bucket)s, %(capacity)s - 1, now(), true)
ON CONFLICT (bucket) DO UPDATE SET
    tokens = CASE WHEN {refilled} >= 1 THEN {refilled} - 1 ELSE {refilled} END,
    updated_at = now(),
    allowed = {refilled} >= 1
RETURNING allowed, tokens
""".format(refilled="least(%(capacity)s, b.tokens"
           " + extract(epoch FROM now() - b.updated_at)::float8 * %(refill)s)")


async def _app_connection() -> AbstractAsyncContextManager[psycopg.AsyncConnection]:
    from serving.db import app_pool

    return (await app_pool()).connection()


class SharedTokenBucket:
    """The same bucket as `TokenBucket`, kept in Postgres (see the module docstring).

    `connection` returns an async context manager yielding a connection (default: the app pool's);
    tests point it at a database of their own or at one that is down.
    """

    def __init__(self, per_minute: float, scope: str = "runs",
                 connection: Callable[[], object] = _app_connection):
        self.local = TokenBucket(per_minute)
        self.enabled, self.capacity, self.refill = self.local.enabled, self.local.capacity, self.local.refill
        self.scope = scope
        self._connection = connection

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[psycopg.AsyncConnection]:
        async with await self._connection() as conn:
            yield conn

    async def take(self, who: str) -> float:
        """0 when allowed, else seconds until the next take is allowed."""
        params = {"bucket": f"{self.scope}:{who}", "capacity": self.capacity, "refill": self.refill}
        try:
            async with self._conn() as conn, conn.transaction():
                await conn.execute("SET LOCAL synchronous_commit = off")
                cur = conn.cursor(row_factory=tuple_row)
                await cur.execute(_TAKE, params)
                allowed, tokens = await cur.fetchone()
        except (psycopg.Error, PoolTimeout, OSError) as exc:
            log.warning("rate limit: database unavailable (%s: %s); using this process's bucket",
                        type(exc).__name__, exc)
            return self.local.take(who)
        if allowed:
            return 0.0
        return (1 - tokens) / self.refill if self.refill else 60.0
