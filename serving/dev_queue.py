"""Faster run pick-up for `langgraph dev`'s in-memory runtime.

Its queue looks for pending runs every 0.5 s, and a run created during that pause waits for the
next look: every run, every chat message, starts 0.5-1 s late (measured: `run_queue_ms` ~990 ms
with an idle server). This wraps `Runs.next` so an idle worker checks for a pending run every
few milliseconds instead, then hands over to the original code unchanged (locking, ordering,
attempts). The production server (Postgres + Redis runtime) wakes workers itself and is not
touched. `AGENTDESK_DEV_QUEUE_POLL_MS=0` turns this off.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime

log = logging.getLogger(__name__)
_installed = False


def install() -> bool:
    global _installed
    poll_ms = float(os.environ.get("AGENTDESK_DEV_QUEUE_POLL_MS", "10"))
    if _installed or poll_ms <= 0:
        return _installed
    try:
        from langgraph_runtime_inmem import ops
        from langgraph_runtime_inmem.database import connect
    except ImportError:  # not the in-memory runtime: nothing to do
        return False
    original = ops.Runs.next

    async def has_pending() -> bool:
        now = datetime.now(UTC)
        async with connect() as conn:
            return any(r["status"] == "pending" and r.get("created_at", now) <= now for r in conn.store["runs"])

    async def next_run(wait: bool, limit: int = 1):
        if wait:  # idle: look often for up to the original 0.5 s, rather than sleep through it
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 0.5
            while loop.time() < deadline and not await has_pending():
                await asyncio.sleep(poll_ms / 1000)
            await asyncio.sleep(0.001)  # the original compares created_at with "now" strictly
        async for item in original(False, limit):
            yield item

    ops.Runs.next = staticmethod(next_run)
    _installed = True
    log.info("dev queue: idle workers look for new runs every %s ms", poll_ms)
    return True
