"""`agentdesk bench load`: many threads talking to a real server at once.

Drives a running agentdesk server through langgraph-sdk: N threads in parallel, M turns each,
with the scripted OpenAI-compatible model answering after a fixed latency. Without `--url` it
starts both itself (scripted model in process, the server as `agentdesk run` does) and stops
them at the end. Each turn makes two model calls (router, specialist), so the overhead of a turn
is its latency minus twice the model latency. Traffic stays on loopback and is bounded by N x M.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time

from evals.scripted_llm import ScriptedServer, text

MODEL_CALLS_PER_TURN = 2
QUESTIONS = ("What does the runbook say about high latency?", "How are risky actions approved?",
             "Which signals identify an error spike?", "How do we free disk space from old checkpoints?")


def _responder(body: dict) -> dict:
    if body.get("response_format"):
        return text(json.dumps({"next": "research", "reason": "a question about the docs"}))
    return text("The runbook says to check saturation first, then recent deploys.")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


async def drive(url: str, threads: int, turns: int, latency_ms: float, deadline_s: float) -> dict:
    from langgraph_sdk import get_client

    client = get_client(url=url, timeout=120)
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.monotonic() + deadline_s

    async def one_thread(i: int) -> None:
        try:
            tid = (await client.threads.create(metadata={"title": f"load {i}"}))["thread_id"]
        except Exception as exc:  # noqa: BLE001 - counted, the bench goes on
            errors.append(f"create: {exc}")
            return
        for turn in range(turns):
            if time.monotonic() > stop_at:
                errors.append("deadline")
                return
            started = time.perf_counter()
            try:
                out = await client.runs.wait(tid, "orchestrator", input={"messages": [
                    {"type": "human", "content": QUESTIONS[(i + turn) % len(QUESTIONS)]}]})
                if isinstance(out, dict) and out.get("__error__"):
                    raise RuntimeError(out["__error__"])
                latencies.append((time.perf_counter() - started) * 1000)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"turn: {type(exc).__name__}: {exc}"[:300])

    started = time.perf_counter()
    await asyncio.gather(*(one_thread(i) for i in range(threads)))
    wall = time.perf_counter() - started
    model_ms = MODEL_CALLS_PER_TURN * latency_ms
    return {
        "ok": len(latencies), "errors": len(errors),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(_pct(latencies, 0.95), 1) if latencies else None,
        "overhead_p95_ms": round(_pct(latencies, 0.95) - model_ms, 1) if latencies else None,
        "runs_per_s": round(len(latencies) / wall, 2),
        "threads": threads, "turns": turns, "model_latency_ms": latency_ms,
        "model_calls_per_turn": MODEL_CALLS_PER_TURN, "error_samples": errors[:5],
    }


def main(args: argparse.Namespace) -> int:
    deadline = float(os.environ.get("AGENTDESK_BENCH_DEADLINE_S", "900"))
    if args.url:
        result = asyncio.run(drive(args.url, args.threads, args.turns, args.model_latency_ms, deadline))
    else:
        result = _self_hosted(args, deadline)
    print(json.dumps(result) if args.json else "\n".join(f"{k:22s} {v}" for k, v in result.items()))
    return 0 if result["errors"] == 0 else 1


def _self_hosted(args: argparse.Namespace, deadline: float) -> dict:
    """Start the scripted model and the server, run the load, stop both."""
    from evals.server_process import Server

    with ScriptedServer() as llm:
        llm.script.responder = _responder
        llm.script.latency_s = args.model_latency_ms / 1000
        env = {"AGENTDESK_LLM_BASE_URL": llm.url, "AGENTDESK_LLM_MODEL": llm.script.model,
               # its own server folder, so the bench never shares bookkeeping with `make run`
               "AGENTDESK_DATA_DIR": os.environ.get("AGENTDESK_DATA_DIR") or tempfile.mkdtemp(prefix="agentdesk-bench-")}
        server = Server(env=env, extra_args=["--n-jobs-per-worker", str(max(10, args.threads))])
        print("starting the server...", file=sys.stderr)
        url = server.start()
        try:
            print(f"driving {args.threads} threads x {args.turns} turns at {url}", file=sys.stderr)
            return asyncio.run(drive(url, args.threads, args.turns, args.model_latency_ms, deadline))
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main(argparse.Namespace(url=None, threads=5, turns=2, model_latency_ms=200, json=True)))
