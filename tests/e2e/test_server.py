"""The real LangGraph server, driven through the official langgraph-sdk client: routing,
approvals (approve, edit, reject), history, restart with the thread intact, and bad input."""

from __future__ import annotations

import httpx
import pytest
from langgraph_sdk import get_client

from tests.e2e.server import Server

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def server():
    srv = Server()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    return get_client(url=server.base)


def ai_texts(state) -> list[str]:
    return [m["content"] for m in state["values"]["messages"] if m["type"] == "ai" and m["content"]]


async def ask(client, thread_id: str, text: str):
    return await client.runs.wait(thread_id, "orchestrator", input={"messages": [{"type": "human", "content": text}]})


async def pending(client, thread_id: str) -> list:
    thread = await client.threads.get(thread_id)
    return [i for items in (thread.get("interrupts") or {}).values() for i in items]


async def test_health_ui_and_info(server):
    async with httpx.AsyncClient(base_url=server.base) as http:
        assert (await http.get("/healthz")).json()["database"] == "ok"
        ui = await http.get("/ui")
        assert ui.status_code == 200 and "agentdesk" in ui.text
        assert (await http.get("/api/info")).json()["offline"] is True
        assert "agentdesk_" in (await http.get("/metrics")).text


async def test_research_question_is_routed_and_cited(server, client):
    thread = await client.threads.create()
    await ask(client, thread["thread_id"], "How are risky actions approved in agentdesk?")
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["route"] == "research"
    answer = ai_texts(state)[-1]
    assert answer.startswith("[offline model]") and "[1]" in answer
    assert any(a["type"] == "citations" and a["citations"] for a in state["values"]["artifacts"])
    async with httpx.AsyncClient(base_url=server.base) as http:  # scraped after the run, over HTTP
        page = (await http.get("/metrics")).text
    for series in ('agentdesk_runs_total{graph="orchestrator",outcome="answered"}', 'agentdesk_routes_total{route="research"}',
                   'agentdesk_tool_calls_total{outcome="ok",tool="search_docs"}', 'agentdesk_node_seconds_count{node="research.agent"}',
                   "agentdesk_checkpoint_write_seconds_count"):
        assert series in page, series


@pytest.mark.parametrize("decision, expect", [
    ({"type": "approve"}, "DRY RUN: would restart default/payments"),
    ({"type": "edit", "edited_action": {"name": "restart_workload", "args": {"workload": "billing"}}},
     "DRY RUN: would restart default/billing"),
    ({"type": "reject", "message": "not during business hours"}, "rejected restart_workload: not during business hours"),
])
async def test_approval_decisions_are_honoured(client, decision, expect):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await ask(client, tid, "Please restart the payments deployment")
    [interrupt] = await pending(client, tid)
    request = interrupt["value"]
    assert request["action_requests"][0]["name"] == "restart_workload"
    assert request["review_configs"][0]["allowed_decisions"] == ["approve", "edit", "reject"]
    await client.runs.wait(tid, "orchestrator", command={"resume": {"decisions": [decision]}})
    state = await client.threads.get_state(tid)
    assert await pending(client, tid) == []
    assert any(expect in str(m["content"]) for m in state["values"]["messages"])
    history = await client.threads.get_history(tid, limit=100)
    assert len(history) >= 6  # every step was checkpointed


async def test_malformed_resume_keeps_the_approval_pending(client):
    tid = (await client.threads.create())["thread_id"]
    await ask(client, tid, "restart the checkout deployment")
    await client.runs.wait(tid, "orchestrator", command={"resume": {"decisions": [{"type": "perhaps"}]}})
    [interrupt] = await pending(client, tid)
    assert "type must be one of" in interrupt["value"]["error"]
    await client.runs.wait(tid, "orchestrator", command={"resume": {"decisions": [{"type": "approve"}]}})
    assert await pending(client, tid) == []


async def resume_status(client, tid: str, resume) -> tuple[int, str]:
    try:
        await client.runs.wait(tid, "orchestrator", command={"resume": resume})
    except httpx.HTTPStatusError as exc:
        return exc.response.status_code, exc.response.text
    return 200, ""


