"""The data agent's warehouse and tools against a real Postgres.

A scratch schema tests the loader from nothing (so the shared `warehouse` schema other
tests read is never dropped); the tools run against `warehouse` itself.
"""

from __future__ import annotations

import os

os.environ.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

import hashlib  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import psycopg  # noqa: E402
import psycopg.conninfo  # noqa: E402
import pytest  # noqa: E402

from agents.data import tools  # noqa: E402
from agents.data.charts import chart_for  # noqa: E402
from agents.data.warehouse import (  # noqa: E402
    FOREIGN_KEYS, READER_ROLE, TABLES, ensure_reader_role, ensure_warehouse, generate, load)
from guardrails.policy import PolicyError, Risk, check_call, get_spec  # noqa: E402
from serving.db import app_pool, connect  # noqa: E402

URL = os.environ["DATABASE_URL"]
SCRATCH = f"warehouse_it_{os.getpid()}"


@pytest.fixture(scope="module")
def scratch():
    """Load into a private schema from nothing; drop it afterwards."""
    with connect(URL) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{SCRATCH}" CASCADE')
        started = time.perf_counter()
        loaded = ensure_warehouse(conn, schema=SCRATCH)
        elapsed = time.perf_counter() - started
        print(f"\nwarehouse load from scratch: {elapsed:.2f} s")
        try:
            yield {"conn": conn, "loaded": loaded, "seconds": elapsed}
        finally:
            conn.execute(f'DROP SCHEMA IF EXISTS "{SCRATCH}" CASCADE')


@pytest.fixture(scope="module")
async def warehouse():
    """The shared schema the tools read (loaded once; a no-op when present)."""
    load(URL)
    yield
    await (await app_pool()).close()  # app_pool() opens a fresh one for later users


def tool_call(t, **args):
    return t.ainvoke({"type": "tool_call", "id": "call-1", "name": t.name, "args": args})


# ---------------------------------------------------------------- loader


def test_load_from_scratch_is_fast_and_big(scratch):
    assert scratch["loaded"] is True
    assert scratch["seconds"] < 30  # ~2-3 s on 2 cores; generous for a busy CI box
    conn = scratch["conn"]
    counts = {t.name: conn.execute(f'SELECT count(*) AS n FROM "{SCRATCH}"."{t.name}"')
              .fetchone()["n"] for t in TABLES}
    assert sum(counts.values()) >= 100_000
    info = conn.execute(f'SELECT row_counts FROM "{SCRATCH}".load_info').fetchone()["row_counts"]
    assert info == {k: v for k, v in counts.items() if k != "load_info"}
    # Order totals agree with their lines (the generator mirrors Postgres rounding).
    diff = conn.execute(
        f'SELECT count(*) AS n FROM "{SCRATCH}".orders o JOIN (SELECT order_id, sum(line_total)'
        f' AS s FROM "{SCRATCH}".order_lines GROUP BY 1) l USING (order_id)'
        " WHERE o.total_amount <> l.s").fetchone()["n"]
    assert diff == 0


def test_second_load_is_a_noop(scratch):
    conn = scratch["conn"]
    before = conn.execute(f'SELECT loaded_at FROM "{SCRATCH}".load_info').fetchone()
    started = time.perf_counter()
    assert ensure_warehouse(conn, schema=SCRATCH) is False
    assert time.perf_counter() - started < 5
    assert conn.execute(f'SELECT loaded_at FROM "{SCRATCH}".load_info').fetchone() == before


