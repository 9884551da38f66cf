"""Thread recovery after a crash.

`langgraph dev`'s in-memory runtime keeps its list of threads in memory and flushes it to
`.langgraph_api/` every 10 s and at a graceful shutdown; the graph state itself is in Postgres.
After a kill -9, threads created since the last flush are unknown to the API although their
checkpoints are safe. At start-up we re-register every thread that has checkpoints but no
entry, with the owner and graph recorded in its latest checkpoint's metadata, so it can be read
and resumed again.
"""

from __future__ import annotations

import logging

from serving.settings import get_settings

log = logging.getLogger(__name__)

# Only recently active threads: the runtime flushes its thread list every 10 s, so a crash loses
# only threads touched just before it; older ones are either in the list or belong to another
# server sharing this database (a test's, a benchmark's), which should not show up here.
_LATEST = """
SELECT DISTINCT ON (thread_id) thread_id, metadata
FROM checkpoints
WHERE checkpoint_ns = '' AND metadata ? 'graph_id'
  AND (checkpoint->>'ts')::timestamptz > now() - %s * interval '1 hour'
ORDER BY thread_id, checkpoint_id DESC
"""
RECOVER_HOURS = get_settings().recover_hours
_KEEP = ("owner", "tenant", "graph_id", "assistant_id", "title")


async def recover_threads() -> int:
    """Re-register threads missing from the server's runtime; returns how many were restored."""
    from langgraph_runtime.database import connect
    from langgraph_runtime.ops import Threads

    from serving.db import app_pool

    pool = await app_pool()
    async with pool.connection() as conn:
        rows = await (await conn.execute(_LATEST, (RECOVER_HOURS,))).fetchall()
    restored = 0
    async with connect() as rt:
        known = {str(t["thread_id"]) for t in getattr(rt, "store", {}).get("threads", [])}
        for row in rows:
            if row["thread_id"] in known:
                continue
            metadata = {k: row["metadata"][k] for k in _KEEP if k in row["metadata"]}
            metadata["recovered"] = True
            await anext(await Threads.put(rt, row["thread_id"], metadata=metadata, if_exists="do_nothing"))
            restored += 1
    if restored:
        log.warning("recovered %d thread(s) whose bookkeeping was lost (unclean shutdown)", restored)
    return restored
