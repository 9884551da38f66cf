"""The DevOps agent against a real Prometheus (Debian's /usr/bin/prometheus) on loopback.

Prometheus scrapes a small exporter that this module runs (checkout service, three pods, one of
them answering half its requests with 500) and evaluates an alerting rule every second. The tools
are driven directly, then a full triage runs through the orchestrator on the real Postgres
checkpointer: with the offline model, and with the scripted OpenAI-compatible server standing in
for vLLM. Remediation runs through the dry-run executor (no cluster here).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langgraph.types import Command
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from agents.devops import signals, tools
from agents.devops.signals import SignalError
from agents.devops.triage import ERROR_RATIO
from evals.scripted_llm import ScriptedServer, free_port, text, tool
from graphs.orchestrator import build_orchestrator
from serving import audit

WAIT_S = 30  # every wait on Prometheus is bounded by this
PODS = ("checkout-0", "checkout-1", "checkout-2")
BAD_POD = "checkout-1"

RULES = """groups:
  - name: checkout
    interval: 1s
    rules:
      - alert: HighErrorRate
        expr: >-
          sum by (service) (rate(http_requests_total{status=~"5.."}[1m]))
          / sum by (service) (rate(http_requests_total[1m])) > 0.02
        for: 0s
        labels: {severity: page}
        annotations:
          summary: '5xx ratio of {{ $labels.service }} is {{ $value | humanizePercentage }}'
"""


class Exporter:
    """A service's metrics: requests by status and pod, and a latency histogram, updated 20x/s."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests_total", "Requests", ["service", "pod", "status"], registry=self.registry)
        self.latency = Histogram("http_request_duration_seconds", "Latency", ["service", "pod"], registry=self.registry,
                                 buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.port = free_port()
        self._stop = threading.Event()

    def _traffic(self) -> None:
        while not self._stop.wait(0.05):
            for pod in PODS:
                self.requests.labels("checkout", pod, "200").inc()
                self.latency.labels("checkout", pod).observe(0.04)
            self.requests.labels("checkout", BAD_POD, "500").inc()

    def __enter__(self) -> Exporter:
        self._server, _ = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)
        self._thread = threading.Thread(target=self._traffic, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.shutdown()
        self._server.server_close()


def _wait(what: str, check, log: Path) -> None:
    deadline = time.time() + WAIT_S
    while time.time() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    pytest.fail(f"Prometheus: {what} did not happen within {WAIT_S}s. Log tail:\n{tail}")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("the `prometheus` binary is not installed (Debian package `prometheus`); these tests need it")
    tmp = tmp_path_factory.mktemp("prometheus")
    with Exporter() as exporter:
        (tmp / "rules.yml").write_text(RULES)
        (tmp / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: [{tmp / 'rules.yml'}]\n"
            "scrape_configs:\n"
            f"  - job_name: checkout\n    static_configs: [{{targets: ['127.0.0.1:{exporter.port}']}}]\n")
        port, log = free_port(), tmp / "prometheus.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}"], stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait("start", lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200, log)
            _wait("HighErrorRate firing", lambda: any(
                a["labels"]["alertname"] == "HighErrorRate" and a["state"] == "firing"
                for a in httpx.get(f"{url}/api/v1/alerts", timeout=2).json()["data"]["alerts"]), log)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture
def prom_env(prometheus, settings_env) -> str:
    settings_env(PROMETHEUS_URL=prometheus, LOKI_URL=None, AGENTDESK_LLM_BASE_URL=None)
    return prometheus


async def call(t, **args) -> ToolMessage:
    return await t.ainvoke({"name": t.name, "args": args, "id": f"t-{uuid.uuid4().hex[:8]}", "type": "tool_call"})


# --- the tools -------------------------------------------------------------------------------------

async def test_instant_query_sees_the_bad_pod(prom_env):
    msg = await call(tools.query_metrics, query=ERROR_RATIO)
    rows = {r["labels"]["pod"]: r["value"] for r in msg.artifact["rows"]}
    assert rows[BAD_POD] > 0.3 and rows["checkout-0"] == 0
    assert msg.artifact["source"] == "prometheus" and f"from Prometheus at {prom_env}" in msg.content