async def test_resume_without_pending_interrupt_is_refused(client):
    tid = (await client.threads.create())["thread_id"]
    await ask(client, tid, "How are risky actions approved?")
    before = await client.threads.get_state(tid)
    code, text = await resume_status(client, tid, {"decisions": [{"type": "approve"}]})
    assert code == 409 and "nothing on this thread waits for a decision" in text
    after = await client.threads.get_state(tid)
    assert after["values"]["messages"] == before["values"]["messages"]  # nothing lost or added


async def test_a_stale_approval_card_cannot_answer_a_newer_action(client):
    """Tab A shows the card for one restart; tab B decides it and asks for another. Tab A's Approve,
    sent by interrupt id as the chat UI sends it, is refused: nobody reviewed the newer action."""
    tid = (await client.threads.create())["thread_id"]
    await ask(client, tid, "Please restart the payments deployment")
    [card_a] = await pending(client, tid)
    assert await resume_status(client, tid, {card_a["id"]: {"decisions": [{"type": "reject", "message": "no"}]}}) == (200, "")
    await ask(client, tid, "Please restart the billing deployment")
    [card_b] = await pending(client, tid)
    code, text = await resume_status(client, tid, {card_a["id"]: {"decisions": [{"type": "approve"}]}})
    assert code == 409 and "no longer pending" in text
    assert [i["id"] for i in await pending(client, tid)] == [card_b["id"]]  # still waits, untouched
    assert await resume_status(client, tid, {card_b["id"]: {"decisions": [{"type": "approve"}]}}) == (200, "")
    state = await client.threads.get_state(tid)
    texts = [str(m["content"]) for m in state["values"]["messages"]]
    assert any("would restart default/billing" in t for t in texts)
    assert not any("would restart default/payments" in t for t in texts)  # the rejected one never ran


async def test_empty_and_oversized_messages(client):
    tid = (await client.threads.create())["thread_id"]
    await ask(client, tid, "   ")
    assert "empty" in ai_texts(await client.threads.get_state(tid))[-1]
    await ask(client, tid, "x" * 60_000)
    last = ai_texts(await client.threads.get_state(tid))[-1]
    assert "too long" in last.lower() or "too_long" in last
    await ask(client, tid, "How are risky actions approved?")  # the thread is still usable
    assert "[1]" in ai_texts(await client.threads.get_state(tid))[-1]


async def test_unknown_assistant_and_malformed_requests(server, client):
    tid = (await client.threads.create())["thread_id"]
    async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:
        unknown = await http.post(f"/threads/{tid}/runs/wait", json={"assistant_id": "no-such-assistant", "input": {}})
        assert unknown.status_code == 422 and "Invalid assistant" in unknown.json()["detail"]
        bad_json = await http.post(f"/threads/{tid}/runs/wait", content=b"{not json",
                                   headers={"content-type": "application/json"})
        assert bad_json.status_code == 422 and "Invalid JSON" in bad_json.json()["detail"]
        bad_messages = await http.post(f"/threads/{tid}/runs/wait",
                                       json={"assistant_id": "orchestrator", "input": {"messages": 7}})
        assert bad_messages.status_code == 422 and "must be a list" in bad_messages.json()["detail"]
        huge = await http.post("/threads", content=b"x" * (3 * 1024 * 1024), headers={"content-type": "application/json"})
        assert huge.status_code == 413 and "limit" in huge.json()["detail"]
        assert (await http.get("/healthz")).status_code == 200  # still up
    runs = await client.runs.list(tid)
    assert runs == []  # rejected before any run was created


async def test_restart_keeps_threads_and_pending_approvals(server):
    client = get_client(url=server.base)
    tid = (await client.threads.create())["thread_id"]
    await ask(client, tid, "restart the search deployment")
    before = await client.threads.get_state(tid)
    assert len(await pending(client, tid)) == 1
    server.stop()
    server.start()
    client = get_client(url=server.base)
    after = await client.threads.get_state(tid)
    assert after["values"]["messages"] == before["values"]["messages"]
    assert len(await pending(client, tid)) == 1  # the approval survived the restart
    await client.runs.wait(tid, "orchestrator", command={"resume": {"decisions": [{"type": "approve"}]}})
    state = await client.threads.get_state(tid)
    assert any("DRY RUN: would restart default/search" in str(m["content"]) for m in state["values"]["messages"])
