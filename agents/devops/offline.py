"""Offline DevOps agent: reads the signals, or proposes the remediation the user asked for."""

from __future__ import annotations

import re

from langchain_core.messages import AIMessage, BaseMessage

from agents._offline import turn
from serving.offline_model import tool_call

_ACTION = re.compile(r"\b(restart|scale|roll ?back)\b\s+(?:the\s+)?(?:deployment\s+|workload\s+|service\s+)?[`'\"]?([a-z0-9][a-z0-9-]*)?", re.I)
_REPLICAS = re.compile(r"\bto\s+(\d+)\b")
_REASON = re.compile(r"\b(?:because|reason:?)\s+(.+)", re.I)


def policy(messages: list[BaseMessage]) -> AIMessage:
    question, results = turn(messages)
    if not results:
        if m := _ACTION.search(question):
            verb, workload = m.group(1).lower().replace(" ", ""), m.group(2) or "agentdesk-api"
            if verb == "restart":
                return AIMessage("", tool_calls=[tool_call("restart_workload", {"workload": workload})])
            if verb == "scale":
                replicas = int(r.group(1)) if (r := _REPLICAS.search(question)) else 2
                return AIMessage("", tool_calls=[tool_call("scale_workload", {"workload": workload, "replicas": replicas})])
            reason = r.group(1).strip() if (r := _REASON.search(question)) else ""
            return AIMessage("", tool_calls=[tool_call("rollback_deployment", {"workload": workload, "reason": reason})])
        return AIMessage("", tool_calls=[
            tool_call("query_metrics", {"match": "agentdesk_"}),
            tool_call("search_logs", {"level": "error", "limit": 10}),
        ])
    parts = [f"{r.name}:\n{r.content}" for r in results]
    return AIMessage("Here is what the signals show.\n\n" + "\n\n".join(parts))
