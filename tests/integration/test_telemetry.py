"""Traces and metrics from a scripted run: OpenTelemetry GenAI spans to an in-process OTLP/HTTP
receiver, Langfuse's trace to a local stand-in for its OTLP ingest, and Prometheus series."""

from __future__ import annotations

import json
import uuid

import pytest
from langchain_core.messages import HumanMessage

from evals.scripted_llm import ScriptedServer, text, tool
from serving import telemetry
from serving.metrics import exposition
from tests.integration.otlp_receiver import Receiver


def responder(body):
    if body.get("response_format"):
        return text(json.dumps({"next": "code", "reason": "python was asked for"}))
    if any(m.get("role") == "tool" for m in body["messages"]):
        return text("It printed 42.")
    return tool("run_python", code="print(6 * 7)")


@pytest.fixture
def scripted(settings_env):
    with ScriptedServer() as llm:
        llm.script.responder = responder
        settings_env(AGENTDESK_LLM_BASE_URL=llm.url, AGENTDESK_LLM_MODEL="scripted-model")
        yield llm


@pytest.fixture
def receiver(monkeypatch):
    r = Receiver()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", r.url)
    telemetry.reset()
    yield r
    telemetry.reset()
    r.close()


async def test_genai_spans_for_model_tool_and_guard(scripted, receiver, saver):
    from graphs.orchestrator import build_orchestrator

    desk = build_orchestrator(checkpointer=saver)
    out = await desk.ainvoke({"messages": [HumanMessage("compute six times seven in python")]},
                             {"configurable": {"thread_id": f"otel-{uuid.uuid4().hex}"}})
    assert "42" in out["messages"][-1].content
    telemetry.flush()
    chat = receiver.wait_for(lambda s: s["name"] == "chat scripted-model")
    attrs = chat[-1]["attributes"]
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "vllm"
    assert attrs["gen_ai.request.model"] == "scripted-model"
    assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["gen_ai.response.finish_reasons"] in (["stop"], ["tool_calls"])
    roles = {s["attributes"]["agentdesk.role"] for s in chat}
    assert {"router", "code"} <= roles
    [tool_span] = receiver.wait_for(lambda s: s["name"] == "execute_tool run_python")
    assert tool_span["attributes"]["gen_ai.tool.name"] == "run_python"
    guard = receiver.wait_for(lambda s: s["name"] == "guard input")
    assert guard[0]["attributes"]["agentdesk.guard.allowed"] is True


async def test_langfuse_trace_reaches_its_ingest(scripted, monkeypatch):
    ingest = Receiver()  # stands in for Langfuse's OTLP ingest endpoint
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-test")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-test")
    monkeypatch.setenv("LANGFUSE_HOST", ingest.url)
    monkeypatch.setenv("LANGFUSE_BASE_URL", ingest.url)
    telemetry.reset()
    try:
        from graphs.orchestrator import graph as factory

        thread = f"lf-{uuid.uuid4().hex}"
        config = {"configurable": {"thread_id": thread, "langgraph_auth_user_id": "ana"}}
        await factory(config).ainvoke({"messages": [HumanMessage("compute six times seven in python")]}, config)
        from langfuse import get_client

        get_client().flush()
        spans = ingest.wait_for(lambda s: "/api/public/otel" in s["path"])
        sessions = {s["attributes"].get("session.id") or s["attributes"].get("langfuse.session.id") for s in spans}
        assert thread in sessions
        users = {s["attributes"].get("user.id") or s["attributes"].get("langfuse.user.id") for s in spans}
        assert "ana" in users
        tags = " ".join(str(v) for s in spans for k, v in s["attributes"].items() if "tags" in k)
        assert "agent:code" in tags  # observations are tagged with the agent that ran them
        # Every model call is one generation, none twice: the router's, and the code agent's two
        # (tool call, answer).
        generations = [s for s in spans if s["attributes"].get("langfuse.observation.type") == "generation"]
        assert len(generations) == 3
    finally:
        telemetry.reset()
        ingest.close()


PLANTED_EMAIL, PLANTED_KEY = "alice.smith@example.com", "sk-proj-AbCdEf1234567890XyZaBcDeFgHiJk"
TOOL_EMAIL = "carol.jones@example.com"  # only the tool's output holds it (the code builds it)


def pii_responder(body):
    if body.get("response_format"):
        return text(json.dumps({"next": "code", "reason": "python was asked for"}))
    if any(m.get("role") == "tool" for m in body["messages"]):
        return text("It printed the address.")
    return tool("run_python", code="print('carol.jones' + '@' + 'example.com')")


async def test_langfuse_never_receives_pii_or_secrets(settings_env, monkeypatch):
    """Run inputs, model calls and tool outputs go to Langfuse through its `mask`: a planted email
    and API key in the question, and an email the tool printed, never reach its ingest; the words
    around them do."""
    ingest = Receiver()
    key = f"pk-lf-mask-{uuid.uuid4().hex[:8]}"  # a client of its own (one per key per process)
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", key)
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-test")
    monkeypatch.setenv("LANGFUSE_HOST", ingest.url)
    monkeypatch.setenv("LANGFUSE_BASE_URL", ingest.url)
    telemetry.reset()
    try:
        with ScriptedServer() as llm:
            llm.script.responder = pii_responder
            settings_env(AGENTDESK_LLM_BASE_URL=llm.url, AGENTDESK_LLM_MODEL="scripted-model")
            from graphs.orchestrator import graph as factory

            config = {"configurable": {"thread_id": f"lf-{uuid.uuid4().hex}", "langgraph_auth_user_id": "ana"}}
            question = (f"Zanzibar: my email is {PLANTED_EMAIL} and my api key is {PLANTED_KEY}; "
                        "print an address in python")
            await factory(config).ainvoke({"messages": [HumanMessage(question)]}, config)
        telemetry.langfuse_handler().client.flush()
        spans = ingest.wait_for(lambda s: "/api/public/otel" in s["path"]
                                and s["attributes"].get("langfuse.observation.type") == "tool")
        sent = json.dumps([s["attributes"] for s in ingest.spans])
        assert "Zanzibar" in sent and "[REDACTED_EMAIL]" in sent  # the input was sent, masked
        assert "[REDACTED_EMAIL]" in json.dumps([s["attributes"] for s in spans])  # the tool's output
        for planted in (PLANTED_EMAIL, PLANTED_KEY, TOOL_EMAIL):
            assert planted not in sent
        assert "ana" in {s["attributes"].get("user.id") or s["attributes"].get("langfuse.user.id")
                         for s in ingest.spans}
    finally:
        telemetry.reset()
        ingest.close()


