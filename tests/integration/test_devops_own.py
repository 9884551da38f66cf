"""The DevOps agent with no Prometheus or Loki configured: agentdesk's own metrics registry and its
JSON log file (what `make run` gives on a laptop), through the orchestrator on real Postgres."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langgraph.types import Command

from agents.devops import signals, tools, triage
from agents.devops.signals import OWN_SIGNALS_NOTE
from graphs.orchestrator import build_orchestrator
from serving import audit
from serving.logs import JsonFormatter
from graphs.tool_exec import _run_one
from serving.metrics import TOOL_ERRORS_RECENT
from serving.pending import pending_approvals


@pytest.fixture
async def desk(saver, settings_env, tmp_path):
    # A private log file: the own-signals reader must see exactly the lines this test writes.
    settings_env(PROMETHEUS_URL=None, LOKI_URL=None, AGENTDESK_DATA_DIR=str(tmp_path))
    (tmp_path / "logs").mkdir()
    # ...and exactly the counters it sets: earlier tests in this process incremented them too.
    from serving.metrics import HTTP_5XX_RECENT, HTTP_REQUESTS, TOOL_CALLS, TOOL_ERRORS_RECENT

    TOOL_CALLS.clear()
    HTTP_REQUESTS.clear()
    TOOL_ERRORS_RECENT.clear()
    HTTP_5XX_RECENT.clear()
    return build_orchestrator(checkpointer=saver)


def write_logs(tmp_path, *lines: tuple[str, str], age_s: float = 0) -> None:
    """Append lines exactly as serving/logs.py writes them (same formatter, same file)."""
    fmt = JsonFormatter()
    with (tmp_path / "logs" / "agentdesk.jsonl").open("a") as fh:
        for level, msg in lines:
            record = logging.LogRecord("agents.payments", getattr(logging, level.upper()), __file__, 1, msg, None, None)
            record.created -= age_s
            fh.write(fmt.format(record) + "\n")


def thread() -> dict:
    return {"configurable": {"thread_id": f"devops-own-{uuid.uuid4().hex}"}}


def last_ai(out) -> str:
    return next(m.content for m in reversed(out["messages"]) if m.type == "ai" and m.content)


async def dry_runs(config) -> list[dict]:
    rows = await audit.rows_for_thread(config["configurable"]["thread_id"])
    return [r for r in rows if r["kind"] == "action" and r["status"] == "dry-run"]


async def test_search_logs_window_and_level(desk, tmp_path):
    write_logs(tmp_path, ("error", "old failure"), age_s=7200)
    write_logs(tmp_path, ("error", "fresh failure"), ("info", "all good"))
    msg = await tools.search_logs.ainvoke({"name": "search_logs", "args": {"level": "error", "window": "1h"},
                                           "id": "l1", "type": "tool_call"})
    assert [r["msg"] for r in msg.artifact["rows"]] == ["fresh failure"]
    assert OWN_SIGNALS_NOTE in msg.content


async def alerts() -> str:
    return (await tools.list_alerts.ainvoke({"name": "list_alerts", "args": {}, "id": "a1", "type": "tool_call"})).content


async def test_own_alerts_fire_for_recent_tool_errors_only(desk):
    TOOL_ERRORS_RECENT._times.append(time.time() - 3600)  # an hour ago: history
    assert "AgentdeskToolErrors" not in await alerts()
    # A tool that fails inside a run is what counts (a `match` that is no metric name here).
    failed, _ = await _run_one("devops", {"name": "query_metrics", "args": {"match": "a.b"}, "id": "q1"}, {})
    assert failed.status == "error" and "must be part of a metric name" in failed.content
    text = await alerts()
    assert "AgentdeskToolErrors" in text and "1 tool calls ended in an error in the last 15m" in text
    assert "derived" in text


async def pending() -> int:
    return (await pending_approvals())[0]


async def test_pending_approvals_come_from_the_checkpoints(desk, saver, monkeypatch):
    before = await pending()
    config = thread()
    out = await desk.ainvoke({"messages": [HumanMessage("restart the payments deployment")]}, config)
    assert out["__interrupt__"]
    assert await pending() == before + 1  # the devops subgraph's interrupt is seen at the root
    # Only an approval that has waited long is an alert, and an "info" one: workflow, not incident.
    # (The test database keeps earlier runs' threads, some pending for hours: set the bar past them.)
    monkeypatch.setattr(signals, "PENDING_FOR_S", 10 * 365 * 86400)
    assert "AgentdeskApprovalsPending" not in await alerts()
    monkeypatch.setattr(signals, "PENDING_FOR_S", 0)
    msg = await tools.list_alerts.ainvoke({"name": "list_alerts", "args": {}, "id": "a2", "type": "tool_call"})
    [alert] = [a for a in msg.artifact["alerts"] if a["labels"]["alertname"] == "AgentdeskApprovalsPending"]
    assert alert["labels"]["severity"] == "info" and "wait for an approval decision" in msg.content
    ev = triage.evidence([msg])
    assert ev.alerts == [] and not ev.abnormal
    # Answered: no longer pending. A deleted thread stops counting too (no restart needed).
    await desk.ainvoke(Command(resume={"decisions": [{"type": "reject", "message": "no"}]}), config)
    assert await pending() == before
    other = thread()
    await desk.ainvoke({"messages": [HumanMessage("restart the payments deployment")]}, other)
    assert await pending() == before + 1
    await saver.adelete_thread(other["configurable"]["thread_id"])
    assert await pending() == before
    # The gauge is the same count, read at scrape time.
    from serving import pending as pending_mod
    from serving.metrics import APPROVALS_PENDING

    monkeypatch.setattr(pending_mod, "_gauge_read_at", 0.0)
    await pending_mod.refresh_gauge()
    assert APPROVALS_PENDING._value.get() == before


async def test_own_logs_with_logql_say_what_was_not_evaluated(desk, tmp_path):
    write_logs(tmp_path, ("error", "checkout timeout"), ("error", "checkout refused"), ("info", "timeout ok"))
    msg = await tools.search_logs.ainvoke({"name": "search_logs", "id": "l2", "type": "tool_call",
                                           "args": {"query": '{app="x"} |= "timeout" | json', "level": "error"}})
    assert [r["msg"] for r in msg.artifact["rows"]] == ["checkout timeout"]
    assert "LogQL is not evaluated" in msg.content and '{app="x"} | json' in msg.content
    assert '|= "timeout"' in msg.content


async def test_own_metrics_for_promql_that_names_no_metric(desk):
    msg = await tools.query_metrics.ainvoke({"name": "query_metrics", "args": {"query": "vector(1) > 0"},
                                             "id": "m1", "type": "tool_call"})
    assert msg.artifact["rows"] == [] and "names no metric" in msg.content
    msg = await tools.query_metrics.ainvoke({"name": "query_metrics", "args": {"query": "agentdesk_tool_calls_total == 0"},
                                             "id": "m2", "type": "tool_call"})
    assert "names no metric" not in msg.content and "current values of the series it names" in msg.content


async def test_dependency_failure_is_ranked_first_and_not_acted_on(desk, tmp_path):
    write_logs(tmp_path, *[("error", "payments-db: connection refused")] * 3)
    out = await desk.ainvoke({"messages": [HumanMessage("Triage and fix the errors in the logs")]}, thread())
    assert "__interrupt__" not in out
    report = last_ai(out)
    assert "1. a failing dependency (score 3)" in report
    assert "No action proposed" in report and "escalate" in report
    assert "Runbook followed: Runbook: error spike" in report
    assert "own metrics and logs" in report


async def test_bad_release_proposes_a_critical_rollback_with_reason(desk, tmp_path):
    write_logs(tmp_path, ("error", "Traceback: NameError in checkout handler since deploy v2.3"),
               ("error", "Traceback: NameError in checkout handler since deploy v2.3"))
    config = thread()
    out = await desk.ainvoke({"messages": [HumanMessage("Errors in the payments service logs. Triage and fix it.")]},
                             config)
    [req] = out["__interrupt__"][0].value["action_requests"]
    assert req["name"] == "rollback_deployment" and req["risk"] == "critical"
    assert req["args"]["workload"] == "payments" and "a bad release" in req["args"]["reason"]
    out = await desk.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    report = last_ai(out)
    assert "DRY RUN: would rollback default/payments" in report and "Verification" in report
    [row] = await dry_runs(config)
    assert row["args"]["action"] == "rollback" and "a bad release" in row["args"]["reason"]


@pytest.mark.parametrize("decision, expect, runs", [
    ({"type": "approve"}, "DRY RUN: would restart default/payments", 1),
    ({"type": "reject", "message": "not now"}, "rejected restart_workload: not now", 0),
])
async def test_explicit_restart_stops_for_approval(desk, decision, expect, runs):
    config = thread()
    out = await desk.ainvoke({"messages": [HumanMessage("restart the payments deployment")]}, config)
    assert out["__interrupt__"][0].value["action_requests"][0]["args"] == {"workload": "payments"}
    out = await desk.ainvoke(Command(resume={"decisions": [decision]}), config)
    assert any(expect in str(m.content) for m in out["messages"])
    assert len(await dry_runs(config)) == runs
    verified = [m for m in out["messages"] if isinstance(m, ToolMessage) and m.name == "search_logs"]
    assert len(verified) == runs  # signals are re-read only after an action ran
    assert "own metrics and logs" in last_ai(out)


async def test_nothing_abnormal_is_said_plainly(desk):
    started = time.time()
    out = await desk.ainvoke({"messages": [HumanMessage("Check the logs for errors please")]}, thread())
    text = last_ai(out)
    assert "Error log lines (15 min): 0" in text and OWN_SIGNALS_NOTE in text
    assert time.time() - started < 60
