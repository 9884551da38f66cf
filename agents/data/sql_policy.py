"""Classify one SQL string before the data agent runs it.

The verdict decides the approval tier (read -> low, write -> high, ddl -> critical) and
refuses what no analyst needs (multiple statements, COPY, file/network/admin functions,
role switching, procedural code). It is the *first* line of defence only: reads also run
in a READ ONLY transaction, as the SELECT-only role `agentdesk_reader`, through the
extended protocol (one statement) and a `DECLARE CURSOR` (SELECT/VALUES only), so a
statement this parser misreads still cannot write (see agents/data/tools.py).

Rules fail closed: anything not recognised as a read, write or DDL is refused.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

# sqlglot warns on every statement it keeps as a raw Command (EXPLAIN, SET ROLE, ...);
# those are expected here and handled below, so the warning is only noise.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

Kind = Literal["read", "write", "ddl", "refused"]
RiskName = Literal["low", "high", "critical"]

MAX_SQL_CHARS = 20_000
DEFAULT_TIMEOUT_S = 5.0

_RISK: dict[str, RiskName] = {"read": "low", "write": "high", "ddl": "critical"}

# Functions that reach the file system, the network, other sessions, server config or
# run SQL from a string (which would hide a statement from this check).
_REFUSED_FUNCS = {
    "pg_read_file", "pg_read_binary_file", "pg_stat_file", "pg_ls_dir", "pg_ls_logdir",
    "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir", "pg_ls_logicalsnapdir",
    "pg_ls_logicalmapdir", "pg_ls_replslotdir", "pg_current_logfile", "pg_file_write",
    "pg_file_rename", "pg_file_unlink", "pg_file_sync", "pg_logdir_ls", "loread", "lowrite",
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
    "pg_promote", "pg_switch_wal", "pg_create_restore_point", "pg_backup_start",
    "pg_backup_stop", "pg_start_backup", "pg_stop_backup", "pg_wal_replay_pause",
    "pg_wal_replay_resume", "pg_log_backend_memory_contexts", "pg_export_snapshot",
    "pg_import_system_collations", "pg_notify", "set_config", "pg_sleep_for",
    "pg_sleep_until", "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema",
    "cursor_to_xml", "cursor_to_xmlschema", "table_to_xml", "table_to_xmlschema",
    "table_to_xml_and_xmlschema", "schema_to_xml", "schema_to_xmlschema",
    "schema_to_xml_and_xmlschema", "database_to_xml", "database_to_xmlschema",
    "database_to_xml_and_xmlschema", "ts_stat", "ts_rewrite",
}
_REFUSED_PREFIXES = (
    "lo_", "dblink", "pg_advisory", "pg_try_advisory", "pg_stat_reset", "pg_replication_",
    "pg_logical_", "pg_create_physical", "pg_create_logical", "pg_drop_replication",
    "pg_copy_", "pg_replication_slot",
)
_WRITE_FUNCS = {"nextval", "setval"}

# Catalogs that hold secrets or other sessions' activity.
_SENSITIVE_TABLES = {
    "pg_authid", "pg_shadow", "pg_user_mapping", "pg_user_mappings", "pg_hba_file_rules",
    "pg_ident_file_mappings", "pg_file_settings", "pg_largeobject", "pg_stat_activity",
}
_READ_SCHEMAS = {"warehouse", "pg_catalog", "information_schema"}
_WRITE_SCHEMAS = {"warehouse"}

_DDL_NODES = (exp.Create, exp.Drop, exp.Alter, exp.TruncateTable, exp.Grant, exp.Revoke,
              exp.Comment, exp.Analyze)
_DML_NODES = (exp.Insert, exp.Update, exp.Delete, exp.Merge)
_DDL_COMMANDS = {"CREATE", "ALTER", "DROP", "GRANT", "REVOKE", "COMMENT", "REFRESH",
                 "REINDEX", "CLUSTER", "VACUUM", "SECURITY", "IMPORT", "TRUNCATE"}
_REFUSED_COMMANDS = {
    "COPY": "COPY reads or writes server files and programs",
    "DO": "anonymous code blocks (DO) are not allowed",
    "CALL": "procedure calls (CALL) are not allowed",
    "LOAD": "loading server libraries is not allowed",
}


@dataclass(frozen=True)
class SqlVerdict:
    kind: Kind
    risk: RiskName | None
    reason: str
    statement: str

    @property
    def allowed(self) -> bool:
        return self.kind != "refused"


def _verdict(kind: Kind, reason: str, statement: str = "") -> SqlVerdict:
    return SqlVerdict(kind, _RISK.get(kind), reason, statement)


def classify_sql(sql: str, *, statement_timeout_s: float = DEFAULT_TIMEOUT_S) -> SqlVerdict:
    """Classify `sql` (one Postgres statement). Never raises."""
    if not isinstance(sql, str) or not sql.strip():
        return _verdict("refused", "empty SQL")
    if len(sql) > MAX_SQL_CHARS:
        return _verdict("refused", f"SQL is longer than {MAX_SQL_CHARS} characters")
    statement = sql.strip()
    bad = _invisible_char(statement)
    if bad:
        return _verdict("refused", f"SQL contains an invisible or control character ({bad})")
    try:
        tokens = Postgres().tokenize(statement)
        if _has_unicode_escape(tokens):
            return _verdict("refused", 'Unicode-escaped names or strings (U&"...") are not allowed')
        parsed = [p for p in sqlglot.parse(statement, read="postgres") if p is not None]
    except SqlglotError as exc:
        return _verdict("refused", f"could not parse the SQL: {str(exc).splitlines()[0]}")
    except Exception as exc:  # noqa: BLE001 - a parser crash is still "unparseable"
        return _verdict("refused", f"could not parse the SQL ({type(exc).__name__})")
    if not parsed:
        return _verdict("refused", "empty SQL (only comments or semicolons)")
    if len(parsed) > 1:
        return _verdict("refused", f"multiple statements ({len(parsed)}); send one at a time")
    return _classify_tree(parsed[0], statement, statement_timeout_s)


def leading_keyword(sql: str) -> str:
    """The statement's first keyword, upper-cased, skipping comments ("" if none)."""
    try:
        tokens = Postgres().tokenize(sql)
    except SqlglotError:
        return ""
    return tokens[0].text.upper() if tokens else ""


