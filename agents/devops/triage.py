"""Deterministic triage for the offline model: evidence from the signal tools' artifacts, hypotheses
ranked by that evidence per runbook, the remediation to propose, and the final report.

The hypotheses mirror each runbook's "Likely causes" with a concrete evidence test per cause, so
the ranking is explainable: a cause's score is the weight of the evidence lines listed under it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import ToolMessage

from agents.devops.runbook_index import Runbook, all_runbooks
from agents.devops.signals import OWN_SIGNALS_NOTE, mode
from serving.offline_model import tool_call
from serving.settings import get_settings

# The runbooks' own queries (error-spike.md, high-latency.md), split by pod so a single bad pod
# shows; `or ... * 0` keeps pods without any 5xx series in the result as 0, i.e. healthy.
ERROR_RATIO = ('(sum by (service, pod) (rate(http_requests_total{status=~"5.."}[5m])) '
               'or 0 * sum by (service, pod) (rate(http_requests_total[5m]))) '
               '/ sum by (service, pod) (rate(http_requests_total[5m]))')
LATENCY_P95 = 'histogram_quantile(0.95, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))'
ERROR_RATIO_SLO, LATENCY_SLO_S = 0.02, 0.5  # the thresholds the runbooks state

_DEPENDENCY = re.compile(r"connection refused|timed? ?out|timeout|\b503\b|unavailable|upstream|unreachable", re.I)
_RELEASE = re.compile(r"\b(deploy\w*|release|rollout|version|migration|Traceback|NameError|AttributeError)\b", re.I)
_SATURATION = re.compile(r"pool exhausted|queue (?:is )?full|too many connections|saturat\w*|throttl\w*", re.I)
_OOM = re.compile(r"OOMKilled|out of memory|MemoryError", re.I)
_DISK = re.compile(r"no space left|disk (?:is )?full|DiskPressure", re.I)
_WORKLOAD = re.compile(r"\b(?:the\s+)?([a-z0-9][a-z0-9-]*)\s+(?:service|deployment|workload)\b", re.I)
_NOT_WORKLOAD = {"the", "a", "this", "my", "our", "that", "api", "whole"}


def gather_calls(mode: dict[str, str]) -> list[dict[str, Any]]:
    calls = [tool_call("list_alerts", {})]
    if mode["metrics"] == "prometheus":
        calls += [tool_call("query_metrics", {"query": ERROR_RATIO}), tool_call("query_metrics", {"query": LATENCY_P95})]
    else:
        calls.append(tool_call("query_metrics", {"match": "agentdesk_"}))
    calls.append(tool_call("search_logs", {"level": "error", "window": "15m", "limit": 20}))
    return calls


@dataclass
class Evidence:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    error_ratio: list[dict[str, Any]] = field(default_factory=list)
    latency_p95: list[dict[str, Any]] = field(default_factory=list)
    error_logs: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    own: bool = False
    read: set[str] = field(default_factory=set)  # which signal tools answered: "not read" != "zero"

    @property
    def abnormal(self) -> bool:
        return bool(self.alerts or self.error_logs or self.bad_pods() or self.slow_services())

    def bad_pods(self) -> list[dict[str, Any]]:
        return [r for r in self.error_ratio if _num(r["value"]) > ERROR_RATIO_SLO]

    def slow_services(self) -> list[dict[str, Any]]:
        return [r for r in self.latency_p95 if _num(r["value"]) > LATENCY_SLO_S]

    def max_ratio(self) -> float | None:
        return max((_num(r["value"]) for r in self.error_ratio), default=None)

    def max_p95(self) -> float | None:
        return max((_num(r["value"]) for r in self.latency_p95), default=None)


def _num(value: Any) -> float:
    v = float(value)
    return 0.0 if math.isnan(v) else v  # 0/0 ratios (no traffic) are NaN in PromQL


def evidence(results: list[ToolMessage]) -> Evidence:
    ev = Evidence()
    for r in results:
        art = r.artifact if isinstance(r.artifact, dict) else {}
        if r.status == "error":
            ev.failures.append(str(r.content))
            continue
        ev.read.add(r.name)
        if r.name == "list_alerts":
            # "info" alerts are workflow state (approvals waiting), not symptoms of an incident.
            ev.alerts = [a for a in art.get("alerts", []) if a.get("state") == "firing"
                         and a.get("labels", {}).get("severity") != "info"]
        elif r.name == "query_metrics" and art.get("query") == ERROR_RATIO:
            ev.error_ratio = art.get("rows", [])
        elif r.name == "query_metrics" and art.get("query") == LATENCY_P95:
            ev.latency_p95 = art.get("rows", [])
        elif r.name == "search_logs":
            ev.error_logs = [str(x.get("line") or x.get("msg") or "") for x in art.get("rows", [])]
        ev.own = ev.own or art.get("source") == "own"
    return ev


def symptom(question: str, ev: Evidence) -> str:
    parts = [f"{a['labels'].get('alertname')} {a.get('annotations', {}).get('summary', '')}" for a in ev.alerts]
    if ev.bad_pods():
        parts.append("5xx error ratio spike")
    if ev.slow_services():
        parts.append("high latency p95")
    if ev.error_logs:
        parts.append("error logs: " + "; ".join(dict.fromkeys(ev.error_logs))[:300])
    return " ".join([*parts, question])[:600]


def workload(question: str, ev: Evidence) -> str:
    for a in ev.alerts:
        for key in ("deployment", "service", "app"):
            if value := a["labels"].get(key):
                return value
    if (m := _WORKLOAD.search(question)) and m.group(1).lower() not in _NOT_WORKLOAD:
        return m.group(1).lower()
    for r in ev.bad_pods() + ev.slow_services():
        if value := r["labels"].get("service"):
            return value
    return "agentdesk-api"


@dataclass
class Hypothesis:
    cause: str
    remediation: str | None  # a tool name, or None when the runbook says not to act on the workload
    evidence: list[tuple[str, int]] = field(default_factory=list)  # (what was seen, weight)

    @property
    def score(self) -> int:
        return sum(w for _, w in self.evidence)


def _logs(ev: Evidence, pattern: re.Pattern[str], what: str) -> list[tuple[str, int]]:
    hits = [line for line in ev.error_logs if pattern.search(line)]
    return [(f"{len(hits)} error log line(s) {what}, e.g. {hits[0][:160]!r}", min(len(hits), 3))] if hits else []


def _pod_split(ev: Evidence) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    bad = ev.bad_pods()
    healthy = [r for r in ev.error_ratio if _num(r["value"]) <= ERROR_RATIO_SLO / 4]
    return bad, healthy


def hypotheses(book: Runbook | None, ev: Evidence) -> list[Hypothesis]:
    slug = book.slug if book else "error-spike"
    bad, healthy = _pod_split(ev)
    pods = ", ".join(f"{r['labels'].get('pod', '?')} {_num(r['value']):.0%}" for r in bad)
    hs: list[Hypothesis]
    if slug == "error-spike":
        hs = [Hypothesis("a stuck process (errors from one pod only)", "restart_workload"),
              Hypothesis("a failing dependency", None, _logs(ev, _DEPENDENCY, "name a dependency failure")),
              Hypothesis("a bad release", "rollback_deployment", _logs(ev, _RELEASE, "point at new code"))]
        if len(bad) == 1 and healthy:
            hs[0].evidence.append((f"5xx ratio above {ERROR_RATIO_SLO:.0%} on one pod only ({pods}); "
                                   f"{len(healthy)} other pod(s) healthy", 3))
        elif len(bad) > 1:
            hs[2].evidence.append((f"5xx ratio above {ERROR_RATIO_SLO:.0%} on every erroring pod ({pods})", 1))
            hs[1].evidence.append((f"errors on {len(bad)} pods at once ({pods})", 1))
    elif slug == "high-latency":
        hs = [Hypothesis("a saturated dependency or API tier", "scale_workload", _logs(ev, _SATURATION, "show saturation")),
              Hypothesis("a bad release", "rollback_deployment", _logs(ev, _RELEASE, "point at new code")),
              Hypothesis("a traffic spike", "scale_workload")]
        for r in ev.slow_services():
            hs[0].evidence.append((f"p95 of {r['labels'].get('service', '?')} is {_num(r['value']):.2f}s "
                                   f"(objective {LATENCY_SLO_S}s)", 1))
    elif slug == "crash-loop":
        hs = [Hypothesis("a bad release or config", "rollback_deployment", _logs(ev, _RELEASE, "point at new code")),
              Hypothesis("OOMKilled under load", "scale_workload", _logs(ev, _OOM, "show memory exhaustion")),
              Hypothesis("a missing dependency at start-up", None, _logs(ev, _DEPENDENCY, "name a dependency"))]
    elif slug == "failed-deploy":
        hs = [Hypothesis("the new revision is broken", "rollback_deployment", _logs(ev, _RELEASE, "point at new code"))]
    else:  # disk-pressure: the runbook's fixes (prune, expand the volume) are not workload actions
        hs = [Hypothesis("old checkpoints or logs filling the volume", None, _logs(ev, _DISK, "report a full disk"))]
    for a in ev.alerts:  # an alert confirms the symptom; it supports every cause of this runbook alike
        for h in hs:
            h.evidence.append((f"alert {a['labels'].get('alertname')} is firing", 0))
    return sorted(hs, key=lambda h: -h.score)  # stable: ties keep the runbook's order


def proposal(top: Hypothesis, target: str, ev: Evidence, book: Runbook | None) -> dict[str, Any] | None:
    if top.remediation is None or top.score <= 0:
        return None
    if top.remediation == "restart_workload":
        return tool_call("restart_workload", {"workload": target})
    if top.remediation == "scale_workload":
        pods = {r["labels"].get("pod") for r in ev.error_ratio if r["labels"].get("pod")}
        return tool_call("scale_workload", {"workload": target, "replicas": max(2, math.ceil(len(pods) * 1.5))})
    reason = f"{book.title if book else 'triage'}: {top.cause}; {top.evidence[0][0]}"
    return tool_call("rollback_deployment", {"workload": target, "reason": reason[:300]})


def describe(ev: Evidence) -> list[str]:
    lines = []
    lines.append("Firing alerts: " + (", ".join(
        f"{a['labels'].get('alertname')} ({a.get('annotations', {}).get('summary', '')})".replace(" ()", "")
        for a in ev.alerts) or "none"))
    if (ratio := ev.max_ratio()) is not None:
        lines.append(f"Highest 5xx ratio: {ratio:.1%}")
    if (p95 := ev.max_p95()) is not None:
        lines.append(f"Highest p95 latency: {p95:.3f}s")
    lines.append(f"Error log lines (15 min): {len(ev.error_logs)}")
    lines += [f"Signal unavailable: {f}" for f in ev.failures]
    return lines


def ranking(hs: list[Hypothesis]) -> list[str]:
    out = ["Hypotheses, ranked by evidence:"]
    for n, h in enumerate(hs, start=1):
        fix = f" -> {h.remediation}" if h.remediation else " -> no workload action (escalate)"
        out.append(f"{n}. {h.cause} (score {h.score}){fix}")
        out += [f"   - {e}" for e, _ in h.evidence] or ["   - no evidence found"]
    return out


def compare(before: Evidence, after: Evidence) -> list[str]:
    names = lambda ev: sorted({a["labels"].get("alertname", "?") for a in ev.alerts})  # noqa: E731
    seen = lambda ev, tool, text: text if tool in ev.read else "not read"  # noqa: E731
    lines = [f"Alerts firing: before {seen(before, 'list_alerts', names(before) or 'none')}, "
             f"after {names(after) or 'none'}"]
    if after.max_ratio() is not None:
        was = f"{before.max_ratio():.1%}" if before.max_ratio() is not None else "not read"
        lines.append(f"Highest 5xx ratio: before {was}, after {after.max_ratio():.1%}")
    if after.max_p95() is not None:
        was = f"{before.max_p95():.3f}s" if before.max_p95() is not None else "not read"
        lines.append(f"Highest p95: before {was}, after {after.max_p95():.3f}s")
    lines.append(f"Error log lines: before {seen(before, 'search_logs', len(before.error_logs))}, "
                 f"after {len(after.error_logs)}")
    lines += [f"Signal unavailable: {f}" for f in after.failures]
    return lines


def runbook_of(results: list[ToolMessage]) -> tuple[Runbook | None, int | None]:
    """The runbook the triage follows (find_runbook's top hit) and its citation number."""
    for r in results:
        if r.name == "find_runbook" and isinstance(r.artifact, dict) and r.artifact.get("citations"):
            top = r.artifact["citations"][0]
            return all_runbooks().get(top.get("slug", "")), top.get("n", 1)
    return None, None


def source_note() -> str:
    m, s = mode(), get_settings()
    if m["metrics"] == "own" and m["logs"] == "own":
        return OWN_SIGNALS_NOTE
    # Named by setting, not URL: the output guard removes links from answers.
    metrics = "Prometheus (PROMETHEUS_URL)" if s.prometheus_url else "agentdesk's own metrics"
    logs = "Loki (LOKI_URL)" if s.loki_url else "agentdesk's own logs (no Loki is configured)"
    return f"(signals from {metrics} and {logs})"
