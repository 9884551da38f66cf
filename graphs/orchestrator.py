"""The orchestrator graph: input guard -> router -> one specialist -> router ... -> output guard.

Assembly only. Each specialist is a compiled subgraph added as a node, so Studio's xray
shows its inside. Compiled without a checkpointer: the LangGraph server supplies ours
(`langgraph.json` -> `checkpointer.path`); tests and benchmarks pass one explicitly.
"""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from agents.code.graph import build_graph as build_code
from agents.data.graph import build_graph as build_data
from agents.devops.graph import build_graph as build_devops
from agents.research.graph import build_graph as build_research
from graphs.guards import after_input_guard, input_guard, output_guard
from graphs.router import after_specialist, next_node, router
from graphs.state import SPECIALISTS, DeskState
from serving.telemetry import run_tracing_config


def build_orchestrator(checkpointer=None):
    builder = StateGraph(DeskState)
    builder.add_node("input_guard", input_guard)
    builder.add_node("router", router)
    builder.add_node("research", build_research())
    builder.add_node("code", build_code())
    builder.add_node("data", build_data())
    builder.add_node("devops", build_devops())
    builder.add_node("output_guard", output_guard)

    builder.add_edge(START, "input_guard")
    builder.add_conditional_edges("input_guard", after_input_guard, {"router": "router", "blocked": END})
    builder.add_conditional_edges("router", next_node, [*SPECIALISTS, "output_guard"])
    for name in SPECIALISTS:
        builder.add_conditional_edges(name, after_specialist, ["router", "output_guard"])
    builder.add_edge("output_guard", END)
    return builder.compile(checkpointer=checkpointer, name="orchestrator")


_GRAPH = build_orchestrator()


def graph(config: RunnableConfig):
    """The server's graph factory: the one compiled graph, plus per-run Langfuse callbacks and
    metadata (user, tenant, thread as session) when Langfuse is configured."""
    extra = run_tracing_config(config)
    return _GRAPH.with_config(extra) if extra else _GRAPH
