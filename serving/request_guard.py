"""ASGI middleware in front of every route of the server (the LangGraph API included):
oversized bodies get 413, and requests that would start runs (one run, a batch, a cron) with
malformed `input.messages` get 422, each with a message saying what to send instead, before
anything reaches a graph or a checkpoint. Its replies carry the server's CORS headers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse

from serving import local_origin
from serving.input_pii import mask_body
from serving.settings import get_settings

# Bodies holding one run's input: runs, stateless or on a thread, and crons (created or patched).
RUN_PATH = re.compile(r"^/(?:threads/[^/]+/)?runs(?:/stream|/wait|/crons)?$|^/runs/crons/[^/]+$")
BATCH_PATH = re.compile(r"^/runs/batch$")  # a JSON list of run bodies
HISTORY_PATH = re.compile(r"^/threads/[^/]+/history$")
MAX_BODY_BYTES = get_settings().max_body_bytes
MAX_HISTORY_LIMIT = 1000  # what the server's POST /threads/{id}/history accepts
_ROLES = {"human", "user", "ai", "assistant", "system", "tool", "function", "developer", "remove"}
TOO_DEEP = "the request body is nested too deeply; send flat JSON (messages with string or content-block content)"
BATCH_WITH_USERS = ("POST /runs/batch is refused when users are configured: the rate limit counts each run, "
                    "so a batch could stop half-created. Send one run per request (POST /runs).")


def _has_nul(value: Any) -> bool:
    # A loop, not recursion: content nested a thousand lists deep must get an answer, not a crash.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
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
    if not isinstance(kind, str) or kind not in _ROLES:  # a list or dict is unhashable: check first
        return (f'input.messages[{i}] needs "type" (human, ai, system, tool) or "role" '
                '(user, assistant, ...) as a string')
    content = message.get("content")
    blocks_ok = isinstance(content, str) or (
        isinstance(content, list) and all(isinstance(b, (str, dict)) for b in content))
    if kind != "remove" and not blocks_ok:  # else the run is created, then fails validation in the graph
        return f'input.messages[{i}] needs "content" as a string or a list of content blocks (strings or objects)'
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


def batch_body_problem(body: Any) -> str | None:
    """Every run of a batch is checked: the server creates them all, and a bad one fails later."""
    if not isinstance(body, list):
        return None  # the server's own schema error says a batch is a list
    for i, item in enumerate(body):
        if problem := run_body_problem(item):
            return f"runs[{i}]: {problem}"
    return None


def body_problem(path: str, body: bytes) -> str | None:
    """Why the body of a run, batch or cron request cannot be run, or None."""
    check = run_body_problem if RUN_PATH.match(path) else batch_body_problem if BATCH_PATH.match(path) else None
    if check is None or not body:
        return None
    try:
        return check(json.loads(body))
    except RecursionError:  # json.loads recurses per bracket; the server refuses such bodies too
        return TOO_DEEP
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return None  # the server's own "Invalid JSON in request body" is clear


def history_limit_problem(query_string: bytes) -> str | None:
    """GET /threads/{id}/history passes `limit` to SQL unchecked (a negative or huge one is a 500)."""
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key != "limit":
            continue
        try:
            limit = int(value)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_HISTORY_LIMIT:
            return f"limit must be an integer from 1 to {MAX_HISTORY_LIMIT}, not {value!r}"
    return None


async def batch_refusal() -> str | None:
    """With users, the per-user rate limit can stop a batch after some runs were created, and a
    client that retries then duplicates them: refuse batches up front."""
    from serving import auth  # only on this path: it asks the database

    try:
        current = await auth.mode()
    except Exception:  # noqa: BLE001 - cannot tell: fail closed, as the auth handler does
        return BATCH_WITH_USERS + " (Could not check whether users are configured: auth database unavailable.)"
    return BATCH_WITH_USERS if current != "local" else None


async def local_mode_refusal(scope) -> str | None:
    """In local mode, a foreign Host or a browser page from another site is refused
    (serving/local_origin.py); in keys mode the API key decides."""
    if scope["method"] in ("GET", "HEAD") and scope["path"] in local_origin.PROBE_PATHS:
        return None  # probes and scrapers address the pod by IP; these answer nothing private
    headers = dict(scope.get("headers") or [])
    if (why := local_origin.problem(headers)) is None:
        return None
    from serving import auth

    try:
        current = await auth.mode()
    except Exception:  # noqa: BLE001 - cannot tell: the auth handler fails closed on its own
        return None
    return why if current == "local" else None


async def _keys_mode() -> bool:
    from serving import auth

    try:
        return await auth.mode() == "keys"
    except Exception:  # noqa: BLE001 - unknown: sandbox, the safe side
        return True


def _sandboxed(send):
    """/docs is the server's API reference, which loads a script from a CDN, unpinned, on our
    origin, where the chat UI keeps the user's API key in localStorage. A sandbox gives the page
    an origin of its own (its requests still work: the key is a header, CORS allows them)."""
    async def wrapped(message):
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []),
                                              (b"content-security-policy", b"sandbox allow-scripts allow-forms allow-popups")]}
        await send(message)

    return wrapped


class RequestGuard:
    def __init__(self, app, cors: Callable[[], dict[str, Any] | None] | None = None):
        self.app = app
        self.cors = cors  # the server's CORS settings, looked up when needed (serving/app.py)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if (refusal := await local_mode_refusal(scope)) is not None:
            return await self._reject(scope, receive, send, 403, refusal)
        if scope["path"] == "/docs" and await _keys_mode():
            send = _sandboxed(send)
        if scope["method"] == "GET" and HISTORY_PATH.match(scope["path"]):
            if problem := history_limit_problem(scope.get("query_string", b"")):
                return await self._reject(scope, receive, send, 422, problem)
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = int(headers.get(b"content-length", b"0") or 0)
        if declared > MAX_BODY_BYTES:
            return await self._reject(scope, receive, send, 413, _too_big(declared))
        chunks, size, more = [], 0, True
        while more:  # read the body once, bounded, then replay it to the app
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return await self._reject(scope, receive, send, 413, _too_big(size))
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if BATCH_PATH.match(scope["path"]) and (refusal := await batch_refusal()):
            return await self._reject(scope, receive, send, 400, refusal)
        if problem := body_problem(scope["path"], body):
            return await self._reject(scope, receive, send, 422, problem)
        if RUN_PATH.match(scope["path"]) or BATCH_PATH.match(scope["path"]):
            masked, refusal = mask_body(body)
            if refusal:
                return await self._reject(scope, receive, send, 422, refusal)
            if masked is not body:  # the server reads the masked body: it stores nothing raw
                body = masked
                scope = {**scope, "headers": [(k, v) for k, v in scope.get("headers") or []
                                              if k != b"content-length"]
                         + [(b"content-length", str(len(body)).encode())]}
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope, receive, send, status: int, detail: str) -> None:
        reply = JSONResponse({"detail": detail}, status_code=status)
        # We sit outside the server's CORSMiddleware: without its headers a browser client (e.g.
        # agent-chat-ui) would see a CORS failure instead of this message.
        policy = self.cors() if self.cors else None
        await (CORSMiddleware(reply, **policy) if policy is not None else reply)(scope, receive, send)


def _too_big(size: int) -> str:
    return (f"the request body is {size} bytes; the limit is {MAX_BODY_BYTES} "
            "(AGENTDESK_MAX_BODY_BYTES). Put large documents in the store with `agentdesk ingest`.")
