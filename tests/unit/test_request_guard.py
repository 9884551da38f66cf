"""The request guard rejects oversized bodies and malformed run inputs with clear errors."""

from __future__ import annotations

import json

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from serving import auth, request_guard
from serving.request_guard import RequestGuard, run_body_problem

RUN = {"assistant_id": "a", "input": {"messages": [{"type": "human", "content": "hi"}]}}
BAD = {"assistant_id": "a", "input": {"messages": 7}}
CRON = {"assistant_id": "a", "schedule": "0 * * * *"}


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"got": len(await request.body())})


def _app() -> Starlette:
    return Starlette(routes=[Route(path, echo, methods=methods) for path, methods in [
        ("/threads/{tid}/runs/wait", ["POST"]), ("/threads", ["POST"]), ("/runs/batch", ["POST"]),
        ("/runs/crons", ["POST"]), ("/threads/{tid}/runs/crons", ["POST"]), ("/runs/crons/{cid}", ["PATCH"]),
        ("/threads/{tid}/history", ["GET"])]])


@pytest.fixture
def client(monkeypatch):
    async def local():
        return "local"

    monkeypatch.setattr(auth, "mode", local)  # no users, unless a test says otherwise
    # A loopback Host, as a local-mode server requires (serving/local_origin.py); TestClient's
    # default "testserver" is refused there.
    return TestClient(RequestGuard(_app()), base_url="http://127.0.0.1")


@pytest.mark.parametrize("body, fragment", [
    ({"assistant_id": "a", "input": {"messages": 7}}, "must be a list"),
    ({"assistant_id": "a", "input": {"messages": [7]}}, "is a int"),
    ({"assistant_id": "a", "input": {"messages": [{"type": "human"}]}}, '"content"'),
    ({"assistant_id": "a", "input": {"messages": [{"type": "alien", "content": "x"}]}}, '"type"'),
    ({"assistant_id": "a", "input": {"messages": [{"type": "human", "content": [["hi"]]}]}}, '"content"'),
    ({"assistant_id": "a", "input": {"messages": [{"type": "human", "content": [7]}]}}, '"content"'),
])
def test_malformed_messages_get_422(client, body, fragment):
    r = client.post("/threads/t1/runs/wait", json=body)
    assert r.status_code == 422
    assert fragment in r.json()["detail"]


@pytest.mark.parametrize("body", [
    {"assistant_id": "a", "input": {"messages": [{"type": "human", "content": "hi"}]}},
    {"assistant_id": "a", "input": {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}},
    {"assistant_id": "a", "input": {"messages": [["human", "hi"], "plain text"]}},
    {"assistant_id": "a", "command": {"resume": {"decisions": [{"type": "approve"}]}}},
    {"assistant_id": "a", "input": {"question": "for the rag graph"}},
])
def test_good_bodies_reach_the_app_intact(client, body):
    r = client.post("/threads/t1/runs/wait", json=body)
    assert r.status_code == 200 and r.json()["got"] > 0


def test_oversized_body_gets_413(client, monkeypatch):
    monkeypatch.setattr(request_guard, "MAX_BODY_BYTES", 1000)
    r = client.post("/threads", content=b"x" * 5000)
    assert r.status_code == 413 and "limit is 1000" in r.json()["detail"]


def test_non_object_body():
    assert run_body_problem([1, 2]) == "the request body must be a JSON object"


def test_nul_characters_are_refused_clearly(client):
    r = client.post("/threads/t1/runs/wait",
                    json={"assistant_id": "a", "input": {"messages": [{"type": "human", "content": "a\x00b"}]}})
    assert r.status_code == 422 and "NUL" in r.json()["detail"]


@pytest.mark.parametrize("message", [
    {"type": ["human"], "content": "hi"},
    {"role": {"user": 1}, "content": "hi"},
    {"type": 3, "content": "hi"},
])
def test_non_string_type_or_role_gets_422(client, message):
    r = client.post("/threads/t1/runs/wait", json={"assistant_id": "a", "input": {"messages": [message]}})
    assert r.status_code == 422 and '"type"' in r.json()["detail"]


def test_body_nested_too_deeply_gets_422(client):
    body = b'{"assistant_id": "a", "input": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    r = client.post("/threads/t1/runs/wait", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "nested too deeply" in r.json()["detail"]


