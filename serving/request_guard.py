"""ASGI middleware in front of every route of the server (the LangGraph API included):
oversized bodies get 413 and run requests with malformed `input.messages` get 422, each with a
message saying what to send instead, before anything reaches a graph or a checkpoint."""

from __future__ import annotations

import json
import re
from typing import Any

from serving.settings import get_settings

RUN_PATH = re.compile(r"^/(?:threads/[^/]+/)?runs(?:/stream|/wait)?$")
MAX_BODY_BYTES = get_settings().max_body_bytes
_ROLES = {"human", "user", "ai", "assistant", "system", "tool", "function", "developer", "remove"}


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def message_problem(message: Any, i: int) -> str | None:
    """Why `message` cannot be a chat message, or None if it can."""
    if isinstance(message, str):
        return None
    if isinstance(message, (list, tuple)) and len(message) == 2 and all(isinstance(p, str) for p in message):
        return None  # ("human", "text")
    if not isinstance(message, dict):
        return f"input.messages[{i}] is a {type(message).__name__}, not a message object"
    kind = message.get("type") or message.get("role")
    if kind not in _ROLES:
        return f'input.messages[{i}] needs "type" (human, ai, system, tool) or "role" (user, assistant, ...)'
    content = message.get("content")
    if kind != "remove" and not isinstance(content, (str, list)):
        return f'input.messages[{i}] needs "content" as a string or a list of content blocks'
    if _has_nul(content):
        # Postgres text and JSONB cannot hold NUL; caught here, it never fails a checkpoint write.
        return f"input.messages[{i}] contains a NUL character (\\u0000); remove it and send again"
    return None


def run_body_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    payload = body.get("input")
    if payload is None or not isinstance(payload, dict) or "messages" not in payload:
        return None  # a resume command, or another graph's input: left to the server
    messages = payload["messages"]
    if not isinstance(messages, list):
        return 'input.messages must be a list, e.g. [{"type": "human", "content": "..."}]'
    for i, message in enumerate(messages):
        if problem := message_problem(message, i):
            return problem
    return None


class RequestGuard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = int(headers.get(b"content-length", b"0") or 0)
        if declared > MAX_BODY_BYTES:
            return await _reject(send, 413, _too_big(declared))
        chunks, size, more = [], 0, True
        while more:  # read the body once, bounded, then replay it to the app
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return await _reject(send, 413, _too_big(size))
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if RUN_PATH.match(scope["path"]) and body:
            try:
                problem = run_body_problem(json.loads(body))
            except (json.JSONDecodeError, UnicodeDecodeError):
                problem = None  # the server's own "Invalid JSON in request body" is clear
            if problem:
                return await _reject(send, 422, problem)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _too_big(size: int) -> str:
    return (f"the request body is {size} bytes; the limit is {MAX_BODY_BYTES} "
            "(AGENTDESK_MAX_BODY_BYTES). Put large documents in the store with `agentdesk ingest`.")


async def _reject(send, status: int, detail: str) -> None:
    payload = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
