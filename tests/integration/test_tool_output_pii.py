"""Tool results are redacted before they are kept or shown: the ToolMessage, its artifact (the
table the UI renders and offers as CSV), the checkpointed state and the audit row. The data agent
runs real SQL on a real Postgres; the audit's arguments keep exactly what ran."""

from __future__ import annotations

import os

os.environ.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

import base64  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import uuid  # noqa: E402

import psycopg  # noqa: E402
import pytest  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langgraph.types import Command  # noqa: E402

from agents._offline import turn  # noqa: E402
from agents.data.warehouse import load  # noqa: E402
from graphs import tool_exec  # noqa: E402
from graphs.specialist import build_specialist  # noqa: E402
from guardrails import pii  # noqa: E402
from guardrails.policy import Risk, register  # noqa: E402
from serving import audit  # noqa: E402
from serving.db import app_pool  # noqa: E402
from serving.offline_model import tool_call  # noqa: E402
from tests.unit.test_guard_pii import NEGATIVES, TEMPLATES, planted  # noqa: E402

URL = os.environ["DATABASE_URL"]
COLUMNS = ["customer_id", "full_name", "email", "country", "segment", "signup_date"]
SQL = f"SELECT {', '.join(COLUMNS)} FROM warehouse.customers ORDER BY customer_id LIMIT 3"


@pytest.fixture(scope="module")
async def warehouse():
    load(URL)
    yield
    await (await app_pool()).close()


@pytest.fixture
def data_graph(saver, warehouse):
    from agents.data.graph import build_graph

    return build_graph().copy(update={"checkpointer": saver})


def cfg():
    return {"configurable": {"thread_id": f"pii-{uuid.uuid4().hex}"}}


def customers() -> list[dict]:
    with psycopg.connect(URL) as c:
        return [dict(zip(COLUMNS, r)) for r in c.execute(SQL).fetchall()]


def checkpointed(thread: str) -> bytes:
    """Everything the checkpointer stored for a thread, as bytes."""
    with psycopg.connect(URL) as c:
        rows = [r for t in ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
                for r in c.execute(f"SELECT * FROM {t} WHERE thread_id = %s", (thread,)).fetchall()]
    assert rows
    return b"".join(v if isinstance(v, (bytes, memoryview)) else json.dumps(v, default=str).encode()
                    for r in rows for v in r)


@pytest.mark.parametrize("in_thread", [False, True], ids=["inline", "worker-thread"])
async def test_sql_result_with_emails_is_redacted_everywhere_it_is_kept(data_graph, monkeypatch, in_thread):
    if in_thread:  # as a large result is
        monkeypatch.setattr(tool_exec, "INLINE_REDACT_CHARS", 0, raising=False)
    raw = customers()
    emails = [r["email"] for r in raw]
    assert all("@example.com" in e for e in emails)
    config = cfg()
    out = await data_graph.ainvoke({"messages": [HumanMessage(f"```sql\n{SQL}\n```")]}, config)

    [message] = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert message.name == "run_sql" and message.status != "error"
    assert not any(e in message.content for e in emails)
    assert message.content.count("[REDACTED_EMAIL]") == 3
    for art in (message.artifact, out["artifacts"][-1]):
        assert art["type"] == "table" and art["columns"] == COLUMNS  # keys and column names kept
        assert len(art["rows"]) == 3
        for row, db in zip(art["rows"], raw):
            cells = dict(zip(COLUMNS, row))
            assert cells["email"] == "[REDACTED_EMAIL]"
            assert cells["customer_id"] == db["customer_id"] and isinstance(cells["customer_id"], int)
            for col in ("full_name", "country", "segment"):
                assert cells[col] == db[col]
            assert cells["signup_date"] == db["signup_date"].isoformat()
    assert not any(e in json.dumps(out, default=str) for e in emails)

    state_history = [s async for s in data_graph.aget_state_history(config)]
    assert not any(e in json.dumps([s.values for s in state_history], default=str) for e in emails)
    stored = checkpointed(config["configurable"]["thread_id"])
    assert b"[REDACTED_EMAIL]" in stored
    assert not any(e.encode() in stored for e in emails)


async def test_look_alikes_pass_through_a_table_untouched(data_graph):
    """The detector's look-alike set (order ids, timestamps, versions, UUIDs, SHAs...) as cells."""
    values = ", ".join("('" + v.replace("'", "''") + "')" for v in NEGATIVES)
    sql = f"SELECT note FROM (VALUES {values}) AS t(note)"
    out = await data_graph.ainvoke({"messages": [HumanMessage(f"```sql\n{sql}\n```")]}, cfg())
    [message] = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert message.status != "error", message.content
    assert [r[0] for r in message.artifact["rows"]] == NEGATIVES
    assert [r[0] for r in out["artifacts"][-1]["rows"]] == NEGATIVES
    assert "REDACTED" not in message.content


