"""LangGraph server auth (`langgraph.json` -> `auth.path`).

Until API keys and JWTs land, every request is the single local user, and resources are
still tagged with their owner so per-user filtering can be switched on without migration.
"""

from __future__ import annotations

import logging

from langgraph_sdk import Auth

log = logging.getLogger(__name__)
auth = Auth()

LOCAL_USER = {"identity": "local", "display_name": "Local user", "tenant": "local", "is_authenticated": True}
log.warning("auth: no users configured, every request runs as the single local user 'local'")


@auth.authenticate
async def authenticate(headers: dict) -> Auth.types.MinimalUserDict:
    return dict(LOCAL_USER)


@auth.on
async def tag_owner(ctx: Auth.types.AuthContext, value: dict) -> None:
    """Stamp new resources with their owner; no filtering yet (one local user)."""
    metadata = value.get("metadata") if isinstance(value, dict) else None
    if isinstance(metadata, dict):
        metadata.setdefault("owner", ctx.user.identity)
    return None
