"""Structured JSON logs: one object per line on stderr and in data_dir/logs/agentdesk.jsonl.

The DevOps agent searches this file when no Loki is configured.
"""

from __future__ import annotations

import json
import logging
import time
from logging.handlers import RotatingFileHandler

from serving.settings import get_settings

_configured = False


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("thread_id", "run_id", "user_id", "tool", "agent", "route"):
            if (value := getattr(record, key, None)) is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RunContextFilter(logging.Filter):
    """Stamp each record with the thread, run and user of the graph run it was logged in.

    LangChain keeps the current run's config in a context variable, so any log line written
    inside a node or tool carries the ids without passing them around.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from langchain_core.runnables.config import var_child_runnable_config

        config = var_child_runnable_config.get() or {}
        configurable = config.get("configurable") or {}
        metadata = config.get("metadata") or {}
        record.thread_id = getattr(record, "thread_id", None) or configurable.get("thread_id")
        record.run_id = getattr(record, "run_id", None) or configurable.get("run_id") or metadata.get("run_id")
        record.user_id = getattr(record, "user_id", None) or configurable.get("langgraph_auth_user_id")
        return True


def configure_logging() -> None:
    """Add the JSON file handler once per process (the server's own console logging stays)."""
    global _configured
    if _configured:
        return
    path = get_settings().log_file
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=20_000_000, backupCount=3)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.INFO)
    handler.addFilter(RunContextFilter())
    for name in ("agentdesk", "graphs", "agents", "serving", "rag", "guardrails"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
    _configured = True
