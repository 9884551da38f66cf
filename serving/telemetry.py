"""Tracing: OpenTelemetry GenAI spans for model calls, tools and guard verdicts, and Langfuse.

Spans follow the GenAI semantic conventions (`chat {model}`, `gen_ai.*` attributes) and go over
OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise the tracer is a no-op. Langfuse
is on when its keys are set, off with one log line when not, and never fails a run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

log = logging.getLogger(__name__)


_provider = None  # the SDK provider when exporting, so tests and shutdown can flush it


@lru_cache(maxsize=1)
def tracer() -> trace.Tracer:
    global _provider
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") and not os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return trace.NoOpTracer()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "agentdesk")}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # endpoint from the env
    _provider = provider
    log.info("OpenTelemetry: exporting spans over OTLP/HTTP")
    return provider.get_tracer("agentdesk")


def flush() -> None:
    if _provider is not None:
        _provider.force_flush()


def reset() -> None:
    """Forget the tracer and Langfuse handler (after the environment changed, e.g. in tests)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
    _provider = None
    tracer.cache_clear()
    if langfuse_handler.cache_info().currsize and langfuse_handler() is not None:
        with contextlib.suppress(Exception):
            langfuse_handler().client.shutdown()
    langfuse_handler.cache_clear()


def _usage(message: Any) -> dict[str, Any]:
    usage = getattr(message, "usage_metadata", None) or {}
    meta = getattr(message, "response_metadata", None) or {}
    attrs: dict[str, Any] = {}
    if usage:
        attrs["gen_ai.usage.input_tokens"] = int(usage.get("input_tokens", 0))
        attrs["gen_ai.usage.output_tokens"] = int(usage.get("output_tokens", 0))
    if reason := meta.get("finish_reason"):
        attrs["gen_ai.response.finish_reasons"] = [str(reason)]
    if model := meta.get("model_name"):
        attrs["gen_ai.response.model"] = str(model)
    return attrs


@contextlib.contextmanager
def model_span(model: str, provider: str, role: str) -> Iterator[callable]:
    """A `chat {model}` span; call the yielded function with the reply to record usage."""
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
             "gen_ai.request.model": model, "agentdesk.role": role}
    with tracer().start_as_current_span(f"chat {model}", kind=trace.SpanKind.CLIENT, attributes=attrs) as span:
        yield lambda reply: span.set_attributes(_usage(reply))


@contextlib.contextmanager
def tool_span(name: str, agent: str, risk: str, call_id: str) -> Iterator[trace.Span]:
    attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
             "gen_ai.tool.call.id": call_id, "agentdesk.agent": agent, "agentdesk.risk": risk}
    with tracer().start_as_current_span(f"execute_tool {name}", attributes=attrs) as span:
        yield span


def guard_event(stage: str, allowed: bool, category: str | None, score: float = 0.0) -> None:
    """A short span per guard verdict (they are decisions worth finding in a trace)."""
    attrs = {"agentdesk.guard.stage": stage, "agentdesk.guard.allowed": allowed,
             "agentdesk.guard.category": category or "none", "agentdesk.guard.score": float(score)}
    with tracer().start_as_current_span(f"guard {stage}", attributes=attrs) as span:
        if not allowed:
            span.set_status(Status(StatusCode.ERROR, f"blocked: {category}"))


# --- Langfuse ---------------------------------------------------------------------------

def langfuse_mask(*, data: Any, **_: Any) -> Any:
    """Langfuse's `mask`: an observation's input, output and metadata with every string in them
    redacted as the output guard redacts an answer (`guardrails.pii`), before they leave the process.
    LangChain objects (messages, documents) are first made JSON the way Langfuse would send them,
    so their text is reached too. If this raises, Langfuse sends a fixed placeholder instead."""
    from guardrails import pii
    from langfuse._utils.serializer import EventSerializer

    if data is None or isinstance(data, (bool, int, float)):
        return data
    if not isinstance(data, str):
        data = json.loads(json.dumps(data, cls=EventSerializer))
    return pii.redact_all(data)


class _MaskedError(Exception):
    """An exception's text with PII and secrets redacted, in its place."""


def _masked_errors(handler_cls: type) -> type:
    """The handler with each error's text redacted before it becomes the observation's
    `status_message`, which `mask` does not cover: a tool's refusal can quote the user
    ("match 'alice@example.com' must be part of a metric name"), a database error the value."""
    from guardrails import pii

    def wrap(name: str):
        method = getattr(handler_cls, name)

        def masked(self, error: BaseException, *args: Any, **kwargs: Any) -> Any:
            text = pii.redact_all(f"{type(error).__name__}: {error}")
            return method(self, _MaskedError(text), *args, **kwargs)

        return masked

    names = ("on_chain_error", "on_tool_error", "on_llm_error", "on_retriever_error")
    return type("MaskedCallbackHandler", (handler_cls,), {n: wrap(n) for n in names if hasattr(handler_cls, n)})


@lru_cache(maxsize=1)
def langfuse_handler():
    """Langfuse's LangChain callback handler when configured, else None (said once). Every
    observation's input, output and metadata pass `langfuse_mask` first; if the client for these
    keys was started without it (elsewhere in the process), Langfuse stays off."""
    public_key = os.environ.get("LANGFUSE_PUBLIC_KEY")
    if not (public_key and os.environ.get("LANGFUSE_SECRET_KEY")):
        log.info("Langfuse: off (LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY not set)")
        return None
    try:
        from langfuse import Langfuse
        from langfuse.langchain import CallbackHandler

        Langfuse(public_key=public_key, mask=langfuse_mask)  # the process-wide client for this key
        handler = _masked_errors(CallbackHandler)(public_key=public_key)
        if getattr(handler.client, "_mask", None) is not langfuse_mask:
            log.warning("Langfuse: off, its client for this key was started without PII masking")
            return None
        log.info("Langfuse: tracing runs to %s", os.environ.get("LANGFUSE_HOST", "the default host"))
        return handler
    except Exception as exc:  # noqa: BLE001 - tracing must never stop the app
        log.warning("Langfuse: disabled, could not start the client: %s", exc)
        return None


def run_tracing_config(config: dict | None) -> dict:
    """Callbacks and metadata for one server run: user, tenant, thread (as session), tags."""
    handler = langfuse_handler()
    if handler is None:
        return {}
    configurable = (config or {}).get("configurable", {}) or {}
    user = configurable.get("langgraph_auth_user") or {}
    identity = configurable.get("langgraph_auth_user_id") or (user.get("identity") if isinstance(user, dict) else None)
    tenant = user.get("tenant") if isinstance(user, dict) else None
    metadata = {
        "langfuse_session_id": configurable.get("thread_id"),
        "langfuse_user_id": identity or "local",
        "langfuse_tags": ["agentdesk", f"tenant:{tenant or 'local'}"],
        "tenant": tenant or "local",
    }
    return {"callbacks": [handler], "metadata": {k: v for k, v in metadata.items() if v}}
