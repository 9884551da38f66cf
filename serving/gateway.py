"""The model gateway: every model node gets its model here.

With AGENTDESK_LLM_BASE_URL set, calls go to vLLM's OpenAI-compatible API (then an optional
secondary endpoint); the offline model is always the last link of the fallback chain, so a
dead endpoint degrades to a labelled offline answer instead of a failed run. Each remote
backend has retries with jittered exponential backoff (honouring Retry-After), a per-call
timeout and a circuit breaker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import openai
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, message_chunk_to_message
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableBinding
from openai.lib._parsing._completions import type_to_response_format_param
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from guardrails.output_guard import StreamRedactor
from serving import telemetry
from serving.breaker import CircuitBreaker
from serving.load_shed import LoadShedder, ModelBusy
from serving.metrics import MODEL_CALLS, MODEL_COST, MODEL_TOKENS
from serving.offline_model import OFFLINE_MODEL_NAME, OfflineChatModel, OfflinePolicy
from serving.settings import Settings, get_settings

log = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """Every backend in the chain failed or is open-circuited."""


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, TruncatedStream):
        return True
    if isinstance(exc, (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code >= 500 or exc.status_code == 429
    return isinstance(exc, (httpx.TimeoutException, httpx.TransportError, asyncio.TimeoutError))


def _retry_after_s(exc: BaseException) -> float:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0


class _Wait:
    """Jittered exponential backoff, but never shorter than the server's Retry-After."""

    def __init__(self, max_s: float):
        self._jitter = wait_random_exponential(multiplier=0.25, max=max_s)
        self._max = max_s

    def __call__(self, retry_state) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return min(self._max, max(self._jitter(retry_state), _retry_after_s(exc) if exc else 0.0))


@dataclass
class Backend:
    """One link of the fallback chain. `base_url` is set for a served (vLLM) endpoint."""

    name: str
    model: BaseChatModel
    breaker: CircuitBreaker | None  # None for the offline model: it cannot fail
    model_name: str = OFFLINE_MODEL_NAME
    provider: str = "agentdesk.offline"
    role: str = ""
    max_retries: int = 0
    backoff_max_s: float = 8.0
    timeout_s: float = 60.0
    base_url: str | None = None

    async def call(self, fn: Callable[[BaseChatModel], Any]) -> Any:
        with telemetry.model_span(self.model_name, self.provider, self.role) as record:
            result = await self._call(fn)
            record(result)
        _count_usage(self.model_name, result)
        return result

    async def _call(self, fn: Callable[[BaseChatModel], Any]) -> Any:
        if self.breaker is None:
            return await fn(self.model)
        if self.base_url and _SHEDDER is not None:
            await _SHEDDER.check(self.base_url)  # raises ModelBusy instead of queueing more
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=_Wait(self.backoff_max_s),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await asyncio.wait_for(fn(self.model), self.timeout_s)


def _count_usage(model: str, reply: Any) -> None:
    usage = getattr(reply, "usage_metadata", None) or {}
    if not usage:
        return
    tokens_in, tokens_out = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    MODEL_TOKENS.labels(model, "input").inc(tokens_in)
    MODEL_TOKENS.labels(model, "output").inc(tokens_out)
    s = get_settings()
    MODEL_COST.labels(model).inc(tokens_in / 1000 * s.cost_per_1k_input + tokens_out / 1000 * s.cost_per_1k_output)


_BREAKERS: dict[str, CircuitBreaker] = {}
# Reads vLLM's /metrics (cached ~1 s, fails open when it cannot) before each served call.
_SHEDDER: LoadShedder | None = LoadShedder()


def _breaker(key: str, settings: Settings) -> CircuitBreaker:
    # One breaker per endpoint+model, shared by every role and run in this process.
    if key not in _BREAKERS:
        _BREAKERS[key] = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_s)
    return _BREAKERS[key]


