"""Langfuse's `mask`: what an observation carries is redacted before it leaves the process."""

from __future__ import annotations

import uuid

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from serving import telemetry
from tests.unit.test_guard_pii import NEGATIVES

EMAIL, KEY, CARD = "alice.smith@example.com", "sk-proj-AbCdEf1234567890XyZaBcDeFgHiJk", "4111 1111 1111 1111"


def test_mask_redacts_every_string_and_keeps_the_shape():
    data = {
        "messages": [[HumanMessage(f"mail {EMAIL}, card {CARD}"),
                      AIMessage("", tool_calls=[{"name": "run_sql", "args": {"sql": f"-- {KEY}"}, "id": "c1"}]),
                      ToolMessage(f"row: {EMAIL}", tool_call_id="c1", artifact={"rows": [[1, EMAIL]]})]],
        "metadata": {"thread_id": "3f2b9c1e-8a4d-4e7b-9c2a-1b3d5e7f9a0c", "step": 3, "ok": True, "none": None},
        EMAIL: "keys are structure, not data",
    }
    masked = telemetry.langfuse_mask(data=data)
    text = str(masked)
    for raw in (EMAIL, KEY, CARD):
        assert raw not in str({k: v for k, v in masked.items() if k != EMAIL}), raw
    assert "[REDACTED_EMAIL]" in text and "[REDACTED_API_KEY]" in text and "[REDACTED_CREDIT_CARD]" in text
    assert masked["metadata"] == data["metadata"]  # ids, numbers, booleans, None: as they were
    assert masked[EMAIL] == "keys are structure, not data"
    assert "mail [REDACTED_EMAIL], card [REDACTED_CREDIT_CARD]" in text  # the words around them stay


def test_mask_plain_values():
    assert telemetry.langfuse_mask(data=f"key {KEY}") == "key [REDACTED_API_KEY]"
    assert telemetry.langfuse_mask(data=None) is None
    assert telemetry.langfuse_mask(data=42) == 42
    assert telemetry.langfuse_mask(data=NEGATIVES) == NEGATIVES  # look-alikes pass untouched


def test_a_client_started_without_the_mask_keeps_langfuse_off(monkeypatch, caplog):
    from langfuse import Langfuse

    key = f"pk-lf-nomask-{uuid.uuid4().hex[:8]}"
    client = Langfuse(public_key=key, secret_key="sk-lf-test", base_url="http://127.0.0.1:9")  # no mask
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", key)
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-test")
    monkeypatch.setenv("LANGFUSE_HOST", "http://127.0.0.1:9")
    telemetry.reset()
    try:
        with caplog.at_level("WARNING", logger="serving.telemetry"):
            assert telemetry.langfuse_handler() is None
        assert any("without PII masking" in r.message for r in caplog.records)
    finally:
        telemetry.reset()
        client.shutdown()


def test_the_handler_masks(monkeypatch):
    key = f"pk-lf-masked-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", key)
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-test")
    monkeypatch.setenv("LANGFUSE_HOST", "http://127.0.0.1:9")
    telemetry.reset()
    try:
        handler = telemetry.langfuse_handler()
        assert handler is not None and handler.client._mask is telemetry.langfuse_mask
    finally:
        telemetry.reset()
