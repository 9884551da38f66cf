"""Refuse a resume that answers nothing, before a run is created for it.

LangGraph accepts a `command.resume` on a thread with nothing pending, or keyed by an interrupt id
that is no longer pending, and does nothing (HTTP 200, an empty run). For an approval that is
worse than an error: a reviewer's Reject from a second tab is silently lost, and a stale tab's
plain Approve answers whichever action waits *now*, one its reviewer never saw. A resume whose
thread waits for no decision, or that names an interrupt id not pending, gets 409 with the reason.

What is pending is read from the thread's newest checkpoint, not from the server's in-memory
thread record: after a crash that record is rebuilt without its interrupts (serving/recovery.py).
"""

from __future__ import annotations

import re
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from psycopg.errors import UndefinedTable

_INTERRUPT_ID = re.compile(r"^[0-9a-f]{32}$")
_SERDE = JsonPlusSerializer()

# The newest root checkpoint of the thread (its owner) and the interrupts written against it.
_PENDING = """
SELECT c.owner, w.type, w.blob
FROM (SELECT checkpoint_id, metadata->>'owner' AS owner FROM checkpoints
      WHERE thread_id = %(t)s AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1) AS c
LEFT JOIN checkpoint_writes w ON w.thread_id = %(t)s AND w.checkpoint_ns = ''
     AND w.checkpoint_id = c.checkpoint_id AND w.channel = '__interrupt__'
"""


def problem(pending: set[str] | None, command: Any) -> str | None:
    """Why this resume answers nothing, given the thread's pending interrupt ids (None: a thread
    with no checkpoint, left to the API), or None to let it run."""
    if not isinstance(command, dict) or command.get("resume") is None or pending is None:
        return None
    if not pending:
        return ("nothing on this thread waits for a decision: it was decided already or the run moved on; "
                "reload the thread to see what ran")
    resume = command["resume"]
    if isinstance(resume, dict) and resume and all(isinstance(k, str) and _INTERRUPT_ID.match(k) for k in resume):
        if stale := sorted(set(resume) - pending):
            return (f"the approval {stale[0]} is no longer pending (it was decided, perhaps in another tab); "
                    "reload the thread to see what waits for a decision now")
    return None


async def pending_interrupts(thread_id: Any) -> tuple[str | None, set[str]] | None:
    """(owner, ids of the interrupts waiting) from the thread's newest checkpoint, or None if the
    thread has no checkpoint (new, unknown, or a database without the saver's tables)."""
    from serving.db import app_pool

    pool = await app_pool()
    async with pool.connection() as conn:
        try:
            rows = await (await conn.execute(_PENDING, {"t": str(thread_id)})).fetchall()
        except UndefinedTable:
            return None
    if not rows:
        return None
    ids = {str(i.id) for r in rows if r["blob"] is not None
           for i in _SERDE.loads_typed((r["type"], r["blob"])) if getattr(i, "id", None)}
    return rows[0]["owner"], ids
