"""Faults around the database and the API edge on the real server: a Postgres restart during a
run, 1,000 concurrent thread creations, unicode edge cases."""

from __future__ import annotations

import asyncio
import glob
import os
import subprocess
from urllib.parse import urlparse

import httpx
import pytest
from langgraph_sdk import get_client

from serving.db import database_url
from tests.e2e.server import Server

pytestmark = pytest.mark.timeout(600)


def restart_postgres() -> None:
    """Restart the Postgres the server uses: the system cluster, or the embedded pgserver one."""
    url = urlparse(database_url())
    if url.hostname in ("127.0.0.1", "localhost") and (url.port or 5432) == 5432:
        [version] = [os.path.basename(p) for p in glob.glob("/etc/postgresql/*")]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                       check=True, timeout=120)
    else:
        from pgserver._commands import pg_ctl

        from serving.settings import get_settings

        pg_ctl(["-w", "restart", "-m", "fast"], pgdata=str(get_settings().data_dir / "pg"))


@pytest.fixture(scope="module")
def server():
    srv = Server()
    srv.start()
    yield srv
    srv.stop()


async def test_postgres_restart_during_runs(server):
    client = get_client(url=server.base, timeout=120)
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "orchestrator", input={"messages": [
        {"type": "human", "content": "```python\nimport time\ntime.sleep(2)\nprint('slept')\n```"}]})
    await asyncio.sleep(0.5)
    await asyncio.to_thread(restart_postgres)
    await client.runs.join(tid, run["run_id"])
    finished = await client.runs.get(tid, run["run_id"])
    assert finished["status"] in ("success", "error")  # completes, or fails and says so
    if finished["status"] == "error":
        await client.runs.wait(tid, "orchestrator", input=None)  # and can be resumed
    # The pool recovered: a new turn on the same thread works and the history reads back whole.
    await client.runs.wait(tid, "orchestrator", input={"messages": [
        {"type": "human", "content": "```python\nprint('after restart')\n```"}]})
    state = await client.threads.get_state(tid)
    texts = " ".join(str(m["content"]) for m in state["values"]["messages"])
    assert "slept" in texts and "after restart" in texts
    history = await client.threads.get_history(tid, limit=200)
    assert all(h["checkpoint"]["checkpoint_id"] for h in history)
    async with httpx.AsyncClient(base_url=server.base) as http:
        assert (await http.get("/healthz")).json()["database"] == "ok"


async def test_thousand_concurrent_thread_creations(server):
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=server.base, timeout=120, limits=limits) as http:
        responses = await asyncio.gather(*(http.post("/threads", json={"metadata": {"load": i}}) for i in range(1000)),
                                         return_exceptions=True)
        statuses = [r.status_code if isinstance(r, httpx.Response) else type(r).__name__ for r in responses]
        counts = {s: statuses.count(s) for s in set(statuses)}
        errors = sorted({repr(r) for r in responses if isinstance(r, BaseException)})[:5]
        assert all(s == 200 or (isinstance(s, int) and 400 <= s < 500) for s in statuses), \
            (counts, errors, server.log()[-3000:])
        assert statuses.count(200) >= 990
        assert (await http.get("/healthz")).status_code == 200


def _get_on(sock, host: str) -> bytes:
    """One GET /healthz on an open keep-alive socket; the whole response, b"" if the server closed it."""
    sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(next(ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_idle_keep_alive_connection_outlives_client_expiry(server):
    """httpx (and langgraph-sdk) reuse an idle connection for up to 5 s, uvicorn's default idle
    timeout: a request racing the server's close failed with ReadError (1-4 of 1,000 thread
    creations). serving/dev_server.py keeps idle connections 75 s; one idle for 6 s still answers."""
    import socket
    import time

    url = urlparse(server.base)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        assert _get_on(sock, url.netloc).startswith(b"HTTP/1.1 200")
        time.sleep(6)
        assert _get_on(sock, url.netloc).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("text", [
    "Résumé: naïve café — “quotes” and emoji 🧪📈 in a question about approvals?",
    "مرحبا، كيف تتم الموافقة على الإجراءات الخطرة؟",  # right-to-left
    "e\u0301\u0301\u0301 combining marks and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 approvals",
    "\ufeffbyte order mark and \u2028 line separator in approvals",
])
async def test_unicode_edge_cases_round_trip(server, text):
    client = get_client(url=server.base, timeout=120)
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "orchestrator", input={"messages": [{"type": "human", "content": text}]})
    state = await client.threads.get_state(tid)
    human = [m for m in state["values"]["messages"] if m["type"] == "human"]
    assert human[0]["content"] == text or "withheld" in human[0]["content"]  # stored intact, or guarded
    assert any(m["type"] == "ai" and m["content"] for m in state["values"]["messages"])