def _classify_tree(tree: exp.Expression, statement: str, timeout_s: float) -> SqlVerdict:
    if isinstance(tree, exp.Command):
        return _classify_command(tree, statement, timeout_s)
    if isinstance(tree, exp.Copy):
        return _verdict("refused", _REFUSED_COMMANDS["COPY"], statement)
    if isinstance(tree, (exp.Set, exp.Transaction, exp.Commit, exp.Rollback)):
        return _verdict("refused", "session and transaction control is managed by the tool",
                        statement)

    if isinstance(tree, _DDL_NODES):
        kind: Kind = "ddl"
        reason = f"schema/privilege change ({tree.key.upper()})"
    elif isinstance(tree, _DML_NODES):
        kind, reason = "write", f"data change ({tree.key.upper()})"
    elif isinstance(tree, (exp.Select, exp.SetOperation, exp.Values)):
        kind, reason = "read", "single query"
        if any(True for _ in tree.find_all(*_DML_NODES)):
            kind, reason = "write", "data-modifying statement inside WITH"
        elif any(isinstance(s, exp.Select) and s.args.get("into") for s in tree.walk()):
            kind, reason = "write", "SELECT ... INTO creates a table"
        elif any(isinstance(s, exp.Select) and s.args.get("locks") for s in tree.walk()):
            kind, reason = "write", "SELECT ... FOR UPDATE/SHARE takes row locks"
    else:
        # sqlglot reads unknown statements (LISTEN x, TABLE t) as bare expressions.
        return _verdict("refused", f"unsupported statement ({tree.key})", statement)

    refusal = (_check_functions(tree, timeout_s) or _check_tables(tree, kind)
               or (_ddl_target_problem(statement, dotted=False) if kind == "ddl" else None))
    if refusal:
        return _verdict("refused", refusal, statement)
    if kind == "read" and _calls_write_function(tree):
        kind, reason = "write", "calls a sequence-changing function (nextval/setval)"
    return _verdict(kind, reason, statement)


