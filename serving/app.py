"""Our HTTP app, mounted into the LangGraph server (`langgraph.json` -> `http.app`).

Serves the chat UI at /ui (plain HTML/JS talking to the same server's LangGraph API),
/healthz, /metrics (Prometheus) and /api/info (what the UI needs to know, e.g. offline mode).
"""

from __future__ import annotations

import time
from importlib import resources

from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from serving.logs import configure_logging
from serving.metrics import HTTP_REQUESTS, exposition
from serving.offline_model import OFFLINE_MODEL_NAME
from serving.settings import get_settings

configure_logging()
_STARTED = time.time()


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


async def healthz(request: Request) -> JSONResponse:
    from serving.db import app_pool

    try:
        pool = await app_pool()
        async with pool.connection(timeout=5) as conn:
            await conn.execute("SELECT 1")
        db = "ok"
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        db = f"error: {type(exc).__name__}: {exc}"
    status = 200 if db == "ok" else 503
    return JSONResponse({"status": "ok" if status == 200 else "degraded", "database": db,
                         "uptime_s": round(time.time() - _STARTED, 1)}, status_code=status)


async def metrics(request: Request) -> Response:
    return Response(exposition(), media_type="text/plain; version=0.0.4")


async def info(request: Request) -> JSONResponse:
    s = get_settings()
    return JSONResponse({
        "offline": s.offline,
        "model": OFFLINE_MODEL_NAME if s.offline else s.llm_model,
        "assistant": "orchestrator",
        "signals": "own" if not (s.prometheus_url or s.loki_url) else "external",
    })


class CountRequests(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        response = await call_next(request)
        if request.url.path in {"/ui", "/healthz", "/metrics", "/api/info"}:
            HTTP_REQUESTS.labels(request.url.path, str(response.status_code)).inc()
        return response


app = Starlette(routes=[
    Route("/", lambda r: RedirectResponse("/ui")),
    Route("/ui", ui),
    Route("/ui/{name}", ui_asset),
    Route("/healthz", healthz),
    Route("/metrics", metrics),
    Route("/api/info", info),
])
app.add_middleware(CountRequests)
