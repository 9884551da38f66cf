"""DevOps tools: read signals and runbooks (low risk) and remediate (high / critical, behind approval).

Each signal tool reads Prometheus / Loki when configured and agentdesk's own metrics and logs
otherwise; the text says which. Artifacts carry the structured rows, which the UI shows and the
offline triage policy reasons over.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from pydantic import Field

from agents.devops import promql, runbook_index, signals
from agents.devops.executor import get_executor
from agents.devops.signals import (OWN_LOGS_NOTE, OWN_METRICS_NOTE, OWN_SIGNALS_NOTE, Loki, Prometheus,
                                   SignalError, default_step, parse_duration)
from guardrails.policy import Risk, register
from serving.settings import get_settings

def _own_note(kind: str) -> str:
    m = signals.mode()
    if m["metrics"] == "own" and m["logs"] == "own":
        return OWN_SIGNALS_NOTE
    return OWN_METRICS_NOTE if kind == "metrics" else OWN_LOGS_NOTE


def _labels(metric: dict[str, str]) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{metric.get('__name__', '')}{{{inner}}}"


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _series_rows(data: dict[str, Any], limit: int) -> tuple[list[dict[str, Any]], list[str]]:
    kind, result = data["resultType"], data["result"]
    if kind == "scalar" or kind == "string":
        return [{"labels": {}, "value": float(result[1]) if kind == "scalar" else result[1]}], [f"{kind}: {result[1]}"]
    rows, lines = [], []
    for s in result[:limit]:
        if kind == "vector":
            value = float(s["value"][1])
            rows.append({"labels": s["metric"], "value": value})
            lines.append(f"{_labels(s['metric'])} = {_fmt(value)}")
        else:  # matrix: the model needs the shape, the artifact keeps the points
            pts = [(float(t), float(v)) for t, v in s["values"]]
            vals = [v for _, v in pts]
            rows.append({"labels": s["metric"], "value": vals[-1], "points": pts[-signals.MAX_POINTS:]})
            lines.append(f"{_labels(s['metric'])}: last {_fmt(vals[-1])}, min {_fmt(min(vals))}, "
                         f"max {_fmt(max(vals))} over {len(vals)} points")
    if len(result) > limit:
        lines.append(f"... {len(result) - limit} more series not shown (raise `limit` or aggregate the query)")
    return rows, lines


@tool(response_format="content_and_artifact")
async def query_metrics(query: str = "", match: str = "", window: str = "", step: str = "",
                        limit: int = 50) -> tuple[str, dict]:
    """Read metrics. `query` is PromQL; with `window` (e.g. '30m') it is a range query over the last
    window (optional `step`, e.g. '15s'), else an instant query. `match` lists series whose name
    contains it. Without Prometheus, agentdesk's own metrics are read (PromQL is not evaluated there:
    the series named in the query are listed)."""
    limit = max(1, min(limit, 500))
    settings = get_settings()
    if match and not promql.METRIC_NAME.match(match):
        raise SignalError(f"match {match!r} must be part of a metric name (letters, digits, _ and :); "
                          "for anything else write a PromQL `query`")
    if not settings.prometheus_url:
        return _own_metrics(query, match, limit)
    promql_text = query or (f'{{__name__=~".*{match}.*"}}' if match else "")
    if not promql_text:
        raise SignalError("give a PromQL `query` or a metric name `match`")
    promql.check_ranges(promql_text, signals.MAX_WINDOW_S, signals.MAX_QUERY_POINTS)
    prom = Prometheus(settings.prometheus_url)
    if window:
        window_s = parse_duration(window)
        step_s = parse_duration(step) if step else default_step(window_s)
        if window_s / step_s > signals.MAX_QUERY_POINTS:
            raise SignalError(f"window {window} at step {step} is more than 11,000 points; use a larger step")
        end = time.time()
        data = await prom.range(promql_text, end - window_s, end, step_s)
    else:
        data = await prom.instant(promql_text)
    rows, lines = _series_rows(data, limit)
    head = f"PromQL {promql_text}" + (f" over the last {window}" if window else " (now)")
    text = head + ":\n" + ("\n".join(lines) if lines else "no series (the query matched nothing)")
    return (f"{text}\n(from Prometheus at {settings.prometheus_url})",
            {"type": "metrics", "source": "prometheus", "query": promql_text, "window": window or None, "rows": rows})


def _own_metrics(query: str, match: str, limit: int) -> tuple[str, dict]:
    """Without Prometheus PromQL is not evaluated: the series it names are listed as they are now.
    A query that names no metric (`vector(1)`) says so instead of listing everything."""
    artifact = {"type": "metrics", "source": "own", "query": query, "match": match, "rows": []}
    names = promql.metric_names(query) if query else [match]
    if query and not names:
        return (f"PromQL needs Prometheus, and {query!r} names no metric whose current value could be shown "
                f"instead.\n{_own_note('metrics')}", artifact)
    rows = [r for n in names for r in signals.own_metrics(n, limit)][:limit]
    lines = [f"{r['name']}{r['labels'] or ''} = {r['value']:g}" for r in rows]
    text = "\n".join(lines) if lines else f"No metric matches {(query or match)!r}."
    if query:
        text = "PromQL needs Prometheus; current values of the series it names:\n" + text
    return f"{text}\n{_own_note('metrics')}", {**artifact, "rows": rows}


@tool(response_format="content_and_artifact")
async def search_logs(query: str = "", contains: str = "", level: str | None = None, window: str = "1h",
                      limit: int = 20, selector: str = "") -> tuple[str, dict]:
    """Newest log lines in the last `window` (e.g. '15m'). Either a full LogQL `query`, or simple
    filters: `contains` (substring), `level` (error, warning, info) and a Loki stream `selector` such
    as '{service="api"}'. Without Loki, agentdesk's own JSON log file is searched."""
    limit = max(1, min(limit, 200))
    window_s = parse_duration(window)
    settings = get_settings()
    if not settings.loki_url:
        return await _own_logs(query, selector, contains, level, limit, window, window_s)
    logql = query or signals.logql(selector, contains, level)
    end = time.time()
    rows = await Loki(settings.loki_url).query_range(logql, end - window_s, end, limit)
    lines = [f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(r['ts']))} {_labels(r['labels'])} {r['line']}"
             for r in rows]
    text = f"LogQL {logql} over the last {window}:\n" + ("\n".join(lines) if lines else "no matching lines")
    return (f"{text}\n(from Loki at {settings.loki_url})",
            {"type": "logs", "source": "loki", "query": logql, "rows": rows})


