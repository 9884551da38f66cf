"""Mask PII and secrets in a run's input before the server stores anything.

The input guard node masks the message it checks, but by then LangGraph has already written the
run's input as the thread's first checkpoint, and the server has kept it in the run record: the
raw email, card number or API key stayed in the thread's history (shown by the API and Studio,
and sent on by a fork) and in Langfuse's trace of the run. Masking the request body at the door,
before the server reads it, keeps them out of all of these. Every human message of the input is
masked, not only the last. With AGENTDESK_INPUT_PII=block a message holding any is refused here,
so it is never stored; =off leaves input as it is. The guard node still masks, for callers that
run the graph in process.
"""

from __future__ import annotations

import json
from typing import Any

from guardrails import pii
from guardrails.settings import get_guard_settings

_HUMAN = {"human", "user"}


def _mask_message(message: Any, found: set[str]) -> bool:
    """Mask one message in place if it is a human one; True if anything changed."""
    if not isinstance(message, dict) or (message.get("type") or message.get("role")) not in _HUMAN:
        return False
    content, changed = message.get("content"), False
    if isinstance(content, str):
        masked, matches = pii.redact(content)
        found.update(m["type"] for m in matches)
        if masked != content:
            message["content"], changed = masked, True
    elif isinstance(content, list):
        for i, block in enumerate(content):
            text = block if isinstance(block, str) else block.get("text") if isinstance(block, dict) else None
            if not isinstance(text, str) or (isinstance(block, dict) and block.get("type", "text") != "text"):
                continue
            masked, matches = pii.redact(text)
            found.update(m["type"] for m in matches)
            if masked != text:
                content[i] = masked if isinstance(block, str) else {**block, "text": masked}
                changed = True
    return changed


def mask_body(body: bytes) -> tuple[bytes, str | None]:
    """(the body with every human message masked, or a refusal when the mode is `block`).
    A body that is not a run (or list of runs) with `input.messages` comes back as it was."""
    mode = get_guard_settings().input_pii
    if mode == "off" or not body:
        return body, None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return body, None  # the server's own error says why
    runs = data if isinstance(data, list) else [data]
    found: set[str] = set()
    changed = False
    for run in runs:
        payload = run.get("input") if isinstance(run, dict) else None
        messages = payload.get("messages") if isinstance(payload, dict) else None
        for message in messages if isinstance(messages, list) else []:
            changed = _mask_message(message, found) or changed
    if found and mode == "block":
        return body, (f"the message contains {', '.join(sorted(found))}: this desk is configured not to "
                      "accept personal data or secrets (AGENTDESK_INPUT_PII=block); remove them and send again")
    return (json.dumps(data).encode() if changed else body), None
