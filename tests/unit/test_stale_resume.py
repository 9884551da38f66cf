"""Which resumes answer nothing (serving/stale_resume.py): decided already, or a stale card's id."""

from __future__ import annotations

from serving.stale_resume import problem

A, B = "a" * 32, "b" * 32
DECISIONS = {"decisions": [{"type": "approve"}]}


def test_a_resume_for_what_waits_runs():
    assert problem({A}, {"resume": DECISIONS}) is None  # plain, as agent-chat-ui sends it
    assert problem({A}, {"resume": {A: DECISIONS}}) is None  # by id, as our UI sends it
    assert problem({A, B}, {"resume": {A: DECISIONS, B: DECISIONS}}) is None


def test_nothing_pending_is_refused():
    assert "nothing on this thread waits" in problem(set(), {"resume": DECISIONS})
    assert "nothing on this thread waits" in problem(set(), {"resume": {A: DECISIONS}})


def test_a_stale_id_is_refused_even_when_something_else_waits():
    assert "no longer pending" in problem({B}, {"resume": {A: DECISIONS}})
    assert "no longer pending" in problem({B}, {"resume": {A: DECISIONS, B: DECISIONS}})


def test_left_to_the_server():
    assert problem(None, {"resume": DECISIONS}) is None  # no checkpoint: the API answers (404, or a new thread)
    assert problem(set(), {"goto": "x"}) is None and problem(set(), None) is None
    assert problem(set(), {"resume": None}) is None