async def _own_logs(query: str, selector: str, contains: str, level: str | None, limit: int, window: str,
                    window_s: float) -> tuple[str, dict]:
    """agentdesk's JSON log without Loki: LogQL is not evaluated, so its `|=`/`!=` line filters are
    applied and whatever else it holds is named as ignored, never silently dropped."""
    filters, ignored = signals.own_line_filters(query or selector)
    rows = await asyncio.to_thread(signals.own_logs, contains, level, limit, window_s, filters)
    lines = [f"{r.get('ts')} {r.get('level')} {r.get('logger')}: {r.get('msg')}" for r in rows]
    text = "\n".join(lines) if lines else f"No matching log lines in the last {window}."
    if ignored:
        applied = " ".join(f"{'|=' if wanted else '!='} {json.dumps(f)}" for f, wanted in filters)
        text = (f"Without Loki LogQL is not evaluated: ignored {ignored!r}"
                + (f"; applied the line filters {applied}" if applied else "") + ".\n" + text)
    return f"{text}\n{_own_note('logs')}", {"type": "logs", "source": "own", "rows": rows,
                                            "ignored": ignored or None}


@tool(response_format="content_and_artifact")
async def list_alerts(state: Literal["firing", "pending", "all"] = "firing", limit: int = 50) -> tuple[str, dict]:
    """Alerts from Prometheus's alerting rules (state: firing, pending or all). Without Prometheus,
    checks derived from agentdesk's own counters."""
    limit = max(1, min(limit, 200))
    settings = get_settings()
    if settings.prometheus_url:
        alerts, source = await Prometheus(settings.prometheus_url).alerts(), f"Prometheus at {settings.prometheus_url}"
    else:
        alerts, source = await signals.own_alerts(), "checks derived from agentdesk's own metrics"
    if state != "all":
        alerts = [a for a in alerts if a.get("state") == state]
    lines = [f"{a['labels'].get('alertname')} {_labels({k: v for k, v in a['labels'].items() if k != 'alertname'})} "
             f"{a.get('state')}{' since ' + a['activeAt'] if a.get('activeAt') else ''}: "
             f"{a.get('annotations', {}).get('summary', '')}" for a in alerts[:limit]]
    text = "\n".join(lines) if lines else f"No {state if state != 'all' else ''} alerts."
    note = f"(from {source})" if settings.prometheus_url else f"(from {source}) {_own_note('metrics')}"
    return f"{text}\n{note}", {"type": "alerts", "source": "prometheus" if settings.prometheus_url else "own",
                               "alerts": alerts[:limit]}


