"""`agentdesk prune` deletes whole idle threads and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from langchain_core.messages import HumanMessage
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.types import interrupt

from serving.db import connect
from serving.prune import prune


def _graph(saver):
    g = StateGraph(MessagesState)
    g.add_node("echo", lambda s: {"messages": [("ai", "ok")]})
    g.add_edge(START, "echo")
    return g.compile(checkpointer=saver)


async def test_prune_removes_only_idle_threads(saver):
    graph = _graph(saver)
    old, fresh = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"
    for thread in (old, fresh):
        await graph.ainvoke({"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": thread}})
    with connect() as conn:
        # Age the old thread by 40 days (checkpoint timestamps live in the checkpoint JSON).
        conn.execute(
            "UPDATE checkpoints SET checkpoint = jsonb_set(checkpoint, '{ts}', to_jsonb((now() - interval '40 days')::text)) "
            "WHERE thread_id = %s", (old,))
        dry = prune(conn, 30, dry_run=True)
        assert dry["checkpoints"] >= 1 and dry["threads"] >= 1
        counts = prune(conn, 30)
        assert counts["checkpoints"] == dry["checkpoints"]
        left = {r["thread_id"] for r in conn.execute(
            "SELECT DISTINCT thread_id FROM checkpoints WHERE thread_id = ANY(%s)", ([old, fresh],))}
    assert left == {fresh}
    assert (await graph.aget_state({"configurable": {"thread_id": fresh}})).values["messages"]


def _waiting_graph(saver):
    g = StateGraph(MessagesState)
    g.add_node("ask", lambda s: {"messages": [("ai", str(interrupt({"action_requests": []})))]})
    g.add_edge(START, "ask")
    return g.compile(checkpointer=saver)


def _age(conn, thread: str, days: int) -> None:
    conn.execute("UPDATE checkpoints SET checkpoint = jsonb_set(checkpoint, '{ts}', "
                 "to_jsonb((now() - make_interval(days => %s))::text)) WHERE thread_id = %s", (days, thread))


async def test_prune_keeps_threads_waiting_for_a_decision_unless_told(saver):
    waiting, idle = f"wait-{uuid.uuid4().hex}", f"idle-{uuid.uuid4().hex}"
    await _waiting_graph(saver).ainvoke({"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": waiting}})
    await _graph(saver).ainvoke({"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": idle}})
    left = lambda conn: {r["thread_id"] for r in conn.execute(  # noqa: E731
        "SELECT DISTINCT thread_id FROM checkpoints WHERE thread_id = ANY(%s)", ([waiting, idle],))}
    with connect() as conn:
        _age(conn, waiting, 40)
        _age(conn, idle, 40)
        counts = prune(conn, 30)
        assert counts["kept_pending"] >= 1
        assert left(conn) == {waiting}  # its approval card is still live in a running server
        prune(conn, 30, include_pending=True)
        assert left(conn) == set()


def test_prune_cli_reports_counts():
    out = subprocess.run([sys.executable, "-m", "serving.cli", "prune", "--older-than", "3650"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "rows from" in out.stdout and '"checkpoints"' in out.stdout


def test_prune_rejects_negative_days():
    out = subprocess.run([sys.executable, "-m", "serving.cli", "prune", "--older-than", "-1"],
                         capture_output=True, text=True, timeout=60)
    # The wording is serving/cli.py's; what matters is a usage error naming the option and bound.
    assert out.returncode == 2 and "--older-than: must be" in out.stderr
    assert "0 or more" in out.stderr


def _db_without_checkpoints(monkeypatch):
    """DATABASE_URL with a search_path where no saver tables exist: a fresh or wrong database."""
    from serving import db

    url = db.database_url()
    options = "options=-csearch_path%3Dno_such_schema"
    monkeypatch.setattr(db, "_url", url + ("&" if "?" in url else "?") + options)


def test_prune_without_checkpoint_tables_says_so(monkeypatch, capsys):
    """Used to be a psycopg UndefinedTable traceback."""
    from serving.cli import main

    _db_without_checkpoints(monkeypatch)
    assert main(["prune", "--older-than", "1", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("no checkpoints in ") and out[0].endswith(": nothing to prune")
    assert json.loads(out[1]) == {"threads": 0, "kept_pending": 0, "checkpoint_writes": 0, "checkpoint_blobs": 0,
                                  "checkpoints": 0}


def test_prune_rejects_days_beyond_a_century(capsys):
    """10 million days used to reach Postgres and end in a DatetimeFieldOverflow traceback."""
    from serving.cli import main

    assert main(["prune", "--older-than", "10000000", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --older-than: at most 36500 days (100 years), got 10000000"
    assert main(["prune", "--older-than", "36500", "--dry-run"]) == 0  # the limit itself runs
