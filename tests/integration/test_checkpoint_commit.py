"""AGENTDESK_CHECKPOINT_SYNC_COMMIT: the checkpointer's sessions commit asynchronously only when
asked, a graph still checkpoints and resumes through them, and the app pool (which holds the
run-once action ledger) never changes."""

from __future__ import annotations

import uuid

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, MessagesState, StateGraph

from serving.db import make_pool
from serving.persistence import checkpointer
from serving.settings import get_settings


@pytest.fixture
def commit_setting(monkeypatch):
    def set_to(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv("AGENTDESK_CHECKPOINT_SYNC_COMMIT", raising=False)
        else:
            monkeypatch.setenv("AGENTDESK_CHECKPOINT_SYNC_COMMIT", value)
        get_settings.cache_clear()

    yield set_to
    get_settings.cache_clear()


async def _mode(pool) -> str:
    async with pool.connection() as conn:
        return (await (await conn.execute("SHOW synchronous_commit")).fetchone())["synchronous_commit"]


def _graph(saver):
    def reply(state: MessagesState) -> dict:
        return {"messages": [AIMessage(f"reply {len(state['messages'])}")]}

    g = StateGraph(MessagesState)
    g.add_node("reply", reply)
    g.add_edge(START, "reply")
    return g.compile(checkpointer=saver)


async def test_default_is_synchronous(commit_setting):
    commit_setting(None)
    async with checkpointer() as saver:
        assert await _mode(saver.conn) == "on"


async def test_off_applies_to_checkpoints_and_they_still_resume(commit_setting):
    commit_setting("false")
    thread = {"configurable": {"thread_id": f"commit-{uuid.uuid4().hex}"}}
    async with checkpointer() as saver:
        assert await _mode(saver.conn) == "off"
        await _graph(saver).ainvoke({"messages": [HumanMessage("one")]}, thread)
    # A fresh saver (new pool, as after a restart) reads what the asynchronous commits wrote.
    async with checkpointer() as saver:
        state = await _graph(saver).aget_state(thread)
        assert [m.content for m in state.values["messages"]] == ["one", "reply 1"]
        await _graph(saver).ainvoke({"messages": [HumanMessage("two")]}, thread)
        state = await _graph(saver).aget_state(thread)
        assert state.values["messages"][-1].content == "reply 3"


async def test_other_pools_and_given_options_are_kept(commit_setting):
    commit_setting("false")
    async with make_pool() as app:  # the app pool: audit log and run-once ledger
        assert await _mode(app) == "on"
    from serving.db import database_url

    url = database_url()
    sep = "&" if "?" in url else "?"
    async with make_pool(f"{url}{sep}options=-c%20statement_timeout%3D12345", synchronous_commit=False) as pool:
        async with pool.connection() as conn:
            row = await (await conn.execute("SHOW statement_timeout")).fetchone()
        assert row["statement_timeout"] == "12345ms"
        assert await _mode(pool) == "off"
