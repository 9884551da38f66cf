"""Per-turn latency of routed offline turns with Postgres checkpoints, one figure per specialist.

`python -m evals.turn_latency [--turns N]` prints JSON: p50/p95 ms per route, measured in process
with the offline model (no model latency), guards on, durability "async" (LangGraph's default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

from langchain_core.messages import HumanMessage

ASKS = {
    "research": "How are risky actions approved?",
    "data": "```sql\nSELECT status, count(*) AS n FROM orders GROUP BY status\n```",
    "code": "```python\nprint(sum(range(100)))\n```",
    "devops": "Are there errors in the logs?",
}


async def run(turns: int) -> dict:
    from agents.data.warehouse import ensure_warehouse_async
    from graphs.orchestrator import build_orchestrator
    from serving.persistence import checkpointer
    from serving.runner import DEMO_CORPUS

    await ensure_warehouse_async()
    from rag.ingest import ingest_paths

    await asyncio.to_thread(ingest_paths, [p for p in DEMO_CORPUS if p.exists()], None, False)
    out: dict[str, dict] = {}
    async with checkpointer() as saver:
        desk = build_orchestrator(checkpointer=saver)
        for route, ask in ASKS.items():
            times = []
            for i in range(turns + 2):  # two warm-up turns
                started = time.perf_counter()
                await desk.ainvoke({"messages": [HumanMessage(ask)]},
                                   {"configurable": {"thread_id": f"lat-{uuid.uuid4().hex}"}})
                if i >= 2:
                    times.append((time.perf_counter() - started) * 1000)
            times.sort()
            out[route] = {"p50_ms": round(statistics.median(times), 1),
                          "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1)}
    return {"turns": turns, "durability": "async", "model": "offline", "routes": out}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--turns", type=int, default=20)
    print(json.dumps(asyncio.run(run(p.parse_args().turns))))


if __name__ == "__main__":
    main()
