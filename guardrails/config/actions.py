"""Custom NeMo actions: thin adapters from NeMo's calling convention to guardrails.* so the
NeMo path and direct calls give the same verdicts. NeMo loads this file from the config folder."""

from __future__ import annotations

from typing import Any

from nemoguardrails.actions import action

from guardrails.input_guard import check_input, refusal_message
from guardrails.output_guard import check_output
from guardrails.retrieval_guard import screen_chunk


@action(name="agentdesk_check_input")
async def agentdesk_check_input(text: str) -> dict[str, Any]:
    verdict = check_input(text or "")
    return {**verdict.to_dict(), "refusal": refusal_message(verdict)}


@action(name="agentdesk_check_output")
async def agentdesk_check_output(text: str, context: dict | None = None) -> dict[str, Any]:
    allowed = (context or {}).get("allowed_links") or []
    v = check_output(text or "", allowed)
    return {"text": v.text, "findings": v.findings, "removed_links": v.removed_links}


@action(name="agentdesk_screen_chunks")
async def agentdesk_screen_chunks(text: str) -> str:
    # $relevant_chunks is one string of chunks separated by blank lines.
    return "\n\n".join(screen_chunk(part)[0] for part in (text or "").split("\n\n"))
