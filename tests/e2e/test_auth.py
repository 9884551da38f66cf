"""Auth end to end: a real server with two API-key users and a JWT secret. Each user tries every
thread endpoint on the other's thread and is refused; bad credentials get 401; runs are rate
limited (429); approvals record the deciding user.

The server gets its own database (agentdesk_auth_test on the same Postgres): users in the shared
test database would switch every other test server into key mode.
"""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import psycopg
import pytest

from serving.db import connect, database_url, ensure_schema
from serving.users import add_user
from tests.e2e.server import Server

pytestmark = pytest.mark.timeout(600)
DB_NAME = "agentdesk_auth_test"
SECRET = "test-secret-" + "x" * 40
ISSUER, AUDIENCE = "https://idp.test", "agentdesk"
RUNS_PER_MINUTE = 6
# The in-memory runtime keeps thread bookkeeping in .langgraph_api/ across runs: tag this run's data.
RUN = uuid.uuid4().hex[:6]
TITLE = f"alice's {RUN}"


def _admin_url(db: str) -> str:
    return psycopg.conninfo.make_conninfo(database_url(), dbname=db)


@pytest.fixture(scope="module")
def env():
    """A fresh database with alice and bob (keys) and carol (for the rate limit)."""
    with psycopg.connect(_admin_url("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB_NAME}")
    url = _admin_url(DB_NAME)
    with connect(url) as conn:
        ensure_schema(conn)
        keys = {name: add_user(conn, name, tenant="acme") for name in ("alice", "bob", "carol", "eve")}
    yield {"url": url, "keys": keys}
    with psycopg.connect(_admin_url("postgres"), autocommit=True) as admin:  # the server is stopped by now
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


@pytest.fixture(scope="module")
def server(env):
    srv = Server(env={"DATABASE_URL": env["url"], "AGENTDESK_JWT_SECRET": SECRET, "AGENTDESK_JWT_ISSUER": ISSUER,
                      "AGENTDESK_JWT_AUDIENCE": AUDIENCE, "AGENTDESK_RUNS_PER_MINUTE": str(RUNS_PER_MINUTE)})
    started = time.perf_counter()
    srv.start()
    print(f"auth server ready in {time.perf_counter() - started:.1f}s")
    yield srv
    srv.stop()


def client(server, key: str | None = None, **headers: str) -> httpx.Client:
    if key:
        headers["x-api-key"] = key
    return httpx.Client(base_url=server.base, headers=headers, timeout=120)


def token(sub: str = f"dave-{RUN}", *, key: str = SECRET, exp: float = 600, **claims) -> str:
    body = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time() + exp), "tenant": "acme", **claims}
    return jwt.encode(body, key, algorithm="HS256")


@pytest.fixture(scope="module")
def alice_thread(server, env):
    """Alice's thread, waiting at an approval (so there is something to resume)."""
    with client(server, env["keys"]["alice"]) as a:
        tid = a.post("/threads", json={"metadata": {"title": TITLE}}).json()["thread_id"]
        r = a.post(f"/threads/{tid}/runs/wait", json={
            "assistant_id": "orchestrator", "input": {"messages": [{"type": "human", "content": "restart the payments deployment"}]}})
        assert r.status_code == 200, r.text
        thread = a.get(f"/threads/{tid}").json()
        assert thread["metadata"]["owner"] == "alice" and thread["metadata"]["tenant"] == "acme"
        assert thread["interrupts"], "expected a pending approval"
        run_id = a.get(f"/threads/{tid}/runs").json()[0]["run_id"]
        return {"thread_id": tid, "run_id": run_id}


def test_public_routes_and_mode(server):
    with client(server) as anon:
        assert anon.get("/healthz").status_code == 200
        assert anon.get("/ui").status_code == 200
        assert anon.get("/api/info").json()["auth"] == "keys"
        # /docs loads an unpinned CDN script; sandboxed, it cannot read the UI's stored API key.
        docs = anon.get("/docs")
        assert docs.headers.get("content-security-policy", "").startswith("sandbox allow-scripts")
        # Keys mode: a foreign origin without a key gets 401 from auth, not the local-mode 403.
        assert anon.post("/threads/search", json={}, headers={"origin": "https://evil.example"}).status_code == 401


