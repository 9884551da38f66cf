"""LangGraph server auth (`langgraph.json` -> `auth.path`): who is calling, and what they may touch.

Modes (decided per request, the users answer cached for a few seconds):
- "keys": any API key was ever created (`agentdesk users add`) or a JWT key is configured.
  Every API request needs `x-api-key: agd_...` or `Authorization: Bearer <api key | JWT>`;
  threads, runs, crons and store items are visible only to their owner.
- "local": no users and no JWT key. Every request is the single local user and nothing is
  filtered (Studio and scripts just work). Said loudly at start-up (serving/app.py lifespan).
The custom routes (/ui, /healthz, /api/info, /metrics) are not behind this handler.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

import jwt
from langgraph_sdk import Auth

from serving import stale_resume, users
from serving.rate_limit import SharedTokenBucket
from serving.settings import get_settings

log = logging.getLogger(__name__)
auth = Auth()

Mode = Literal["local", "keys"]
LOCAL_USER = {"identity": "local", "display_name": "Local user", "tenant": "local", "is_authenticated": True}
_STUDIO_KIND = "StudioUser"  # `langgraph dev`'s built-in Studio user (x-auth-scheme: langsmith)


# ------------------------------------------------------------------ mode and credentials

def jwt_settings() -> dict[str, Any] | None:
    """JWT verification settings from the environment, or None when JWTs are not configured."""
    secret = os.environ.get("AGENTDESK_JWT_SECRET")
    public = os.environ.get("AGENTDESK_JWT_PUBLIC_KEY")
    if not (secret or public):
        return None
    if public and not public.lstrip().startswith("-----"):
        if not Path(public).is_file():  # else every client's token would be blamed instead
            raise ValueError(f"AGENTDESK_JWT_PUBLIC_KEY is neither PEM text nor a readable file: {public!r}")
        public = Path(public).read_text()
    return {
        # Never both algorithm families for one key: that is the classic HS/RS confusion attack.
        "key": public or secret, "algorithms": ["RS256"] if public else ["HS256"],
        "issuer": os.environ.get("AGENTDESK_JWT_ISSUER") or None,
        "audience": os.environ.get("AGENTDESK_JWT_AUDIENCE") or None,
    }


def forced_keys() -> bool:
    """AGENTDESK_AUTH=keys forces keys mode; unset or `local` leaves it to the users table. Any
    other value is an error, not quietly local: `KEYS` or `on` meant to close the server."""
    value = os.environ.get("AGENTDESK_AUTH", "").strip().lower()
    if value not in ("", "local", "keys"):
        raise ValueError(f"AGENTDESK_AUTH must be 'keys' or 'local' (or unset), not {os.environ['AGENTDESK_AUTH']!r}")
    return value == "keys"


async def mode() -> Mode:
    """'keys' when forced, or users or JWTs are configured. A bad AGENTDESK_AUTH or a database
    error raises: callers fail closed."""
    if forced_keys() or jwt_settings() is not None:
        return "keys"
    return "keys" if await users.any_users() else "local"


def _unauthorized(detail: str) -> Auth.exceptions.HTTPException:
    return Auth.exceptions.HTTPException(status_code=401, detail=detail,
                                         headers={"WWW-Authenticate": 'Bearer realm="agentdesk"'})


def verify_jwt(token: str) -> dict[str, Any]:
    """The user a valid JWT names (`sub`, optional `tenant` and `name` claims), else 401."""
    cfg = jwt_settings()
    if cfg is None:
        raise _unauthorized("JWTs are not accepted here (AGENTDESK_JWT_SECRET/_PUBLIC_KEY unset); use an API key")
    try:
        claims = jwt.decode(token, cfg["key"], algorithms=cfg["algorithms"], issuer=cfg["issuer"],
                            audience=cfg["audience"], leeway=30,
                            options={"require": ["exp", "sub"], "verify_aud": cfg["audience"] is not None})
    except jwt.ExpiredSignatureError:
        raise _unauthorized("token expired: get a new one") from None
    except jwt.PyJWTError as exc:
        raise _unauthorized(f"invalid token: {exc}") from None
    sub = str(claims["sub"])
    return {"identity": sub, "display_name": str(claims.get("name") or sub),
            "tenant": str(claims.get("tenant") or "default"), "kind": "jwt", "is_authenticated": True}


async def _key_user(key: str) -> dict[str, Any]:
    try:
        found = await users.lookup(key)
    except Exception as exc:  # noqa: BLE001 - the database is down: refuse, never fall open
        log.error("auth: key lookup failed: %s", exc)
        raise Auth.exceptions.HTTPException(status_code=503, detail="auth database unavailable; retry shortly") from None
    if found is None:
        raise _unauthorized("unknown or revoked API key: ask an admin for one (`agentdesk users add NAME`)")
    return {"identity": found.name, "display_name": found.name, "tenant": found.tenant,
            "kind": "api_key", "is_authenticated": True}


@auth.authenticate
async def authenticate(headers: dict) -> Auth.types.MinimalUserDict:
    try:
        current = await mode()
    except Exception as exc:  # noqa: BLE001
        log.error("auth: cannot tell whether users exist (%s); requiring credentials", exc)
        current = "keys"
    if current == "local":
        return dict(LOCAL_USER)  # type: ignore[return-value]
    api_key = _header(headers, b"x-api-key")
    bearer = _header(headers, b"authorization")
    if api_key:
        return await _key_user(api_key)  # type: ignore[return-value]
    if bearer:
        scheme, _, token = bearer.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Authorization must be 'Bearer <token>'")
        token = token.strip()
        if token.startswith(users.PREFIX):
            return await _key_user(token)  # type: ignore[return-value]
        return verify_jwt(token)  # type: ignore[return-value]
    raise _unauthorized("authentication required: send the x-api-key header or Authorization: Bearer <JWT>")


def _header(headers: dict, name: bytes) -> str | None:
    value = headers.get(name) or headers.get(name.decode())
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value.strip() if value else None


# ------------------------------------------------------------------ rate limit

# In Postgres, so replicas share one bucket per user (serving/rate_limit.py).
RUNS = SharedTokenBucket(get_settings().runs_per_minute)


# ------------------------------------------------------------------ ownership

def _is_studio(ctx: Auth.types.AuthContext) -> bool:
    try:
        return ctx.user["kind"] == _STUDIO_KIND
    except (KeyError, TypeError):
        return False


async def _scope(ctx: Auth.types.AuthContext) -> dict[str, str] | None:
    """The owner filter for this request: None in local mode (everything allowed)."""
    try:
        current = await mode()
    except Exception:  # noqa: BLE001 - fail closed
        current = "keys"
    if current == "local":
        return None
    if _is_studio(ctx):  # an unauthenticated Studio session must not see anyone's data
        raise Auth.exceptions.HTTPException(status_code=403, detail="send an API key (x-api-key header) from Studio")
    return {"owner": ctx.user.identity}


def _owner(ctx: Auth.types.AuthContext) -> str:
    return "local" if _is_studio(ctx) else ctx.user.identity


def _stamp(ctx: Auth.types.AuthContext, value: dict) -> None:
    """Set owner and tenant on new metadata; overwriting, so nobody can plant a thread on someone else."""
    metadata = value.get("metadata")
    if not isinstance(metadata, dict):
        metadata = value["metadata"] = {}
    metadata["owner"] = _owner(ctx)
    try:
        metadata["tenant"] = ctx.user["tenant"]
    except (KeyError, TypeError):
        metadata["tenant"] = "local"


@auth.on.threads.create
async def on_thread_create(ctx: Auth.types.AuthContext, value: Auth.types.on.threads.create.value):
    scope = await _scope(ctx)
    _stamp(ctx, value)
    return scope


@auth.on.threads.create_run
async def on_run_create(ctx: Auth.types.AuthContext, value: Auth.types.on.threads.create_run.value):
    scope = await _scope(ctx)
    # Only with users: the local mode is one trusted developer (and load benchmarks run there).
    wait = await RUNS.take(_owner(ctx)) if scope is not None and RUNS.enabled else 0.0
    if wait:
        raise Auth.exceptions.HTTPException(
            status_code=429, headers={"Retry-After": str(int(wait) + 1)},
            detail=f"rate limit: at most {RUNS.capacity:g} runs per minute per user; retry in {wait:.0f}s")
    _stamp(ctx, value)  # a run may create its thread (if_not_exists=create): it must be ours
    command = (value.get("kwargs") or {}).get("command")
    if isinstance(command, dict) and command.get("resume") is not None and value.get("thread_id"):
        found = await stale_resume.pending_interrupts(value["thread_id"])
        mine = found is not None and (scope is None or found[0] == scope["owner"])  # else the API's 404
        if mine and (why := stale_resume.problem(found[1], command)):
            raise Auth.exceptions.HTTPException(status_code=409, detail=why)
    return scope


@auth.on.threads.update
async def on_thread_update(ctx: Auth.types.AuthContext, value: Auth.types.on.threads.update.value):
    scope = await _scope(ctx)
    if isinstance(value.get("metadata"), dict):
        value["metadata"]["owner"] = _owner(ctx)  # no giving threads away (or taking them)
    return scope


@auth.on.threads
async def on_threads(ctx: Auth.types.AuthContext, value: Any):
    """read, delete, search (and any future thread action): only the owner's threads."""
    return await _scope(ctx)


