"""Our HTTP app, mounted into the LangGraph server (`langgraph.json` -> `http.app`).

Serves the chat UI at /ui (plain HTML/JS talking to the same server's LangGraph API),
/healthz, /metrics (Prometheus) and /api/info (what the UI needs to know: offline mode, and
whether the API wants a key). These routes are public; the LangGraph API behind them is guarded
by serving/auth.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator
from importlib import resources

from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from guardrails.input_guard import check_input
from graphs.routing import warm as warm_router
from rag.search import search as rag_search
from serving import dev_queue
from serving.logs import configure_logging
from serving.recovery import recover_threads
from serving.request_guard import RequestGuard
from serving.metrics import HTTP_5XX_RECENT, HTTP_REQUESTS, exposition
from serving.offline_model import OFFLINE_MODEL_NAME
from serving.pending import refresh_gauge
from serving.settings import get_settings

configure_logging()
dev_queue.install()
_STARTED = time.time()
log = logging.getLogger("serving.app")


def _asset(name: str) -> str:
    return resources.files("serving").joinpath("ui", name).read_text()


async def ui(request: Request) -> HTMLResponse:
    return HTMLResponse(_asset("index.html"), headers={"Cache-Control": "no-cache"})


async def ui_asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in {"app.js", "style.css"}:
        return JSONResponse({"error": f"no such asset: {name}"}, status_code=404)
    media = "text/javascript" if name.endswith(".js") else "text/css"
    return Response(_asset(name), media_type=media, headers={"Cache-Control": "no-cache"})


HEALTH_TIMEOUT_S = 5.0


async def _ping_database() -> None:
    from serving.db import app_pool

    pool = await app_pool()
    async with pool.connection(timeout=HEALTH_TIMEOUT_S) as conn:
        await conn.execute("SELECT 1")


async def healthz(request: Request) -> JSONResponse:
    try:
        # One bound for the whole check: opening the pool alone waited 30 s with the database down,
        # far past any readiness probe's timeout.
        await asyncio.wait_for(_ping_database(), HEALTH_TIMEOUT_S)
        db = "ok"
    except TimeoutError:
        db = f"error: no answer from Postgres within {HEALTH_TIMEOUT_S:g} s"
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        db = f"error: {type(exc).__name__}: {exc}"
    status = 200 if db == "ok" else 503
    return JSONResponse({"status": "ok" if status == 200 else "degraded", "database": db,
                         "uptime_s": round(time.time() - _STARTED, 1)}, status_code=status)


async def metrics(request: Request) -> Response:
    try:
        await asyncio.wait_for(refresh_gauge(), timeout=2.0)
    except Exception as exc:  # noqa: BLE001 - the other series are still worth scraping
        log.warning("agentdesk_approvals_pending not refreshed: %s", exc)
    return Response(exposition(), media_type="text/plain; version=0.0.4")


async def _auth_mode() -> str:
    from serving.auth import mode

    try:
        return await mode()
    except Exception:  # noqa: BLE001 - same fail-closed answer as the auth handler
        return "keys"


async def info(request: Request) -> JSONResponse:
    s = get_settings()
    return JSONResponse({
        "offline": s.offline,
        "auth": await _auth_mode(),  # "local": no key needed; "keys": send x-api-key
        "model": OFFLINE_MODEL_NAME if s.offline else s.llm_model,
        "assistant": "orchestrator",
        "signals": "own" if not (s.prometheus_url or s.loki_url) else "external",
    })


class CountRequests(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        response = await call_next(request)
        if request.url.path in {"/ui", "/healthz", "/metrics", "/api/info"}:
            HTTP_REQUESTS.labels(request.url.path, str(response.status_code)).inc()
            if response.status_code >= 500:
                HTTP_5XX_RECENT.note()
        return response


class NoStudioBypass:
    """With users configured, drop `x-auth-scheme`: under `langgraph dev` that header makes the
    server skip our handler and treat the caller as a Studio user, i.e. an auth bypass. Studio
    then authenticates like any client, with the x-api-key header (docs/ui.md)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and any(k == b"x-auth-scheme" for k, _ in scope["headers"]):
            if await _auth_mode() != "local":
                scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"x-auth-scheme"]}
        await self.app(scope, receive, send)


def server_cors() -> dict | None:
    """The CORS settings the LangGraph server gives its own responses (`http.cors` in
    langgraph.json, or CORS_ALLOW_ORIGINS / CORS_CONFIG), for RequestGuard's replies: our
    middleware runs outside the server's CORSMiddleware (unless `http.middleware_order` is
    `auth_first`). Read from the server module, not copied, so the two policies cannot drift."""
    server = sys.modules.get("langgraph_api.server")
    if server is None or getattr(server, "auth_before_custom_middleware", False):
        return None  # not under the LangGraph server, or its CORS already wraps our middleware
    for middleware in getattr(server, "global_middleware", ()):
        if middleware.cls is CORSMiddleware:
            return dict(middleware.kwargs)
    return None


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    mode = await _auth_mode()
    if mode == "local":
        msg = ("AUTH IS OFF: no users configured, every request runs as the single local user 'local'. "
               "Create users with `agentdesk users add NAME` to require API keys.")
    else:
        msg = "auth: API keys / JWTs required; threads, runs and store are private to their owner"
    bar = "!" * 100 if mode == "local" else "-" * 100
    print(f"{bar}\n{msg}\n{bar}", file=sys.stderr, flush=True)
    log.warning(msg)
    # Load the encoders and the BM25 index now, not inside the first user's request.
    await asyncio.to_thread(check_input, "warm up")
    try:
        await rag_search("warm up", k=1)
        if get_settings().offline:
            await asyncio.to_thread(warm_router)
    except Exception as exc:  # noqa: BLE001 - a cold first request is better than no server
        log.warning("warm-up skipped: %s", exc)
    try:
        restored = await recover_threads()
    except Exception as exc:  # noqa: BLE001 - recovery helps; it must not stop the server
        log.error("thread recovery failed: %s", exc)
    else:
        if restored:
            print(f"recovered {restored} thread(s) from Postgres after an unclean shutdown", file=sys.stderr, flush=True)
    yield


app = Starlette(lifespan=lifespan, routes=[
    Route("/", lambda r: RedirectResponse("/ui")),
    Route("/ui", ui),
    Route("/ui/{name}", ui_asset),
    Route("/healthz", healthz),
    Route("/metrics", metrics),
    Route("/api/info", info),
])
app.add_middleware(CountRequests)
app.add_middleware(NoStudioBypass)
app.add_middleware(RequestGuard, cors=server_cors)  # outermost: bad bodies never reach auth, routes or graphs
