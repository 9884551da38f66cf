"""Prometheus metrics of agentdesk, exposed at /metrics by the HTTP app.

The DevOps agent reads these same series when no Prometheus is configured.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Awaitable, Callable

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest

RUNS = Counter("agentdesk_runs_total", "Orchestrator turns by graph and outcome", ["graph", "outcome"])
MODEL_TOKENS = Counter("agentdesk_model_tokens_total", "Model tokens by model and direction", ["model", "direction"])
MODEL_COST = Counter("agentdesk_model_cost_total", "Model cost (configured price per 1k tokens)", ["model"])
# One per backend tried for a model call: ok | error | busy | circuit_open. The offline model's
# "ok" count is how often the fallback answered instead of a served model.
MODEL_CALLS = Counter("agentdesk_model_calls_total", "Model calls by backend model and outcome", ["model", "outcome"])
CHECKPOINT_WRITE = Histogram("agentdesk_checkpoint_write_seconds", "Checkpoint write latency",
                             buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
ROUTES = Counter("agentdesk_routes_total", "Router decisions by route", ["route"])
TOOL_CALLS = Counter("agentdesk_tool_calls_total", "Tool calls by tool and outcome", ["tool", "outcome"])
GUARD_BLOCKS = Counter("agentdesk_guard_blocks_total", "Inputs blocked by category", ["category"])
APPROVALS = Counter("agentdesk_approvals_total", "Approval decisions by type", ["decision"])
APPROVALS_PENDING = Gauge("agentdesk_approvals_pending", "Interrupts waiting for a decision")
HTTP_REQUESTS = Counter("agentdesk_http_requests_total", "Requests to the custom app", ["path", "status"])
NODE_LATENCY = Histogram("agentdesk_node_seconds", "Node latency", ["node"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


class RecentEvents:
    """When the last events of one kind happened, for checks over a recent window ("tool errors in
    the last 15 minutes") that a counter since start-up cannot answer without Prometheus."""

    def __init__(self, keep: int = 10_000):
        self._times: deque[float] = deque(maxlen=keep)  # append and iteration are thread-safe

    def note(self) -> None:
        self._times.append(time.time())

    def count(self, window_s: float) -> int:
        cutoff = time.time() - window_s
        return sum(1 for t in list(self._times) if t >= cutoff)

    def clear(self) -> None:
        self._times.clear()


TOOL_ERRORS_RECENT = RecentEvents()
HTTP_5XX_RECENT = RecentEvents()


def exposition() -> bytes:
    return generate_latest(REGISTRY)


def samples(match: str = "") -> list[tuple[str, dict[str, str], float]]:
    """Current samples of agentdesk's own series whose name contains `match`."""
    out = []
    for family in REGISTRY.collect():
        for s in family.samples:
            if s.name.startswith(("agentdesk_", "process_")) and match in s.name:
                out.append((s.name, dict(s.labels), s.value))
    return out


def timed(node: str):
    """Record a node's latency in `agentdesk_node_seconds{node=...}` (async node functions)."""

    def wrap(fn: Callable[..., Awaitable]):
        @functools.wraps(fn)
        async def inner(*args, **kwargs):
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                NODE_LATENCY.labels(node).observe(time.perf_counter() - started)

        return inner

    return wrap
