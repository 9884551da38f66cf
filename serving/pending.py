"""Approvals waiting for a decision, read from the checkpoints.

A process-local count drifts: an approval asked before a restart, or on a thread that was deleted
or pruned since, is counted wrongly forever. The checkpoints are the truth: a thread waits for a
decision while its newest checkpoint holds an interrupt (every interrupt here is an approval
request; a subgraph's interrupt is recorded at the root too) that no later checkpoint answered.
"""

from __future__ import annotations

import time
from datetime import datetime

from psycopg.errors import UndefinedTable

from serving.metrics import APPROVALS_PENDING

# (thread_id, ts) of every thread waiting for a decision; `agentdesk prune` keeps these too.
# Interrupt writes are few, so they are found first and each checked against its thread's newest
# checkpoint (the primary key's index): 24 ms on 24k checkpoints where a DISTINCT ON over every
# checkpoint took 50-60 ms.
PENDING_THREADS = """
SELECT DISTINCT w.thread_id, (c.checkpoint->>'ts')::timestamptz AS ts
FROM checkpoint_writes w
JOIN checkpoints c ON c.thread_id = w.thread_id AND c.checkpoint_ns = '' AND c.checkpoint_id = w.checkpoint_id
WHERE w.channel = '__interrupt__' AND w.checkpoint_ns = ''
  AND w.checkpoint_id = (SELECT max(l.checkpoint_id) FROM checkpoints l
                         WHERE l.thread_id = w.thread_id AND l.checkpoint_ns = '')
"""
_PENDING = f"SELECT count(*) AS n, min(ts) AS oldest FROM ({PENDING_THREADS}) AS pending"
GAUGE_MAX_AGE_S = 10.0  # a scrape every few seconds should not scan the checkpoints each time
_gauge_read_at = 0.0


async def pending_approvals() -> tuple[int, datetime | None]:
    """(threads waiting for an approval decision, when the oldest of them began waiting)."""
    from serving.db import app_pool

    pool = await app_pool()
    async with pool.connection() as conn:
        try:
            row = await (await conn.execute(_PENDING)).fetchone()
        except UndefinedTable:  # no checkpoint was ever written to this database
            return 0, None
    return int(row["n"]), row["oldest"]


async def refresh_gauge() -> None:
    """Set `agentdesk_approvals_pending` from the checkpoints (at most every GAUGE_MAX_AGE_S)."""
    global _gauge_read_at
    if time.monotonic() - _gauge_read_at < GAUGE_MAX_AGE_S:
        return
    n, _ = await pending_approvals()
    APPROVALS_PENDING.set(n)
    _gauge_read_at = time.monotonic()
