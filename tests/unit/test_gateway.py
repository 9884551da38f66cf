"""The model gateway against a scripted OpenAI-compatible server over real HTTP."""

from __future__ import annotations

import time

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool

from evals.scripted_llm import ScriptedServer, text
from evals.scripted_llm import tool as tool_reply
from graphs.routing import RouteDecision
from serving.gateway import chat_model, structured
from serving.offline_model import OFFLINE_LABEL, OFFLINE_MODEL_NAME


@tool
def lookup(term: str) -> str:
    """Look a term up."""
    return term


def offline_echo(messages):
    from langchain_core.messages import AIMessage

    return AIMessage("offline says hi")


def offline_long(messages):
    from langchain_core.messages import AIMessage

    return AIMessage(" ".join(f"part{i}" for i in range(40)))


def _answer_graph(model):
    """A one-node graph whose node asks `model`: what LangGraph's "messages" stream mode sees."""
    from langgraph.graph import START, MessagesState, StateGraph

    async def node(state):
        return {"messages": [await model.ainvoke(state["messages"])]}

    g = StateGraph(MessagesState)
    g.add_node("answer", node)
    g.add_edge(START, "answer")
    return g.compile()


@pytest.fixture
def llm(settings_env):
    with ScriptedServer() as srv:
        settings_env(AGENTDESK_LLM_BASE_URL=srv.url, AGENTDESK_LLM_MODEL="scripted-model",
                     AGENTDESK_LLM_MAX_RETRIES="2", AGENTDESK_LLM_BACKOFF_MAX_S="0.2",
                     AGENTDESK_LLM_TIMEOUT_S="2", AGENTDESK_BREAKER_FAILURES="2",
                     AGENTDESK_BREAKER_RESET_S="60")
        yield srv


async def test_text_reply_through_real_client(llm):
    llm.push(text("hello from vllm"))
    reply = await chat_model("research", offline_echo).ainvoke([HumanMessage("hi")])
    assert reply.content == "hello from vllm"
    assert llm.script.requests[0]["model"] == "scripted-model"


async def test_tool_call_is_parsed(llm):
    llm.push(tool_reply("lookup", term="latency"))
    reply = await chat_model("research", offline_echo).bind_tools([lookup]).ainvoke([HumanMessage("hi")])
    assert reply.tool_calls[0]["name"] == "lookup"
    assert reply.tool_calls[0]["args"] == {"term": "latency"}
    assert llm.script.requests[0]["tools"][0]["function"]["name"] == "lookup"


async def test_direct_generation_returns_what_langchain_ainvoke_returns(llm):
    """The gateway calls a served model's `_agenerate` directly (one callback run, not two); the
    reply must be the message LangChain's own `ainvoke` gives for the same response."""
    from serving.gateway import backends_for, generate

    served = backends_for("research", offline_echo)[0].model.bind_tools([lookup])
    for reply in (text("the answer"), tool_reply("lookup", term="latency")):
        llm.push(reply, reply)
        direct = await generate(served, [HumanMessage("hi")])
        via_ainvoke = await served.ainvoke([HumanMessage("hi")], config={"callbacks": []})
        def calls(m):  # as are tool call ids
            return [{k: v for k, v in c.items() if k != "id"} for c in m.tool_calls]

        assert (direct.content, calls(direct)) == (via_ainvoke.content, calls(via_ainvoke))
        assert direct.usage_metadata == via_ainvoke.usage_metadata and direct.usage_metadata["total_tokens"] > 0
        def meta(m):  # the response id is new for every response
            return {k: v for k, v in m.response_metadata.items() if k != "id"}

        assert meta(direct) == meta(via_ainvoke) and direct.response_metadata["id"]
        assert direct.response_metadata["finish_reason"] in ("stop", "tool_calls")
        assert direct.response_metadata["model_name"]
    sent = llm.script.requests
    assert sent[0] == sent[1] and sent[2] == sent[3]  # the same request either way


async def test_500s_are_retried_then_succeed(llm):
    llm.push({"fail": 500}, {"fail": 500}, text("third time lucky"))
    reply = await chat_model("research", offline_echo).ainvoke([HumanMessage("hi")])
    assert reply.content == "third time lucky"
    assert len(llm.script.requests) == 3


async def test_429_honours_retry_after(llm):
    llm.push({"fail": 429, "retry_after": 0.15}, text("after the wait"))
    # backoff max is 0.2 s in this fixture, so the wait is Retry-After (0.15 s) or more
    started = time.perf_counter()
    reply = await chat_model("research", offline_echo).ainvoke([HumanMessage("hi")])
    assert reply.content == "after the wait"
    assert time.perf_counter() - started >= 0.15


