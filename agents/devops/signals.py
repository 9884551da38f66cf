"""Signal sources of the DevOps agent.

Prometheus (PromQL, alerts) and Loki (LogQL) over their HTTP APIs when PROMETHEUS_URL / LOKI_URL
are set; otherwise agentdesk's own metrics registry and JSON log file, so the agent still works on
a laptop. Every failure becomes a `SignalError` whose message says what to fix (bad query vs.
unreachable backend), because the model and the user both read it.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from serving.metrics import HTTP_5XX_RECENT, TOOL_ERRORS_RECENT, samples
from serving.pending import pending_approvals
from serving.tls import client_context
from serving.settings import get_settings

OWN_SIGNALS_NOTE = "(from agentdesk's own metrics and logs: no Prometheus or Loki is configured)"
OWN_METRICS_NOTE = "(from agentdesk's own metrics: no Prometheus is configured)"
OWN_LOGS_NOTE = "(from agentdesk's own logs: no Loki is configured)"

MAX_WINDOW_S = 7 * 86400  # longer windows are refused: they are slow and rarely what triage needs
MAX_POINTS = 250  # per range series; Prometheus refuses > 11,000, and the model needs far fewer
MAX_QUERY_POINTS = 11_000  # what Prometheus allows a range query; subqueries are held to the same
MAX_BODY_BYTES = 8 * 2**20  # parsed JSON takes ~12x this in memory; triage never needs so much
ALERT_WINDOW_S = 15 * 60  # derived alerts look at this much recent history, like `increase(x[15m]) > 0`
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
        """The answer, read up to MAX_BODY_BYTES and within `timeout_s` in all: httpx's timeout is
        per read, so a slow trickle or a huge result would otherwise hold the tool (and memory)."""
        url = self.base_url.rstrip("/") + path
        try:
            async with asyncio.timeout(self.timeout_s), \
                    httpx.AsyncClient(timeout=self.timeout_s, verify=client_context()) as client, \
                    client.stream(method, url, **kw) as streamed:
                body = bytearray()
                async for chunk in streamed.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise SignalError(f"{self.name}'s answer is larger than {MAX_BODY_BYTES / 2**20:.3g} MB; "
                                          "aggregate the query (e.g. sum by (service)), narrow the window "
                                          "or use a larger step")
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise SignalError(f"{self.name} at {self.base_url} did not answer within {self.timeout_s:g}s") from exc
        except httpx.TransportError as exc:
            raise SignalError(f"{self.name} at {self.base_url} is unreachable ({type(exc).__name__}: {exc}); "
                              f"check {self.name.upper()}_URL and that the server is running") from exc
        # Decoded already: only the content type is carried over (a gzip header would decode twice).
        headers = {k: v for k, v in streamed.headers.items() if k.lower() == "content-type"}
        response = httpx.Response(streamed.status_code, headers=headers, content=bytes(body),
                                  request=streamed.request)
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


_NOT_SEARCHED = ("ts", "level")  # keys are never searched: "level" would match every line


def _searchable(entry: dict[str, Any]) -> str:
    """The text a `contains` filter looks in: the values (message, exception, logger, ids), not
    the JSON around them, so quotes, backslashes and non-ASCII text match as written."""
    return "\n".join(str(v) for k, v in entry.items() if k not in _NOT_SEARCHED)


def own_logs(contains: str = "", level: str | None = None, limit: int = 50,
             window_s: float | None = None, line_filters: list[tuple[str, bool]] = ()) -> list[dict[str, Any]]:
    """The newest matching lines of the JSON log, newest first (the file is rotated, so small).
    `contains` matches case-insensitively; each (text, wanted) of `line_filters` is LogQL's
    `|= text` (wanted) or `!= text`, case-sensitive as there."""
    path = get_settings().log_file
    if not path.exists():
        return []
    since = time.time() - window_s if window_s else None
    needle = contains.lower()
    matched: deque[dict[str, Any]] = deque(maxlen=limit)
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(entry, dict):
                continue
            if level and entry.get("level") != level.lower():
                continue
            if since is not None and (_ts(entry) or 0) < since:
                continue
            if needle or line_filters:
                text = _searchable(entry)
                if needle and needle not in text.lower():
                    continue
                if any((f in text) != wanted for f, wanted in line_filters):
                    continue
            matched.append(entry)
    return list(reversed(matched))


_LOGQL_SELECTOR = re.compile(r"^\s*\{[^{}]*\}")
_LOGQL_LINE_FILTER = re.compile(r'\s*(\|=|!=)\s*(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`)')


def own_line_filters(logql_text: str) -> tuple[list[tuple[str, bool]], str]:
    """What of a LogQL query agentdesk's own log can honour without Loki: its `|= "x"` and
    `!= "x"` line filters. Returns them and the rest of the query that is NOT evaluated
    (the stream selector, regex filters, parsers, label filters), for the answer to say so."""
    rest = _LOGQL_SELECTOR.sub("", logql_text, count=1)
    selector = logql_text[: len(logql_text) - len(rest)].strip()
    filters, ignored, pos = [], [], 0
    for m in _LOGQL_LINE_FILTER.finditer(rest):
        if m.start() != pos:
            break  # filters are honoured only up to the first stage we do not understand
        text = _unquote(m.group(2)) if m.group(2) is not None else m.group(3)
        filters.append((text, m.group(1) == "|="))
        pos = m.end()
    if selector:
        ignored.append(selector)
    if rest[pos:].strip():
        ignored.append(rest[pos:].strip())
    return filters, " ".join(ignored)


def _unquote(raw: str) -> str:
    """A double-quoted LogQL string's text (its escapes are JSON's for everything a filter holds)."""
    try:
        return json.loads(f'"{raw}"')
    except ValueError:
        return raw


# Without Prometheus there is no rule evaluation; these checks over agentdesk's own signals are the
# closest honest equivalent, and they are labelled as derived. They look at the last ALERT_WINDOW_S
# (a tool error an hour ago is history, not an alert) and pending approvals come from the
# checkpoints, so a thread that was answered, deleted or pruned stops counting, even after a restart.
_RECENT_CHECKS = [("AgentdeskToolErrors", TOOL_ERRORS_RECENT, "tool calls ended in an error"),
                  ("AgentdeskHttp5xx", HTTP_5XX_RECENT, "HTTP requests were answered 5xx")]

PENDING_FOR_S = 3600  # an approval is an alert once it has waited this long, like `for: 1h`


async def own_alerts() -> list[dict[str, Any]]:
    window = f"{ALERT_WINDOW_S // 60}m"
    alerts = []
    for name, events, what in _RECENT_CHECKS:
        if n := events.count(ALERT_WINDOW_S):
            alerts.append(_derived(name, f"{n} {what} in the last {window}", n, None))
    try:
        n, oldest = await pending_approvals()
    except Exception as exc:  # noqa: BLE001 - the other checks still answer; the reason is shown
        alerts.append(_derived("AgentdeskApprovalsUnknown", f"pending approvals could not be read: {exc}", 1,
                               None, "info"))
    else:
        if n and oldest and time.time() - oldest.timestamp() > PENDING_FOR_S:
            alerts.append(_derived("AgentdeskApprovalsPending",
                                   f"{n} thread(s) wait for an approval decision, the oldest since "
                                   f"{oldest:%Y-%m-%d %H:%M} UTC", n, oldest.isoformat(), "info"))
    return alerts


def _derived(name: str, summary: str, value: float, since: str | None, severity: str = "warning") -> dict[str, Any]:
    """An alert shaped like Prometheus's. Severity "info" is workflow state (approvals waiting),
    which the triage does not count as a symptom of an incident."""
    return {"labels": {"alertname": name, "source": "derived", "severity": severity}, "state": "firing",
            "annotations": {"summary": summary}, "activeAt": since, "value": str(value)}