@auth.on.crons.create
async def on_cron_create(ctx: Auth.types.AuthContext, value: Any):
    scope = await _scope(ctx)
    _stamp(ctx, value)
    return scope


@auth.on.crons
async def on_crons(ctx: Auth.types.AuthContext, value: Any):
    return await _scope(ctx)


@auth.on.assistants.read
async def on_assistant_read(ctx: Auth.types.AuthContext, value: Any):
    return None  # the graphs are shared: everyone may read and run them


@auth.on.assistants.search
async def on_assistant_search(ctx: Auth.types.AuthContext, value: Any):
    return None


@auth.on.assistants.create
async def on_assistant_create(ctx: Auth.types.AuthContext, value: Any):
    scope = await _scope(ctx)
    if scope is not None:
        # Reading and searching assistants must stay open (the graphs are the system assistants,
        # and a filter cannot say "yours or the system's"), so an assistant a user created, with
        # whatever its config holds, would be readable by every user of every tenant.
        raise Auth.exceptions.HTTPException(
            status_code=403, detail="creating assistants is off when users are configured (every user could "
                                    "read its config); pass settings per run in `config` or `context` instead")
    _stamp(ctx, value)
    return scope


@auth.on.assistants
async def on_assistants(ctx: Auth.types.AuthContext, value: Any):
    """update and delete: only assistants you created (the system ones carry no owner)."""
    return await _scope(ctx)


@auth.on.store
async def on_store(ctx: Auth.types.AuthContext, value: Any):
    """Store items live under a namespace that starts with the owner's identity."""
    if await _scope(ctx) is None:
        return None
    namespace = tuple(value.get("namespace") or ())
    if not namespace or namespace[0] != ctx.user.identity:
        raise Auth.exceptions.HTTPException(
            status_code=403, detail=f"store namespaces must start with your user id ({ctx.user.identity!r})")
    return None


@auth.on
async def deny_unknown(ctx: Auth.types.AuthContext, value: Any):
    """Any resource this file does not know yet: allowed locally, denied when users exist."""
    return None if await _scope(ctx) is None else False
