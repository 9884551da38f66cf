"""The request guard rejects oversized bodies and malformed run inputs with clear errors."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from serving import request_guard
from serving.request_guard import RequestGuard, run_body_problem


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"got": len(await request.body())})


@pytest.fixture
def client():
    app = Starlette(routes=[Route("/threads/{tid}/runs/wait", echo, methods=["POST"]),
                            Route("/threads", echo, methods=["POST"])])
    return TestClient(RequestGuard(app))


@pytest.mark.parametrize("body, fragment", [
    ({"assistant_id": "a", "input": {"messages": 7}}, "must be a list"),
    ({"assistant_id": "a", "input": {"messages": [7]}}, "is a int"),
    ({"assistant_id": "a", "input": {"messages": [{"type": "human"}]}}, '"content"'),
    ({"assistant_id": "a", "input": {"messages": [{"type": "alien", "content": "x"}]}}, '"type"'),
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