def test_every_table_and_column_has_a_comment(scratch):
    rows = scratch["conn"].execute(
        "SELECT c.relname, a.attname, obj_description(c.oid, 'pg_class') AS t,"
        " col_description(c.oid, a.attnum) AS col"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE n.nspname = %s AND c.relkind = 'r'", (SCRATCH,)).fetchall()
    assert {r["relname"] for r in rows} == {t.name for t in TABLES}
    missing = [(r["relname"], r["attname"]) for r in rows if not r["t"] or not r["col"]]
    assert missing == []


def test_foreign_keys_exist(scratch):
    n = scratch["conn"].execute(
        "SELECT count(*) AS n FROM pg_constraint WHERE contype = 'f'"
        " AND connamespace = %s::regnamespace", (SCRATCH,)).fetchone()["n"]
    assert n == len(FOREIGN_KEYS)


def test_generator_is_deterministic():
    def digest(data):
        return hashlib.sha256(json.dumps(data, default=str).encode()).hexdigest()

    assert digest(generate(7)) == digest(generate(7))
    assert generate(8)["orders"][:50] != generate(7)["orders"][:50]


def test_reader_role_is_select_only(scratch):
    conn = scratch["conn"]
    role = conn.execute("SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb"
                        " FROM pg_roles WHERE rolname = %s", (READER_ROLE,)).fetchone()
    assert role == {"rolcanlogin": False, "rolsuper": False, "rolcreaterole": False,
                    "rolcreatedb": False}
    priv = conn.execute(
        "SELECT has_table_privilege(%(r)s, %(t)s, 'SELECT') AS sel,"
        " has_table_privilege(%(r)s, %(t)s, 'INSERT, UPDATE, DELETE, TRUNCATE') AS write,"
        " has_schema_privilege(%(r)s, %(s)s, 'CREATE') AS ddl",
        {"r": READER_ROLE, "t": f'"{SCRATCH}".orders', "s": SCRATCH}).fetchone()
    assert priv == {"sel": True, "write": False, "ddl": False}


def test_role_setup_without_privilege_falls_back(scratch, caplog):
    """A connecting user that may not create roles or grant gets a warning, not a crash."""
    user = f"agentdesk_it_nopriv_{os.getpid()}"
    admin = scratch["conn"]
    admin.execute(f'DROP ROLE IF EXISTS "{user}"')
    admin.execute(f'CREATE ROLE "{user}" LOGIN')
    try:
        with psycopg.connect(psycopg.conninfo.make_conninfo(URL, user=user),
                             autocommit=True) as conn:
            assert ensure_reader_role(conn, SCRATCH) is False
        assert "cannot set up read-only role" in caplog.text
    finally:
        admin.execute(f'DROP ROLE IF EXISTS "{user}"')


# ---------------------------------------------------------------- tools


async def test_tools_are_registered_for_the_data_agent():
    assert [t.name for t in tools.TOOLS] == ["list_tables", "describe_table", "run_sql"]
    for t in tools.TOOLS:
        assert get_spec(t.name).agents == frozenset({"data"})
    spec = get_spec("run_sql")
    assert spec.has_side_effects({"sql": "UPDATE orders SET status = 'x'"})
    assert not spec.has_side_effects({"sql": "SELECT 1"})  # reads carry no idempotency key
    assert spec.risk_for({"sql": "SELECT 1"}) is Risk.low
    assert spec.risk_for({"sql": "UPDATE orders SET status = 'x'"}) is Risk.high
    assert spec.risk_for({"sql": "DROP TABLE orders"}) is Risk.critical
    assert spec.risk_for({"sql": "SELECT pg_read_file('/etc/passwd')"}) is Risk.low
    with pytest.raises(PolicyError, match="reason"):
        check_call("data", "run_sql", {"sql": "DROP TABLE orders"})
    with pytest.raises(PolicyError):
        check_call("code", "run_sql", {"sql": "SELECT 1"})
    assert "DROP TABLE" in spec.description_for({"sql": "DROP TABLE orders", "reason": "x"})


async def test_list_tables(warehouse):
    msg = await tool_call(tools.list_tables)
    names = {row[0] for row in msg.artifact["rows"]}
    assert {"orders", "order_lines", "customers", "products", "deployments", "incidents",
            "request_metrics"} <= names
    assert "Customer orders in 2024" in msg.content
    estimates = {row[0]: row[1] for row in msg.artifact["rows"]}
    assert estimates["order_lines"] > 50_000


async def test_describe_table(warehouse):
    msg = await tool_call(tools.describe_table, table="warehouse.Orders")
    d = msg.artifact
    assert d["type"] == "table_description" and d["table"] == "warehouse.orders"
    cols = {c["name"]: c for c in d["columns"]}
    assert cols["total_amount"]["comment"].startswith("Order total")
    assert cols["total_amount"]["min"] > 0 and cols["total_amount"]["null_fraction"] == 0
    assert cols["ordered_at"]["min"].startswith("2024-01-01")
    assert "min" not in cols["status"]  # text columns get no stats
    assert any("REFERENCES customers" in fk["definition"] for fk in d["foreign_keys"])
    assert any(fk["table"] == "order_lines" for fk in d["foreign_keys"])  # inbound FK
    assert len(d["sample"]["rows"]) == 5
    assert "| total_amount | numeric(12,2) |" in msg.content

    missing = await tool_call(tools.describe_table, table="nope")
    assert "No table 'nope'" in missing.content and "orders" in missing.content
    assert missing.artifact is None


async def test_run_sql_read_and_bar_chart(warehouse):
    sql = "SELECT status, count(*) AS n FROM orders GROUP BY status ORDER BY n DESC"
    msg = await tool_call(tools.run_sql, sql=sql)
    art = msg.artifact
    assert art["type"] == "table" and art["sql"] == sql
    assert art["columns"] == ["status", "n"] and art["row_count"] == 5
    assert art["truncated"] is False
    assert sum(r[1] for r in art["rows"]) == 40_000
    assert art["chart"]["mark"] == "bar"
    assert art["chart"]["encoding"]["x"]["type"] == "nominal"
    assert "| completed |" in msg.content and "```sql" in msg.content
    json.dumps(art)  # artifacts are checkpointed: must be plain JSON


async def test_run_sql_date_series_gets_a_line_chart(warehouse):
    msg = await tool_call(tools.run_sql, sql=(
        "SELECT date_trunc('week', hour) AS week, sum(errors) AS errors,"
        " sum(requests) AS requests FROM request_metrics WHERE service = 'checkout'"
        " GROUP BY 1 ORDER BY 1"))
    chart = msg.artifact["chart"]
    assert chart["mark"]["type"] == "line"
    assert chart["encoding"]["x"] == {"field": "week", "type": "temporal", "title": "week"}
    assert chart["transform"][0]["fold"] == ["errors", "requests"]
    assert len(chart["data"]["values"]) == msg.artifact["row_count"] >= 52


async def test_row_cap_truncates(warehouse):
    msg = await tool_call(tools.run_sql, sql="SELECT * FROM order_lines")
    art = msg.artifact
    assert art["row_count"] == tools.ROW_CAP == 500 and art["truncated"] is True
    assert "chart" not in art
    assert "truncated at 500" in msg.content
    assert f"first {tools.PREVIEW_ROWS} of 500 rows shown" in msg.content
    assert msg.content.count("\n| ") == tools.PREVIEW_ROWS + 1  # header + 20 rows
    small = await tools.execute_read("SELECT * FROM orders", row_cap=3)
    assert len(small["rows"]) == 3 and small["truncated"] is True
    exact = await tools.execute_read("SELECT * FROM services", row_cap=8)
    assert len(exact["rows"]) == 8 and exact["truncated"] is False


async def test_huge_cells_and_results_are_cut_not_kept(warehouse):
    # A low-risk read made a 300 MB artifact (checkpointed, sent to the UI): cells are cut to
    # MAX_CELL_CHARS, a result stops at MAX_RESULT_CHARS, and the message says so.
    msg = await tool_call(tools.run_sql, sql="SELECT repeat('x', 5000000) AS blob FROM generate_series(1, 6)")
    art = msg.artifact
    assert 1 <= art["row_count"] <= 6 and len(json.dumps(art)) < 2 * tools.MAX_RESULT_CHARS
    assert art["rows"][0][0].startswith("x" * 100) and art["rows"][0][0].endswith("more characters)")
    assert "cut" in art and "cells longer than" in msg.content
    wide = await tools.execute_read("SELECT repeat('y', 3000) AS t FROM generate_series(1, 500)")
    assert wide["truncated"] is True and wide["cut"] == "the result is larger than a table keeps"
    assert sum(len(r[0]) for r in wide["rows"]) <= tools.MAX_RESULT_CHARS + 3000
    huge = await tools.execute_read("SELECT 1e400::numeric * 10 AS n")
    assert json.loads(json.dumps(huge["rows"], allow_nan=False))  # no Infinity in the JSON


async def test_statement_timeout_fires(warehouse, monkeypatch):
    with pytest.raises(psycopg.errors.QueryCanceled):
        await tools.execute_read("SELECT pg_sleep(3)", timeout_s=0.3)
    # Each pg_sleep passes the policy (0.2 s < 0.5 s); the timeout still stops the total.
    monkeypatch.setattr(tools, "STATEMENT_TIMEOUT_S", 0.5)
    started = time.perf_counter()
    msg = await tool_call(tools.run_sql, sql="SELECT pg_sleep(0.2) FROM generate_series(1, 20)")
    assert time.perf_counter() - started < 3
    assert "statement timeout" in msg.content and msg.artifact is None


async def test_read_path_cannot_write_even_without_the_policy(warehouse):
    """Call the read executor directly, skipping classify_sql, and try to write."""
    pool = await app_pool()
    count_sql = "SELECT count(*) AS n FROM warehouse.incidents"
    async with pool.connection() as conn:
        before = (await (await conn.execute(count_sql)).fetchone())["n"]

    # 1. READ ONLY transaction: Postgres refuses the write itself.
    async with pool.connection() as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            async with tools.read_only(conn, 5) as cur:
                await cur.execute("DELETE FROM warehouse.incidents")
    # 2. The reader role has no write privilege even in a read-write transaction.
    async with pool.connection() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            async with conn.transaction():
                await conn.execute(f"SET LOCAL ROLE {READER_ROLE}")
                await conn.execute("DELETE FROM warehouse.incidents")
    # 3. Smuggling through the executor; each layer answers for itself.
    errors = psycopg.errors
    attacks = [
        ("WITH d AS (DELETE FROM warehouse.incidents RETURNING 1) SELECT count(*) FROM d",
         errors.FeatureNotSupported),  # DECLARE refuses data-modifying CTEs
        ("SELECT 1; DELETE FROM warehouse.incidents", errors.SyntaxError),  # one statement
        ("SELECT 1; COMMIT; DELETE FROM warehouse.incidents", errors.SyntaxError),
        ("DELETE FROM warehouse.incidents", errors.SyntaxError),  # DECLARE takes SELECT only
        ("EXPLAIN ANALYZE DELETE FROM warehouse.incidents", errors.ReadOnlySqlTransaction),
        ("SELECT * FROM warehouse.incidents FOR UPDATE", errors.ReadOnlySqlTransaction),
        ("SELECT set_config('transaction_read_only', 'off', true)", errors.ActiveSqlTransaction),
        ("SELECT * FROM public.agentdesk_audit", errors.InsufficientPrivilege),  # reader role
        ("SELECT pg_read_file('/etc/passwd')", errors.InsufficientPrivilege),
    ]
    for sql, expected in attacks:
        with pytest.raises(expected):
            await tools.execute_read(sql)
    async with pool.connection() as conn:
        assert (await (await conn.execute(count_sql)).fetchone())["n"] == before


async def test_refusals_and_errors_come_back_as_text(warehouse):
    refused = await tool_call(tools.run_sql, sql="SELECT pg_read_file('/etc/passwd')")
    assert refused.content.startswith("Refused: function pg_read_file()")
    assert "Nothing was run" in refused.content and refused.artifact is None
    multi = await tool_call(tools.run_sql, sql="SELECT 1; DROP TABLE orders")
    assert "multiple statements" in multi.content
    syntax = await tool_call(tools.run_sql, sql="SELECT FROM WHERE")
    assert syntax.content.startswith(("Refused: could not parse", "SQL error"))
    unknown = await tool_call(tools.run_sql, sql="SELECT * FROM no_such_table")
    assert 'relation "no_such_table" does not exist' in unknown.content
    denied = await tool_call(tools.run_sql, sql="SELECT * FROM pg_catalog.pg_statistic")
    assert "permission denied" in denied.content
    zero = await tool_call(tools.run_sql, sql="SELECT 1 / 0")
    assert "division by zero" in zero.content


async def test_approved_write_and_ddl_run(warehouse):
    """What run_sql does once a human approved (the graph's approval node is not here)."""
    table = f"warehouse.it_scratch_{os.getpid()}"
    create = await tool_call(tools.run_sql, sql=f"CREATE TABLE {table} (id int, note text)",
                             reason="integration test")
    assert create.content.startswith("Done: CREATE TABLE (ddl)")
    try:
        insert = await tool_call(tools.run_sql, sql=(
            f"INSERT INTO {table} SELECT g, 'n' || g FROM generate_series(1, 3) g RETURNING id"))
        assert insert.artifact["kind"] == "write" and insert.artifact["affected"] == 3
        assert insert.artifact["columns"] == ["id"] and len(insert.artifact["rows"]) == 3
        # Default privileges: the reader can read a table that approved DDL created.
        read = await tool_call(tools.run_sql, sql=f"SELECT count(*) AS n FROM {table}")
        assert read.artifact["rows"] == [[3]]
    finally:
        drop = await tool_call(tools.run_sql, sql=f"DROP TABLE {table}", reason="cleanup")
        assert drop.content.startswith("Done: DROP TABLE")


async def test_list_and_describe_run_as_reader(warehouse):
    res = await tools.execute_read("SELECT current_user AS u, current_setting('search_path') AS p,"
                                   " current_setting('transaction_read_only') AS ro")
    assert res["rows"] == [[READER_ROLE, "warehouse", "on"]]


# ---------------------------------------------------------------- charts


def test_chart_rules():
    assert chart_for(["n"], [[1]]) is None  # one column
    assert chart_for(["a", "b"], []) is None
    assert chart_for(["day", "n"], [["2024-01-01", 1], ["2024-01-02", 2]])["mark"]["type"] == "line"
    assert chart_for(["day", "n"], [["2024-01-01", 1]]) is None  # one point is no series
    assert chart_for(["k", "n"], [["a", 1], ["b", None]])["mark"] == "bar"
    assert chart_for(["k", "n"], [[f"c{i}", i] for i in range(51)]) is None  # too many bars
    assert chart_for(["k", "n", "m"], [["a", 1, 2]]) is None  # bars take one measure
    assert chart_for(["k", "v"], [["a", "x"]]) is None  # nothing numeric
    assert chart_for(["id", "n"], [[1, 2], [2, 3]]) is None  # number vs number: no rule
    spec = chart_for(["o.day", "n"], [["2024-01-01", 1], ["2024-01-02", 2]])
    assert spec["encoding"]["x"]["field"] == "o\\.day"  # dots are escaped for Vega-Lite
    assert spec["$schema"].endswith("vega-lite/v5.json")