async def test_range_query_returns_points_within_the_window(prom_env):
    msg = await call(tools.query_metrics, query='sum by (pod) (http_requests_total{service="checkout"})',
                     window="1m", step="1s")
    assert {r["labels"]["pod"] for r in msg.artifact["rows"]} == set(PODS)
    points = msg.artifact["rows"][0]["points"]
    assert len(points) >= 2 and points[-1][0] - points[0][0] <= 60
    assert "over the last 1m" in msg.content and "points" in msg.content


async def test_match_and_result_cap(prom_env):
    msg = await call(tools.query_metrics, match="http_requests", limit=2)
    assert len(msg.artifact["rows"]) == 2
    assert "more series not shown" in msg.content


async def test_bad_promql_is_a_clear_error(prom_env):
    with pytest.raises(SignalError, match="Prometheus rejected the query"):
        await call(tools.query_metrics, query="sum(rate(http_requests_total[5m])")


async def test_bad_window_is_a_clear_error(prom_env):
    with pytest.raises(SignalError, match="bad duration"):
        await call(tools.query_metrics, query="up", window="five minutes")


async def test_range_selectors_in_the_query_are_held_to_the_window_cap(prom_env):
    for query, problem in [("http_requests_total[10y]", "reaches back more than 7 days"),
                           ("max_over_time(http_requests_total[1d:1s])", "more than 11,000 points")]:
        with pytest.raises(SignalError, match=problem):
            await call(tools.query_metrics, query=query)
        with pytest.raises(SignalError, match=problem):  # a range query's own selectors too
            await call(tools.query_metrics, query=query, window="5m")
    msg = await call(tools.query_metrics, query="http_requests_total[1m]")  # within: a matrix answer
    assert msg.artifact["rows"] and "points" in msg.content


async def test_an_oversized_answer_is_refused_before_it_is_parsed(prom_env, monkeypatch):
    monkeypatch.setattr(signals, "MAX_BODY_BYTES", 300)  # the real cap is 8 MB; this answer is larger
    with pytest.raises(SignalError, match="answer is larger than"):
        await call(tools.query_metrics, query="http_requests_total[1m]")


@pytest.mark.parametrize("match", ["http_requests-total", "http.requests", "requests $", 'x"}'])
async def test_match_that_is_not_part_of_a_metric_name_is_refused(prom_env, match):
    with pytest.raises(SignalError, match="must be part of a metric name"):
        await call(tools.query_metrics, match=match)


