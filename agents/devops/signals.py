"""Signal sources of the DevOps agent.

Prometheus (PromQL, alerts) and Loki (LogQL) over their HTTP APIs when PROMETHEUS_URL / LOKI_URL
are set; otherwise agentdesk's own metrics registry and JSON log file, so the agent still works on
a laptop. Every failure becomes a `SignalError` whose message says what to fix (bad query vs.
unreachable backend), because the model and the user both read it.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from serving.metrics import samples
from serving.tls import client_context
from serving.settings import get_settings

OWN_SIGNALS_NOTE = "(from agentdesk's own metrics and logs: no Prometheus or Loki is configured)"
OWN_METRICS_NOTE = "(from agentdesk's own metrics: no Prometheus is configured)"
OWN_LOGS_NOTE = "(from agentdesk's own logs: no Loki is configured)"

MAX_WINDOW_S = 7 * 86400  # longer windows are refused: they are slow and rarely what triage needs
MAX_POINTS = 250  # per range series; Prometheus refuses > 11,000, and the model needs far fewer
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class SignalError(RuntimeError):
    """A bad query, a bad argument or an unreachable backend."""


def parse_duration(text: str) -> float:
    """'90s', '15m', '1h30m' -> seconds. Raises SignalError on anything else."""
    text = (text or "").strip().lower()
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise SignalError(f"bad duration {text!r}: use e.g. 30s, 15m, 1h, 1h30m, 2d")
    seconds = sum(float(n) * _UNIT_S[u] for n, u in parts)
    if not 0 < seconds <= MAX_WINDOW_S:
        raise SignalError(f"duration {text!r} must be between 1ms and 7d")
    return seconds


def default_step(window_s: float) -> float:
    return float(max(1, math.ceil(window_s / MAX_POINTS)))


def mode() -> dict[str, str]:
    """Where metrics and logs come from right now (settings are read per call: tests flip them)."""
    s = get_settings()
    return {"metrics": "prometheus" if s.prometheus_url else "own", "logs": "loki" if s.loki_url else "own"}


# --- HTTP backends -----------------------------------------------------------------------------

@dataclass
class _Http:
    base_url: str
    name: str
    timeout_s: float = 10.0

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        url = self.base_url.rstrip("/") + path
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, verify=client_context()) as client:
                response = await client.request(method, url, **kw)
        except httpx.TimeoutException as exc:
            raise SignalError(f"{self.name} at {self.base_url} did not answer within {self.timeout_s:g}s") from exc
        except httpx.TransportError as exc:
            raise SignalError(f"{self.name} at {self.base_url} is unreachable ({type(exc).__name__}: {exc}); "
                              f"check {self.name.upper()}_URL and that the server is running") from exc
        if response.status_code >= 400:
            raise SignalError(self._error(response))
        return response

    def _error(self, response: httpx.Response) -> str:
        try:
            body = response.json()
            detail = body.get("error") or body.get("message") or json.dumps(body)
        except ValueError:
            detail = response.text.strip()
        if response.status_code in (400, 422):  # both APIs use these for a query that does not parse
            return f"{self.name} rejected the query: {detail[:500]}"
        return f"{self.name} answered HTTP {response.status_code}: {detail[:500]}"


class Prometheus(_Http):
    def __init__(self, base_url: str, timeout_s: float = 10.0):
        super().__init__(base_url, "Prometheus", timeout_s)

    async def _data(self, path: str, params: dict[str, Any], method: str = "POST") -> Any:
        # Queries go as a POST form so long PromQL does not hit URL length limits.
        kw = {"data": params} if method == "POST" else {"params": params}
        body = (await self.request(method, path, **kw)).json()
        if body.get("status") != "success":
            raise SignalError(f"Prometheus: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    async def instant(self, query: str, at: float | None = None) -> dict[str, Any]:
        return await self._data("/api/v1/query", {"query": query, **({"time": at} if at else {})})

    async def range(self, query: str, start: float, end: float, step: float) -> dict[str, Any]:
        return await self._data("/api/v1/query_range", {"query": query, "start": start, "end": end, "step": step})

    async def alerts(self) -> list[dict[str, Any]]:
        return (await self._data("/api/v1/alerts", {}, method="GET"))["alerts"]  # GET only


class Loki(_Http):
    def __init__(self, base_url: str, timeout_s: float = 10.0):
        super().__init__(base_url, "Loki", timeout_s)

    async def query_range(self, logql: str, start: float, end: float, limit: int) -> list[dict[str, Any]]:
        """Newest-first log lines: [{"ts", "labels", "line"}]. Timestamps in Loki are nanoseconds."""
        params = {"query": logql, "start": int(start * 1e9), "end": int(end * 1e9),
                  "limit": limit, "direction": "backward"}
        body = (await self.request("GET", "/loki/api/v1/query_range", params=params)).json()
        data = body.get("data", {})
        if data.get("resultType") != "streams":
            raise SignalError("Loki: search_logs needs a log query (a selector with filters), not a metric query")
        rows = [{"ts": int(ts) / 1e9, "labels": s.get("stream", {}), "line": line}
                for s in data.get("result", []) for ts, line in s.get("values", [])]
        return sorted(rows, key=lambda r: r["ts"], reverse=True)[:limit]

    async def push(self, streams: list[tuple[dict[str, str], list[tuple[float, str]]]]) -> None:
        """Push lines: [(labels, [(unix_seconds, line), ...])]."""
        payload = {"streams": [{"stream": labels, "values": [[str(int(ts * 1e9)), line] for ts, line in lines]}
                               for labels, lines in streams]}
        await self.request("POST", "/loki/api/v1/push", json=payload)


def logql(selector: str, contains: str = "", level: str | None = None) -> str:
    """Build LogQL from simple arguments. The level filter is a line regex, so it matches JSON
    (`"level": "error"`) and logfmt (`level=error`) lines alike without assuming a parser."""
    query = selector or '{job=~".+"}'
    if contains:
        query += f" |= {json.dumps(contains)}"
    if level:
        query += " |~ " + json.dumps(f'(?i)level"?\\s*[=:]\\s*"?{re.escape(level.lower())}\\b')
    return query


# --- agentdesk's own signals --------------------------------------------------------------------

def own_metrics(match: str = "", limit: int = 50) -> list[dict[str, Any]]:
    rows = [{"name": n, "labels": lbl, "value": v} for n, lbl, v in samples(match)]
    return rows[:limit]


def _ts(entry: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(entry.get("ts")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def own_logs(contains: str = "", level: str | None = None, limit: int = 50,
             window_s: float | None = None) -> list[dict[str, Any]]:
    """The newest matching lines of the JSON log, newest first (the file is rotated, so small)."""
    path = get_settings().log_file
    if not path.exists():
        return []
    since = time.time() - window_s if window_s else None
    matched: deque[dict[str, Any]] = deque(maxlen=limit)
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if contains and contains.lower() not in line.lower():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if level and entry.get("level") != level.lower():
                continue
            if since is not None and (_ts(entry) or 0) < since:
                continue
            matched.append(entry)
    return list(reversed(matched))


# Without Prometheus there is no rule evaluation; these checks over agentdesk's own counters are
# the closest honest equivalent, and they are labelled as derived.
_OWN_CHECKS: list[tuple[str, str, str, Any]] = [
    ("AgentdeskToolErrors", "agentdesk_tool_calls_total", "tool calls ended in an error",
     lambda lbl: lbl.get("outcome") in ("error", "failed")),
    ("AgentdeskHttp5xx", "agentdesk_http_requests_total", "HTTP requests answered 5xx",
     lambda lbl: str(lbl.get("status", "")).startswith("5")),
    ("AgentdeskApprovalsPending", "agentdesk_approvals_pending", "approvals wait for a decision",
     lambda lbl: True),
]


def own_alerts() -> list[dict[str, Any]]:
    alerts = []
    for name, metric, what, pick in _OWN_CHECKS:
        total = sum(v for n, lbl, v in samples(metric) if n == metric and pick(lbl))
        if total > 0:
            alerts.append({"labels": {"alertname": name, "source": "derived"}, "state": "firing",
                           "annotations": {"summary": f"{total:g} {what} since agentdesk started"},
                           "activeAt": None, "value": str(total)})
    return alerts
