"""The tools node: runs the calls that passed the approval node, through the registry.

Arguments are validated against the tool's JSON schema before anything runs. Medium and
higher calls are audit-logged; side-effecting calls claim an idempotency key first, so a
resumed or replayed run never executes an approved action twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.prebuilt import InjectedState

from graphs.approval import pending_calls
from guardrails.policy import PolicyError, Risk, check_call
from serving import audit, telemetry
from serving.metrics import TOOL_CALLS, TOOL_ERRORS_RECENT, timed

MAX_RESULT_CHARS = 20_000  # what the model sees; the full result stays in the artifact
CANCELLED = "cancelled while running: whether it took effect is unknown"


def _args_digest(args: Any) -> str:
    return hashlib.sha256(json.dumps(args, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _earlier_outcome(tool: str, earlier: dict) -> str:
    """What the model is told about an action this request already claimed."""
    if earlier["status"] == "cancelled":
        return (f"{tool} was approved, then cancelled while running; whether it took effect is unknown. "
                "It is not run again under that approval: check its effect, and ask again if it is still needed.")
    if earlier["status"] == "started":
        return (f"{tool} is already running for this request (or its run died before recording an outcome); "
                "not run again.")
    return (earlier.get("result") or {}).get("content") or f"{tool} already ran for this request; not run again."


def _state_args(tool: Any) -> list[str]:
    """Arguments a tool declares as `Annotated[..., InjectedState]`: this node passes them the
    graph state, as LangGraph's ToolNode does (the model never sees or sets them)."""
    fields = getattr(tool.args_schema, "model_fields", None) or {}
    return [name for name, f in fields.items() if any(m is InjectedState or isinstance(m, InjectedState)
                                                     for m in f.metadata)]


async def _run_one(agent: str, call: dict, config: RunnableConfig,
                   state: dict | None = None) -> tuple[ToolMessage, dict | None]:
    try:
        spec, risk = check_call(agent, call["name"], call["args"])
    except PolicyError as exc:
        return ToolMessage(str(exc), tool_call_id=call["id"], name=call["name"], status="error"), None

    thread = audit.run_identity(config)["thread_id"]
    # The arguments are part of the key: a replay runs nothing twice, but an edit made in a fork
    # (other arguments, approved anew) is a different action, not "the one that already ran".
    key = f"{thread}:{call['id']}:{_args_digest(call['args'])}"
    once = spec.has_side_effects(call["args"]) or risk.needs_approval
    if once:
        earlier = await audit.begin_action(config, key, agent=agent, tool=call["name"], risk=risk.value, args=call["args"])
        if earlier is not None:
            return ToolMessage(_earlier_outcome(call["name"], earlier), tool_call_id=call["id"], name=call["name"]), None
    with telemetry.tool_span(call["name"], agent, risk.value, call["id"]) as span:
        try:
            injected = dict.fromkeys(_state_args(spec.tool), state)
            message = await spec.tool.ainvoke({**call, "args": {**call["args"], **injected}, "type": "tool_call"},
                                              config)
        except asyncio.CancelledError:
            if once:  # a cancelled run: say so, or the claim reads "started" forever
                await asyncio.shield(audit.finish_action(key, "cancelled", {"content": CANCELLED}))
            raise
        except Exception as exc:  # noqa: BLE001 - a tool failure is reported to the model, not raised
            message = ToolMessage(f"{call['name']} failed: {type(exc).__name__}: {exc}",
                                  tool_call_id=call["id"], name=call["name"], status="error")
        span.set_attribute("agentdesk.tool.status", getattr(message, "status", "success") or "success")
    failed = getattr(message, "status", None) == "error"
    TOOL_CALLS.labels(call["name"], "error" if failed else "ok").inc()
    if failed:
        TOOL_ERRORS_RECENT.note()
    if not isinstance(message, ToolMessage):  # a tool that returned a Command or raw value
        message = ToolMessage(str(message), tool_call_id=call["id"], name=call["name"])
    content = str(message.content)
    if len(content) > MAX_RESULT_CHARS:
        message.content = content[:MAX_RESULT_CHARS] + "\n[truncated]"

    status = "failed" if message.status == "error" else "done"
    if once:
        await audit.finish_action(key, status, {"content": content[:4000]})
    elif risk is not Risk.low:
        await audit.record("action", config, agent=agent, tool=call["name"], risk=risk.value,
                           status=status, args=call["args"], result={"content": content[:4000]})

    artifact = message.artifact if isinstance(message.artifact, dict) else None
    if artifact is not None:
        artifact = {**artifact, "tool_call_id": call["id"], "tool": call["name"], "agent": agent}
    return message, artifact


def make_tools_node(agent: str):
    @timed(f"{agent}.tools")
    async def tools(state: dict, config: RunnableConfig) -> dict[str, Any]:
        _, calls = pending_calls(state["messages"])
        results = await asyncio.gather(*(_run_one(agent, c, config, state) for c in calls))
        return {
            "messages": [m for m, _ in results],
            "artifacts": [a for _, a in results if a is not None],
        }

    return tools