async def test_timeout_falls_back_to_labelled_offline_answer(llm):
    llm.push(*[{"fail": "slow", "seconds": 10}] * 3)
    started = time.perf_counter()
    reply = await chat_model("research", offline_echo).ainvoke([HumanMessage("hi")])
    elapsed = time.perf_counter() - started
    assert reply.content.startswith(OFFLINE_LABEL)
    assert reply.response_metadata["model_name"] == OFFLINE_MODEL_NAME
    assert elapsed < 3 * 2 + 2  # three attempts of at most 2 s each, never hangs


async def test_malformed_json_falls_back(llm):
    llm.push({"fail": "malformed"})
    reply = await chat_model("research", offline_echo).ainvoke([HumanMessage("hi")])
    assert reply.content.startswith(OFFLINE_LABEL)


async def test_circuit_opens_and_skips_the_endpoint(llm):
    llm.push(*[{"fail": 500}] * 6)  # two calls x three attempts
    model = chat_model("research", offline_echo)
    await model.ainvoke([HumanMessage("one")])
    await model.ainvoke([HumanMessage("two")])
    sent = len(llm.script.requests)
    reply = await model.ainvoke([HumanMessage("three")])  # breaker open: no request is sent
    assert len(llm.script.requests) == sent
    assert reply.content.startswith(OFFLINE_LABEL)


async def test_circuit_half_opens_and_closes(llm, settings_env):
    from serving import gateway

    llm.push(*[{"fail": 500}] * 6, text("recovered"))
    model = chat_model("research", offline_echo)
    await model.ainvoke([HumanMessage("one")])
    await model.ainvoke([HumanMessage("two")])
    breaker = next(iter(gateway._BREAKERS.values()))
    assert breaker.state == "open"
    breaker.opened_at -= 120  # the cool-down has passed
    assert breaker.state == "half-open"
    reply = await model.ainvoke([HumanMessage("three")])
    assert reply.content == "recovered"
    assert breaker.state == "closed"


async def test_structured_output_is_validated(llm):
    llm.push(text('{"next": "data", "reason": "asks about orders"}'))
    decision = await structured("router", RouteDecision, [HumanMessage("orders?")],
                                lambda m: RouteDecision(next="finish", reason="offline"))
    assert decision == RouteDecision(next="data", reason="asks about orders")
    assert llm.script.requests[0]["response_format"]["type"] == "json_schema"


async def test_structured_request_is_what_langchain_would_send(llm):
    """The router's request is sent plainly (cheaper), but its body must stay the strict
    json_schema that `with_structured_output(method="json_schema")` sends, so vLLM constrains
    decoding the same way; and the token usage still reaches the model span."""
    from langchain_openai import ChatOpenAI

    llm.push(text('{"next": "data", "reason": "a"}'), text('{"next": "data", "reason": "a"}'))
    await structured("router", RouteDecision, [HumanMessage("orders?")])
    ours = llm.script.requests[-1]
    lc = ChatOpenAI(base_url=llm.url, model="scripted-model", api_key="x", max_retries=0, stream_usage=True)
    await lc.with_structured_output(RouteDecision, method="json_schema").ainvoke([HumanMessage("orders?")])
    theirs = llm.script.requests[-1]
    assert ours["response_format"] == theirs["response_format"]
    assert ours["response_format"]["json_schema"]["strict"] is True
    assert {k: v for k, v in ours.items() if k != "stream_options"} == {
        k: v for k, v in theirs.items() if k != "stream_options"}


def _history():
    from langchain_core.messages import AIMessage, SystemMessage, ToolMessage

    return [SystemMessage("You look things up."), HumanMessage("What is p95? Look it up."),
            AIMessage("", tool_calls=[{"name": "lookup", "args": {"term": "p95"}, "id": "call_1"}]),
            ToolMessage("the 95th percentile", tool_call_id="call_1", name="lookup"),
            HumanMessage("And p50? Café ☕, naïve «quotes» and 数字.")]


async def test_requests_skip_the_sdk_transform_but_send_the_same_json(llm):
    """The gateway posts LangChain's payload without the OpenAI SDK's typed transform (12 % of
    server CPU under load): the JSON the server receives must equal what the SDK sends, with
    tools, tool calls, tool results and non-ASCII text, streamed and not."""
    from langchain_openai import ChatOpenAI

    from serving.gateway import backends_for
    from serving.plain_completions import PlainAsyncCompletions

    ours = backends_for("research", None)[0].model
    assert isinstance(ours.async_client, PlainAsyncCompletions)
    theirs = ChatOpenAI(base_url=llm.url, model="scripted-model", api_key="EMPTY", max_retries=0,
                        stream_usage=True, timeout=2)
    bodies = []
    for model in (ours, theirs):
        llm.push(text("p50 is the median"), text("p50 is the median"))
        bound = model.bind_tools([lookup])
        reply = await bound.ainvoke(_history())
        chunks = [c async for c in bound.astream(_history())]
        assert reply.content == "p50 is the median" == "".join(str(c.content) for c in chunks)
        bodies.append(llm.script.requests[-2:])
    assert bodies[0] == bodies[1]
    assert bodies[0][1]["stream"] is True and bodies[0][0]["tools"][0]["function"]["name"] == "lookup"


