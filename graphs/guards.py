"""Guard nodes: the input guard opens every run, the output guard closes it.

They call the detectors in `guardrails/` directly, or through the NeMo Guardrails rails when
AGENTDESK_GUARD_ENGINE=nemo (same verdicts, slower); verdicts go to state (for the UI and traces) and
blocked inputs to the audit log. A blocked message is replaced in history by a placeholder
so the attack never reaches a model later in the thread, and the thread stays usable.
"""

from __future__ import annotations

import asyncio
import re

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig

from graphs.routing import latest_human, message_text
from graphs.state import DeskState, fresh_budget
from guardrails import pii
from guardrails.input_guard import check_input, refusal_message
from guardrails.output_guard import OutputVerdict, check_output
from guardrails.rails import nemo_check_input, nemo_output_verdict
from guardrails.settings import get_guard_settings
from serving import audit, telemetry
from serving.metrics import GUARD_BLOCKS, RUNS, timed

_URL = re.compile(r"https?://[^\s)\]>\"']+")


@timed("input_guard")
async def input_guard(state: DeskState, config: RunnableConfig) -> dict:
    update: dict = {"budget": fresh_budget(), "route": None, "route_reason": "", "notes": []}
    _, human = latest_human(state["messages"])
    text = message_text(human) if human is not None else ""
    if human is None or not text.strip():
        update["route"] = "blocked"
        update["messages"] = [AIMessage("Please type a question: the message was empty.", name="input_guard")]
        return update
    if get_guard_settings().engine == "nemo":
        verdict = await nemo_check_input(text)
    else:
        # Off the event loop: the classifier's forward pass (7-25 ms) would otherwise stall every
        # other run on this server, and this run's own checkpoint write, for its whole length.
        verdict = await asyncio.to_thread(check_input, text)
    record = {"stage": "input", "allowed": verdict.allowed, "category": verdict.category,
              "reason": verdict.reason, "score": round(verdict.score, 3), "message_id": human.id}
    update["guard"] = [record]
    telemetry.guard_event("input", verdict.allowed, verdict.category, verdict.score)
    if not verdict.allowed:
        GUARD_BLOCKS.labels(verdict.category or "other").inc()
        RUNS.labels("orchestrator", "blocked").inc()
        await audit.record("guard", config, decision="block", note=verdict.reason,
                           args={"category": verdict.category, "score": verdict.score})
        placeholder = f"[message withheld by the input guard: {verdict.category}]"
        update["route"] = "blocked"
        update["messages"] = [
            HumanMessage(placeholder, id=human.id),
            AIMessage(refusal_message(verdict), name="input_guard"),
        ]
    elif verdict.masked_text != text:
        update["messages"] = [_masked(human, verdict.masked_text)]
    return update


def _masked(human: HumanMessage, masked_text: str) -> HumanMessage:
    """The message with PII masked, in the shape it came in: a list of content blocks stays a
    list (each text block masked on its own, images and the like kept), not its Python repr."""
    if isinstance(human.content, str):
        return HumanMessage(masked_text, id=human.id)
    blocks = []
    for block in human.content:
        if isinstance(block, str):
            block = pii.redact(block)[0]
        elif isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            block = {**block, "text": pii.redact(block["text"])[0]}
        blocks.append(block)
    return HumanMessage(blocks, id=human.id)


async def _check_output(text: str, allowed_links: list[str]) -> OutputVerdict:
    if get_guard_settings().engine == "nemo":
        return await nemo_output_verdict(text, allowed_links)
    return check_output(text, allowed_links=allowed_links)


def after_input_guard(state: DeskState) -> str:
    return "blocked" if state.get("route") == "blocked" else "router"


@timed("output_guard")
async def output_guard(state: DeskState, config: RunnableConfig) -> dict:
    """Redact PII and secrets from this run's answers; keep links only to cited sources."""
    idx, _ = latest_human(state["messages"])
    cited = [a.get("source", "") for art in state.get("artifacts") or [] for a in art.get("citations", [])]
    cited_urls = [u for u in cited if u.startswith("http")]
    replaced, records = [], []
    for m in state["messages"][idx + 1 :]:
        if not isinstance(m, AIMessage) or not isinstance(m.content, str) or not m.content:
            continue
        verdict = await _check_output(m.content, cited_urls)
        if verdict.findings or verdict.removed_links:
            telemetry.guard_event("output", True, "redacted")
        if verdict.text != m.content:
            replaced.append(m.model_copy(update={"content": verdict.text}))
            records.append({"stage": "output", "message_id": m.id, "findings": verdict.findings,
                            "removed_links": verdict.removed_links})
    RUNS.labels("orchestrator", "answered").inc()
    if not any(isinstance(m, AIMessage) and m.content for m in state["messages"][idx + 1 :]):
        replaced.append(AIMessage(
            "I can help with documents (research), Python (code), the warehouse (SQL) and "
            "DevOps signals. What would you like to do?", name="orchestrator"))
    return {"messages": replaced, "guard": records} if replaced or records else {}
