"""The audit log of decisions, actions and guard verdicts (table `agentdesk_audit`)."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from psycopg.types.json import Jsonb

from serving.db import app_pool


def run_identity(config: RunnableConfig | None) -> dict[str, str | None]:
    """Thread, run and user of the current run, as the LangGraph server puts them in config."""
    configurable = (config or {}).get("configurable", {}) or {}
    user = configurable.get("langgraph_auth_user_id")
    if user is None and isinstance(configurable.get("langgraph_auth_user"), dict):
        user = configurable["langgraph_auth_user"].get("identity")
    metadata = (config or {}).get("metadata", {}) or {}
    return {
        "thread_id": configurable.get("thread_id"),
        "run_id": str(configurable.get("run_id") or metadata.get("run_id") or "") or None,
        "user_id": user or "local",
    }


def _no_nul(value: Any) -> Any:
    """NUL replaced by U+FFFD in every string of a JSON-like value: Postgres text and jsonb refuse
    NUL, and an audit row must not fail because a tool argument or an answer held one."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_nul(v) for v in value]
    return value


async def record(kind: str, config: RunnableConfig | None, *, key: str | None = None, **fields: Any) -> bool:
    """Insert one audit row; with `key`, at most once per (kind, key). Returns True if inserted."""
    row = {k: _no_nul(v) for k, v in {**run_identity(config), **fields}.items()}
    for name in ("args", "result"):
        if name in row and row[name] is not None:
            row[name] = Jsonb(row[name])
    cols = ["kind", "idempotency_key", *row.keys()]
    values = [kind, key, *row.values()]
    sql = (
        f"INSERT INTO agentdesk_audit ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
        "ON CONFLICT (kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id"
    )
    pool = await app_pool()
    async with pool.connection() as conn:
        cur = await conn.execute(sql, values)
        return (await cur.fetchone()) is not None


async def begin_action(config: RunnableConfig | None, key: str, **fields: Any) -> dict | None:
    """Claim the right to run an action once. Returns None if claimed now, else the earlier row."""
    if await record("action", config, key=key, status="started", **fields):
        return None
    pool = await app_pool()
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT status, result, at FROM agentdesk_audit WHERE kind = 'action' AND idempotency_key = %s",
            (key,),
        )
        return await cur.fetchone()


async def finish_action(key: str, status: str, result: dict[str, Any]) -> None:
    pool = await app_pool()
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE agentdesk_audit SET status = %s, result = %s WHERE kind = 'action' AND idempotency_key = %s",
            (status, Jsonb(result), key),
        )


async def rows_for_thread(thread_id: str) -> list[dict]:
    pool = await app_pool()
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT * FROM agentdesk_audit WHERE thread_id = %s ORDER BY id", (thread_id,)
        )
        return await cur.fetchall()
