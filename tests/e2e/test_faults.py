"""Faults on the real server: kill -9 in the middle of a run, then restart. Threads come back
(recovered from Postgres when their bookkeeping was lost), the run resumes from its last
checkpoint, and an approved action is not executed twice."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from serving.db import database_url
from tests.e2e.server import Server

pytestmark = pytest.mark.timeout(600)


def audit_actions(thread_id: str) -> list[dict]:
    with psycopg.connect(database_url(), autocommit=True) as conn:
        cur = conn.execute("SELECT tool, status FROM agentdesk_audit WHERE kind = 'action' AND thread_id = %s",
                           (thread_id,))
        return [{"tool": t, "status": s} for t, s in cur.fetchall()]


async def test_kill_9_mid_run_then_resume_without_double_execution():
    server = Server()
    try:
        await _kill_9_mid_run_then_resume(server)
    finally:
        server.stop()  # also when an assertion failed: a leaked server kept a core busy after the suite


async def _kill_9_mid_run_then_resume(server: Server) -> None:
    client = get_client(url=server.start())
    # 1. An approved restart that already ran, and a thread waiting for approval.
    done = (await client.threads.create())["thread_id"]
    await client.runs.wait(done, "orchestrator", input={"messages": [{"type": "human", "content": "restart the cart deployment"}]})
    await client.runs.wait(done, "orchestrator", command={"resume": {"decisions": [{"type": "approve"}]}})
    waiting = (await client.threads.create())["thread_id"]
    await client.runs.wait(waiting, "orchestrator", input={"messages": [{"type": "human", "content": "restart the queue deployment"}]})
    # 2. A run in the middle of a slow sandboxed script when the server dies.
    busy = (await client.threads.create())["thread_id"]
    await client.runs.create(busy, "orchestrator", input={"messages": [
        {"type": "human", "content": "```python\nimport time\ntime.sleep(4)\nprint('finished')\n```"}]})
    for _ in range(100):  # wait until the code agent's tool call is checkpointed
        state = await client.threads.get_state(busy)
        if any(m.get("tool_calls") for m in state["values"].get("messages", [])):
            break
        await asyncio.sleep(0.1)
    server.kill()  # no graceful shutdown: the runtime's thread list is not written

    client = get_client(url=server.start())
    for thread in (done, waiting, busy):
        assert (await client.threads.get(thread))["thread_id"] == thread  # known again
    # The waiting approval is still pending in the checkpoint and can be decided.
    state = await client.threads.get_state(waiting)
    assert any(t.get("interrupts") for t in state["tasks"])
    await client.runs.wait(waiting, "orchestrator", command={"resume": {"decisions": [{"type": "approve"}]}})
    # one claimed run of the tool, and the dry-run executor's record of what it would have done
    assert sorted(a["status"] for a in audit_actions(waiting)) == ["done", "dry-run"]
    # The interrupted run resumes from its last checkpoint (input None = continue).
    await client.runs.wait(busy, "orchestrator", input=None)
    state = await client.threads.get_state(busy)
    assert any("finished" in str(m["content"]) for m in state["values"]["messages"])
    # Replaying the finished thread from before its tools ran does not restart twice.
    history = await client.threads.get_history(done, limit=100)
    before_tools = next(h for h in history if h["next"] == ["devops"] or "tools" in str(h["next"]))
    await client.runs.wait(done, "orchestrator", input=None, checkpoint_id=before_tools["checkpoint"]["checkpoint_id"])
    assert sorted(a["status"] for a in audit_actions(done)) == ["done", "dry-run"]  # not twice
    async with httpx.AsyncClient(base_url=server.base) as http:
        assert (await http.get("/healthz")).status_code == 200