async def test_unreachable_prometheus_is_a_clear_error(settings_env):
    settings_env(PROMETHEUS_URL=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(SignalError, match="unreachable"):
        await call(tools.query_metrics, query="up")
    with pytest.raises(SignalError, match="unreachable"):
        await call(tools.list_alerts)


async def test_list_alerts_shows_the_firing_rule(prom_env):
    msg = await call(tools.list_alerts)
    [alert] = msg.artifact["alerts"]
    assert alert["labels"]["alertname"] == "HighErrorRate" and alert["labels"]["service"] == "checkout"
    assert "HighErrorRate" in msg.content and "firing" in msg.content
    msg = await call(tools.list_alerts, state="pending")
    assert msg.artifact["alerts"] == []


# --- a full triage through the orchestrator ---------------------------------------------------------

QUESTION = "The checkout service is returning 500s. Triage and fix it."


@pytest.fixture
async def desk(saver, prom_env):
    return build_orchestrator(checkpointer=saver)


def thread() -> dict:
    return {"configurable": {"thread_id": f"devops-{uuid.uuid4().hex}"}}


def last_ai(out) -> str:
    return next(m.content for m in reversed(out["messages"]) if m.type == "ai" and m.content)


async def pending_ai(desk, config):
    """The devops subgraph's last AI message while it waits at the approval interrupt (the parent
    state gets the subgraph's messages only when the subgraph finishes)."""
    state = await desk.aget_state(config, subgraphs=True)
    [task] = [t for t in state.tasks if t.name == "devops"]
    return next(m for m in reversed(task.state.values["messages"]) if m.type == "ai")


async def dry_runs(config) -> list[dict]:
    rows = await audit.rows_for_thread(config["configurable"]["thread_id"])
    return [r for r in rows if r["kind"] == "action" and r["status"] == "dry-run"]


async def test_offline_triage_approve_runs_once_and_verifies(desk, prom_env):
    config = thread()
    out = await desk.ainvoke({"messages": [HumanMessage(QUESTION)]}, config)
    [req] = out["__interrupt__"][0].value["action_requests"]
    assert req["name"] == "restart_workload" and req["args"] == {"workload": "checkout"}
    proposal = (await pending_ai(desk, config)).content
    print("\n--- offline triage proposal ---\n" + proposal)
    assert "a stuck process" in proposal.split("Hypotheses")[1].split("\n")[1]  # ranked first
    assert f"{BAD_POD} " in proposal and "error-spike.md" in proposal

    out = await desk.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    report = last_ai(out)
    print("\n--- offline triage report ---\n" + report)
    assert "Runbook followed: Runbook: error spike (agents/devops/runbooks/error-spike.md)" in report
    assert "DRY RUN: would restart default/checkout" in report
    assert "Verification" in report and "after ['HighErrorRate']" in report
    assert "signals from Prometheus (PROMETHEUS_URL) and agentdesk's own logs" in report
    [row] = await dry_runs(config)
    assert row["args"] == {"action": "restart", "workload": "checkout", "namespace": "default", "executor": "dry-run"}
    verify_reads = [m for m in out["messages"] if isinstance(m, ToolMessage) and m.name == "list_alerts"]
    assert len(verify_reads) == 2  # once to triage, once to verify


async def test_offline_triage_reject_runs_nothing(desk):
    config = thread()
    out = await desk.ainvoke({"messages": [HumanMessage(QUESTION)]}, config)
    assert out["__interrupt__"]
    out = await desk.ainvoke(Command(resume={"decisions": [{"type": "reject", "message": "deploy freeze"}]}), config)
    report = last_ai(out)
    assert "rejected restart_workload: deploy freeze" in report and "Verification" not in report
    assert "a stuck process" in report  # the findings are still reported
    assert await dry_runs(config) == []


async def test_resume_twice_and_replay_from_checkpoint_execute_once(desk):
    config = thread()
    await desk.ainvoke({"messages": [HumanMessage(QUESTION)]}, config)
    interrupted = await desk.aget_state(config)  # the checkpoint before approval -> tools
    approve = Command(resume={"decisions": [{"type": "approve"}]})
    await desk.ainvoke(approve, config)
    await desk.ainvoke(approve, config)  # a second resume: nothing is pending
    assert len(await dry_runs(config)) == 1
    before = len([c async for c in desk.aget_state_history(config)])
    replay = await desk.ainvoke(approve, interrupted.config)  # fork: approval -> tools run again
    assert len([c async for c in desk.aget_state_history(config)]) > before  # the fork really ran
    [result] = [m for m in replay["messages"] if isinstance(m, ToolMessage) and m.name == "restart_workload"]
    assert result.content.startswith("DRY RUN: would restart default/checkout")  # the recorded outcome
    assert len(await dry_runs(config)) == 1  # ...but the executor was not called again


async def test_served_model_triage_through_the_scripted_server(saver, prom_env, settings_env):
    with ScriptedServer() as srv:
        settings_env(AGENTDESK_LLM_BASE_URL=srv.url, AGENTDESK_LLM_MODEL="scripted-model",
                     AGENTDESK_LLM_MAX_RETRIES="0")
        srv.push(
            text('{"next": "devops", "reason": "an incident on checkout"}'),
            tool("list_alerts"),
            tool("query_metrics", query=ERROR_RATIO),
            tool("find_runbook", symptom="HighErrorRate 5xx errors on one checkout pod"),
            tool("restart_workload", workload="checkout"),
            tool("query_metrics", query=ERROR_RATIO),
            text("Followed Runbook: error spike (agents/devops/runbooks/error-spike.md). checkout-1 alone "
                 "returned 5xx; restart was a dry run, the ratio is unchanged."),
        )
        desk = build_orchestrator(checkpointer=saver)
        config = thread()
        out = await desk.ainvoke({"messages": [HumanMessage(QUESTION)]}, config)
        assert out["__interrupt__"][0].value["action_requests"][0]["name"] == "restart_workload"
        out = await desk.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
        assert "error-spike.md" in last_ai(out)
        # The model saw the real signals: Prometheus's alert and the runbook text came back as tool results.
        seen = " ".join(str(m.get("content")) for m in srv.script.requests[-1]["messages"] if m["role"] == "tool")
        assert "HighErrorRate" in seen and "Runbook: error spike" in seen and "DRY RUN" in seen
        assert BAD_POD in seen
        assert len(await dry_runs(config)) == 1
