"""Which browser requests a local-mode server refuses (serving/local_origin.py)."""

from __future__ import annotations

import pytest

from serving.local_origin import problem


def h(host: str, origin: str | None = None) -> dict[bytes, bytes]:
    return {b"host": host.encode(), **({b"origin": origin.encode()} if origin else {})}


@pytest.mark.parametrize("headers", [
    h("127.0.0.1:8123"), h("localhost:8123"), h("[::1]:8123"),  # curl, the SDK: no Origin
    h("127.0.0.1:8123", "http://127.0.0.1:8123"),  # the chat UI, same origin
    h("127.0.0.1:8123", "https://smith.langchain.com"), h("127.0.0.1:8123", "https://eu.smith.langchain.com/"),
])
def test_allowed(headers):
    assert problem(headers) is None


@pytest.mark.parametrize("headers, says", [
    (h("127.0.0.1:8123", "https://evil.example"), "AGENTDESK_ALLOWED_ORIGINS"),
    (h("127.0.0.1:8123", "http://localhost:3000"), "AGENTDESK_ALLOWED_ORIGINS"),  # another port: another origin
    (h("127.0.0.1:8123", "null"), "AGENTDESK_ALLOWED_ORIGINS"),  # a sandboxed frame, a file:// page
    (h("attacker.example:8123"), "AGENTDESK_ALLOWED_HOSTS"),  # DNS rebinding
    (h("127.0.0.1.attacker.example"), "AGENTDESK_ALLOWED_HOSTS"),
    (h(""), "AGENTDESK_ALLOWED_HOSTS"),
])
def test_refused(headers, says):
    assert says in problem(headers)


def test_listed_hosts_and_origins(settings_env):
    settings_env(AGENTDESK_ALLOWED_HOSTS="desk.internal", AGENTDESK_ALLOWED_ORIGINS="http://localhost:3000/, https://x.example")
    assert problem(h("desk.internal:8123", "http://localhost:3000")) is None
    assert problem(h("desk.internal", "https://x.example")) is None
    assert problem(h("other.internal")) is not None
    settings_env(AGENTDESK_ALLOWED_HOSTS="*", AGENTDESK_ALLOWED_ORIGINS="*")
    assert problem(h("anything", "https://any.example")) is None
