"""The dev-queue patch wraps the in-memory runtime's `Runs.next` once, and can be turned off."""

from __future__ import annotations

from langgraph_runtime_inmem import ops

from serving import dev_queue


def test_install_wraps_runs_next_once(monkeypatch):
    original = ops.Runs.next
    monkeypatch.setattr(dev_queue, "_installed", False)
    try:
        assert dev_queue.install() is True
        wrapped = ops.Runs.next
        assert wrapped is not original and wrapped.__name__ == "next_run"
        assert dev_queue.install() is True and ops.Runs.next is wrapped  # idempotent
    finally:
        monkeypatch.setattr(ops.Runs, "next", staticmethod(original))


def test_turned_off_by_setting(monkeypatch):
    original = ops.Runs.next
    monkeypatch.setattr(dev_queue, "_installed", False)
    monkeypatch.setenv("AGENTDESK_DEV_QUEUE_POLL_MS", "0")
    assert dev_queue.install() is False
    assert ops.Runs.next is original
