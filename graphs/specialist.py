"""Assembles a specialist subgraph: agent (model with tools) -> approval -> tools -> agent.

The agent packages supply their tools, prompt and offline policy; this module only wires
them, so every specialist gets the same approval, audit and step-limit behaviour.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph

from graphs.approval import make_approval_node, pending_calls
from graphs.state import SpecialistState
from graphs.tool_exec import make_tools_node
from serving.gateway import ModelBusy, busy_message, chat_model
from serving.metrics import timed
from serving.offline_model import OfflinePolicy

MAX_AGENT_STEPS = 6  # model calls per specialist visit: ends tool loops that never converge


def build_specialist(
    name: str,
    tools: Sequence[BaseTool],
    prompt: str,
    offline_policy: OfflinePolicy,
    *,
    max_steps: int = MAX_AGENT_STEPS,
):
    model = chat_model(name, offline_policy).bind_tools(list(tools))

    @timed(f"{name}.agent")
    async def agent(state: SpecialistState, config: RunnableConfig) -> dict:
        steps = state.get("agent_steps", 0)
        if steps >= max_steps:
            note = f"The {name} agent stopped after {max_steps} steps; the results so far are above."
            return {"messages": [AIMessage(note, name=name)], "agent_steps": 0}
        try:
            reply = await model.ainvoke([SystemMessage(prompt), *state["messages"]], config)
        except ModelBusy as busy:
            return {"messages": [AIMessage(busy_message(busy), name=name)], "agent_steps": 0}
        reply.name = name
        return {"messages": [reply], "agent_steps": 0 if not reply.tool_calls else steps + 1}

    def after_agent(state: SpecialistState) -> str:
        _, calls = pending_calls(state["messages"])
        return "approval" if calls else END

    def after_approval(state: SpecialistState) -> str:
        _, calls = pending_calls(state["messages"])
        return "tools" if calls else "agent"

    graph = StateGraph(SpecialistState)
    graph.add_node("agent", agent)
    graph.add_node("approval", make_approval_node(name))
    graph.add_node("tools", make_tools_node(name))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", after_agent, ["approval", END])
    graph.add_conditional_edges("approval", after_approval, ["tools", "agent"])
    graph.add_edge("tools", "agent")
    return graph.compile(name=name)