async def test_invalid_structured_output_falls_back_to_offline(llm):
    llm.push(text('{"next": "astrology", "reason": "?"}'))
    decision = await structured("router", RouteDecision, [HumanMessage("orders?")],
                                lambda m: RouteDecision(next="finish", reason="offline"))
    assert decision.reason == "offline"


async def test_streaming_reaches_the_client(llm):
    llm.push(text("one two three"))
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(base_url=llm.url, model="m", api_key="x", streaming=True)
    chunks = [c.content async for c in model.astream([HumanMessage("hi")])]
    assert "".join(chunks) == "one two three"


async def test_busy_endpoint_sheds_load_with_a_clear_message(llm, monkeypatch):
    """vLLM's /metrics says the queue is long: no chat request is sent, the caller is told when to retry."""
    from serving import gateway
    from serving.load_shed import LoadShedder, ModelBusy

    monkeypatch.setattr(gateway, "_SHEDDER", LoadShedder(max_waiting=4))
    llm.script.waiting = 40  # the scripted server's /metrics now reports a long queue
    with pytest.raises(ModelBusy) as busy:
        await chat_model("research", offline_echo).ainvoke([HumanMessage("hi")])
    assert busy.value.retry_after_s >= 1
    assert "retry in" in gateway.busy_message(busy.value)
    assert llm.script.requests == []  # nothing piled onto the busy endpoint


async def test_tokens_stream_through_a_graph_and_truncated_streams_are_retried(llm):
    """LangGraph's "messages" stream mode sees the served model's tokens one by one; a stream cut
    off mid-answer is an error that is retried, never a silently shortened answer."""
    graph = _answer_graph(chat_model("research", offline_echo))
    answer = " ".join(f"word{i}" for i in range(40))
    llm.push({"content": "this answer is cut off early", "fail": "truncated"}, text(answer))
    tokens = [chunk.content async for chunk, meta in graph.astream({"messages": [HumanMessage("hi")]},
                                                                  stream_mode="messages") if chunk.content]
    assert len(tokens) >= 4 and "".join(tokens) == answer  # in runs of words, nothing from the cut-off try
    assert len(llm.script.requests) == 2 and llm.script.requests[1]["stream"] is True


async def test_offline_answers_stream_as_tokens_like_served_ones(settings_env):
    """With no endpoint, "messages" stream mode still gets the answer in pieces, each with the
    answer's id, and not the whole message again at the end."""
    settings_env(AGENTDESK_LLM_BASE_URL=None)
    graph = _answer_graph(chat_model("research", offline_long))
    events = [chunk async for chunk, meta in graph.astream({"messages": [HumanMessage("hi")]},
                                                           stream_mode="messages")]
    final = await graph.ainvoke({"messages": [HumanMessage("hi")]})  # no listener: one reply
    answer = final["messages"][-1].content
    assert answer.endswith("part38 part39")
    assert len(events) >= 4 and events[-1].content.endswith("part39")
    assert "".join(e.content for e in events) == answer  # each piece once, no whole message at the end
    assert len({e.id for e in events}) == 1 and events[0].id


async def test_streamed_tokens_never_show_pii_or_secrets(llm):
    """Token listeners see the answer redacted as the output guard would store it, and no prefix
    of the stream ever holds an item in clear, however the model's tokens split it."""
    from guardrails import pii

    answer = ("Found it. Mail john.doe@example.com or call +1 415 555 0100 about invoice 4411. "
              "The service logs in with password: hunter2hunter and key sk-proj-abcDEF1234567890abcdefGHIJ12 "
              "from the vault; payouts go to DE89 3704 0044 0532 0130 00. " + "More detail follows here. " * 6)
    graph = _answer_graph(chat_model("research", offline_echo))
    llm.push(text(answer))
    seen = ""
    secrets = [answer[m["start"]:m["end"]] for m in pii.find(answer)]
    assert len(secrets) >= 5
    async for chunk, meta in graph.astream({"messages": [HumanMessage("hi")]}, stream_mode="messages"):
        seen += chunk.content
        assert not any(s in seen for s in secrets)
        assert "hunter2" not in seen and "555 0100" not in seen
    assert seen == pii.redact(answer)[0]