async def test_approved_write_audit_keeps_args_but_not_the_emails(data_graph):
    raw = customers()[:2]
    emails = [r["email"] for r in raw]
    sql = ("UPDATE warehouse.customers SET full_name = full_name WHERE customer_id <= 2 "
           "RETURNING customer_id, email")
    config = cfg()
    out = await data_graph.ainvoke({"messages": [HumanMessage(f"```sql\n{sql}\n```")]}, config)
    assert out.get("__interrupt__")
    out = await data_graph.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    rows = await audit.rows_for_thread(config["configurable"]["thread_id"])
    [action] = [r for r in rows if r["kind"] == "action"]
    assert action["status"] == "done"
    assert action["args"]["sql"] == sql  # exactly what ran
    result = json.dumps(action["result"])
    assert "[REDACTED_EMAIL]" in result
    assert not any(e in result for e in emails)

    [message] = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert message.status != "error", message.content
    assert not any(e in json.dumps(message.artifact) for e in emails)


# ---------------------------------------------------------------- every string in an artifact

EMAIL, KEY = "dana.lee@example.com", "sk-proj-Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
CSV = f"id,email\n1,{EMAIL}\n2,ORD-2024-000123\n".encode()


@tool(response_format="content_and_artifact")
async def lookup_contact(name: str) -> tuple[str, dict]:
    """Look a contact up (returns PII in every shape an artifact holds)."""
    return f"{name}: {EMAIL}, key {KEY}", {
        "type": "code_result", "stdout": f"mail {EMAIL}\n", "stderr": f"using key {KEY}", "exit_code": 0,
        "rows": [{"line": f"login by {EMAIL}", "ts": 1714567890123, "ok": True, "level": None}],
        "metrics": [{"labels": {"user": EMAIL, "pod": "api-7d9f8c6b5-x2kq9"}, "values": [[1.5, "2"]]}],
        "files": [{"name": "out.csv", "mime": "text/csv", "size": len(CSV), "b64": base64.b64encode(CSV).decode()},
                  {"name": "chart.png", "mime": "image/png", "size": len(PNG), "b64": base64.b64encode(PNG).decode()}],
        "ops@example.com": "a key is never redacted",
    }


register(lookup_contact, risk=Risk.medium, agents={"pii_tester"})


def policy(messages):
    question, results = turn(messages)
    if not results:
        return AIMessage("", tool_calls=[tool_call("lookup_contact", {"name": question})])
    return AIMessage(str(results[-1].content))


async def test_every_string_in_an_artifact_is_redacted_and_audited(saver):
    graph = build_specialist("pii_tester", [lookup_contact], "test", policy).copy(update={"checkpointer": saver})
    config = cfg()
    out = await graph.ainvoke({"messages": [HumanMessage("Dana")]}, config)
    [message] = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert message.content == "Dana: [REDACTED_EMAIL], key [REDACTED_API_KEY]"
    art = out["artifacts"][-1]
    assert art["stdout"] == "mail [REDACTED_EMAIL]\n" and art["stderr"] == "using key [REDACTED_API_KEY]"
    assert art["rows"] == [{"line": "login by [REDACTED_EMAIL]", "ts": 1714567890123, "ok": True, "level": None}]
    assert art["metrics"] == [{"labels": {"user": "[REDACTED_EMAIL]", "pod": "api-7d9f8c6b5-x2kq9"},
                               "values": [[1.5, "2"]]}]
    csv, png = art["files"]
    text = base64.b64decode(csv["b64"]).decode()
    assert text == "id,email\n1,[REDACTED_EMAIL]\n2,ORD-2024-000123\n" and csv["size"] == len(text)
    assert base64.b64decode(png["b64"]) == PNG and png["size"] == len(PNG)  # binary: kept byte for byte
    assert art["ops@example.com"] == "a key is never redacted"
    assert (art["tool"], art["agent"]) == ("lookup_contact", "pii_tester")
    assert message.artifact == {k: v for k, v in art.items() if k not in ("tool_call_id", "tool", "agent")}

    rows = await audit.rows_for_thread(config["configurable"]["thread_id"])
    [action] = [r for r in rows if r["kind"] == "action"]  # medium risk: recorded, not claimed
    assert action["args"] == {"name": "Dana"}
    assert action["result"] == {"content": "Dana: [REDACTED_EMAIL], key [REDACTED_API_KEY]"}
    stored = checkpointed(config["configurable"]["thread_id"])
    assert EMAIL.encode() not in stored and KEY.encode() not in stored


def test_redact_all_equals_redacting_each_string_alone():
    """One scan over the joined strings finds what a scan of each string finds (a PEM block with
    no END line, which runs to the end of the joined text, is scanned alone)."""
    rng = random.Random(3)
    cells = [t.format(v=v) for _, v in planted() for t in TEMPLATES] + NEGATIVES + [
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA", "password:", " hunter22", "", "\x00", "a\n\x00\nb"]
    for _ in range(300):
        strings = [rng.choice(cells) for _ in range(rng.randint(1, 25))]
        assert pii.redact_all(strings) == [pii.redact(s)[0] for s in strings]
    nested = {"a": [EMAIL, 1, None, (KEY, 2.5)], EMAIL: {"b": True}}
    assert pii.redact_all(nested) == {"a": ["[REDACTED_EMAIL]", 1, None, ("[REDACTED_API_KEY]", 2.5)],
                                      EMAIL: {"b": True}}
