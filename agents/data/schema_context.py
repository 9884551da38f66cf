"""The schema a text-to-SQL model needs for one question: only the relevant tables.

Every table's columns, types and comments are read once from the catalog (cached for a few
minutes); a question is matched against table names, comments and column names, and the best
few tables, plus the tables their foreign keys point to, go into the prompt.
"""

from __future__ import annotations

import re
import time

from agents.data.warehouse import SCHEMA
from serving.db import app_pool

_CATALOG_SQL = """
SELECT c.relname AS table_name, obj_description(c.oid, 'pg_class') AS table_comment,
       a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS column_type,
       col_description(c.oid, a.attnum) AS column_comment,
       (SELECT cf.relname FROM pg_constraint k JOIN pg_class cf ON cf.oid = k.confrelid
         WHERE k.conrelid = c.oid AND k.contype = 'f' AND a.attnum = ANY(k.conkey) LIMIT 1) AS references
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm') AND c.relname <> 'load_info'
ORDER BY c.relname, a.attnum
"""
_TTL_S = 300
_cache: tuple[float, dict[str, dict]] | None = None
_WORD = re.compile(r"[a-z]+")


async def catalog() -> dict[str, dict]:
    global _cache
    if _cache and time.monotonic() - _cache[0] < _TTL_S:
        return _cache[1]
    pool = await app_pool()
    async with pool.connection() as conn:
        rows = await (await conn.execute(_CATALOG_SQL, (SCHEMA,))).fetchall()
    tables: dict[str, dict] = {}
    for r in rows:
        t = tables.setdefault(r["table_name"], {"comment": r["table_comment"] or "", "columns": []})
        t["columns"].append(r)
    _cache = (time.monotonic(), tables)
    return tables


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def rank_tables(question: str, tables: dict[str, dict], limit: int = 4) -> list[str]:
    words = {_stem(w) for w in _WORD.findall(question.lower()) if len(w) > 2}
    scores = {}
    for name, t in tables.items():
        name_words = {_stem(w) for w in name.split("_")}
        text = " ".join([t["comment"], *(f"{c['column_name']} {c['column_comment'] or ''}" for c in t["columns"])])
        other = {_stem(w) for w in _WORD.findall(text.lower())}
        scores[name] = 3 * len(words & name_words) + len(words & other)
    ranked = [n for n, s in sorted(scores.items(), key=lambda kv: -kv[1]) if s > 0][:limit]
    for name in list(ranked):  # add what their foreign keys point to, so joins are possible
        for c in tables[name]["columns"]:
            if c["references"] and c["references"] not in ranked:
                ranked.append(c["references"])
    return ranked


async def relevant_schema(question: str) -> str:
    tables = await catalog()
    names = rank_tables(question, tables) or sorted(tables)[:4]
    lines = [f"Relevant tables in schema `{SCHEMA}` (call describe_table for sample rows):"]
    for name in names:
        t = tables[name]
        lines.append(f"- {name}: {t['comment']}")
        for c in t["columns"]:
            ref = f" -> {c['references']}" if c["references"] else ""
            note = f" -- {c['column_comment']}" if c["column_comment"] else ""
            lines.append(f"    {c['column_name']} {c['column_type']}{ref}{note}")
    return "\n".join(lines)
