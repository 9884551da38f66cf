"""Offline research: search the documents, then answer extractively with numbered citations."""

from __future__ import annotations

import re

from langchain_core.messages import AIMessage, BaseMessage

from agents._offline import turn
from rag.answer import answers_question, cited_as, quotable, ranked_sentences
from serving.offline_model import tool_call

_DELETE = re.compile(r"\b(?:delete|remove|forget)\b.*?\b(?:document|doc|source|file)\b\s+['\"`]?(\S+?)['\"`]?\s*$",
                     re.IGNORECASE)


NOTHING_RELEVANT = ("I found nothing in the documents that answers this: the nearest passages share no term "
                    "with the question.")


def policy(messages: list[BaseMessage]) -> AIMessage:
    question, results = turn(messages)
    if not results:
        if m := _DELETE.search(question.strip()):
            return AIMessage("", tool_calls=[tool_call("delete_document", {"source": m.group(1)})])
        return AIMessage("", tool_calls=[tool_call("search_docs", {"query": question, "k": 5})])
    last = results[-1]
    if last.name != "search_docs" or last.status == "error":
        return AIMessage(str(last.content))
    citations = (last.artifact or {}).get("citations", [])
    if not citations:
        return AIMessage("I found nothing in the documents that answers this. " + str(last.content))
    if not answers_question(question, [c["text"] for c in citations]):
        return AIMessage(NOTHING_RELEVANT)
    return AIMessage(extractive(question, citations))


def extractive(question: str, citations: list[dict], max_sentences: int = 3) -> str:
    """The sentences of the cited passages that share the most terms with the question, best first."""
    picked = ranked_sentences(question, [(c["n"], c["text"]) for c in citations])[:max_sentences]
    if not picked:
        picked = [(citations[0]["n"], citations[0]["snippet"])]
    answer = " ".join(f"{quotable(sentence)} [{n}]" for n, sentence in picked)
    sources = "\n".join(f"[{c['n']}] {cited_as(c['title'], c.get('section', ''))} — {c['source']}"
                        for c in citations)
    return f"From the documents: {answer}\n\nSources:\n{sources}"
