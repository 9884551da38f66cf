"""RequestGuard inside the real server: its rejections reach a browser client (the same CORS
headers as the server's own errors), and the inputs that used to crash it get clear answers."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.server import Server

pytestmark = pytest.mark.timeout(600)
ORIGIN = {"origin": "https://chat.example"}  # a cross-origin client such as agent-chat-ui


@pytest.fixture(scope="module")
def server():
    # A cross-origin client must be listed in local mode (serving/local_origin.py).
    srv = Server(env={"AGENTDESK_ALLOWED_ORIGINS": ORIGIN["origin"]})
    srv.start()
    yield srv
    srv.stop()


def _cors(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-") or k == "vary"}


async def test_guard_rejections_carry_the_servers_cors_headers(server):
    async with httpx.AsyncClient(base_url=server.base, headers=ORIGIN) as http:
        own = await http.post("/runs/wait", json={"assistant_id": "no-such-graph", "input": {}})
        guarded = await http.post("/runs/wait", json={"assistant_id": "orchestrator", "input": {"messages": 7}})
        history = await http.get(f"/threads/{uuid.uuid4()}/history", params={"limit": -1})
    assert own.status_code == 422 and "access-control-allow-origin" in own.headers  # the server's policy
    assert guarded.status_code == 422 and "must be a list" in guarded.json()["detail"]
    assert _cors(guarded) == _cors(own)
    assert history.status_code == 422 and _cors(history) == _cors(own)


@pytest.mark.parametrize("path, body", [
    ("/runs/wait", b'{"assistant_id": "orchestrator", "input": {"messages": [{"type": ["human"], "content": "hi"}]}}'),
    ("/runs/wait", b'{"assistant_id": "orchestrator", "input": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
    ("/runs/batch", b'[{"assistant_id": "orchestrator", "input": {"messages": 7}}]'),
    ("/runs/crons", b'{"assistant_id": "orchestrator", "schedule": "0 * * * *", "input": {"messages": 7}}'),
])
async def test_malformed_run_bodies_get_422_and_the_connection_survives(server, path, body):
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert (await http.get("/healthz")).status_code == 200  # same client: no reset connection


async def test_pii_in_the_input_is_masked_before_the_server_stores_anything(server):
    """The guard node masked the message it checked, but the raw text stayed in the thread's first
    checkpoints (history, Studio, forks) and in the run record. Masked at the door now."""
    email, key = "alice.smith@example.com", "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234"
    async with httpx.AsyncClient(base_url=server.base, timeout=120) as http:
        tid = (await http.post("/threads", json={})).json()["thread_id"]
        first = {"type": "human", "content": f"For the record my address is {email}."}
        blocks = {"type": "human", "content": [{"type": "text", "text": f"How are risky actions approved? key {key}"}]}
        r = await http.post(f"/threads/{tid}/runs/wait",
                            json={"assistant_id": "orchestrator", "input": {"messages": [first, blocks]}})
        assert r.status_code == 200, r.text
        stored = [(await http.post(f"/threads/{tid}/history", json={"limit": 100})).text,
                  (await http.get(f"/threads/{tid}/runs")).text, (await http.get(f"/threads/{tid}/state")).text]
    for text in stored:
        assert email not in text and key not in text
    assert "[REDACTED_EMAIL]" in stored[0] and "[REDACTED_API_KEY]" in stored[0]
    assert "How are risky actions approved?" in stored[2]  # the rest of the message is intact


async def test_local_mode_refuses_other_sites_and_foreign_hosts(server):
    """A page on another site read every thread and approved its own SQL write through a
    local-mode server (CORS allowed every origin); a rebound DNS name reached it whatever CORS said."""
    port = server.base.rsplit(":", 1)[1]
    async with httpx.AsyncClient(base_url=server.base) as http:
        evil = await http.post("/threads/search", json={}, headers={"origin": "https://evil.example"})
        run = await http.post("/runs/wait", json={"assistant_id": "orchestrator", "input": {"messages": []}},
                              headers={"origin": "http://localhost:1"})
        rebound = await http.post("/threads/search", json={}, headers={"host": f"attacker.example:{port}"})
        own = await http.post("/threads/search", json={}, headers={"origin": server.base})
        studio = await http.post("/threads/search", json={}, headers={"origin": "https://smith.langchain.com"})
        listed = await http.post("/threads/search", json={}, headers=ORIGIN)
        probe = await http.get("/healthz", headers={"host": f"10.1.2.3:{port}"})
        sdk = await http.post("/threads/search", json={})  # no Origin: curl, the SDK
        docs = await http.get("/docs")
    assert evil.status_code == 403 and "AGENTDESK_ALLOWED_ORIGINS" in evil.json()["detail"]
    assert run.status_code == 403
    assert rebound.status_code == 403 and "AGENTDESK_ALLOWED_HOSTS" in rebound.json()["detail"]
    assert [r.status_code for r in (own, studio, listed, probe, sdk)] == [200] * 5
    assert "content-security-policy" not in docs.headers  # local mode: no key in the UI to protect
