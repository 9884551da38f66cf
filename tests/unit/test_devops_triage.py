"""The offline triage policy, phase by phase, on tool results shaped as the tools return them."""

from __future__ import annotations

import time

import pytest

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agents.devops import offline, runbook_index, triage
from agents.devops.triage import ERROR_RATIO


def result(name: str, content: str = "", artifact: dict | None = None, status: str = "success") -> ToolMessage:
    return ToolMessage(content, name=name, tool_call_id=f"id-{name}-{id(artifact)}", artifact=artifact, status=status)


FIRING = result("list_alerts", "HighErrorRate firing", {"type": "alerts", "source": "prometheus", "alerts": [
    {"labels": {"alertname": "HighErrorRate", "service": "checkout"}, "state": "firing",
     "annotations": {"summary": "5xx ratio of checkout is 25%"}}]})
ONE_BAD_POD = result("query_metrics", "...", {"type": "metrics", "source": "prometheus", "query": ERROR_RATIO, "rows": [
    {"labels": {"service": "checkout", "pod": "c-0"}, "value": 0.0},
    {"labels": {"service": "checkout", "pod": "c-1"}, "value": 0.5},
    {"labels": {"service": "checkout", "pod": "c-2"}, "value": "NaN"}]})
NO_LOGS = result("search_logs", "none", {"type": "logs", "source": "own", "rows": []})


def runbook_result(slug: str) -> ToolMessage:
    book = runbook_index.all_runbooks()[slug]
    return result("find_runbook", book.text, {"type": "citations", "citations": [
        {"n": 1, "slug": slug, "source": book.source, "title": book.title}]})


def test_phases_gather_runbook_propose_verify_report(settings_env):
    settings_env(PROMETHEUS_URL="http://prom.invalid:9090", LOKI_URL=None)
    q = [HumanMessage("checkout returns 500s, triage and fix it")]
    first = offline.policy(q)
    assert [c["name"] for c in first.tool_calls] == ["list_alerts", "query_metrics", "query_metrics", "search_logs"]
    gathered = [*q, first, FIRING, ONE_BAD_POD, NO_LOGS]
    second = offline.policy(gathered)
    assert second.tool_calls[0]["name"] == "find_runbook"
    assert "HighErrorRate" in second.tool_calls[0]["args"]["symptom"]
    third = offline.policy([*gathered, second, runbook_result("error-spike")])
    assert third.tool_calls[0]["name"] == "restart_workload" and third.tool_calls[0]["args"] == {"workload": "checkout"}
    assert "Runbook followed: Runbook: error spike (agents/devops/runbooks/error-spike.md) [1]" in third.content
    done = result("restart_workload", "DRY RUN: would restart default/checkout.")
    fourth = offline.policy([*gathered, second, runbook_result("error-spike"), third, done])
    assert {c["name"] for c in fourth.tool_calls} == {"list_alerts", "query_metrics", "search_logs"}  # verify
    final = offline.policy([*gathered, second, runbook_result("error-spike"), third, done, FIRING, ONE_BAD_POD, NO_LOGS])
    assert not final.tool_calls
    assert "Highest 5xx ratio: before 50.0%, after 50.0%" in final.content and "dry run" in final.content


def test_a_rejected_action_is_reported_without_verification(settings_env):
    settings_env(PROMETHEUS_URL=None, LOKI_URL=None)
    rejected = result("restart_workload", "The reviewer rejected restart_workload: no.", status="error")
    reply = offline.policy([HumanMessage("restart the api deployment"), AIMessage(""), rejected])
    assert not reply.tool_calls and "rejected restart_workload: no." in reply.content
    assert "Verification" not in reply.content


def test_ranking_is_explained_and_ties_keep_the_runbook_order():
    ev = triage.evidence([FIRING, ONE_BAD_POD, NO_LOGS])
    hs = triage.hypotheses(runbook_index.all_runbooks()["error-spike"], ev)
    assert [h.cause for h in hs][0].startswith("a stuck process") and hs[0].score == 3
    assert [h.cause for h in hs[1:]] == ["a failing dependency", "a bad release"]
    assert all(any("HighErrorRate" in e for e, _ in h.evidence) for h in hs)


def test_latency_runbook_proposes_a_scale_out():
    slow = result("query_metrics", "", {"query": triage.LATENCY_P95, "rows": [
        {"labels": {"service": "api"}, "value": 1.2}]})
    ev = triage.evidence([slow, ONE_BAD_POD])
    top = triage.hypotheses(runbook_index.all_runbooks()["high-latency"], ev)[0]
    call = triage.proposal(top, "api", ev, None)
    assert call["name"] == "scale_workload" and call["args"] == {"workload": "api", "replicas": 5}  # 3 pods +50%


def test_explicit_actions_are_parsed():
    assert offline.explicit_action("restart the payments deployment")["args"] == {"workload": "payments"}
    assert offline.explicit_action("scale checkout to 6")["args"] == {"workload": "checkout", "replicas": 6}
    rb = offline.explicit_action("roll back api because v2 fails")
    assert rb["name"] == "rollback_deployment" and rb["args"]["reason"] == "v2 fails"
    assert offline.explicit_action("are there errors?") is None
    assert offline.explicit_action("Please restart the pods of checkout")["args"] == {"workload": "checkout"}
    assert offline.explicit_action("Ok. Now scale the api deployment to 4")["args"] == {"workload": "api", "replicas": 4}


@pytest.mark.parametrize("question", [
    "How long does a restart usually take?", "Is the restart of checkout done yet?", "what does scale mean here?",
    "Did someone scale up payments yesterday?", "Why did the last rollback fail?",
    "Does restarting a crash-looping workload help?",
])
def test_a_question_about_an_action_is_not_an_order(question):
    # The verb anywhere made the offline agent put "restart default/usually" up for approval.
    assert offline.explicit_action(question) is None


@pytest.mark.parametrize("order", ["Can you restart it?", "restart", "scale up"])
def test_an_order_without_a_workload_asks_instead_of_guessing_one(order):
    # It used to guess agentdesk-api, and an approval card asked to restart the wrong thing.
    ask = offline.explicit_action(order)
    assert isinstance(ask, str) and ask.startswith("Which workload should I")
    reply = offline.policy([HumanMessage(order)])
    assert not reply.tool_calls and reply.content == ask


@pytest.mark.parametrize("text", [". please " * 2200, ". " * 10000, ". can you " * 1800 + "restart"])
def test_order_parsing_is_linear_on_hostile_text(text):
    started = time.perf_counter()
    offline.explicit_action(text[:20000])
    assert time.perf_counter() - started < 0.5


def test_local_runbook_ranking_and_remediations():
    assert runbook_index._local("pod CrashLoopBackOff restarts", 1)[0].slug == "crash-loop"
    assert runbook_index._local("disk almost full", 1)[0].slug == "disk-pressure"
    books = runbook_index.all_runbooks()
    assert books["high-latency"].remediations == ["scale_workload", "rollback_deployment"]
    assert books["disk-pressure"].remediations == []
