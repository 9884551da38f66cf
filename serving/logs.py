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
    for name in ("agentdesk", "graphs", "agents", "serving", "rag", "guardrails"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
    _configured = True
