"""The data agent's tools: list_tables, describe_table and run_sql over schema `warehouse`.

Reads are safe by construction, not only by the SQL policy: each runs in a READ ONLY
transaction with a statement timeout, as the SELECT-only role `agentdesk_reader` (when it
exists), and through the extended query protocol inside `DECLARE CURSOR`, which accepts
exactly one SELECT/VALUES statement. Only `row cap + 1` rows leave the server.
Writes and DDL reach `run_sql` only after a human approved them (the registry marks them
high/critical); they run in an ordinary transaction with a timeout.

Failures come back as text for the model; nothing raises through the graph.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from langchain_core.tools import tool
from psycopg import AsyncConnection
from psycopg import sql as pgsql
from psycopg.rows import tuple_row

from agents.data.charts import chart_for
from agents.data.sql_policy import SqlVerdict, classify_sql, leading_keyword
from agents.data.warehouse import READER_ROLE, SCHEMA, ensure_warehouse_async
from guardrails.policy import Risk, register
from serving.db import app_pool
from serving.settings import get_settings

log = logging.getLogger(__name__)

STATEMENT_TIMEOUT_S = get_settings().sql_timeout_s
WRITE_TIMEOUT_S = get_settings().sql_write_timeout_s
ROW_CAP = get_settings().sql_row_cap
PREVIEW_ROWS = 20
FETCH_BATCH = 100  # rows per FETCH, so an oversized result stops early
MAX_CELL_CHARS = 4_000  # longer text in one cell is cut (the rest is said, not kept)
MAX_RESULT_CHARS = 1_000_000  # all cells of one result together
_CURSOR = "agentdesk_q"
_RISK = {"read": Risk.low, "write": Risk.high, "ddl": Risk.critical, "refused": Risk.low}

_ready = False


async def _ensure_ready() -> None:
    """Load the demo warehouse on first use in this process (a no-op when loaded)."""
    global _ready
    if not _ready:
        await ensure_warehouse_async()
        _ready = True


def _ms(seconds: float) -> str:
    """A statement_timeout value: at least 1 ms, since '0ms' would mean no timeout at all."""
    return f"{max(1, int(seconds * 1000))}ms"


@asynccontextmanager
async def read_only(conn: AsyncConnection, timeout_s: float) -> AsyncIterator[psycopg.AsyncCursor]:
    """A READ ONLY transaction with a statement timeout, as the reader role when we may."""
    async with conn.transaction():
        await conn.execute("SET TRANSACTION READ ONLY")  # must precede any query
        cur = await conn.execute(
            "SELECT set_config('statement_timeout', %s, true),"
            " set_config('search_path', %s, true),"
            " EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = %s"
            "         AND pg_has_role(current_user, r.oid, 'MEMBER')) AS reader",
            (_ms(timeout_s), SCHEMA, READER_ROLE))
        row = await cur.fetchone()
        if _value(row, "reader"):
            await conn.execute(pgsql.SQL("SET LOCAL ROLE {}").format(pgsql.Identifier(READER_ROLE)))
        else:
            log.warning("role %s is missing: reading as the connecting user", READER_ROLE)
        yield conn.cursor(row_factory=tuple_row)


async def execute_read(sql: str, *, row_cap: int | None = None,
                       timeout_s: float | None = None) -> dict[str, Any]:
    """Run one read-only statement -> {"columns", "rows", "truncated"}.

    Raises psycopg errors; the tools turn them into text."""
    cap = ROW_CAP if row_cap is None else row_cap
    pool = await app_pool()
    async with pool.connection() as conn, read_only(
            conn, STATEMENT_TIMEOUT_S if timeout_s is None else timeout_s) as cur:
        if leading_keyword(sql) in ("EXPLAIN", "SHOW"):  # not allowed inside DECLARE
            await cur.execute(sql, binary=True)  # binary forces the one-statement protocol
            rows = await cur.fetchmany(cap + 1)
        else:
            # DECLARE takes exactly one SELECT/VALUES; the extended protocol (binary=True)
            # refuses a second statement such as "...; COMMIT; DROP ...".
            await cur.execute(f"DECLARE {_CURSOR} NO SCROLL CURSOR FOR {sql}", binary=True)
            rows = []
            while len(rows) <= cap:  # in batches: stop once the result is too large to keep
                await cur.execute(f"FETCH FORWARD {min(FETCH_BATCH, cap + 1 - len(rows))} FROM {_CURSOR}")
                batch = await cur.fetchall()
                rows += batch
                if not batch or _over_budget(rows):
                    break
        columns = [d.name for d in cur.description or []]
    return {"columns": columns, **_json_rows(rows, cap)}


async def execute_write(sql: str, *, row_cap: int | None = None,
                        timeout_s: float | None = None) -> dict[str, Any]:
    """Run one approved write/DDL statement in its own transaction."""
    cap = ROW_CAP if row_cap is None else row_cap
    pool = await app_pool()
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT set_config('statement_timeout', %s, true),"
                           " set_config('search_path', %s, true)",
                           (_ms(timeout_s or WRITE_TIMEOUT_S), SCHEMA))
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute(sql, binary=True)  # one statement only, as for reads
        rows = await cur.fetchmany(cap + 1) if cur.description else []
        columns = [d.name for d in cur.description or []]
        return {"columns": columns, **_json_rows(rows, cap), "status": cur.statusmessage,
                "affected": cur.rowcount}


# ---------------------------------------------------------------- tools


@tool(response_format="content_and_artifact")
async def list_tables() -> tuple[str, dict | None]:
    """List the warehouse tables with their descriptions and approximate row counts.

    Call this first to find which tables can answer a question."""
    try:
        await _ensure_ready()
        result = await execute_read(
            "SELECT c.relname AS table_name, greatest(c.reltuples, 0)::bigint AS rows_estimate,"
            " obj_description(c.oid, 'pg_class') AS description"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            f" WHERE n.nspname = '{SCHEMA}' AND c.relkind IN ('r', 'p', 'v', 'm')"
            " ORDER BY c.relname")
    except Exception as exc:  # noqa: BLE001 - reported to the model, never raised
        return _error_text(exc), None
    text = f"Tables in schema `{SCHEMA}`:\n\n" + _markdown(result["columns"], result["rows"])
    return text, _table_artifact("", result)


@tool(response_format="content_and_artifact")
async def describe_table(table: str) -> tuple[str, dict | None]:
    """Describe one warehouse table: columns, types, comments, foreign keys, 5 sample rows
    and min/max/null fraction of numeric and date columns.

    Args:
        table: table name, with or without the `warehouse.` prefix, e.g. "orders".
    """
    name = table.strip().strip('"`').removeprefix(f"{SCHEMA}.").strip('"`')
    try:
        await _ensure_ready()
        pool = await app_pool()
        async with pool.connection() as conn, read_only(conn, STATEMENT_TIMEOUT_S) as cur:
            return await _describe(cur, name)
    except Exception as exc:  # noqa: BLE001
        return _error_text(exc), None


@tool(response_format="content_and_artifact")
async def run_sql(sql: str, reason: str = "") -> tuple[str, dict | None]:
    """Run one PostgreSQL statement on the warehouse (search_path = warehouse).

    SELECT/WITH queries run read-only with a 5 s timeout and return at most 500 rows.
    Statements that change data need a human's approval; DDL and privilege changes also
    need `reason`.

    Args:
        sql: exactly one SQL statement.
        reason: why the statement is needed (required for DDL).
    """
    verdict = classify_sql(sql, statement_timeout_s=STATEMENT_TIMEOUT_S)
    if verdict.kind == "refused":
        return f"Refused: {verdict.reason.rstrip('.')}. Nothing was run.\n\n{_sql_block(sql)}", None
    try:
        await _ensure_ready()
        if verdict.kind == "read":
            result = await execute_read(verdict.statement)
        else:
            result = await execute_write(verdict.statement)
    except Exception as exc:  # noqa: BLE001
        return f"{_error_text(exc)}\n\n{_sql_block(sql)}", None
    artifact = _table_artifact(verdict.statement, result)
    if verdict.kind != "read":
        artifact.update(kind=verdict.kind, status=result["status"], affected=result["affected"])
    elif not result["truncated"] and (chart := chart_for(result["columns"], result["rows"])):
        artifact["chart"] = chart  # a partial series would mislead, so only when complete
    return _result_text(verdict, result), artifact


def _risk_of(args: dict[str, Any]) -> Risk:
    return _RISK[classify_sql(str(args.get("sql", "")),
                              statement_timeout_s=STATEMENT_TIMEOUT_S).kind]


def _describe_call(args: dict[str, Any]) -> str:
    v = classify_sql(str(args.get("sql", "")), statement_timeout_s=STATEMENT_TIMEOUT_S)
    head = f"{v.kind} SQL ({v.reason})"
    if args.get("reason"):
        head += f"; reason given: {args['reason']}"
    return f"{head}:\n{str(args.get('sql', ''))[:2000]}"


register(list_tables, risk=Risk.low, agents={"data"})
register(describe_table, risk=Risk.low, agents={"data"})
# Only SQL that writes (or changes the schema) carries an idempotency key; reads just run.
register(run_sql, risk=_risk_of, agents={"data"},
         side_effects=lambda args: _risk_of(args) in (Risk.high, Risk.critical), describe=_describe_call)
TOOLS = [list_tables, describe_table, run_sql]


# ---------------------------------------------------------------- describe


async def _describe(cur: psycopg.AsyncCursor, name: str) -> tuple[str, dict | None]:
    await cur.execute(
        "SELECT c.oid, c.relname, obj_description(c.oid, 'pg_class'),"
        " greatest(c.reltuples, 0)::bigint"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname IN (%s, lower(%s))"
        " AND c.relkind IN ('r', 'p', 'v', 'm')"
        " ORDER BY c.relname = %s DESC LIMIT 1",  # exact name first, then as unquoted SQL
        (SCHEMA, name, name, name))
    found = await cur.fetchone()
    if found is None:
        await cur.execute("SELECT string_agg(tablename, ', ' ORDER BY tablename) FROM pg_tables"
                          " WHERE schemaname = %s", (SCHEMA,))
        known = (await cur.fetchone() or [""])[0]
        return f"No table {name!r} in schema {SCHEMA}. Tables: {known}.", None
    oid, name, comment, estimate = found
    await cur.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
        " col_description(a.attrelid, a.attnum), t.typcategory"
        " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
        " WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (oid,))
    cols = [{"name": r[0], "type": r[1], "nullable": not r[2], "comment": r[3],
             "_cat": r[4]} for r in await cur.fetchall()]
    await cur.execute(
        "SELECT conname, pg_get_constraintdef(oid), conrelid::regclass::text"
        " FROM pg_constraint WHERE contype = 'f' AND (conrelid = %s OR confrelid = %s)"
        " ORDER BY conname", (oid, oid))
    fks = [{"name": r[0], "definition": r[1], "table": r[2]} for r in await cur.fetchall()]
    ident = pgsql.Identifier(SCHEMA, name)
    await cur.execute(pgsql.SQL("SELECT * FROM {} LIMIT 5").format(ident))
    sample = {"columns": [d.name for d in cur.description or []],
              "rows": [[_jsonable(v) for v in r] for r in await cur.fetchall()]}
    # Min/max/null fraction for numbers and dates: one scan of the table, under the timeout.
    stat_cols = [c for c in cols if c["_cat"] in ("N", "D")]
    if stat_cols:
        parts = [pgsql.SQL("count(*)")]
        for c in stat_cols:
            col = pgsql.Identifier(c["name"])
            parts += [pgsql.SQL("min({})").format(col), pgsql.SQL("max({})").format(col),
                      pgsql.SQL("count({})").format(col)]
        await cur.execute(pgsql.SQL("SELECT {} FROM {}").format(
            pgsql.SQL(", ").join(parts), ident))
        stats = await cur.fetchone() or []
        total = stats[0] or 0
        for i, c in enumerate(stat_cols):
            lo, hi, present = stats[1 + 3 * i: 4 + 3 * i]
            c.update(min=_jsonable(lo), max=_jsonable(hi),
                     null_fraction=round(1 - present / total, 4) if total else None)
    for c in cols:
        c.pop("_cat")
    artifact = {"type": "table_description", "table": f"{SCHEMA}.{name}", "comment": comment,
                "rows_estimate": estimate, "columns": cols, "foreign_keys": fks,
                "sample": sample}
    return _describe_text(artifact), artifact


def _describe_text(d: dict) -> str:
    rows = [[c["name"], c["type"], "" if c["nullable"] else "not null",
             _range(c), c.get("comment") or ""] for c in d["columns"]]
    parts = [f"### {d['table']} (~{d['rows_estimate']} rows)", d["comment"] or "",
             _markdown(["column", "type", "null", "range (nulls)", "description"], rows)]
    if d["foreign_keys"]:
        parts.append("Foreign keys:\n" + "\n".join(
            f"- {fk['table']}: {fk['definition']}" for fk in d["foreign_keys"]))
    parts.append("Sample rows:\n" + _markdown(d["sample"]["columns"], d["sample"]["rows"]))
    return "\n\n".join(p for p in parts if p)


def _range(c: dict) -> str:
    if "min" not in c:
        return ""
    nulls = c.get("null_fraction")
    return f"{c['min']} .. {c['max']}" + (f" ({nulls:.0%} null)" if nulls else "")


# ---------------------------------------------------------------- formatting


def _table_artifact(sql: str, result: dict) -> dict:
    return {"type": "table", "sql": sql, "columns": result["columns"], "rows": result["rows"],
            "row_count": len(result["rows"]), "truncated": result["truncated"],
            **({"cut": result["cut"]} if result.get("cut") else {})}


def _result_text(verdict: SqlVerdict, result: dict) -> str:
    rows = result["rows"]
    if verdict.kind != "read":
        head = f"Done: {result['status']} ({verdict.kind})."
    else:
        more = f", truncated at {len(rows)}" if result["truncated"] else ""
        head = f"{len(rows)} row{'s' if len(rows) != 1 else ''}{more}." + (f" ({result['cut']}.)" if result.get("cut") else "")
    body = _markdown(result["columns"], rows[:PREVIEW_ROWS]) if result["columns"] else ""
    if len(rows) > PREVIEW_ROWS:
        body += f"\n(first {PREVIEW_ROWS} of {len(rows)} rows shown)"
    return "\n\n".join(p for p in (head, body, _sql_block(verdict.statement)) if p)


def _markdown(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        text = "NULL" if v is None else str(v)
        text = " ".join(text.split()).replace("|", "\\|")
        return text if len(text) <= 80 else text[:77] + "..."

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |",
             "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _sql_block(sql: str) -> str:
    return f"```sql\n{sql.strip()}\n```"


def _error_text(exc: Exception) -> str:
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return ("Error: the query was cancelled by the statement timeout "
                f"({STATEMENT_TIMEOUT_S:g} s for reads, {WRITE_TIMEOUT_S:g} s for approved "
                "writes). Narrow it down (filters, LIMIT, fewer joins) and try again.")
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return f"Error: this statement tried to write during a read-only query: {_first(exc)}"
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return f"Error: permission denied (the data agent reads schema {SCHEMA} only): " \
               f"{_first(exc)}"
    if isinstance(exc, psycopg.Error):
        diag = getattr(exc, "diag", None)
        hint = f" Hint: {diag.message_hint}" if diag and diag.message_hint else ""
        return f"SQL error: {_first(exc)}{hint}"
    return f"Error: {type(exc).__name__}: {exc}"


def _first(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _value(row: Any, key: str) -> Any:
    return row.get(key) if isinstance(row, dict) else (row[-1] if row else None)


def _cell_chars(v: Any) -> int:
    return len(v) if isinstance(v, str) else len(json.dumps(v)) if isinstance(v, (list, dict)) else 16


def _over_budget(rows: list) -> bool:
    """Rows fetched so far hold more text than a result keeps (checked per fetch batch)."""
    return sum(_cell_chars(v) for r in rows for v in r if isinstance(v, (str, list, dict))) > MAX_RESULT_CHARS


def _json_rows(rows: list, cap: int) -> dict[str, Any]:
    """Rows as JSON values, each cell cut to MAX_CELL_CHARS and the whole to MAX_RESULT_CHARS: a
    result goes into the thread's checkpoints and the UI, and `SELECT repeat('x', 50000000) FROM
    generate_series(1, 6)` (a low-risk read) made a 300 MB artifact."""
    out, size, cut = [], 0, False
    for r in rows[:cap]:
        row = []
        for v in r:
            value = _jsonable(v)
            if _cell_chars(value) > MAX_CELL_CHARS:
                text = value if isinstance(value, str) else json.dumps(value)
                value, cut = f"{text[:MAX_CELL_CHARS]}… ({len(text) - MAX_CELL_CHARS} more characters)", True
            row.append(value)
        size += sum(_cell_chars(v) for v in row)
        if size > MAX_RESULT_CHARS and out:
            return {"rows": out, "truncated": True, "cut": "the result is larger than a table keeps"}
        out.append(row)
    result: dict[str, Any] = {"rows": out, "truncated": len(rows) > cap}
    if cut:
        result["cut"] = f"cells longer than {MAX_CELL_CHARS} characters are cut"
    return result


def _jsonable(v: Any) -> Any:
    """Rows go into checkpoints and the UI as JSON."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # NaN/Infinity are not JSON
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, Decimal):
        if not v.is_finite():
            return str(v)
        f = float(v)  # a finite Decimal such as 1e400 is still infinite as a float
        return f if math.isfinite(f) else str(v)
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    if isinstance(v, timedelta):
        return str(v)
    if isinstance(v, UUID):
        return str(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        raw = bytes(v)
        return "\\x" + raw[:64].hex() + ("..." if len(raw) > 64 else "")
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return str(v)
