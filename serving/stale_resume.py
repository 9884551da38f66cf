"""Refuse a resume that answers nothing, before a run is created for it.

LangGraph accepts a `command.resume` on a thread with nothing pending, or keyed by an interrupt id
that is no longer pending, and does nothing (HTTP 200, an empty run). For an approval that is
worse than an error: a reviewer's Reject from a second tab is silently lost, and a stale tab's
plain Approve answers whichever action waits *now*, one its reviewer never saw. A resume whose
thread waits for no decision, or that names an interrupt id not pending, gets 409 with the reason.
"""

from __future__ import annotations

import re
from typing import Any

_INTERRUPT_ID = re.compile(r"^[0-9a-f]{32}$")


def _pending_ids(thread: dict[str, Any]) -> set[str]:
    return {str(i.get("id")) for items in (thread.get("interrupts") or {}).values() for i in items or []}


def problem(thread: dict[str, Any] | None, command: Any) -> str | None:
    """Why this resume answers nothing on `thread` (the runtime's record), or None to let it run."""
    if not isinstance(command, dict) or command.get("resume") is None or thread is None:
        return None
    if thread.get("status") == "busy":  # a run is going: its outcome decides; the multitask strategy applies
        return None
    pending = _pending_ids(thread)
    if not pending:
        return ("nothing on this thread waits for a decision: it was decided already or the run moved on; "
                "reload the thread to see what ran")
    resume = command["resume"]
    if isinstance(resume, dict) and resume and all(isinstance(k, str) and _INTERRUPT_ID.match(k) for k in resume):
        if stale := sorted(set(resume) - pending):
            return (f"the approval {stale[0]} is no longer pending (it was decided, perhaps in another tab); "
                    "reload the thread to see what waits for a decision now")
    return None


async def runtime_thread(thread_id: Any) -> dict[str, Any] | None:
    """The server runtime's record of a thread (status, interrupts, metadata), or None."""
    from langgraph_runtime.database import connect
    from langgraph_runtime.ops import Threads

    try:
        async with connect() as conn:
            return dict(await anext(await Threads.get(conn, thread_id)))
    except Exception:  # noqa: BLE001 - not found (or not this runtime): the API answers as usual
        return None
