"""The tools node: runs the calls that passed the approval node, through the registry.

Arguments are validated against the tool's JSON schema before anything runs. Medium and
higher calls are audit-logged; side-effecting calls claim an idempotency key first, so a
resumed or replayed run never executes an approved action twice.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.prebuilt import InjectedState

from graphs.approval import pending_calls
from guardrails import pii
from guardrails.policy import PolicyError, Risk, check_call
from serving import audit, telemetry
from serving.metrics import TOOL_CALLS, TOOL_ERRORS_RECENT, timed

MAX_RESULT_CHARS = 20_000  # what the model sees; the full result stays in the artifact
CANCELLED = "cancelled while running: whether it took effect is unknown"
INLINE_REDACT_CHARS = 32_000  # ~15 ms of redaction; larger results are redacted in a worker thread


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
    # Redacted again: rows written before results were redacted hold them as the tool returned them.
    return (pii.redact_all((earlier.get("result") or {}).get("content"))
            or f"{tool} already ran for this request; not run again.")


def _chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(map(_chars, value.values()))
    if isinstance(value, (list, tuple)):
        return sum(map(_chars, value))
    return 0


def _redact_file(f: Any) -> Any:
    """A file the code wrote (`{name, mime, size, b64}`): a text file is decoded, redacted and
    encoded again; a binary one (an image) keeps its bytes, which a text scan cannot read."""
    if not isinstance(f, dict) or not isinstance(f.get("b64"), str):
        return pii.redact_all(f)
    meta = pii.redact_all({k: v for k, v in f.items() if k != "b64"})
    try:
        text = base64.b64decode(f["b64"], validate=True).decode("utf-8")
    except (ValueError, binascii.Error):  # not base64, or not UTF-8 text
        return {**meta, "b64": f["b64"]}
    clean = pii.redact_all(text)
    if clean == text:
        return {**meta, "b64": f["b64"]}
    data = clean.encode()
    return {**meta, "size": len(data), "b64": base64.b64encode(data).decode()}


def _redact_result(content: Any, artifact: Any) -> tuple[Any, Any]:
    """PII and secrets out of a tool's result, as the output guard takes them out of an answer:
    the content (a string or content blocks) and every string value in the artifact (table
    cells, stdout/stderr, log lines, metric labels, cited passages). Keys, numbers, booleans and
    None are kept, so a table keeps its shape and types. ~0.4-0.6 s per MB of text."""
    content = pii.redact_all(content)
    if isinstance(artifact, dict) and isinstance(artifact.get("files"), list):  # run_python's
        rest = pii.redact_all({k: v for k, v in artifact.items() if k != "files"})
        files = [_redact_file(f) for f in artifact["files"]]
        artifact = {k: files if k == "files" else rest[k] for k in artifact}
    else:
        artifact = pii.redact_all(artifact)
    return content, artifact


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
    status = "failed" if message.status == "error" else "done"
    # Redacted before anything keeps or shows it: the message and its artifact are checkpointed,
    # streamed to the UI and read by the model; the audit row keeps the same text. A large result in
    # a thread: a 1 MB table takes ~0.6 s, which would stall every other run on this event loop.
    try:
        if _chars(message.content) + _chars(message.artifact) <= INLINE_REDACT_CHARS:
            message.content, message.artifact = _redact_result(message.content, message.artifact)
        else:
            message.content, message.artifact = await asyncio.to_thread(_redact_result, message.content,
                                                                        message.artifact)
    except asyncio.CancelledError:
        if once:  # the action ran; its result was not kept
            await asyncio.shield(audit.finish_action(
                key, status, {"content": f"{call['name']} ran; the run was cancelled before its result was recorded."}))
        raise
    content = str(message.content)
    if len(content) > MAX_RESULT_CHARS:
        message.content = content[:MAX_RESULT_CHARS] + "\n[truncated]"

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
