"""Which resumes answer nothing (serving/stale_resume.py): decided already, or a stale card's id."""

from __future__ import annotations

from serving.stale_resume import problem

A, B = "a" * 32, "b" * 32
DECISIONS = {"decisions": [{"type": "approve"}]}


def thread(*ids: str, status: str = "interrupted") -> dict:
    return {"status": status, "interrupts": {"task": [{"id": i, "value": {}} for i in ids]} if ids else {}}


def test_a_resume_for_what_waits_runs():
    assert problem(thread(A), {"resume": DECISIONS}) is None  # plain, as agent-chat-ui sends it
    assert problem(thread(A), {"resume": {A: DECISIONS}}) is None  # by id, as our UI sends it
    assert problem(thread(A, B), {"resume": {A: DECISIONS, B: DECISIONS}}) is None


def test_nothing_pending_is_refused():
    assert "nothing on this thread waits" in problem(thread(status="idle"), {"resume": DECISIONS})


def test_a_stale_id_is_refused_even_when_something_else_waits():
    assert "no longer pending" in problem(thread(B), {"resume": {A: DECISIONS}})
    assert "no longer pending" in problem(thread(B), {"resume": {A: DECISIONS, B: DECISIONS}})


def test_left_to_the_server():
    assert problem(thread(A, status="busy"), {"resume": {B: DECISIONS}}) is None  # a run decides first
    assert problem(None, {"resume": DECISIONS}) is None  # unknown thread: the API's 404
    assert problem(thread(), {"goto": "x"}) is None and problem(thread(), None) is None
    assert problem(thread(), {"resume": None}) is None