def test_missing_and_bad_credentials_are_401(server, env):
    bad_jwts = {
        "expired": token(exp=-3600),
        "wrong key": token(key="another-secret-" + "y" * 40),
        "wrong audience": token(aud="someone-else"),
        "wrong issuer": token(iss="https://evil.test"),
        "malformed": "not.a.jwt",
        "alg none": jwt.encode({"sub": "dave", "exp": int(time.time()) + 600}, None, algorithm="none"),
    }
    with client(server) as anon:
        assert anon.post("/threads/search", json={}).status_code == 401
        for name, bad in bad_jwts.items():
            r = anon.post("/threads/search", json={}, headers={"Authorization": f"Bearer {bad}"})
            assert r.status_code == 401, (name, r.status_code, r.text)
        for bad_key in ("nonsense", "agd_000000000000_" + "a" * 43, env["keys"]["alice"][:-2] + "zz"):
            assert anon.post("/threads/search", json={}, headers={"x-api-key": bad_key}).status_code == 401
        # `langgraph dev` treats x-auth-scheme: langsmith as a Studio session; with users it must not bypass auth
        assert anon.post("/threads/search", json={}, headers={"x-auth-scheme": "langsmith"}).status_code == 401
    # a revoked key stops working (this one was never used, so no cache holds it)
    with connect(env["url"]) as conn:
        conn.execute("UPDATE agentdesk_api_keys SET revoked_at = now() WHERE user_name = 'eve'")
    with client(server, env["keys"]["eve"]) as eve:
        assert eve.post("/threads/search", json={}).status_code == 401


def test_valid_jwt_and_bearer_key_map_to_users(server, env):
    with client(server, Authorization=f"Bearer {token()}") as dave:
        t = dave.post("/threads", json={}).json()
        assert t["metadata"]["owner"] == f"dave-{RUN}" and t["metadata"]["tenant"] == "acme"
        assert [x["thread_id"] for x in dave.post("/threads/search", json={}).json()] == [t["thread_id"]]
    with client(server, Authorization=f"Bearer {env['keys']['bob']}") as bob:
        assert bob.get(f"/threads/{t['thread_id']}").status_code == 404  # dave's, not bob's


def test_other_user_is_refused_on_every_thread_endpoint(server, env, alice_thread):
    tid, run_id = alice_thread["thread_id"], alice_thread["run_id"]
    run = {"assistant_id": "orchestrator", "input": {"messages": [{"type": "human", "content": "hi"}]}}
    resume = {"assistant_id": "orchestrator", "command": {"resume": {"decisions": [{"type": "approve"}]}}}
    attempts = {
        "get": ("GET", f"/threads/{tid}", None),
        "state": ("GET", f"/threads/{tid}/state", None),
        "history (GET)": ("GET", f"/threads/{tid}/history", None),
        "history (POST)": ("POST", f"/threads/{tid}/history", {"limit": 10}),
        "runs list": ("GET", f"/threads/{tid}/runs", None),
        "run get": ("GET", f"/threads/{tid}/runs/{run_id}", None),
        "run join": ("GET", f"/threads/{tid}/runs/{run_id}/join", None),
        "run stream join": ("GET", f"/threads/{tid}/runs/{run_id}/stream", None),
        "thread stream join": ("GET", f"/threads/{tid}/stream", None),
        "runs create": ("POST", f"/threads/{tid}/runs", run),
        "runs stream": ("POST", f"/threads/{tid}/runs/stream", run),
        "runs wait": ("POST", f"/threads/{tid}/runs/wait", run),
        "resume": ("POST", f"/threads/{tid}/runs/wait", resume),
        "copy (fork)": ("POST", f"/threads/{tid}/copy", {}),
        "update state": ("POST", f"/threads/{tid}/state", {"values": {"messages": []}}),
        "patch": ("PATCH", f"/threads/{tid}", {"metadata": {"title": "mine now"}}),
        "run cancel": ("POST", f"/threads/{tid}/runs/{run_id}/cancel", None),
        "run delete": ("DELETE", f"/threads/{tid}/runs/{run_id}", None),
        "delete": ("DELETE", f"/threads/{tid}", None),
    }
    with client(server, env["keys"]["alice"]) as alice:
        alice_count = alice.post("/threads/count", json={}).json()
    with client(server, env["keys"]["bob"]) as bob:
        for name, (method, path, body) in attempts.items():
            r = bob.request(method, path, json=body, timeout=20)
            # the server answers a copy of a thread it cannot find with 409 rather than 404
            allowed = (403, 404, 409) if name == "copy (fork)" else (403, 404)
            if r.status_code == 200 and r.headers.get("content-type", "").startswith("text/event-stream"):
                # a stream that already started reports the refusal as its only event
                assert r.text.startswith("event: error") and "404" in r.text, (name, r.text[:300])
                continue
            assert r.status_code in allowed, (name, r.status_code, r.text[:300])
        listed = bob.post("/threads/search", json={"limit": 100}).json()
        assert tid not in {t["thread_id"] for t in listed}
        assert bob.post("/threads/count", json={}).json() <= len(listed)
        # the store: only namespaces that start with your own user id
        item = {"namespace": ["alice", "notes"], "key": "k", "value": {"v": 1}}
        assert bob.put("/store/items", json=item).status_code == 403
        assert bob.get("/store/items", params={"namespace": "alice.notes", "key": "k"}).status_code == 403
        assert bob.post("/store/items/search", json={"namespace_prefix": ["alice"]}).status_code == 403
        assert bob.put("/store/items", json={**item, "namespace": ["bob", "notes"]}).status_code in (200, 204)
    with client(server, env["keys"]["alice"]) as alice:  # nothing of alice's changed
        thread = alice.get(f"/threads/{tid}").json()
        assert thread["metadata"]["title"] == TITLE and thread["interrupts"]
        assert alice.post("/threads/count", json={}).json() == alice_count  # bob's copy made nothing
        copy = alice.post(f"/threads/{tid}/copy", json={}).json()  # the owner may fork
        assert copy["metadata"]["owner"] == "alice"
    with client(server, env["keys"]["bob"]) as bob:
        assert bob.get(f"/threads/{copy['thread_id']}").status_code in (403, 404)


