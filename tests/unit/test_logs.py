"""JSON log lines carry the run's thread, run and user ids."""

from __future__ import annotations

import io
import json
import logging

from langchain_core.runnables import RunnableLambda

from serving.logs import JsonFormatter, RunContextFilter


def test_log_lines_inside_a_run_carry_its_ids():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RunContextFilter())
    log = logging.getLogger("agents.test_logs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        RunnableLambda(lambda x: log.info("inside %s", x)).invoke(
            "node", {"configurable": {"thread_id": "t-1", "run_id": "r-1", "langgraph_auth_user_id": "ana"}})
        log.info("outside")
    finally:
        log.removeHandler(handler)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["msg"] == "inside node"
    assert (inside["thread_id"], inside["run_id"], inside["user_id"]) == ("t-1", "r-1", "ana")
    assert inside["level"] == "info" and inside["ts"].endswith("Z")
    assert "thread_id" not in outside
