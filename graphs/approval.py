"""The approval node: every high or critical tool call stops here until a human decides.

The interrupt value is LangChain v1's `HITLRequest` and the resume value its `HITLResponse`
(see ARCHITECTURE.md), so agent-chat-ui and our own UI both render it. A malformed resume
does not crash the run: the node asks again, with the error in the new interrupt, and
nothing is lost. Each decision is written once to the audit log.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt

from guardrails.policy import PolicyError, Risk, check_call
from serving import audit
from serving.metrics import APPROVALS

DECISIONS = ["approve", "edit", "reject"]


def pending_calls(messages: list) -> tuple[AIMessage | None, list[dict]]:
    """The last AI message and its tool calls that have no result yet."""
    at = next((i for i in range(len(messages) - 1, -1, -1) if isinstance(messages[i], AIMessage)), None)
    if at is None or not messages[at].tool_calls:
        return None, []
    # Only results after it answer it: an earlier turn's result for a reused id does not.
    done = {m.tool_call_id for m in messages[at + 1:] if isinstance(m, ToolMessage)}
    return messages[at], [c for c in messages[at].tool_calls if c["id"] not in done]


def _action_request(call: dict, risk: Risk, description: str) -> dict[str, Any]:
    note = " A reason is required and recorded." if risk is Risk.critical else ""
    return {
        "name": call["name"],
        "args": call["args"],
        "description": f"[{risk.value} risk] {description}.{note}",
        "risk": risk.value,  # extra key: our UI shows it; HITL renderers ignore it
        "tool_call_id": call["id"],
    }


def _parse(response: Any, n: int) -> tuple[list[dict] | None, str | None]:
    """Validate a resume value against the HITLResponse shape; return (decisions, error)."""
    if not isinstance(response, dict) or not isinstance(response.get("decisions"), list):
        return None, 'resume with {"decisions": [...]}, one decision per action'
    decisions = response["decisions"]
    if len(decisions) != n:
        return None, f"expected {n} decision(s), got {len(decisions)}"
    for i, d in enumerate(decisions):
        kind = d.get("type") if isinstance(d, dict) else None
        if kind not in DECISIONS:
            return None, f"decision {i}: type must be one of {DECISIONS}"
        if kind == "edit":
            edited = d.get("edited_action")
            if not (isinstance(edited, dict) and isinstance(edited.get("name"), str)
                    and isinstance(edited.get("args"), dict)):
                return None, f'decision {i}: edit needs "edited_action": {{"name", "args"}}'
        if kind == "reject" and not isinstance(d.get("message", ""), str):
            return None, f"decision {i}: reject message must be a string"
        if _holds_nul(d):
            # Postgres text cannot hold NUL: the audit row would fail, and since every resume
            # replays this answer, the approval could never be decided again.
            return None, f"decision {i}: text may not contain NUL (\\u0000) characters"
    return decisions, None


def _holds_nul(value: Any) -> bool:
    """Whether any string in a JSON-like value (keys included) contains NUL; no recursion."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            stack.extend(v)
    return False


def make_approval_node(agent: str):
    async def approval(state: dict, config: RunnableConfig) -> dict:
        last, calls = pending_calls(state["messages"])
        if not calls:
            return {}
        kept: list[dict] = []  # calls that will run, maybe edited
        replies: list[ToolMessage] = []  # refusals and rejections the model will read
        gated: list[tuple[dict, Risk, str]] = []
        for call in calls:
            try:
                spec, risk = check_call(agent, call["name"], call["args"])
            except PolicyError as exc:
                replies.append(ToolMessage(str(exc), tool_call_id=call["id"], name=call["name"], status="error"))
                continue
            if risk.needs_approval:
                gated.append((call, risk, spec.description_for(call["args"])))
            else:
                kept.append(call)

        if gated:
            request = {
                "action_requests": [_action_request(c, r, d) for c, r, d in gated],
                "review_configs": [{"action_name": c["name"], "allowed_decisions": DECISIONS} for c, _, _ in gated],
            }
            response = interrupt(request)
            while True:  # a bad answer is asked again; earlier answers replay on each resume
                decisions, error = _parse(response, len(gated))
                error = error or _check_edits(agent, gated, decisions)
                if error is None:
                    break
                response = interrupt({**request, "error": error})
            for (call, risk, _), decision in zip(gated, decisions, strict=True):
                await _audit_decision(config, agent, call, risk, decision)
                APPROVALS.labels(decision["type"]).inc()
                if decision["type"] == "approve":
                    kept.append(call)
                elif decision["type"] == "edit":
                    kept.append({**call, "args": decision["edited_action"]["args"]})
                else:
                    reason = decision.get("message") or "no reason given"
                    replies.append(ToolMessage(
                        f"The reviewer rejected {call['name']}: {reason}. It was not run.",
                        tool_call_id=call["id"], name=call["name"], status="error",
                    ))
        # Rewrite the AI message's calls to what will actually run (same id: replaced in place).
        # Rejected and refused calls stay on the message so their ToolMessages pair with them.
        by_id = {c["id"]: c for c in kept}
        updated = last.model_copy(update={"tool_calls": [by_id.get(c["id"], c) for c in last.tool_calls]})
        return {"messages": [updated, *replies]}

    return approval


def _check_edits(agent: str, gated: list, decisions: list[dict]) -> str | None:
    for i, ((call, _, _), d) in enumerate(zip(gated, decisions, strict=True)):
        if d["type"] != "edit":
            continue
        edited = d["edited_action"]
        if edited["name"] != call["name"]:
            return f"decision {i}: an edit may change the arguments, not the tool"
        try:
            check_call(agent, edited["name"], edited["args"])
        except PolicyError as exc:
            return f"decision {i}: {exc}"
    return None


async def _audit_decision(config: RunnableConfig, agent: str, call: dict, risk: Risk, decision: dict) -> None:
    thread = audit.run_identity(config)["thread_id"]
    args = decision["edited_action"]["args"] if decision["type"] == "edit" else call["args"]
    # One row per decision, not per call: the approval node replays the same answer on every
    # resume (same task, same namespace: one row), but a fork in Studio re-asks from an earlier
    # checkpoint in a new task, and that second decision must be on record too.
    task = (config.get("configurable") or {}).get("checkpoint_ns") or ""
    await audit.record(
        "decision", config, key=f"{thread}:{call['id']}:{task}", agent=agent, tool=call["name"],
        risk=risk.value, decision=decision["type"], args=args, note=decision.get("message"),
    )
