"""Signals from agentdesk itself: its Prometheus metrics and its JSON log file.

Used when PROMETHEUS_URL / LOKI_URL are not set, so the DevOps agent works on a laptop.
"""

from __future__ import annotations

import json
from collections import deque

from serving.metrics import samples
from serving.settings import get_settings

OWN_SIGNALS_NOTE = "(from agentdesk's own metrics and logs: no Prometheus or Loki is configured)"


def own_metrics(match: str = "", limit: int = 50) -> list[dict]:
    rows = [{"name": n, "labels": lbl, "value": v} for n, lbl, v in samples(match)]
    return rows[:limit]


def own_logs(contains: str = "", level: str | None = None, limit: int = 50) -> list[dict]:
    """The newest matching lines of the JSON log (read from the end; the file is rotated)."""
    path = get_settings().log_file
    if not path.exists():
        return []
    matched: deque[dict] = deque(maxlen=limit)
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
            matched.append(entry)
    return list(matched)
