"""`agentdesk bench orchestrator`: the cost of orchestration on top of bare LangGraph.

One routed turn of the real orchestrator (input guard -> router -> specialist -> router ->
output guard, Postgres checkpoints) against a bare two-node LangGraph `StateGraph` making the
same two model calls (route, answer) on the same database, in the same process and run. The
model is the scripted OpenAI-compatible server at zero latency, so what remains is overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid

from langchain_core.messages import HumanMessage
from langgraph.graph import START, MessagesState, StateGraph

from evals.scripted_llm import ScriptedServer, text

QUESTION = "What does the runbook say about high latency?"


def _responder(body: dict) -> dict:
    if body.get("response_format"):
        return text(json.dumps({"next": "research", "reason": "a question about the runbooks"}))
    return text("The runbook says to check saturation first, then recent deploys.")


def _baseline(saver, base_url: str):
    from langchain_openai import ChatOpenAI
    from pydantic import BaseModel

    class Route(BaseModel):
        next: str
        reason: str

    model = ChatOpenAI(base_url=base_url, model="scripted", api_key="x", max_retries=0)
    router = model.with_structured_output(Route, method="json_schema")

    async def route(state: MessagesState):
        await router.ainvoke(state["messages"])
        return {}

    async def answer(state: MessagesState):
        return {"messages": [await model.ainvoke(state["messages"])]}

    g = StateGraph(MessagesState)
    g.add_node("route", route)
    g.add_node("answer", answer)
    g.add_edge(START, "route")
    g.add_edge("route", "answer")
    return g.compile(checkpointer=saver)


async def _checkpoint_rows(saver, thread_id: str) -> int:
    async with saver.conn.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM checkpoints WHERE thread_id = %s", (thread_id,))
        return (await cur.fetchone())["n"]


async def _turn(graph, saver, durability: str) -> tuple[float, int]:
    thread = f"bench-{uuid.uuid4().hex}"
    config = {"configurable": {"thread_id": thread}}
    started = time.perf_counter()
    await graph.ainvoke({"messages": [HumanMessage(QUESTION)]}, config, durability=durability)
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, await _checkpoint_rows(saver, thread)


async def _measure(graphs: list, saver, turns: int, durability: str) -> list[tuple[list[float], float]]:
    """Turns of each graph, interleaved (a, b, a, b, ...), so a machine that slows down or speeds
    up during the run moves both sides alike; three warm-up turns each are not counted."""
    times: list[list[float]] = [[] for _ in graphs]
    writes: list[list[int]] = [[] for _ in graphs]
    for i in range(turns + 3):
        for g, graph in enumerate(graphs):
            elapsed, rows = await _turn(graph, saver, durability)
            if i >= 3:
                times[g].append(elapsed)
                writes[g].append(rows)
    return [(t, statistics.mean(w)) for t, w in zip(times, writes)]


async def _commit_ms(saver, n: int = 50) -> float:
    """Median time of one single-row commit on the checkpointer's own connections: on a slow
    disk the WAL flush per commit, not LangGraph, sets most of a turn's time (see
    docs/performance.md), so the figure travels with the ratio."""
    table = f"bench_commit_probe_{uuid.uuid4().hex[:8]}"
    times = []
    async with saver.conn.connection() as conn:
        await conn.execute(f"CREATE TABLE {table} (x int)")
        try:
            for _ in range(n):
                started = time.perf_counter()
                await conn.execute(f"INSERT INTO {table} VALUES (1)")
                times.append((time.perf_counter() - started) * 1000)
        finally:
            await conn.execute(f"DROP TABLE {table}")
    return statistics.median(times)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run(turns: int, durability: str) -> dict:
    from serving import gateway
    from serving.persistence import checkpointer
    from serving.settings import get_settings

    with ScriptedServer() as llm:
        llm.script.responder = _responder
        os.environ["AGENTDESK_LLM_BASE_URL"] = llm.url
        get_settings.cache_clear()
        gateway.reset()
        from graphs.orchestrator import build_orchestrator

        async with checkpointer() as saver:
            desk = build_orchestrator(checkpointer=saver)
            bare = _baseline(saver, llm.url)
            (ours, writes), (base, base_writes) = await _measure([desk, bare], saver, turns, durability)
            commit_ms = await _commit_ms(saver)
    p50, base_p50 = statistics.median(ours), statistics.median(base)
    return {
        "p50_ms": round(p50, 2), "p95_ms": round(_pct(ours, 0.95), 2),
        "baseline_p50_ms": round(base_p50, 2), "baseline_p95_ms": round(_pct(base, 0.95), 2),
        "ratio": round(p50 / base_p50, 3), "checkpoint_writes_per_turn": round(writes, 1),
        "baseline_checkpoint_writes_per_turn": round(base_writes, 1),
        "durability": durability, "turns": turns,
        "checkpoint_sync_commit": get_settings().checkpoint_sync_commit,
        "db_commit_p50_ms": round(commit_ms, 3),
    }


def main(args: argparse.Namespace) -> int:
    result = asyncio.run(run(args.turns, getattr(args, "durability", "async")))
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:38s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main(argparse.Namespace(turns=30, json=True, durability="async")))
