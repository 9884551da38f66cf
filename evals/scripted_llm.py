"""A scripted OpenAI-compatible server: the stand-in for vLLM in tests, scenario evals and benches.

It replays recorded responses over real HTTP (`/v1/chat/completions`, streaming or not, with
tool calls; `/v1/models`; `/health`), so the real client path runs: the OpenAI SDK, retries,
timeouts, the circuit breaker and the fallback chain. It can be told to fail: HTTP 500, 429
with Retry-After, slow replies, malformed JSON, truncated streams.

Responses are taken from a queue (`push`); when it is empty a responder function decides
(default: a short text). Control it in-process, or over HTTP at `/_script` from another process.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Reply = dict[str, Any]  # {"content": str} | {"tool_calls": [{"name", "arguments": dict}]} | {"fail": ...}


def text(content: str) -> Reply:
    return {"content": content}


def tool(name: str, **arguments: Any) -> Reply:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


@dataclass
class Script:
    queue: deque[Reply] = field(default_factory=deque)
    responder: Callable[[dict], Reply] | None = None
    latency_s: float = 0.0
    requests: list[dict] = field(default_factory=list)
    model: str = "scripted-model"
    waiting: int = 0  # what /metrics reports as vllm:num_requests_waiting

    def next_reply(self, body: dict) -> Reply:
        if self.queue:
            return self.queue.popleft()
        if self.responder:
            return self.responder(body)
        return text("scripted reply")


def _message(reply: Reply) -> dict:
    msg: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
    if calls := reply.get("tool_calls"):
        msg["tool_calls"] = [
            {"id": f"call_{uuid.uuid4().hex[:10]}", "type": "function",
             # `arguments_raw` replays a malformed call exactly as a model might send it
             "function": {"name": c["name"], "arguments": c.get("arguments_raw") or json.dumps(c["arguments"])}}
            for c in calls
        ]
    return msg


def _usage(body: dict, reply: Reply) -> dict:
    prompt = sum(len(str(m.get("content") or "")) for m in body.get("messages", [])) // 4 + 1
    completion = len(json.dumps(reply)) // 4 + 1
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def build_app(script: Script) -> Starlette:
    async def health(request: Request) -> Response:
        return Response("ok")

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": script.model, "object": "model"}]})

    async def metrics(request: Request) -> Response:
        body = (f'vllm:num_requests_waiting{{model_name="{script.model}"}} {script.waiting}\n'
                f'vllm:num_requests_running{{model_name="{script.model}"}} 1\n'
                f'vllm:kv_cache_usage_perc{{model_name="{script.model}"}} 0.25\n')
        return Response(body, media_type="text/plain; version=0.0.4")

    async def control(request: Request) -> JSONResponse:
        body = await request.json()
        if body.get("reset"):
            script.queue.clear()
            script.requests.clear()
        script.queue.extend(body.get("push", []))
        if "waiting" in body:
            script.waiting = int(body["waiting"])
        if "latency_s" in body:
            script.latency_s = float(body["latency_s"])
        return JSONResponse({"queued": len(script.queue), "requests": len(script.requests)})

    async def completions(request: Request) -> Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return JSONResponse({"error": {"message": "invalid JSON body"}}, status_code=400)
        script.requests.append(body)
        reply = script.next_reply(body)
        if script.latency_s:
            await asyncio.sleep(script.latency_s)
        fail = reply.get("fail")
        if fail == 500:
            return JSONResponse({"error": {"message": "scripted server error"}}, status_code=500)
        if fail == 429:
            return JSONResponse({"error": {"message": "rate limited"}}, status_code=429,
                                headers={"Retry-After": str(reply.get("retry_after", 1))})
        if fail == "slow":
            await asyncio.sleep(float(reply.get("seconds", 30)))
        if fail == "malformed":
            return Response('{"id": "x", "choices": [ {"message": ', media_type="application/json")
        created = int(time.time())
        cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        message = _message(reply)
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        if not body.get("stream"):
            return JSONResponse({
                "id": cid, "object": "chat.completion", "created": created, "model": body.get("model"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": _usage(body, reply),
            })

        async def events():
            base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": body.get("model")}
            pieces = (message.get("content") or "").split(" ")
            for i, piece in enumerate(pieces if message.get("content") else []):
                delta = {"content": piece + (" " if i < len(pieces) - 1 else "")}
                yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': delta}]})}\n\n"
                if fail == "truncated" and i >= 1:
                    return  # the connection ends mid-answer, with no [DONE]
            for idx, tc in enumerate(message.get("tool_calls", [])):
                delta = {"tool_calls": [{"index": idx, **tc}]}
                yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': delta}]})}\n\n"
            end = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "usage": _usage(body, reply)}
            yield f"data: {json.dumps(end)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[
        Route("/health", health), Route("/v1/models", models), Route("/metrics", metrics),
        Route("/v1/chat/completions", completions, methods=["POST"]),
        Route("/_script", control, methods=["POST"]),
    ])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ScriptedServer:
    """Runs the scripted server in a background thread: `with ScriptedServer() as srv: srv.url`."""

    def __init__(self, script: Script | None = None, port: int | None = None):
        self.script = script or Script()
        self.port = port or free_port()
        config = uvicorn.Config(build_app(self.script), host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        deadline = time.time() + 10
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("scripted LLM server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def push(self, *replies: Reply) -> None:
        self.script.queue.extend(replies)


def main() -> None:  # `python -m evals.scripted_llm --port N` for a separate process
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--latency-ms", type=float, default=0)
    a = p.parse_args()
    uvicorn.run(build_app(Script(latency_s=a.latency_ms / 1000)), host="127.0.0.1", port=a.port, log_level="warning")


if __name__ == "__main__":
    main()
