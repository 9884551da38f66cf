"""The scenario eval runs every recorded scenario through the orchestrator and scores it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from evals.scenarios import load_scenarios


def test_there_are_at_least_30_scenarios_across_the_four_agents():
    scenarios = load_scenarios()
    assert len(scenarios) >= 30
    routes = {s["route"] for s in scenarios}
    assert {"research", "code", "data", "devops"} <= routes
    assert sum(1 for s in scenarios if s.get("approval")) >= 6


def test_eval_scenarios_cli_json():
    out = subprocess.run([sys.executable, "-m", "serving.cli", "eval", "scenarios", "--json"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["scenarios"] >= 30
    assert result["route_accuracy"] == 1.0, result["failures"]
    assert result["task_success"] == 1.0, result["failures"]
    # One recorded call is deliberately invalid (DDL without a reason) and is scored as such.
    assert 0.9 < result["tool_call_validity"] < 1.0
    assert result["offline_fallback_calls"] == 0


def test_eval_scenarios_refuses_a_dead_endpoint():
    """Scoring the offline fallback as if it were the endpoint would mislead: a dead endpoint is
    a clear error before any scenario runs."""
    out = subprocess.run([sys.executable, "-m", "serving.cli", "eval", "scenarios", "--endpoint",
                          "http://127.0.0.1:9/v1", "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert "does not answer GET /models" in out.stderr


async def test_eval_scenarios_counts_answers_from_the_offline_fallback(settings_env, capsys):
    """An endpoint that is up but fails calls: the scenarios still finish (the fallback answers),
    and the result says how many calls that was, with a warning."""
    from evals import scenarios
    from evals.scripted_llm import ScriptedServer

    with ScriptedServer() as llm:
        settings_env(AGENTDESK_LLM_BASE_URL=None, AGENTDESK_LLM_MAX_RETRIES="0", AGENTDESK_BREAKER_FAILURES="100")
        llm.script.responder = lambda body: {"fail": 500}
        result = await scenarios.run(llm.url, names=["research-latency-runbook"])
    assert result["scenarios"] == 1 and result["offline_fallback_calls"] >= 2  # router and agent at least
    assert "offline fallback answered" in capsys.readouterr().err
    import os

    assert "AGENTDESK_LLM_BASE_URL" not in os.environ  # run() gave the process its settings back


async def test_eval_scenarios_finds_the_api_base_and_the_served_model(settings_env, capsys):
    """vLLM is often given as its server root, and serves whatever model it was started with: the
    eval finds `/v1` and evaluates the listed model, so no call falls back to the offline model."""
    from evals import scenarios
    from evals.scripted_llm import ScriptedServer

    with ScriptedServer() as llm:
        llm.script.model = "org/some-other-model"
        settings_env(AGENTDESK_LLM_BASE_URL=None, AGENTDESK_LLM_MODEL=None)
        root = llm.url.removesuffix("/v1")
        assert scenarios.resolve_endpoint(root) == (llm.url, "org/some-other-model")
        assert "first model" in capsys.readouterr().err
        llm.push(*scenarios._replies(next(s for s in scenarios.load_scenarios()
                                          if s["name"] == "research-latency-runbook")))
        result = await scenarios.run(root, names=["research-latency-runbook"])
        seen = {body.get("model") for body in llm.script.requests}
    assert result["endpoint"] == llm.url and result["model"] == "org/some-other-model"
    assert result["offline_fallback_calls"] == 0 and result["task_success"] == 1.0, result
    assert seen == {"org/some-other-model"}


def test_eval_scenarios_refuses_a_chosen_model_the_endpoint_does_not_serve(settings_env):
    from evals import scenarios
    from evals.scripted_llm import ScriptedServer

    with ScriptedServer() as llm:
        settings_env(AGENTDESK_LLM_MODEL="org/not-served")
        with pytest.raises(scenarios.EndpointError, match="not served.*lists"):
            scenarios.resolve_endpoint(llm.url)
        llm.script.model = "org/not-served"
        assert scenarios.resolve_endpoint(llm.url) == (llm.url, "org/not-served")
