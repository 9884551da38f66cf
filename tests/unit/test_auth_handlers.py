"""The auth handler against real Postgres (a private database): local mode with no users, key
mode once a user exists, and the owner filters every resource gets."""

from __future__ import annotations

import psycopg
import pytest
from langgraph_sdk import Auth

from serving import auth, db, users
from serving.rate_limit import SharedTokenBucket

DB_NAME = "agentdesk_auth_unit"


class User(dict):
    """Stands in for the server's user proxy: attribute `identity`, item access for the rest."""

    @property
    def identity(self) -> str:
        return self["identity"]


def ctx(resource: str, action: str, who: dict) -> Auth.types.AuthContext:
    return Auth.types.AuthContext(permissions=[], user=User(who), resource=resource, action=action)


@pytest.fixture
async def empty_db(monkeypatch):
    url = psycopg.conninfo.make_conninfo(db.database_url(), dbname=DB_NAME)
    with psycopg.connect(psycopg.conninfo.make_conninfo(db.database_url(), dbname="postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB_NAME}")
    saved_url, saved_pools = db._url, dict(db._pools)
    monkeypatch.setattr(db, "_url", url)
    db._pools.clear()
    for name in ("AGENTDESK_JWT_SECRET", "AGENTDESK_JWT_PUBLIC_KEY", "AGENTDESK_AUTH"):
        monkeypatch.delenv(name, raising=False)
    users.forget_cache()
    yield url
    for pool in db._pools.values():
        await pool.close()
    db._pools.clear()
    db._pools.update(saved_pools)
    db._url = saved_url
    users.forget_cache()
    with psycopg.connect(psycopg.conninfo.make_conninfo(db.database_url(), dbname="postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


async def test_local_mode_without_users(empty_db):
    assert await auth.mode() == "local"
    user = await auth.authenticate({})
    assert user["identity"] == "local"
    assert (await auth.authenticate({b"x-api-key": b"agd_junk"}))["identity"] == "local"  # keys are ignored
    value = {"metadata": None}
    assert await auth.on_thread_create(ctx("threads", "create", user), value) is None
    assert value["metadata"]["owner"] == "local"
    assert await auth.on_threads(ctx("threads", "read", user), {}) is None  # nothing filtered locally
    assert await auth.on_store(ctx("store", "put", user), {"namespace": ("anything",)}) is None


async def test_key_mode_once_a_user_exists(empty_db):
    with db.connect(empty_db) as conn:
        db.ensure_schema(conn)
        key = users.add_user(conn, "alice", "acme")
    users.forget_cache()
    assert await auth.mode() == "keys"
    with pytest.raises(Auth.exceptions.HTTPException) as err:
        await auth.authenticate({})
    assert err.value.status_code == 401
    alice = await auth.authenticate({b"x-api-key": key.encode()})
    assert (alice["identity"], alice["tenant"], alice["kind"]) == ("alice", "acme", "api_key")
    assert (await auth.authenticate({b"authorization": f"Bearer {key}".encode()}))["identity"] == "alice"

    value = {"metadata": {"owner": "bob", "title": "x"}}  # a planted owner is overwritten
    assert await auth.on_thread_create(ctx("threads", "create", alice), value) == {"owner": "alice"}
    assert value["metadata"] == {"owner": "alice", "tenant": "acme", "title": "x"}
    for action in ("read", "delete", "search"):
        assert await auth.on_threads(ctx("threads", action, alice), {}) == {"owner": "alice"}
    update = {"metadata": {"owner": "bob"}}
    assert await auth.on_thread_update(ctx("threads", "update", alice), update) == {"owner": "alice"}
    assert update["metadata"]["owner"] == "alice"  # no giving a thread away
    assert await auth.on_assistant_read(ctx("assistants", "read", alice), {}) is None  # graphs are shared
    # ...which is why users cannot create their own: bob would read alice's assistant config
    with pytest.raises(Auth.exceptions.HTTPException) as err:
        await auth.on_assistant_create(ctx("assistants", "create", alice),
                                       {"graph_id": "orchestrator", "config": {"configurable": {"token": "secret"}}})
    assert err.value.status_code == 403 and "per run" in err.value.detail
    assert await auth.deny_unknown(ctx("threads", "read", alice), {}) is False
    assert await auth.on_store(ctx("store", "put", alice), {"namespace": ("alice", "notes")}) is None
    with pytest.raises(Auth.exceptions.HTTPException) as err:
        await auth.on_store(ctx("store", "get", alice), {"namespace": ("bob", "notes")})
    assert err.value.status_code == 403
    studio = {"identity": "langgraph-studio-user", "kind": "StudioUser"}
    with pytest.raises(Auth.exceptions.HTTPException):
        await auth.on_threads(ctx("threads", "search", studio), {})

    with db.connect(empty_db) as conn:  # revoking the last user does not reopen the server
        assert users.revoke(conn, "alice") == 1
    users.forget_cache()
    assert await auth.mode() == "keys"
    with pytest.raises(Auth.exceptions.HTTPException) as err:
        await auth.authenticate({b"x-api-key": key.encode()})
    assert err.value.status_code == 401


async def test_rate_limit_raises_429(empty_db, monkeypatch):
    with db.connect(empty_db) as conn:
        db.ensure_schema(conn)
        users.add_user(conn, "carol")
    users.forget_cache()
    monkeypatch.setattr(auth, "RUNS", SharedTokenBucket(per_minute=2))
    carol = {"identity": "carol", "tenant": "default"}
    for _ in range(2):
        assert await auth.on_run_create(ctx("threads", "create_run", carol), {"metadata": {}}) == {"owner": "carol"}
    with pytest.raises(Auth.exceptions.HTTPException) as err:
        await auth.on_run_create(ctx("threads", "create_run", carol), {"metadata": {}})
    assert err.value.status_code == 429 and "runs per minute" in err.value.detail


async def test_user_names_are_global_across_tenants(empty_db):
    # A thread belongs to its owner's name: a second "alice" in another tenant would have owned
    # the first one's threads. A second key for the same user and tenant (rotation) is fine.
    with db.connect(empty_db) as conn:
        db.ensure_schema(conn)
        users.add_user(conn, "alice", "acme")
        users.add_user(conn, " alice ", "acme")
        with pytest.raises(users.UserError, match="already exists in tenant 'acme'"):
            users.add_user(conn, "alice", "globex")
        for name, tenant in (("", "acme"), ("   ", "acme"), ("bob", " ")):
            with pytest.raises(users.UserError, match="not blank"):
                users.add_user(conn, name, tenant)
        rows = users.list_users(conn)
    assert [(r["user_name"], r["tenant"]) for r in rows] == [("alice", "acme"), ("alice", "acme")]