def test_approval_records_the_deciding_user(server, env, alice_thread):
    tid = alice_thread["thread_id"]
    with client(server, env["keys"]["alice"]) as alice:
        r = alice.post(f"/threads/{tid}/runs/wait", json={
            "assistant_id": "orchestrator", "command": {"resume": {"decisions": [{"type": "approve"}]}}})
        assert r.status_code == 200, r.text
        assert not alice.get(f"/threads/{tid}").json()["interrupts"]
    with connect(env["url"]) as conn:
        rows = conn.execute("SELECT user_id, decision FROM agentdesk_audit WHERE kind = 'decision' AND thread_id = %s",
                            (tid,)).fetchall()
    assert rows == [{"user_id": "alice", "decision": "approve"}]


def test_runs_are_rate_limited_per_user(server, env):
    with client(server, env["keys"]["carol"]) as carol:
        tid = carol.post("/threads", json={}).json()["thread_id"]
        body = {"assistant_id": "orchestrator", "multitask_strategy": "enqueue",
                "input": {"messages": [{"type": "human", "content": " "}]}}
        codes = [carol.post(f"/threads/{tid}/runs", json=body).status_code for _ in range(RUNS_PER_MINUTE + 1)]
        assert codes[:RUNS_PER_MINUTE] == [200] * RUNS_PER_MINUTE and codes[-1] == 429, codes
        r = carol.post(f"/threads/{tid}/runs", json=body)
        assert r.status_code == 429 and "runs per minute" in r.text and r.headers.get("retry-after")
    with client(server, Authorization=f"Bearer {token('frank-' + uuid.uuid4().hex[:6])}") as other:
        t2 = other.post("/threads", json={}).json()["thread_id"]  # another user is not affected
        assert other.post(f"/threads/{t2}/runs", json={**body, "multitask_strategy": "reject"}).status_code == 200


def test_ui_asks_for_a_key_and_then_shows_only_your_threads(server, env, alice_thread):
    sync_api = pytest.importorskip("playwright.sync_api")
    # Her fork, made here so the test does not depend on which tests ran before it.
    with client(server, env["keys"]["alice"]) as a:
        assert a.post(f"/threads/{alice_thread['thread_id']}/copy", json={}).status_code == 200
        mine = [t for t in a.post("/threads/search", json={"limit": 100}).json()
                if t["metadata"].get("title") == TITLE]
    assert len(mine) >= 2
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.goto(f"{server.base}/ui")
            sync_api.expect(page.locator("#key-form")).to_be_visible()
            page.fill("#key-input", env["keys"]["alice"])
            page.press("#key-input", "Enter")
            # alice's thread and her forks of it, and nobody else's
            sync_api.expect(page.locator("#threads li").filter(has_text=TITLE)).to_have_count(len(mine), timeout=20_000)
            owners = {t["metadata"]["owner"] for t in httpx.post(
                f"{server.base}/threads/search", json={"limit": 100}, headers={"x-api-key": env["keys"]["alice"]}).json()}
            assert owners == {"alice"}
            page.locator("#key-button").click()  # a bad key: told plainly, asked again
            page.fill("#key-input", "agd_000000000000_wrong")
            page.press("#key-input", "Enter")
            sync_api.expect(page.locator("#error")).to_contain_text("Not signed in", timeout=20_000)
        finally:
            browser.close()