def _remote(base_url: str, model: str, settings: Settings, role: str) -> Backend:
    from langchain_openai import ChatOpenAI

    from serving.plain_completions import plain_clients

    chat = ChatOpenAI(
        base_url=base_url,
        model=model,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout_s,
        max_retries=0,  # retries are ours, so backoff, Retry-After and the breaker agree
        stream_usage=True,
        # the request JSON as LangChain built it, without the SDK's per-call typed walk over it
        **plain_clients(base_url, settings.llm_api_key, settings.llm_timeout_s),
    )
    return Backend(
        name=f"{base_url}#{model}",
        model=chat,
        breaker=_breaker(f"{base_url}#{model}", settings),
        model_name=model,
        provider="vllm",
        role=role,
        max_retries=settings.llm_max_retries,
        backoff_max_s=settings.llm_backoff_max_s,
        timeout_s=settings.llm_timeout_s,
        base_url=base_url,
    )


_CHAINS: dict[tuple, list[Backend]] = {}


def backends_for(role: str, policy: OfflinePolicy | None, settings: Settings | None = None) -> list[Backend]:
    """The fallback chain for a role, built once per settings object (HTTP clients are reused)."""
    settings = settings or get_settings()
    key = (role, id(policy), id(settings))
    if key not in _CHAINS:
        _CHAINS[key] = _build_chain(role, policy, settings)
    return _CHAINS[key]


def _build_chain(role: str, policy: OfflinePolicy | None, settings: Settings) -> list[Backend]:
    chain: list[Backend] = []
    if settings.llm_base_url:
        model = settings.router_model if role == "router" and settings.router_model else settings.llm_model
        router_url = settings.router_base_url or settings.llm_base_url
        chain.append(_remote(router_url if role == "router" else settings.llm_base_url, model, settings, role))
        if settings.llm_fallback_base_url:
            chain.append(
                _remote(settings.llm_fallback_base_url, settings.llm_fallback_model or model, settings, role)
            )
    chain.append(Backend(OFFLINE_MODEL_NAME, OfflineChatModel(role=role, policy=policy), None, role=role))
    return chain


async def call_chain(backends: Sequence[Backend], fn: Callable[[BaseChatModel], Any]) -> Any:
    """Try each backend in order; skip open circuits; record outcomes on the breakers."""
    errors: list[str] = []
    busy: ModelBusy | None = None
    for backend in backends:
        if backend.breaker is None and busy is not None:
            # Served endpoints are up but saturated: say so, rather than quietly answering
            # offline or queueing more work on them.
            raise busy
        if backend.breaker is not None and not backend.breaker.allow():
            MODEL_CALLS.labels(backend.model_name, "circuit_open").inc()
            errors.append(f"{backend.name}: circuit open, retry in {backend.breaker.retry_in_s():.0f}s")
            continue
        try:
            result = await backend.call(fn)
        except ModelBusy as exc:  # busy is not broken: no breaker failure
            MODEL_CALLS.labels(backend.model_name, "busy").inc()
            busy = exc
            continue
        except Exception as exc:  # noqa: BLE001 - any backend failure moves down the chain
            MODEL_CALLS.labels(backend.model_name, "error").inc()
            if backend.breaker is None:
                raise
            backend.breaker.record_failure()
            errors.append(f"{backend.name}: {type(exc).__name__}: {exc}")
            log.warning("model backend %s failed, falling back: %s", backend.name, exc)
            continue
        MODEL_CALLS.labels(backend.model_name, "ok").inc()
        if backend.breaker is not None:
            backend.breaker.record_success()
        return result
    raise ModelUnavailable("; ".join(errors) or "no model backend configured")


def _wants_tokens(run_manager: AsyncCallbackManagerForLLMRun | None) -> bool:
    """Stream only when someone listens for tokens (LangGraph's "messages" stream mode, as the
    chat UI uses): parsing a stream costs more CPU than one response."""
    if run_manager is None:
        return False
    handlers = [*run_manager.handlers, *run_manager.inheritable_handlers]
    return any(type(h).__name__ == "StreamMessagesHandler" or getattr(h, "wants_tokens", False) for h in handlers)


class TruncatedStream(RuntimeError):
    """A streamed reply ended without a finish reason (the connection dropped mid-answer)."""


async def _send_token(run_manager: AsyncCallbackManagerForLLMRun, text: str, like: BaseMessage) -> None:
    if text:
        chunk = AIMessageChunk(content=text, id=like.id, name=like.name)
        await run_manager.on_llm_new_token(text, chunk=ChatGenerationChunk(message=chunk))


