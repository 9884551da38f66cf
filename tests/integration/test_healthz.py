"""/healthz answers within its bound when Postgres does not: a readiness probe must not hang."""

from __future__ import annotations

import json
import time

from serving import app as app_module
from serving import db


async def test_healthz_answers_503_within_its_bound_when_postgres_is_unreachable(monkeypatch):
    # Opening the pool waited its full 30 s before the 5 s the check meant to allow.
    monkeypatch.setattr(db, "_url", "postgresql://postgres@127.0.0.1:1/nowhere")
    saved = dict(db._pools)
    db._pools.clear()
    try:
        started = time.perf_counter()
        reply = await app_module.healthz(None)
        elapsed = time.perf_counter() - started
    finally:
        for pool in db._pools.values():
            await pool.close()
        db._pools.clear()
        db._pools.update(saved)
    body = json.loads(reply.body)
    assert reply.status_code == 503 and body["status"] == "degraded" and body["database"].startswith("error")
    assert elapsed < app_module.HEALTH_TIMEOUT_S + 2


async def test_healthz_is_ok_with_postgres():
    reply = await app_module.healthz(None)
    assert reply.status_code == 200 and json.loads(reply.body)["database"] == "ok"