def _classify_command(cmd: exp.Command, statement: str, timeout_s: float) -> SqlVerdict:
    """Statements sqlglot does not model (it falls back to a raw Command)."""
    word = str(cmd.this).upper()
    raw = cmd.args.get("expression")  # a Literal or a plain string, by statement
    rest = str(raw.this if isinstance(raw, exp.Literal) else raw or "")
    upper_rest = " ".join(rest.upper().split())
    if word in _REFUSED_COMMANDS:
        return _verdict("refused", _REFUSED_COMMANDS[word], statement)
    if word in ("SET", "RESET"):
        if upper_rest.startswith(("ROLE", "SESSION AUTHORIZATION", "LOCAL ROLE",
                                  "SESSION ROLE", "LOCAL SESSION AUTHORIZATION")):
            return _verdict("refused", "switching roles (SET ROLE / SESSION AUTHORIZATION) "
                            "is not allowed", statement)
        return _verdict("refused", "session settings are managed by the tool", statement)
    if word == "ALTER" and upper_rest.startswith("SYSTEM"):
        return _verdict("refused", "ALTER SYSTEM changes server configuration", statement)
    if word == "SHOW":
        return _verdict("read", "shows a setting", statement)
    if word == "EXPLAIN":
        return _classify_explain(rest, statement, timeout_s)
    if word in _DDL_COMMANDS:
        if refusal := _ddl_target_problem(rest, head=word):  # sqlglot did not model it: check the words
            return _verdict("refused", refusal, statement)
        brief = " ".join(rest.split())[:40]
        return _verdict("ddl", f"schema/privilege change ({word} {brief})", statement)
    return _verdict("refused", f"unsupported statement ({word})", statement)


def _classify_explain(rest: str, statement: str, timeout_s: float) -> SqlVerdict:
    """EXPLAIN only plans; EXPLAIN ANALYZE runs the inner statement, so it inherits its kind."""
    try:
        tokens = Postgres().tokenize(rest)
    except SqlglotError:
        return _verdict("refused", "could not parse the EXPLAIN options", statement)
    analyze, i, depth = False, 0, 0
    while i < len(tokens):  # options: ANALYZE, VERBOSE, or a parenthesised list
        tok = tokens[i]
        word = tok.text.upper()
        if tok.token_type == TokenType.L_PAREN:
            depth += 1
        elif tok.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and word not in ("ANALYZE", "ANALYSE", "VERBOSE"):
            break
        if word in ("ANALYZE", "ANALYSE"):
            analyze = True  # even "ANALYZE false" counts: fail towards the riskier tier
        i += 1
    if i >= len(tokens):
        return _verdict("refused", "EXPLAIN without a statement", statement)
    inner = classify_sql(rest[tokens[i].start:], statement_timeout_s=timeout_s)
    if inner.kind == "refused":
        return _verdict("refused", f"EXPLAIN of a refused statement: {inner.reason}", statement)
    if analyze or inner.kind == "ddl":
        return _verdict(inner.kind, f"EXPLAIN ANALYZE runs the statement: {inner.reason}",
                        statement)
    return _verdict("read", "EXPLAIN (plan only)", statement)


def _func_name(node: exp.Func) -> str:
    name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
    return (name or "").lower()


def _check_functions(tree: exp.Expression, timeout_s: float) -> str | None:
    for func in tree.find_all(exp.Func):
        name = _func_name(func)
        if name in _REFUSED_FUNCS or name.startswith(_REFUSED_PREFIXES):
            return f"function {name}() is not allowed (server files, network, sessions or " \
                   "dynamic SQL)"
        if name == "pg_sleep":
            seconds = _literal_number(func.expressions[0] if func.expressions else None)
            if seconds is None or seconds > timeout_s:
                return f"pg_sleep() longer than the statement timeout ({timeout_s:g} s)"
    return None


def _calls_write_function(tree: exp.Expression) -> bool:
    return any(_func_name(f) in _WRITE_FUNCS for f in tree.find_all(exp.Func))


def _literal_number(node: exp.Expression | None) -> float | None:
    if isinstance(node, exp.Literal):
        try:
            return float(node.this)
        except ValueError:
            return None
    return None