async def _stream_to(run_manager: AsyncCallbackManagerForLLMRun, chunks) -> AIMessage:
    """Forward tokens as they arrive (the UI streams them), PII and secrets redacted on the way
    (the stored answer is redacted by the output guard; listeners see text before it runs), and
    return the whole message as the model wrote it."""
    final: AIMessageChunk | None = None
    redactor = StreamRedactor()
    async for chunk in chunks:
        final = chunk if final is None else final + chunk
        if chunk.content:
            await _send_token(run_manager, redactor.feed(str(chunk.content)), chunk)
    if final is None or not (final.response_metadata or {}).get("finish_reason"):
        raise TruncatedStream("the model's stream ended before the answer was complete")
    await _send_token(run_manager, redactor.flush(), final)
    return _strict_tool_calls(final)


_PIECES = re.compile(r"\S+\s*|\s+")


async def _replay_tokens(run_manager: AsyncCallbackManagerForLLMRun, reply: AIMessage) -> None:
    """Send the offline model's finished answer to token listeners word by word, so a client of
    LangGraph's "messages" stream mode gets the same event shape offline as from vLLM. The chunks
    carry the answer's id, so LangGraph does not send the whole message again at the end."""
    redactor = StreamRedactor()
    for piece in _PIECES.findall(reply.content):
        await _send_token(run_manager, redactor.feed(piece), reply)
    await _send_token(run_manager, redactor.flush(), reply)


def _strict_tool_calls(final: AIMessageChunk) -> AIMessage:
    """Streamed tool calls are parsed leniently (partial JSON is "completed"); a call whose
    arguments are not valid JSON must not run as if it were, e.g. a truncated SQL statement."""
    message = message_chunk_to_message(final)
    raw = {c.get("id"): c.get("args") or "" for c in final.tool_call_chunks if c.get("id")}
    good, bad = [], list(message.invalid_tool_calls)
    for call in message.tool_calls:
        try:
            json.loads(raw.get(call["id"]) or "{}")
            good.append(call)
        except json.JSONDecodeError as exc:
            bad.append({"name": call["name"], "args": raw.get(call["id"]), "id": call["id"],
                        "error": f"invalid JSON: {exc}", "type": "invalid_tool_call"})
    return message.model_copy(update={"tool_calls": good, "invalid_tool_calls": bad}) if bad else message


async def generate(runnable: Any, messages: list[BaseMessage], stop: list[str] | None = None) -> AIMessage:
    """One reply from a served model (or one bound to tools) through its own
    `_agenerate` instead of a second `ainvoke`: the gateway's run is the one tracers see (the inner
    call had no callbacks anyway), and the inner run's config, callback manager and cache lookup
    cost ~0.4 ms a call here (docs/performance.md). The metadata merge is the one LangChain's
    `_agenerate_with_cache` does, so the reply is the same message (tested)."""
    model, kwargs = (runnable.bound, runnable.kwargs) if isinstance(runnable, RunnableBinding) else (runnable, {})
    if isinstance(model, OfflineChatModel) or not isinstance(model, BaseChatModel):
        return await runnable.ainvoke(messages, stop=stop, config={"callbacks": []})
    result = await model._agenerate(messages, stop=stop, **kwargs)
    generation = result.generations[0]
    message = generation.message
    message.response_metadata = {**(result.llm_output or {}), **(generation.generation_info or {}),
                                 **message.response_metadata}
    return message


