"""The SQL policy: a table of reads, writes, DDL, refusals and attacker tricks."""

from __future__ import annotations

import pytest

from agents.data.sql_policy import MAX_SQL_CHARS, classify_sql, leading_keyword

READ, WRITE, DDL, REFUSED = "read", "write", "ddl", "refused"

CASES: list[tuple[str, str, str]] = [  # (sql, kind, substring expected in the reason)
    # --- reads an analyst needs
    ("SELECT 1", READ, ""),
    ("select count(*) from orders;", READ, ""),
    ("SELECT o.order_id, c.full_name FROM orders o JOIN customers c USING (customer_id) "
     "LEFT JOIN order_lines l ON l.order_id = o.order_id WHERE o.status = 'completed'", READ, ""),
    ("WITH m AS (SELECT date_trunc('month', ordered_at) AS month, sum(total_amount) AS rev "
     "FROM orders GROUP BY 1) SELECT month, rev, rev - lag(rev) OVER (ORDER BY month) FROM m",
     READ, ""),
    ("SELECT service, percentile_cont(0.95) WITHIN GROUP (ORDER BY p95_ms) FROM request_metrics "
     "GROUP BY service HAVING count(*) > 10 ORDER BY 2 DESC NULLS LAST LIMIT 5", READ, ""),
    ("SELECT count(*) FILTER (WHERE status = 'refunded')::numeric / count(*) FROM orders",
     READ, ""),
    ("SELECT DISTINCT ON (customer_id) customer_id, ordered_at FROM orders "
     "ORDER BY customer_id, ordered_at DESC", READ, ""),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) "
     "SELECT * FROM r", READ, ""),
    ("SELECT sum(x) OVER w FROM t WINDOW w AS (PARTITION BY a ORDER BY b)", READ, ""),
    ("SELECT * FROM orders o, LATERAL (SELECT * FROM order_lines l "
     "WHERE l.order_id = o.order_id LIMIT 1) s", READ, ""),
    ("SELECT category FROM products UNION SELECT segment FROM customers", READ, ""),
    ("SELECT a FROM t GROUP BY GROUPING SETS ((a), ())", READ, ""),
    ("VALUES (1, 'a'), (2, 'b')", READ, ""),
    ("SELECT g::date FROM generate_series('2024-01-01'::date, '2024-02-01', interval '1 day') g",
     READ, ""),
    ("SELECT payload ->> 'k', x::numeric(10,2), name ILIKE '%pro%' FROM t "
     "FETCH FIRST 10 ROWS ONLY", READ, ""),
    ("SELECT * FROM information_schema.columns WHERE table_schema = 'warehouse'", READ, ""),
    ("SELECT relname FROM pg_catalog.pg_class", READ, ""),
    ("SELECT 1 /* /* nested */ ; DROP TABLE orders; -- */", READ, ""),  # all one comment
    ("SELECT E'\\'; DROP TABLE orders; --'", READ, ""),  # one escaped string
    ("SELECT $$ ; DROP TABLE orders; $$", READ, ""),  # a dollar-quoted string
    ("SELECT pg_sleep(1)", READ, ""),  # below the statement timeout
    ("EXPLAIN SELECT * FROM orders", READ, "plan"),
    ("EXPLAIN DELETE FROM orders", READ, "plan"),  # plans only, runs nothing
    ("SHOW search_path", READ, ""),
    ("SELECT current_setting('statement_timeout')", READ, ""),
    # --- writes (need approval)
    ("INSERT INTO products (product_id) VALUES (1) ON CONFLICT DO NOTHING", WRITE, "INSERT"),
    ("UPDATE orders SET status = 'cancelled' WHERE order_id = 1", WRITE, "UPDATE"),
    ("delete from orders where order_id = 1", WRITE, "DELETE"),
    ("MERGE INTO products p USING (SELECT 1 AS id) s ON p.product_id = s.id "
     "WHEN MATCHED THEN UPDATE SET is_active = false", WRITE, "MERGE"),
    ("WITH d AS (DELETE FROM orders WHERE order_id = 1 RETURNING *) SELECT * FROM d",
     WRITE, "WITH"),
    ("SELECT * FROM (SELECT 1) q WHERE EXISTS (WITH x AS (UPDATE orders SET status = 'x' "
     "RETURNING 1) SELECT * FROM x)", WRITE, ""),
    ("SELECT * INTO orders_copy FROM orders", WRITE, "INTO"),
    ("SELECT * FROM orders WHERE order_id = 1 FOR UPDATE", WRITE, "lock"),
    ("SELECT nextval('some_seq')", WRITE, "nextval"),
    ("EXPLAIN ANALYZE DELETE FROM orders", WRITE, "ANALYZE"),
    ("EXPLAIN /* hidden */ ANALYZE UPDATE orders SET status = 'x'", WRITE, "ANALYZE"),
    # --- DDL and privileges (critical)
    ("CREATE TABLE scratch (id int)", DDL, ""),
    ("CREATE TABLE warehouse.x AS SELECT * FROM orders", DDL, ""),
    ("ALTER TABLE orders ADD COLUMN note text", DDL, ""),
    ("DROP TABLE orders", DDL, ""),
    ("DROP SCHEMA warehouse CASCADE", DDL, ""),
    ("TRUNCATE orders", DDL, ""),
    ("CREATE INDEX ON orders (status)", DDL, ""),
    ("GRANT SELECT ON orders TO someone", DDL, ""),
    ("REVOKE SELECT ON orders FROM someone", DDL, ""),
    ("COMMENT ON TABLE orders IS 'x'", DDL, ""),
    ("REFRESH MATERIALIZED VIEW mv", DDL, ""),
    ("VACUUM orders", DDL, ""),
    ("VACUUM warehouse.orders", DDL, ""),
    ("COMMENT ON COLUMN warehouse.orders.status IS 'x'", DDL, ""),
    ("ALTER TABLE warehouse.orders ALTER COLUMN status SET DEFAULT 'new'", DDL, ""),
    ("CREATE TABLE warehouse.x AS SELECT o.status, count(*) FROM warehouse.orders o GROUP BY o.status", DDL, ""),
    # --- refused
    ("", REFUSED, "empty"),
    # Beyond the warehouse's own objects (approved DDL runs as the connecting role, a superuser
    # here): roles, ownership, policies, other schemas, the catalogs. Role changes were DDL
    # (approval + reason) until a ninth-session audit; analysts never need them from this agent.
    ("CREATE ROLE intruder SUPERUSER LOGIN", REFUSED, "ROLE"),
    ("ALTER ROLE agentdesk_reader SUPERUSER", REFUSED, "ROLE"),
    ("DROP ROLE agentdesk_reader", REFUSED, "ROLE"),
    ("CREATE USER x", REFUSED, "USER"),
    ("GRANT postgres TO agentdesk_reader", REFUSED, "roles"),
    ("UPDATE pg_database SET datallowconn = false", REFUSED, "system catalog"),
    ("DELETE FROM pg_class WHERE relname = 'orders'", REFUSED, "system catalog"),
    ("INSERT INTO pg_description VALUES (1, 1, 1, 'x')", REFUSED, "system catalog"),
    ("DROP SCHEMA IF EXISTS public CASCADE", REFUSED, "public"),
    ("ALTER SCHEMA public RENAME TO x", REFUSED, "public"),
    ("GRANT ALL ON SCHEMA public TO PUBLIC", REFUSED, "public"),
    ("ALTER TABLE orders SET SCHEMA public", REFUSED, "public"),
    ("DROP OWNED BY postgres CASCADE", REFUSED, "OWNED"),
    ("ALTER TABLE public.agentdesk_api_keys OWNER TO agentdesk_reader", REFUSED, "OWNER"),
    ("CREATE POLICY p ON public.agentdesk_api_keys USING (true)", REFUSED, "POLICY"),
    ("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO x", REFUSED, "DEFAULT PRIVILEGES"),
    ("REINDEX TABLE public.agentdesk_api_keys", REFUSED, "public"),
    ("VACUUM public.checkpoints", REFUSED, "public"),
    ("   \n\t ", REFUSED, "empty"),
    ("-- only a comment", REFUSED, "empty"),
    (";;", REFUSED, "empty"),
    ("SELECT 1; SELECT 2", REFUSED, "multiple"),
    ("SELECT 1; DROP TABLE orders", REFUSED, "multiple"),
    ("SELECT '\\'; DROP TABLE orders; --'", REFUSED, "multiple"),  # standard strings: no escape
    ("SELECT 1 --\n; DELETE FROM orders", REFUSED, "multiple"),
    ("COPY orders TO '/tmp/orders.csv'", REFUSED, "COPY"),
    ("COPY (SELECT 1) TO PROGRAM 'id'", REFUSED, "COPY"),
    ("copy orders from stdin", REFUSED, "COPY"),
    ("DO $$ BEGIN EXECUTE 'DROP TABLE orders'; END $$", REFUSED, "DO"),
    ("CALL some_procedure()", REFUSED, "CALL"),
    ("SET ROLE postgres", REFUSED, "role"),
    ("set session authorization postgres", REFUSED, "role"),
    ("RESET ROLE", REFUSED, "role"),
    ("SET statement_timeout = 0", REFUSED, "managed by the tool"),
    ("SET LOCAL search_path = public", REFUSED, "managed by the tool"),
    ("BEGIN", REFUSED, "transaction"),
    ("COMMIT", REFUSED, "transaction"),
    ("ALTER SYSTEM SET archive_command = 'curl evil'", REFUSED, "ALTER SYSTEM"),
    ("LOAD 'plpython3u'", REFUSED, ""),
    ("LISTEN channel", REFUSED, "unsupported"),
    ("TABLE orders", REFUSED, "unsupported"),
    ("PREPARE p AS SELECT 1", REFUSED, "unsupported"),
    ("SELECT pg_read_file('/etc/passwd')", REFUSED, "pg_read_file"),
    ("SELECT pg_catalog.pg_read_binary_file('/etc/passwd')", REFUSED, "pg_read_binary_file"),
    ('SELECT "pg_read_file"(\'/etc/passwd\')', REFUSED, "pg_read_file"),
    ("sElEcT Pg_Ls_DiR('.')", REFUSED, "pg_ls_dir"),
    ("SELECT * FROM pg_ls_dir('.') AS f", REFUSED, "pg_ls_dir"),
    ("SELECT lo_import('/etc/passwd')", REFUSED, "lo_import"),
    ("SELECT lo_export(1, '/tmp/x')", REFUSED, "lo_export"),
    ("SELECT * FROM dblink('host=evil', 'select 1') AS t(a int)", REFUSED, "dblink"),
    ("SELECT dblink_exec('host=evil', 'drop table x')", REFUSED, "dblink"),
    ("SELECT pg_sleep(60)", REFUSED, "pg_sleep"),
    ("SELECT pg_sleep(random() * 100)", REFUSED, "pg_sleep"),
    ("SELECT pg_sleep_for('1 hour')", REFUSED, "pg_sleep_for"),
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", REFUSED, "pg_terminate_backend"),
    ("SELECT pg_cancel_backend(1)", REFUSED, "pg_cancel_backend"),
    ("SELECT set_config('role', 'postgres', false)", REFUSED, "set_config"),
    ("SELECT pg_advisory_lock(1)", REFUSED, "pg_advisory_lock"),
    ("SELECT query_to_xml('DELETE FROM orders RETURNING 1', true, true, '')", REFUSED,
     "query_to_xml"),
    ("SELECT max(x) FROM (SELECT (SELECT pg_read_file('/etc/passwd')) AS x) q", REFUSED,
     "pg_read_file"),  # nested subqueries
    ("WITH a AS (SELECT pg_reload_conf()) SELECT * FROM a", REFUSED, "pg_reload_conf"),
    ("SELECT rolpassword FROM pg_authid", REFUSED, "pg_authid"),
    ('SELECT * FROM pg_catalog."pg_shadow"', REFUSED, "pg_shadow"),
    ("SELECT * FROM public.agentdesk_audit", REFUSED, "public"),
    ("SELECT * FROM otherdb.public.t", REFUSED, "three-part"),
    ("DELETE FROM public.agentdesk_audit", REFUSED, "public"),
    ("DROP TABLE public.checkpoints", REFUSED, "public"),
    ("INSERT INTO warehouse.t SELECT pg_read_file('/etc/passwd')", REFUSED, "pg_read_file"),
    ("EXPLAIN ANALYZE SELECT pg_read_file('/etc/passwd')", REFUSED, "pg_read_file"),
    ('SELECT U&"pg\\005fread_file"(\'/etc/passwd\')', REFUSED, "Unicode"),
    ("SELECT u&'\\0041'", REFUSED, "Unicode"),
    ("SELECT 1\u200b; DROP TABLE orders", REFUSED, "invisible"),  # zero-width space
    ("SELECT 'a' \u202e-- reversed", REFUSED, "invisible"),  # bidi override
    ("SELECT 1\x00", REFUSED, "control"),
    ("SELEC 1 FROM", REFUSED, "parse"),
    ("SELECT (1", REFUSED, "parse"),
    ("SELECT 1 " + "-" * (MAX_SQL_CHARS), REFUSED, "longer"),
]


