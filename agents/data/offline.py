"""Offline data agent: runs the SQL the user wrote, or answers questions about the schema."""

from __future__ import annotations

import re

from langchain_core.messages import AIMessage, BaseMessage

from agents._offline import fenced, turn
from serving.offline_model import tool_call

_TABLE = re.compile(r"\b(?:describe|columns? of|schema of|table)\s+(?:the\s+)?[`\"']?(?:warehouse\.)?(\w+)", re.I)
_REASON = re.compile(r"\breason\s*[:=]\s*(.+)", re.I)


def policy(messages: list[BaseMessage]) -> AIMessage:
    question, results = turn(messages)
    if not results:
        sql = fenced(question, "sql", "postgres", "postgresql")
        if sql is not None:
            args = {"sql": sql}
            if m := _REASON.search(question.replace(sql, "")):
                args["reason"] = m.group(1).strip()
            return AIMessage("", tool_calls=[tool_call("run_sql", args)])
        if (m := _TABLE.search(question)) and m.group(1).lower() not in {"of", "the", "tables"}:
            return AIMessage("", tool_calls=[tool_call("describe_table", {"table": m.group(1)})])
        return AIMessage("", tool_calls=[tool_call("list_tables", {})])
    last = results[-1]
    content = str(last.content)
    if last.name == "list_tables" and last.status != "error":
        content += ("\n\nOffline, I run the SQL you write: put one statement in a ```sql block. "
                    "With a served model I can write the SQL from your question.")
    return AIMessage(content)
