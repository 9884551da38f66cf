"""The recovery query itself, on a real Postgres: it must find a thread checkpointed a moment ago.

The e2e kill -9 test depends on timing (the dev runtime also flushes its thread list every 10 s,
which can hide a broken query); this one does not. It caught `make_interval(hours => float)`,
which Postgres rejects, so recovery silently restored nothing.
"""

from __future__ import annotations

import uuid

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, MessagesState, StateGraph

from serving import recovery


async def test_recent_threads_are_found_with_their_metadata(saver):
    def reply(state: MessagesState) -> dict:
        return {"messages": [AIMessage("ok")]}

    graph = StateGraph(MessagesState)
    graph.add_node("reply", reply)
    graph.add_edge(START, "reply")
    app = graph.compile(checkpointer=saver)
    thread = f"recovery-{uuid.uuid4().hex}"
    config = {"configurable": {"thread_id": thread}, "metadata": {"graph_id": "orchestrator", "owner": "ana"}}
    await app.ainvoke({"messages": [HumanMessage("hi")]}, config)

    async with saver.conn.connection() as conn:
        rows = await (await conn.execute(recovery._LATEST, (recovery.RECOVER_HOURS,))).fetchall()
        old = await (await conn.execute(recovery._LATEST, (0.0,))).fetchall()
    found = {r["thread_id"]: r["metadata"] for r in rows}
    assert found[thread]["graph_id"] == "orchestrator" and found[thread]["owner"] == "ana"
    assert thread not in {r["thread_id"] for r in old}  # the window is honoured
