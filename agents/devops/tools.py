"""DevOps tools: read signals (low risk) and remediate (high / critical, behind approval)."""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

from agents.devops.executor import get_executor
from agents.devops.signals import OWN_SIGNALS_NOTE, own_logs, own_metrics
from guardrails.policy import Risk, register


@tool(response_format="content_and_artifact")
async def query_metrics(match: str = "", limit: int = 50) -> tuple[str, dict]:
    """Current values of metrics whose name contains `match` (e.g. 'tool_calls', 'guard')."""
    rows = own_metrics(match, max(1, min(limit, 500)))
    lines = [f"{r['name']}{r['labels'] or ''} = {r['value']:g}" for r in rows]
    text = "\n".join(lines) if lines else f"No metric matches {match!r}."
    return f"{text}\n{OWN_SIGNALS_NOTE}", {"type": "metrics", "rows": rows, "source": "own"}


@tool(response_format="content_and_artifact")
async def search_logs(contains: str = "", level: str | None = None, limit: int = 20) -> tuple[str, dict]:
    """The newest log lines containing `contains`, optionally only one level (error, warning, info)."""
    rows = own_logs(contains, level, max(1, min(limit, 200)))
    lines = [f"{r.get('ts')} {r.get('level')} {r.get('logger')}: {r.get('msg')}" for r in rows]
    text = "\n".join(lines) if lines else "No matching log lines."
    return f"{text}\n{OWN_SIGNALS_NOTE}", {"type": "logs", "rows": rows, "source": "own"}


@tool
async def restart_workload(workload: str, namespace: str = "default") -> str:
    """Restart a workload (rolling restart of a Kubernetes deployment)."""
    return (await get_executor().restart(workload, namespace)).summary


@tool
async def scale_workload(workload: str, replicas: int, namespace: str = "default") -> str:
    """Scale a workload to a number of replicas."""
    return (await get_executor().scale(workload, namespace, replicas)).summary


@tool
async def rollback_deployment(workload: str, reason: str, namespace: str = "default",
                              revision: int | None = None) -> str:
    """Roll a deployment back to its previous (or a given) revision. Critical: needs a reason."""
    return (await get_executor().rollback(workload, namespace, revision)).summary


register(query_metrics, risk=Risk.low, agents={"devops"})
register(search_logs, risk=Risk.low, agents={"devops"})
register(restart_workload, risk=Risk.high, agents={"devops"}, side_effects=True,
         describe=lambda a: f"Restart {a.get('namespace', 'default')}/{a.get('workload')}")
register(scale_workload, risk=Risk.high, agents={"devops"}, side_effects=True,
         describe=lambda a: f"Scale {a.get('namespace', 'default')}/{a.get('workload')} to {a.get('replicas')} replicas")
register(rollback_deployment, risk=Risk.critical, agents={"devops"}, side_effects=True,
         describe=lambda a: f"Roll back {a.get('namespace', 'default')}/{a.get('workload')}")

TOOLS = [query_metrics, search_logs, restart_workload, scale_workload, rollback_deployment]
