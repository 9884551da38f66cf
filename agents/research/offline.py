"""Offline research: search the documents, then answer extractively with numbered citations."""

from __future__ import annotations

import re

from langchain_core.messages import AIMessage, BaseMessage

from agents._offline import turn
from serving.offline_model import tool_call

_DELETE = re.compile(r"\b(?:delete|remove|forget)\b.*?\b(?:document|doc|source|file)\b\s+['\"`]?(\S+?)['\"`]?\s*$",
                     re.IGNORECASE)


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
    return AIMessage(extractive(question, citations))


def extractive(question: str, citations: list[dict], max_sentences: int = 3) -> str:
    """The sentences of the cited passages that share the most words with the question."""
    words = {w for w in re.findall(r"[a-z0-9]+", question.lower()) if len(w) > 2}
    scored = []
    for c in citations:
        for order, sent in enumerate(re.split(r"(?<=[.!?])\s+|\n+", c["text"])):
            sent = sent.strip(" #*-")
            if len(sent) < 20:
                continue
            overlap = len(words & set(re.findall(r"[a-z0-9]+", sent.lower())))
            scored.append((overlap, -c["n"], -order, sent, c["n"]))
    scored.sort(reverse=True)
    picked = scored[:max_sentences] or [(0, 0, 0, citations[0]["snippet"], citations[0]["n"])]
    answer = " ".join(f"{s} [{n}]" for *_, s, n in picked)
    sources = "\n".join(f"[{c['n']}] {c['title']} — {c['source']}" for c in citations)
    return f"From the documents: {answer}\n\nSources:\n{sources}"
