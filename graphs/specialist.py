"""Assembles a specialist subgraph: agent (model with tools) -> approval -> tools -> agent.

The agent packages supply their tools, prompt and offline policy; this module only wires
them, so every specialist gets the same approval, audit and step-limit behaviour.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

from langchain_core.messages import AIMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph

from graphs.approval import make_approval_node, pending_calls
from graphs.budget import over_budget, tally
from graphs.state import SpecialistState
from graphs.tool_exec import make_tools_node
from graphs.routing import latest_human, message_text
from serving.gateway import ModelBusy, busy_message, chat_model, is_offline
from serving.metrics import timed
from serving.offline_model import OfflinePolicy

MAX_AGENT_STEPS = 6  # model calls per specialist visit: ends tool loops that never converge


def unique_call_ids(reply: AIMessage, history: Sequence) -> AIMessage:
    """Give each tool call an id no earlier call in the thread has. Some servers reuse ids across
    turns (vLLM's Kimi-K2 parser numbers them `functions.<name>:<index>`); a reused id would pair
    the new call with an old result and the approval and run-once keys with an old action."""
    if not reply.tool_calls:
        return reply
    seen = {c["id"] for m in history if isinstance(m, AIMessage) for c in m.tool_calls or []}
    calls, renamed = [], {}
    for call in reply.tool_calls:
        if not call.get("id") or call["id"] in seen:
            renamed[call.get("id")] = new_id = f"call_{uuid.uuid4().hex[:24]}"
            call = {**call, "id": new_id}
        seen.add(call["id"])
        calls.append(call)
    if not renamed:
        return reply
    raw = [{**c, "id": renamed.get(c.get("id"), c.get("id"))} for c in reply.additional_kwargs.get("tool_calls", [])]
    kwargs = {**reply.additional_kwargs, **({"tool_calls": raw} if raw else {})}
    return reply.model_copy(update={"tool_calls": calls, "additional_kwargs": kwargs})


def build_specialist(
    name: str,
    tools: Sequence[BaseTool],
    prompt: str,
    offline_policy: OfflinePolicy,
    *,
    max_steps: int = MAX_AGENT_STEPS,
    context: Callable[[str], Awaitable[str]] | None = None,
):
    """`context(question)` adds question-specific text to the system prompt of a served model
    (e.g. the data agent's relevant tables); the offline model does not read prompts."""
    model = chat_model(name, offline_policy).bind_tools(list(tools))

    @timed(f"{name}.agent")
    async def agent(state: SpecialistState, config: RunnableConfig) -> dict:
        steps = state.get("agent_steps", 0)
        # The run's token and cost budget holds inside a specialist's tool loop too.
        if reason := over_budget(tally(state["messages"], None, step=False), check_steps=False):
            note = f"The {name} agent stopped: {reason}. The results so far are above."
            return {"messages": [AIMessage(note, name=name)], "agent_steps": 0}
        if steps >= max_steps:
            note = f"The {name} agent stopped after {max_steps} steps; the results so far are above."
            return {"messages": [AIMessage(note, name=name)], "agent_steps": 0}
        system = prompt
        if context is not None and not is_offline():
            _, human = latest_human(state["messages"])
            system = f"{prompt}\n\n{await context(message_text(human) if human else '')}"
        try:
            reply = await model.ainvoke([SystemMessage(system), *state["messages"]], config)
        except ModelBusy as busy:
            return {"messages": [AIMessage(busy_message(busy), name=name)], "agent_steps": 0}
        reply.name = name
        reply = unique_call_ids(reply, state["messages"])
        if reply.invalid_tool_calls and not reply.tool_calls:
            # Arguments that are not valid JSON: tell the model exactly that and let it try again
            # (bounded by max_steps) instead of ending the turn with no answer.
            errors = [ToolMessage(f"Your call to {bad.get('name')} was not run: its arguments are not valid "
                                  f"JSON ({bad.get('error') or 'parse error'}). Call it again with valid JSON.",
                                  tool_call_id=bad.get("id") or "invalid", name=bad.get("name") or "invalid",
                                  status="error")
                      for bad in reply.invalid_tool_calls]
            return {"messages": [reply, *errors], "agent_steps": steps + 1}
        return {"messages": [reply], "agent_steps": 0 if not reply.tool_calls else steps + 1}

    def after_agent(state: SpecialistState) -> str:
        if isinstance(state["messages"][-1], ToolMessage):  # malformed calls were answered
            return "agent"
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
    graph.add_conditional_edges("agent", after_agent, ["approval", "agent", END])
    graph.add_conditional_edges("approval", after_approval, ["tools", "agent"])
    graph.add_edge("tools", "agent")
    # Tags and metadata name the agent on every callback, so Langfuse and LangSmith traces can be
    # filtered by agent.
    return graph.compile(name=name).with_config(tags=[f"agent:{name}"], metadata={"agent": name})
