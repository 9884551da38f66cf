"""The approval node and tools node on a real Postgres checkpointer: approve, edit, reject,
malformed resumes, the audit log and run-once idempotency."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.prebuilt import InjectedState
from langgraph.types import Command

from agents._offline import turn
from graphs.specialist import build_specialist
from guardrails.policy import Risk, register
from serving import audit
from serving.offline_model import tool_call

RUNS: list[dict] = []


@tool
async def launch(target: str, force: bool = False) -> str:
    """Launch something (a side effect the test counts)."""
    RUNS.append({"target": target, "force": force})
    return f"launched {target}"


@tool
async def peek(target: str) -> str:
    """Look at something."""
    return f"{target} looks fine"


register(launch, risk=Risk.high, agents={"tester"}, side_effects=True, describe=lambda a: f"Launch {a['target']}")
register(peek, risk=Risk.low, agents={"tester"})


def policy(messages):
    question, results = turn(messages)
    if not results:
        return AIMessage("", tool_calls=[tool_call("peek", {"target": question}), tool_call("launch", {"target": question})])
    return AIMessage(" | ".join(str(r.content) for r in results))


@pytest.fixture
def graph(saver):
    RUNS.clear()
    return build_specialist("tester", [launch, peek], "test", policy).copy(update={"checkpointer": saver})


def cfg():
    return {"configurable": {"thread_id": f"t-{uuid.uuid4().hex}"}}


async def run_to_interrupt(graph, config, text="rocket"):
    out = await graph.ainvoke({"messages": [HumanMessage(text)]}, config)
    interrupts = out["__interrupt__"]
    assert len(interrupts) == 1
    return interrupts[0].value


async def test_interrupt_payload_is_hitl_request(graph):
    config = cfg()
    value = await run_to_interrupt(graph, config)
    assert [r["name"] for r in value["action_requests"]] == ["launch"]  # low-risk peek is not gated
    assert value["action_requests"][0]["args"] == {"target": "rocket"}
    assert "high risk" in value["action_requests"][0]["description"]
    assert value["review_configs"] == [{"action_name": "launch", "allowed_decisions": ["approve", "edit", "reject"]}]
    assert RUNS == []  # nothing ran before the decision


async def test_approve_runs_once_and_is_audited(graph):
    config = cfg()
    await run_to_interrupt(graph, config)
    out = await graph.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    assert RUNS == [{"target": "rocket", "force": False}]
    assert "launched rocket" in out["messages"][-1].content
    rows = await audit.rows_for_thread(config["configurable"]["thread_id"])
    kinds = [(r["kind"], r["decision"] or r["status"]) for r in rows]
    assert ("decision", "approve") in kinds and ("action", "done") in kinds


async def test_edit_runs_the_edited_args(graph):
    config = cfg()
    await run_to_interrupt(graph, config)
    edit = {"type": "edit", "edited_action": {"name": "launch", "args": {"target": "probe", "force": True}}}
    await graph.ainvoke(Command(resume={"decisions": [edit]}), config)
    assert RUNS == [{"target": "probe", "force": True}]


async def test_reject_does_not_run_and_tells_the_model(graph):
    config = cfg()
    await run_to_interrupt(graph, config)
    out = await graph.ainvoke(Command(resume={"decisions": [{"type": "reject", "message": "not today"}]}), config)
    assert RUNS == []
    assert "rejected launch: not today" in out["messages"][-1].content
    rows = await audit.rows_for_thread(config["configurable"]["thread_id"])
    assert [r["decision"] for r in rows if r["kind"] == "decision"] == ["reject"]


@pytest.mark.parametrize("bad", [
    "yes", {"decisions": "approve"}, {"decisions": []}, {"decisions": [{"type": "maybe"}]},
    {"decisions": [{"type": "edit"}]},
    {"decisions": [{"type": "edit", "edited_action": {"name": "peek", "args": {"target": "x"}}}]},
    {"decisions": [{"type": "edit", "edited_action": {"name": "launch", "args": {"target": 5}}}]},
    # NUL: Postgres refused the audit row, and since every resume replays this answer, the
    # approval could never be decided again (found against a live server)
    {"decisions": [{"type": "reject", "message": "no\u0000way"}]},
    {"decisions": [{"type": "edit", "edited_action": {"name": "launch", "args": {"target": "ro\u0000cket"}}}]},
])
async def test_malformed_resume_asks_again_and_loses_nothing(graph, bad):
    config = cfg()
    await run_to_interrupt(graph, config)
    out = await graph.ainvoke(Command(resume=bad), config)
    value = out["__interrupt__"][0].value
    assert value["error"]  # a clear message, the same actions still pending
    assert value["action_requests"][0]["name"] == "launch"
    assert RUNS == []
    await graph.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    assert RUNS == [{"target": "rocket", "force": False}]


async def test_approved_action_runs_once_even_if_replayed(graph, saver):
    config = cfg()
    await run_to_interrupt(graph, config)
    # Find the checkpoint right after the approval (tools about to run), then replay from it twice.
    await graph.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    history = [s async for s in graph.aget_state_history(config)]
    before_tools = next(s for s in history if s.next == ("tools",))
    await graph.ainvoke(None, before_tools.config)
    await graph.ainvoke(None, before_tools.config)
    assert len(RUNS) == 1  # the idempotency key stopped the replays


async def test_an_audit_row_with_nul_in_its_text_is_still_written():
    # A tool's arguments or result may hold NUL (a model's output, a file read by the sandbox);
    # Postgres text and jsonb refuse it, and the audit row must not be what fails the run.
    config = cfg()
    key = f"nul-{config['configurable']['thread_id']}"
    assert await audit.record("action", config, key=key, status="done", note="a\x00b",
                              args={"sql": "SELECT '\x00'", "k\x00": ["x\x00"]}, result={"out": "\x00"})
    rows = await audit.rows_for_thread(config["configurable"]["thread_id"])
    assert rows[-1]["args"] == {"sql": "SELECT '\ufffd'", "k\ufffd": ["x\ufffd"]} and rows[-1]["note"] == "a\ufffdb"


async def approval_checkpoint(graph, config):
    """The oldest checkpoint about to ask for approval (what a fork in Studio starts from)."""
    return [s async for s in graph.aget_state_history(config) if s.next == ("approval",)][-1]


def as_user(config: dict, user: str) -> dict:
    return {"configurable": {**config["configurable"], "langgraph_auth_user_id": user}}


async def decisions(config) -> list[tuple]:
    rows = await audit.rows_for_thread(config["configurable"]["thread_id"])
    return [(r["user_id"], r["decision"]) for r in rows if r["kind"] == "decision"]


async def test_a_fork_that_approves_what_was_rejected_is_on_record(graph):
    config = cfg()
    await run_to_interrupt(graph, as_user(config, "alice"))
    await graph.ainvoke(Command(resume={"decisions": [{"type": "reject", "message": "no"}]}), as_user(config, "alice"))
    assert RUNS == []
    fork = await approval_checkpoint(graph, config)
    out = await graph.ainvoke(None, as_user(fork.config, "mallory"))  # asks again, in a new task
    assert out["__interrupt__"]
    await graph.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), as_user(config, "mallory"))
    assert RUNS == [{"target": "rocket", "force": False}]
    # Both decisions are in the audit log: the one that let the action run is not hidden.
    assert await decisions(config) == [("alice", "reject"), ("mallory", "approve")]


async def test_an_edit_made_in_a_fork_runs_the_edited_action(graph):
    config = cfg()
    await run_to_interrupt(graph, config)
    await graph.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    fork = await approval_checkpoint(graph, config)
    await graph.ainvoke(None, fork.config)
    edit = {"type": "edit", "edited_action": {"name": "launch", "args": {"target": "staging"}}}
    out = await graph.ainvoke(Command(resume={"decisions": [edit]}), config)
    # It used to answer "launched rocket" (the first branch's result) and run nothing.
    assert RUNS == [{"target": "rocket", "force": False}, {"target": "staging", "force": False}]
    assert "launched staging" in out["messages"][-1].content
    # ...while a fork that approves the same arguments again still runs nothing twice.
    fork = await approval_checkpoint(graph, config)
    await graph.ainvoke(None, fork.config)
    await graph.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    assert len(RUNS) == 2


SLOW: list[str] = []


@tool
async def slow_launch(target: str) -> str:
    """Launch something slowly (a side effect that can be cut off by a cancelled run)."""
    SLOW.append(f"start {target}")
    await asyncio.sleep(30)
    SLOW.append(f"end {target}")
    return f"launched {target}"


register(slow_launch, risk=Risk.high, agents={"slow"}, side_effects=True, describe=lambda a: f"Launch {a['target']}")


async def test_a_run_cancelled_during_an_approved_action_says_so(saver):
    def slow_policy(messages):
        question, results = turn(messages)
        if not results:
            return AIMessage("", tool_calls=[tool_call("slow_launch", {"target": question})])
        return AIMessage(" | ".join(str(r.content) for r in results))

    graph = build_specialist("slow", [slow_launch], "test", slow_policy).copy(update={"checkpointer": saver})
    config = cfg()
    await run_to_interrupt(graph, config)
    SLOW.clear()
    task = asyncio.create_task(graph.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config))
    while not SLOW:
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    rows = await audit.rows_for_thread(config["configurable"]["thread_id"])
    assert [r["status"] for r in rows if r["kind"] == "action"] == ["cancelled"]  # was "started" forever
    out = await graph.ainvoke(None, config)  # the thread goes on from its last checkpoint
    assert "cancelled while running" in out["messages"][-1].content
    assert SLOW == ["start rocket"]  # not run again under the same approval


async def test_tool_call_ids_reused_across_turns_are_renamed(graph):
    """Some servers number tool calls per response (`functions.launch:0` every turn): the second
    turn's call must still be asked about and run, not paired with the first turn's result."""
    calls = iter(range(100))

    def reusing_policy(messages):
        question, results = turn(messages)
        if not results:
            return AIMessage("", tool_calls=[{"name": "launch", "args": {"target": question},
                                              "id": "functions.launch:0", "type": "tool_call"}])
        next(calls)
        return AIMessage(" | ".join(str(r.content) for r in results))

    g = build_specialist("tester", [launch, peek], "test", reusing_policy).copy(update={"checkpointer": graph.checkpointer})
    config = cfg()
    for target in ("first", "second"):
        await run_to_interrupt(g, config, target)
        out = await g.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
        assert f"launched {target}" in out["messages"][-1].content
    assert [r["target"] for r in RUNS] == ["first", "second"]
    ids = [c["id"] for m in out["messages"] if isinstance(m, AIMessage) for c in m.tool_calls]
    assert len(ids) == len(set(ids)) == 2


@tool
async def count_turn(state: Annotated[dict | None, InjectedState] = None) -> str:
    """Say how many messages the thread holds (a tool that reads the graph state)."""
    return "no state" if state is None else f"{len(state['messages'])} messages"


register(count_turn, risk=Risk.low, agents={"stateful"})


async def test_tools_that_declare_injected_state_receive_the_graph_state(saver):
    def counting_policy(messages):
        question, results = turn(messages)
        if not results:
            return AIMessage("", tool_calls=[tool_call("count_turn", {})])
        return AIMessage(str(results[-1].content))

    graph = build_specialist("stateful", [count_turn], "test", counting_policy).copy(update={"checkpointer": saver})
    out = await graph.ainvoke({"messages": [HumanMessage("how many?")]}, cfg())
    assert out["messages"][-1].content.endswith(" 2 messages")  # the question and the call, as the tools node saw them