@tool(response_format="content_and_artifact")
async def find_runbook(symptom: str, k: int = 3) -> tuple[str, dict]:
    """Find the team's runbooks for a symptom (e.g. 'HighErrorRate 5xx on checkout'). Returns each
    runbook's checks and remediation; cite the one you follow by its source."""
    books, how = await runbook_index.find(symptom, max(1, min(k, 5)))
    if not books:
        return f"No runbook matches {symptom!r} ({how}).", {"type": "citations", "citations": [], "notes": [how]}
    parts = [f"[{n}] {b.title} ({b.source})\n{b.text.strip()}" for n, b in enumerate(books, start=1)]
    citations = [{"n": n, "source": b.source, "title": b.title, "slug": b.slug, "score": round(b.score, 4),
                  "remediations": b.remediations, "snippet": b.text[:300]} for n, b in enumerate(books, start=1)]
    return "\n\n".join(parts) + f"\n\n(runbooks {how})", {"type": "citations", "query": symptom,
                                                          "citations": citations, "notes": [how]}


# Kubernetes names (RFC 1123 labels), checked with the call's schema, so a bad one is refused
# before anyone is asked to approve it ("Scale default/checkout to -5 replicas" was shown before).
Name = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]


@tool
async def restart_workload(workload: Name, config: RunnableConfig, namespace: Name = "default") -> str:
    """Rolling restart of a deployment (pods are replaced one by one)."""
    return (await get_executor(config, "restart_workload", "high").restart(workload, namespace)).summary


@tool
async def scale_workload(workload: Name, replicas: Annotated[int, Field(ge=0, le=100)], config: RunnableConfig,
                         namespace: Name = "default") -> str:
    """Scale a deployment to a number of replicas."""
    if not 0 <= replicas <= 100:
        raise ValueError("replicas must be between 0 and 100")
    return (await get_executor(config, "scale_workload", "high").scale(workload, namespace, replicas)).summary


@tool
async def rollback_deployment(workload: Name, reason: str, config: RunnableConfig, namespace: Name = "default",
                              revision: Annotated[int, Field(ge=1)] | None = None) -> str:
    """Roll a deployment back to its previous (or a given) revision. Critical: needs a reason."""
    executor = get_executor(config, "rollback_deployment", "critical")
    return (await executor.rollback(workload, namespace, revision, reason)).summary


register(query_metrics, risk=Risk.low, agents={"devops"})
register(search_logs, risk=Risk.low, agents={"devops"})
register(list_alerts, risk=Risk.low, agents={"devops"})
register(find_runbook, risk=Risk.low, agents={"devops"})
register(restart_workload, risk=Risk.high, agents={"devops"}, side_effects=True,
         describe=lambda a: f"Restart {a.get('namespace', 'default')}/{a.get('workload')}")
register(scale_workload, risk=Risk.high, agents={"devops"}, side_effects=True,
         describe=lambda a: f"Scale {a.get('namespace', 'default')}/{a.get('workload')} to {a.get('replicas')} replicas")
register(rollback_deployment, risk=Risk.critical, agents={"devops"}, side_effects=True,
         describe=lambda a: f"Roll back {a.get('namespace', 'default')}/{a.get('workload')} "
                            f"(reason: {a.get('reason') or 'none given'})")

SIGNAL_TOOLS = {"query_metrics", "search_logs", "list_alerts"}
REMEDIATIONS = {"restart_workload", "scale_workload", "rollback_deployment"}
TOOLS = [query_metrics, search_logs, list_alerts, find_runbook, restart_workload, scale_workload, rollback_deployment]