@pytest.mark.parametrize(("sql", "kind", "reason"), CASES,
                         ids=[f"{i:03d}-{c[1]}" for i, c in enumerate(CASES)])
def test_classify(sql: str, kind: str, reason: str) -> None:
    verdict = classify_sql(sql)
    assert verdict.kind == kind, (sql, verdict)
    assert reason.lower() in verdict.reason.lower(), (sql, verdict)
    expected_risk = {"read": "low", "write": "high", "ddl": "critical", "refused": None}[kind]
    assert verdict.risk == expected_risk
    if kind != REFUSED:
        assert verdict.statement == sql.strip()


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert {k for _, k, _ in CASES} == {READ, WRITE, DDL, REFUSED}


def test_sleep_limit_follows_the_statement_timeout() -> None:
    assert classify_sql("SELECT pg_sleep(3)", statement_timeout_s=5).kind == READ
    assert classify_sql("SELECT pg_sleep(3)", statement_timeout_s=1).kind == REFUSED


def test_long_but_allowed_input() -> None:
    sql = "SELECT " + ", ".join(f"{i} AS c{i}" for i in range(1200))
    assert len(sql) < MAX_SQL_CHARS
    assert classify_sql(sql).kind == READ


def test_never_raises_on_garbage() -> None:
    for junk in ["\\", "'", '"', "$$", "/*", "((((((", "SELECT ''''''", "🙂", None, 42]:
        verdict = classify_sql(junk)  # type: ignore[arg-type]
        assert verdict.kind in (READ, REFUSED)


def test_leading_keyword_skips_comments() -> None:
    assert leading_keyword("/* x */ -- y\n explain select 1") == "EXPLAIN"
    assert leading_keyword("  with a as (select 1) select * from a") == "WITH"
    assert leading_keyword("") == ""