class GatewayChatModel(BaseChatModel):
    """A chat model that routes each call through the fallback chain of `backends_for(role)`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    role: str
    policy: Any = None  # OfflinePolicy for this role
    tools: list[Any] = []
    tool_choice: Any = None
    _bound_cache: dict[int, Any] = PrivateAttr(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "agentdesk-gateway"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # Tracers (Langfuse, LangSmith) read the model name from here.
        return {"role": self.role, "model_name": self.backends[0].model_name}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any):
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_model_name"] = self.backends[0].model_name
        params["ls_provider"] = self.backends[0].provider
        return params

    @property
    def backends(self) -> list[Backend]:
        return backends_for(self.role, self.policy)

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any):
        return GatewayChatModel(role=self.role, policy=self.policy, tools=list(tools), tool_choice=tool_choice)

    def _bound(self, model: BaseChatModel) -> Any:
        if not self.tools:
            return model
        # Converting the tools to the provider's schema is the same work on every call.
        # The entry keeps `model` alive, so its id is not reused while cached.
        if id(model) not in self._bound_cache:
            kwargs = {"tool_choice": self.tool_choice} if self.tool_choice else {}
            self._bound_cache[id(model)] = model.bind_tools(self.tools, **kwargs)
        return self._bound_cache[id(model)]

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        async def call(model: BaseChatModel) -> AIMessage:
            # Inner calls get no callbacks: this model's own run is the one tracers and
            # LangGraph's "messages" stream see, so nothing is reported twice.
            bound, quiet = self._bound(model), {"callbacks": []}
            if not _wants_tokens(run_manager):
                return await generate(bound, messages, stop)
            if isinstance(model, OfflineChatModel):
                reply = await bound.ainvoke(messages, stop=stop, config=quiet)
                # A tool call is sent whole (as vLLM's would end up), only prose is replayed.
                if isinstance(reply.content, str) and reply.content and not reply.tool_calls:
                    await _replay_tokens(run_manager, reply)
                return reply
            return await _stream_to(run_manager, bound.astream(messages, stop=stop, config=quiet))

        message: AIMessage = await call_chain(self.backends, call)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return asyncio.run(self._agenerate(messages, stop=stop, **kwargs))


def chat_model(role: str, policy: OfflinePolicy | None = None) -> GatewayChatModel:
    """The model for a node. `policy` is what the offline model does for this role."""
    return GatewayChatModel(role=role, policy=policy)


async def structured(
    role: str,
    schema: type[BaseModel],
    messages: list[BaseMessage],
    policy: OfflinePolicy | None = None,
) -> BaseModel:
    """A validated structured output (vLLM: json_schema response_format; offline: the policy)."""

    async def ask(model: BaseChatModel) -> BaseModel:
        if isinstance(model, OfflineChatModel):
            return model.structured(schema, messages)
        # A full `ainvoke`: this is the router's only LangChain run, which tracers (Langfuse) record.
        raw = await _structured_runnable(model, schema).ainvoke(messages)
        try:
            value = schema.model_validate_json(raw.content if isinstance(raw.content, str) else "")
        except ValidationError as exc:
            raise ValueError(f"invalid structured output: {exc.errors()[0]['msg']}") from None
        return _Structured(value, raw)

    result = await call_chain(backends_for(role, policy), ask)
    return result.value if isinstance(result, _Structured) else result


# (id(model), schema) -> the model bound to the schema. The entry keeps its model alive, so the
# id is not reused while it exists.
_STRUCTURED: dict[tuple[int, type], Any] = {}


def response_format(schema: type[BaseModel]) -> dict:
    """The strict json_schema response_format the OpenAI SDK builds for `schema` (vLLM constrains
    decoding to it), byte for byte what `with_structured_output(method="json_schema")` sends."""
    return type_to_response_format_param(schema)


def _structured_runnable(model: BaseChatModel, schema: type[BaseModel]) -> Any:
    """The model with the schema's response_format in the request body. Sent as `extra_body`,
    not through `with_structured_output`: that routes every call through the SDK's `parse`
    path and LangChain's parser chain, 5.1-5.4 ms per router call here against 2.4 ms for the
    same request sent plainly (docs/performance.md); we validate with pydantic ourselves."""
    key = (id(model), schema)
    if key not in _STRUCTURED:
        _STRUCTURED[key] = model.bind(extra_body={"response_format": response_format(schema)})
    return _STRUCTURED[key]


@dataclass
class _Structured:
    """A parsed structured output with the raw reply, so its span records token usage."""

    value: BaseModel
    raw: Any

    @property
    def usage_metadata(self):
        return getattr(self.raw, "usage_metadata", None)

    @property
    def response_metadata(self):
        return getattr(self.raw, "response_metadata", None)


def is_offline() -> bool:
    return get_settings().offline


def reset() -> None:
    """Forget cached chains and breakers (after settings change, e.g. in tests)."""
    _CHAINS.clear()
    _BREAKERS.clear()
    _STRUCTURED.clear()


def busy_message(busy: ModelBusy) -> str:
    return (f"The model service is busy right now ({busy.reason}). Please retry in {busy.retry_after_s} s; "
            "your message is saved in this thread.")
