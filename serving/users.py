"""Users and their API keys (table `agentdesk_api_keys`), plus `agentdesk users add|list|revoke`.

A key looks like `agd_<key_id>_<secret>`. Only sha256(key) is stored: the secret has 256 bits
of entropy, so a fast hash is enough (no password stretching needed), and `key_id` finds the
row without comparing every hash. The server looks keys up through the async pool and keeps
answers for a few seconds, so a burst of requests costs one query; a revoked key therefore
stops working within `CACHE_TTL_S`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import secrets
import sys
import time
from dataclasses import dataclass

PREFIX = "agd_"
CACHE_TTL_S = 10.0  # how stale a key lookup (or the "are there users?" answer) may be


@dataclass(frozen=True)
class KeyUser:
    name: str
    tenant: str
    key_id: str


def new_key() -> tuple[str, str]:
    """(key_id, full key). key_id is public (shown in `users list`); the rest is the secret."""
    key_id = secrets.token_hex(6)
    return key_id, f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(key: str) -> str | None:
    """The lookup id of a well-formed key, else None (so junk never reaches the database)."""
    if not key.startswith(PREFIX):
        return None
    key_id, sep, secret = key[len(PREFIX):].partition("_")
    if not sep or len(key_id) != 12 or not secret or len(key) > 200:
        return None
    return key_id


# ------------------------------------------------------------------ server side (async, cached)

_key_cache: dict[str, tuple[float, KeyUser | None]] = {}
_users_cache: list[tuple[float, bool]] = []


async def lookup(key: str) -> KeyUser | None:
    """The user owning an active key, or None. Positive and negative answers are cached briefly."""
    key_id = key_id_of(key)
    if key_id is None:
        return None
    digest = hash_key(key)
    now = time.monotonic()
    hit = _key_cache.get(digest)
    if hit and now - hit[0] < CACHE_TTL_S:
        return hit[1]
    from serving.db import app_pool

    pool = await app_pool()
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT user_name, tenant, key_hash FROM agentdesk_api_keys "
            "WHERE key_id = %s AND revoked_at IS NULL", (key_id,))
        row = await cur.fetchone()
    user = None
    if row and hmac.compare_digest(row["key_hash"], digest):
        user = KeyUser(row["user_name"], row["tenant"], key_id)
    if len(_key_cache) > 10_000:  # bound memory under a flood of random keys
        _key_cache.clear()
    _key_cache[digest] = (now, user)
    return user


async def any_users() -> bool:
    """True once any key was ever created (revoked ones count, so revoking the last user never
    silently reopens the server to anonymous access). Errors propagate: callers fail closed."""
    now = time.monotonic()
    if _users_cache and now - _users_cache[0][0] < CACHE_TTL_S:
        return _users_cache[0][1]
    from serving.db import app_pool

    pool = await app_pool()
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT EXISTS (SELECT 1 FROM agentdesk_api_keys) AS any")
        found = bool((await cur.fetchone())["any"])
    _users_cache[:] = [(time.monotonic(), found)]
    return found


def forget_cache() -> None:
    _key_cache.clear()
    _users_cache.clear()


# ------------------------------------------------------------------ CLI side (sync)

class UserError(ValueError):
    """A user that cannot be created as asked (blank name, a name taken in another tenant)."""


def add_user(conn, name: str, tenant: str = "default") -> str:
    """Create a key for `name` (a user may hold several, e.g. while rotating). Returns the key.

    User names are global: a thread belongs to its owner's name, whatever the tenant, so a second
    `alice` in another tenant would have been the first one, with her threads."""
    name, tenant = name.strip(), tenant.strip()
    if not name or not tenant:
        raise UserError("a user needs a name and a tenant that are not blank")
    row = conn.execute("SELECT tenant FROM agentdesk_api_keys WHERE user_name = %s AND tenant <> %s LIMIT 1",
                       (name, tenant)).fetchone()
    if row is not None:
        raise UserError(f"user {name!r} already exists in tenant {row['tenant']!r}; user names are global, "
                        f"so pick another name (or add a key in {row['tenant']!r})")
    key_id, key = new_key()
    conn.execute("INSERT INTO agentdesk_api_keys (key_id, user_name, tenant, key_hash) VALUES (%s, %s, %s, %s)",
                 (key_id, name, tenant, hash_key(key)))
    return key


def list_users(conn) -> list[dict]:
    cur = conn.execute("SELECT key_id, user_name, tenant, created_at, revoked_at FROM agentdesk_api_keys "
                       "ORDER BY user_name, created_at")
    return cur.fetchall()


def revoke(conn, who: str) -> int:
    """Revoke every key of user `who`, or the one key whose key_id is `who`. Returns how many."""
    cur = conn.execute("UPDATE agentdesk_api_keys SET revoked_at = now() "
                       "WHERE (user_name = %s OR key_id = %s) AND revoked_at IS NULL", (who, who))
    return cur.rowcount


def main(args: argparse.Namespace) -> int:
    """`agentdesk users add|list|revoke` (wired in serving/cli.py)."""
    from serving.db import connect, ensure_schema

    with connect() as conn:
        ensure_schema(conn)
        if args.users == "add":
            try:
                key = add_user(conn, args.name, args.tenant)
            except UserError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(f"user {args.name} (tenant {args.tenant}) created. API key, shown once:\n{key}\n"
                  "Send it as the `x-api-key` header (or `Authorization: Bearer <key>`).")
        elif args.users == "list":
            rows = list_users(conn)
            if args.json:
                print(json.dumps(rows, default=str, indent=2))
            for r in [] if args.json else rows:
                state = f"revoked {r['revoked_at']:%Y-%m-%d %H:%M}" if r["revoked_at"] else "active"
                print(f"{r['user_name']:<20} {r['tenant']:<12} key {r['key_id']}  {state}")
            if not rows and not args.json:
                print("no users: the server runs as the single local user")
        elif args.users == "revoke":
            n = revoke(conn, args.who)
            print(f"revoked {n} key(s)" + ("" if n else f": no active key for {args.who!r}"))
            return 0 if n else 1
    return 0