def _check_tables(tree: exp.Expression, kind: Kind) -> str | None:
    allowed = _READ_SCHEMAS if kind == "read" else _WRITE_SCHEMAS
    for table in tree.find_all(exp.Table):
        if table.catalog:
            return "three-part names (other databases) are not allowed"
        schema, name = table.db.lower(), table.name.lower()
        if name in _SENSITIVE_TABLES:
            return f"table {name} holds credentials or other sessions' data"
        if kind != "read" and not schema and name.startswith("pg_"):
            # pg_catalog is searched before any search_path: UPDATE pg_database would hit it.
            return f"{name} is a system catalog: changes go to schema warehouse only"
        if schema and schema not in allowed:
            where = "schema warehouse" if kind != "read" else "schemas " + ", ".join(
                sorted(_READ_SCHEMAS))
            return f"schema {schema!r} is off limits: only {where}"
    return None


# Targets beyond the warehouse's tables: roles, ownership, policies, the database and server.
_BEYOND_WAREHOUSE = {"OWNED", "OWNER", "POLICY", "ROLE", "DATABASE", "EXTENSION", "TABLESPACE",
                     "SERVER", "WRAPPER", "SUBSCRIPTION", "PUBLICATION", "LANGUAGE", "AUTHORIZATION"}


def _ddl_target_problem(statement: str, *, dotted: bool = True, head: str = "") -> str | None:
    """Schema changes, read word by word (sqlglot models some only as raw text, and IF EXISTS or
    SET SCHEMA hid others from the table check): only the warehouse schema and its objects may
    be named. `dotted`: also check schema-qualified names (for raw text; a parsed statement's
    tables are checked by _check_tables, and its column references are dotted too). `head`: the
    command word of a raw statement whose rest is `statement` (the tokenizer reads a raw
    command's rest as one string)."""
    try:
        tokens = Postgres().tokenize(statement)
    except SqlglotError:
        return "could not read the schema change"
    types = [t.token_type for t in tokens]
    quoted = [t == TokenType.IDENTIFIER for t in types]
    names = [t.text.lower() if q else t.text.upper() for t, q in zip(tokens, quoted)]
    if head:
        types, quoted, names = [TokenType.COMMAND, *types], [False, *quoted], [head, *names]
    if not names:
        return None
    keywords = {n for n, q in zip(names, quoted) if not q}
    beyond = sorted(keywords & _BEYOND_WAREHOUSE)
    if len(names) > 1 and names[0] in ("CREATE", "ALTER", "DROP") and names[1] in ("USER", "GROUP"):
        beyond.append(names[1])
    if any(a == "DEFAULT" and b == "PRIVILEGES" for a, b in zip(names, names[1:])):
        beyond.append("DEFAULT PRIVILEGES")
    if beyond:
        return f"schema changes may only touch the warehouse's own objects (not {', '.join(beyond)})"
    if names[0] in ("GRANT", "REVOKE") and "ON" not in keywords:
        return "granting or revoking roles is not allowed"
    for i, (kind, name) in enumerate(zip(types, names)):
        first_of_chain = i > 0 and (i < 2 or types[i - 2] != TokenType.DOT)
        if dotted and kind == TokenType.DOT and first_of_chain and names[i - 1].lower() != "warehouse":
            return f"schema {names[i - 1].lower()!r} is off limits: only schema warehouse"
        if name == "SCHEMA" and not quoted[i]:
            target = [n for n in names[i + 1:] if n not in ("IF", "EXISTS", "NOT")]
            if target and target[0].lower() != "warehouse":
                return f"schema {target[0].lower()!r} is off limits: only schema warehouse"
    return None


def _invisible_char(sql: str) -> str | None:
    """Zero-width, bidi and control characters make SQL read differently to a reviewer."""
    for ch in sql:
        if ch in "\t\n\r":
            continue
        if unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs"):
            return f"U+{ord(ch):04X}"
    return None


def _has_unicode_escape(tokens: list) -> bool:
    for a, b, c in zip(tokens, tokens[1:], tokens[2:]):
        if (a.token_type == TokenType.VAR and a.text.upper() == "U"
                and b.token_type == TokenType.AMP and b.start == a.end + 1
                and c.start == b.end + 1):
            return True
    return False
