"""Text-to-SQL with a served (scripted) model: a schema-aware prompt holding only the relevant
tables, self-correction after an SQL error, and the SQL shown with the answer."""

from __future__ import annotations

import json
import uuid

from langchain_core.messages import HumanMessage

from agents.data.schema_context import rank_tables, relevant_schema
from evals.scripted_llm import ScriptedServer, text, tool


async def test_prompt_holds_only_relevant_tables():
    from agents.data.warehouse import ensure_warehouse_async

    await ensure_warehouse_async()
    schema = await relevant_schema("Which customers placed the most orders last year?")
    assert "- customers:" in schema and "- orders:" in schema
    assert "- request_metrics:" not in schema and "- deployments:" not in schema
    assert "customer_id integer" in schema  # columns with types, and comments after them


def test_ranking_follows_foreign_keys():
    tables = {
        "order_lines": {"comment": "lines of an order", "columns": [
            {"column_name": "product_id", "column_comment": "", "references": "products"}]},
        "products": {"comment": "catalog", "columns": []},
        "incidents": {"comment": "outages", "columns": []},
    }
    assert rank_tables("quantity per order line", tables) == ["order_lines", "products"]


async def test_self_correction_after_an_sql_error(settings_env, saver):
    from graphs.orchestrator import build_orchestrator

    with ScriptedServer() as llm:
        settings_env(AGENTDESK_LLM_BASE_URL=llm.url, AGENTDESK_LLM_MODEL="scripted-model")
        llm.push(text(json.dumps({"next": "data", "reason": "a revenue question"})),
                 tool("run_sql", sql="SELECT sum(amount) FROM orders"),          # wrong column
                 tool("run_sql", sql="SELECT sum(total_amount) AS revenue FROM orders"),
                 text("Total revenue is in the table; SQL: SELECT sum(total_amount) AS revenue FROM orders"))
        desk = build_orchestrator(checkpointer=saver)
        out = await desk.ainvoke({"messages": [HumanMessage("What is our total revenue from orders?")]},
                                 {"configurable": {"thread_id": f"t2s-{uuid.uuid4().hex}"}})
    system = llm.script.requests[1]["messages"][0]["content"]
    assert "- orders:" in system and "total_amount" in system  # the relevant schema was in the prompt
    errors = [m for m in out["messages"] if m.type == "tool" and "amount" in str(m.content) and "does not exist" in str(m.content)]
    assert errors, "the first SQL error reached the model"
    assert "does not exist" in json.dumps(llm.script.requests[2]["messages"])
    tables = [a for a in out["artifacts"] if a["type"] == "table"]
    assert tables[-1]["columns"] == ["revenue"] and "SELECT sum(total_amount)" in tables[-1]["sql"]
    assert "SELECT sum(total_amount)" in out["messages"][-1].content