def erring_responder(body):
    if body.get("response_format"):
        return text(json.dumps({"next": "devops", "reason": "metrics were asked for"}))
    if any(m.get("role") == "tool" for m in body["messages"]):
        return text("That is no metric name.")
    return tool("query_metrics", match=PLANTED_EMAIL)  # refused: the error quotes the argument


async def test_langfuse_error_text_is_masked_too(settings_env, monkeypatch):
    """`mask` covers input, output and metadata, not an error's status message: a tool's refusal
    that quotes the user's argument used to reach Langfuse as it was."""
    ingest = Receiver()
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", f"pk-lf-err-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-test")
    monkeypatch.setenv("LANGFUSE_HOST", ingest.url)
    monkeypatch.setenv("LANGFUSE_BASE_URL", ingest.url)
    telemetry.reset()
    try:
        with ScriptedServer() as llm:
            llm.script.responder = erring_responder
            settings_env(AGENTDESK_LLM_BASE_URL=llm.url, AGENTDESK_LLM_MODEL="scripted-model",
                         PROMETHEUS_URL=None, LOKI_URL=None)
            from graphs.orchestrator import graph as factory

            config = {"configurable": {"thread_id": f"lf-{uuid.uuid4().hex}"}}
            await factory(config).ainvoke({"messages": [HumanMessage("Zanzibar: list the error metrics")]}, config)
        telemetry.langfuse_handler().client.flush()
        spans = ingest.wait_for(lambda s: "/api/public/otel" in s["path"]
                                and s["attributes"].get("langfuse.observation.type") == "tool")
        sent = json.dumps([s["attributes"] for s in ingest.spans])
        assert "must be part of a metric name" in sent and "[REDACTED_EMAIL]" in sent  # the error went out
        assert PLANTED_EMAIL not in sent
        assert spans
    finally:
        telemetry.reset()
        ingest.close()


async def test_langfuse_unreachable_never_fails_a_run(scripted, monkeypatch):
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-test")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-test")
    monkeypatch.setenv("LANGFUSE_HOST", "http://127.0.0.1:9")  # nothing listens there
    telemetry.reset()
    try:
        from graphs.orchestrator import graph as factory

        config = {"configurable": {"thread_id": f"lf-{uuid.uuid4().hex}"}}
        out = await factory(config).ainvoke({"messages": [HumanMessage("compute six times seven in python")]}, config)
        assert "42" in out["messages"][-1].content
    finally:
        telemetry.reset()


def test_langfuse_off_without_keys(monkeypatch, caplog):
    monkeypatch.delenv("LANGFUSE_PUBLIC_KEY", raising=False)
    telemetry.reset()
    with caplog.at_level("INFO", logger="serving.telemetry"):
        assert telemetry.langfuse_handler() is None
    assert sum("Langfuse: off" in r.message for r in caplog.records) == 1


async def test_metrics_after_a_run(scripted, saver):
    from graphs.orchestrator import build_orchestrator

    desk = build_orchestrator(checkpointer=saver)
    await desk.ainvoke({"messages": [HumanMessage("compute six times seven in python")]},
                       {"configurable": {"thread_id": f"m-{uuid.uuid4().hex}"}})
    page = exposition().decode()
    for series in ('agentdesk_runs_total{graph="orchestrator",outcome="answered"}',
                   'agentdesk_tool_calls_total{outcome="ok",tool="run_python"}',
                   'agentdesk_node_seconds_count{node="router"}',
                   'agentdesk_model_tokens_total{direction="input",model="scripted-model"}',
                   "agentdesk_checkpoint_write_seconds_count",
                   'agentdesk_routes_total{route="code"}'):
        assert series in page, series


async def test_malformed_tool_call_is_corrected_by_the_model(settings_env, saver):
    """vLLM returns a tool call whose arguments are not JSON: the agent says so to the model,
    which calls again correctly; the turn still ends with an answer."""
    from graphs.orchestrator import build_orchestrator

    with ScriptedServer() as llm:
        settings_env(AGENTDESK_LLM_BASE_URL=llm.url, AGENTDESK_LLM_MODEL="scripted-model")
        llm.push(text(json.dumps({"next": "code", "reason": "python"})),
                 {"tool_calls": [{"name": "run_python", "arguments_raw": '{"code": "print(1'}]},
                 tool("run_python", code="print(6 * 7)"),
                 text("It printed 42."))
        desk = build_orchestrator(checkpointer=saver)
        out = await desk.ainvoke({"messages": [HumanMessage("compute six times seven in python")]},
                                 {"configurable": {"thread_id": f"bad-{uuid.uuid4().hex}"}})
    assert out["messages"][-1].content == "It printed 42."
    assert any("not valid JSON" in str(m.content) for m in out["messages"] if m.type == "tool")
    assert "not valid JSON" in json.dumps(llm.script.requests[2]["messages"])  # the model was told
