"""`agentdesk prune` deletes whole idle threads and nothing else."""

from __future__ import annotations

import subprocess
import sys
import uuid

from langchain_core.messages import HumanMessage
from langgraph.graph import START, MessagesState, StateGraph

from serving.db import connect
from serving.prune import prune


def _graph(saver):
    g = StateGraph(MessagesState)
    g.add_node("echo", lambda s: {"messages": [("ai", "ok")]})
    g.add_edge(START, "echo")
    return g.compile(checkpointer=saver)


async def test_prune_removes_only_idle_threads(saver):
    graph = _graph(saver)
    old, fresh = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"
    for thread in (old, fresh):
        await graph.ainvoke({"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": thread}})
    with connect() as conn:
        # Age the old thread by 40 days (checkpoint timestamps live in the checkpoint JSON).
        conn.execute(
            "UPDATE checkpoints SET checkpoint = jsonb_set(checkpoint, '{ts}', to_jsonb((now() - interval '40 days')::text)) "
            "WHERE thread_id = %s", (old,))
        dry = prune(conn, 30, dry_run=True)
        assert dry["checkpoints"] >= 1 and dry["threads"] >= 1
        counts = prune(conn, 30)
        assert counts["checkpoints"] == dry["checkpoints"]
        left = {r["thread_id"] for r in conn.execute(
            "SELECT DISTINCT thread_id FROM checkpoints WHERE thread_id = ANY(%s)", ([old, fresh],))}
    assert left == {fresh}
    assert (await graph.aget_state({"configurable": {"thread_id": fresh}})).values["messages"]


def test_prune_cli_reports_counts():
    out = subprocess.run([sys.executable, "-m", "serving.cli", "prune", "--older-than", "3650"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "rows from" in out.stdout and '"checkpoints"' in out.stdout


def test_prune_rejects_negative_days():
    out = subprocess.run([sys.executable, "-m", "serving.cli", "prune", "--older-than", "-1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--older-than: must be 0 or more" in out.stderr
