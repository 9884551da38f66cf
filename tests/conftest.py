"""Shared fixtures. Tests use real services: Postgres from DATABASE_URL, or an embedded pgserver
Postgres in a temporary folder when it is unset."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# A private data folder (embedded Postgres when DATABASE_URL is unset, logs, the servers'
# bookkeeping), so tests never touch the developer's .data or a running `make run`.
os.environ.setdefault("AGENTDESK_DATA_DIR", tempfile.mkdtemp(prefix="agentdesk-test-"))
os.environ.pop("AGENTDESK_LLM_BASE_URL", None)  # tests choose their model explicitly


@pytest.fixture
def settings_env(monkeypatch):
    """Set environment variables for settings, and forget cached settings and breakers."""
    from serving import gateway
    from serving.settings import get_settings

    def apply(**env: str | None) -> None:
        for key, value in env.items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        gateway.reset()

    yield apply
    get_settings.cache_clear()
    gateway.reset()
