"""The research agent's own logic: citation numbers that run on through a turn, and the offline
answer that declines when the nearest passages do not touch the question."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agents.research.offline import NOTHING_RELEVANT, policy
from agents.research.tools import first_number


def search(call_id: str, k: int = 5) -> dict:
    return {"name": "search_docs", "args": {"query": "q", "k": k}, "id": call_id, "type": "tool_call"}


def result(call_id: str, numbers: list[int], text: str = "passage text") -> ToolMessage:
    cites = [{"n": n, "text": text, "snippet": text, "title": "T", "source": "s.md"} for n in numbers]
    return ToolMessage("...", tool_call_id=call_id, name="search_docs", artifact={"type": "citations", "citations": cites})


def test_a_first_search_starts_at_one():
    assert first_number(None, None) == 1
    assert first_number({"messages": [HumanMessage("q"), AIMessage("", tool_calls=[search("a")])]}, "a") == 1


def test_a_later_search_in_the_turn_numbers_after_the_earlier_ones():
    messages = [HumanMessage("q"), AIMessage("", tool_calls=[search("a")]), result("a", [1, 2, 3]),
                AIMessage("", tool_calls=[search("b")])]
    assert first_number({"messages": messages}, "b") == 4


def test_searches_in_one_reply_reserve_their_k():
    messages = [HumanMessage("q"), AIMessage("", tool_calls=[search("a", k=3), search("b"), search("c")])]
    assert [first_number({"messages": messages}, c) for c in "abc"] == [1, 4, 9]


def test_a_new_question_starts_again_at_one():
    messages = [HumanMessage("q"), AIMessage("", tool_calls=[search("a")]), result("a", [1, 2]), AIMessage("answer"),
                HumanMessage("next"), AIMessage("", tool_calls=[search("b")])]
    assert first_number({"messages": messages}, "b") == 1


def test_offline_answer_declines_when_no_passage_touches_the_question():
    question = "How do I bake sourdough bread at home?"
    messages = [HumanMessage(question), AIMessage("", tool_calls=[search("a")]),
                result("a", [1, 2], "The Westmere project is owned by Pia Novak and ships in March.")]
    assert policy(messages).content == NOTHING_RELEVANT
    messages[-1] = result("a", [1], "Sourdough bread rises overnight; bake it at 230 degrees.")
    answer = policy(messages).content
    assert answer.startswith("From the documents:") and "[1]" in answer