def test_deeply_nested_content_is_checked_without_crashing(client):
    content: dict = {"type": "text", "text": "a\x00b"}
    for _ in range(950):  # parses (json.loads allows it here), then must not overflow our own check
        content = {"nested": content}
    content = [content]
    body = b'{"assistant_id": "a", "input": {"messages": [{"type": "human", "content": %s}]}}' % (
        json.dumps(content).encode())
    r = client.post("/threads/t1/runs/wait", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "NUL" in r.json()["detail"]


def test_batch_items_are_checked(client):
    r = client.post("/runs/batch", json=[RUN, BAD])
    assert r.status_code == 422 and r.json()["detail"].startswith("runs[1]: input.messages must be a list")
    assert client.post("/runs/batch", json=[RUN, RUN]).status_code == 200


@pytest.mark.parametrize("method, path", [
    ("POST", "/runs/crons"), ("POST", "/threads/t1/runs/crons"), ("PATCH", "/runs/crons/c1"),
])
def test_cron_inputs_are_checked(client, method, path):
    r = client.request(method, path, json={**CRON, **BAD})
    assert r.status_code == 422 and "must be a list" in r.json()["detail"]
    assert client.request(method, path, json={**CRON, **RUN}).status_code == 200


def test_batch_is_refused_when_users_exist(client, monkeypatch):
    async def keys():
        return "keys"

    monkeypatch.setattr(auth, "mode", keys)
    r = client.post("/runs/batch", json=[RUN])
    assert r.status_code == 400 and "one run per request" in r.json()["detail"]
    assert client.post("/threads/t1/runs/wait", json=RUN).status_code == 200  # single runs still go


def test_batch_is_refused_when_users_cannot_be_checked(client, monkeypatch):
    async def broken():
        raise OSError("database down")

    monkeypatch.setattr(auth, "mode", broken)
    r = client.post("/runs/batch", json=[RUN])
    assert r.status_code == 400 and "auth database unavailable" in r.json()["detail"]


@pytest.mark.parametrize("limit", ["-1", "0", "1001", "99999999999999999999", "x", ""])
def test_bad_history_limit_gets_422(client, limit):
    r = client.get(f"/threads/t1/history?limit={limit}")
    assert r.status_code == 422 and "from 1 to 1000" in r.json()["detail"]


@pytest.mark.parametrize("query", ["", "?limit=1", "?limit=1000&before=x"])
def test_good_history_queries_pass(client, query):
    assert client.get(f"/threads/t1/history{query}").status_code == 200


def test_rejections_carry_the_servers_cors_headers(monkeypatch):
    async def keys():
        return "keys"

    monkeypatch.setattr(auth, "mode", keys)  # keys mode: origins are left to CORS and the key
    policy = {"allow_origins": ["https://chat.example"], "allow_credentials": True, "allow_methods": ["*"],
              "allow_headers": ["*"], "expose_headers": ["x-pagination-total"]}
    client = TestClient(RequestGuard(_app(), cors=lambda: policy))
    r = client.post("/threads/t1/runs/wait", json=BAD, headers={"origin": "https://chat.example"})
    assert r.status_code == 422
    assert r.headers["access-control-allow-origin"] == "https://chat.example"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert r.headers["access-control-expose-headers"] == "x-pagination-total"
    # The policy is mirrored, not widened: another origin gets no CORS grant.
    other = client.post("/threads/t1/runs/wait", json=BAD, headers={"origin": "https://evil.example"})
    assert other.status_code == 422 and "access-control-allow-origin" not in other.headers


@pytest.fixture
def guard_env(monkeypatch):
    from guardrails.settings import get_guard_settings

    def apply(mode: str) -> None:
        monkeypatch.setenv("AGENTDESK_INPUT_PII", mode)
        get_guard_settings.cache_clear()

    yield apply
    monkeypatch.delenv("AGENTDESK_INPUT_PII", raising=False)
    get_guard_settings.cache_clear()


def test_input_pii_masked_in_every_human_message_or_refused_in_block_mode(guard_env):
    import json

    from serving.input_pii import mask_body

    body = {"assistant_id": "orchestrator", "input": {"messages": [
        {"type": "human", "content": "write to alice.smith@example.com"},
        {"role": "user", "content": [{"type": "text", "text": "ssn 078-05-1120"}, {"type": "image_url", "image_url": "x"}]},
        {"type": "ai", "content": "bob@example.com"}]}}
    masked, refusal = mask_body(json.dumps(body).encode())
    out = json.loads(masked)["input"]["messages"]
    assert refusal is None
    assert out[0]["content"] == "write to [REDACTED_EMAIL]"
    assert out[1]["content"] == [{"type": "text", "text": "ssn [REDACTED_US_SSN]"}, {"type": "image_url", "image_url": "x"}]
    assert out[2]["content"] == "bob@example.com"  # only what the user sent is masked
    batch = json.dumps([body, {"command": {"resume": {"decisions": []}}}]).encode()
    assert "alice.smith" not in mask_body(batch)[0].decode()
    clean = json.dumps({"input": {"messages": [{"type": "human", "content": "order 12345 shipped v1.2.3"}]}}).encode()
    assert mask_body(clean)[0] is clean  # untouched bodies are passed on as they came
    guard_env("block")
    kept, refusal = mask_body(json.dumps(body).encode())
    assert "EMAIL" in refusal.upper() and "AGENTDESK_INPUT_PII=block" in refusal
    guard_env("off")
    assert mask_body(json.dumps(body).encode()) == (json.dumps(body).encode(), None)
