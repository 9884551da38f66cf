"""Research tools: search the chunk store (low risk) and delete a document from it (high risk)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import InjectedToolCallId, tool
from langgraph.prebuilt import InjectedState

from guardrails.policy import Risk, register
from guardrails.retrieval_guard import screen_hit
from rag.answer import cited_as


MAX_K = 20


def _k(value: Any) -> int:
    return max(1, min(int(value), MAX_K)) if isinstance(value, int) else 5


def first_number(state: dict | None, call_id: str | None) -> int:
    """Where this search's passage numbers start. Numbers run on through a turn: a second search
    (after reading the first, or beside it in one reply) numbers its passages after the first's,
    so every [n] in the answer names one passage, for the model and in the UI."""
    messages = list((state or {}).get("messages") or [])
    start = next((i + 1 for i in range(len(messages) - 1, -1, -1) if isinstance(messages[i], HumanMessage)), 0)
    turn = messages[start:]
    used = max((c.get("n", 0) for m in turn if isinstance(m, ToolMessage) and m.name == "search_docs"
                and isinstance(m.artifact, dict) for c in m.artifact.get("citations", [])), default=0)
    answered = {m.tool_call_id for m in turn if isinstance(m, ToolMessage)}
    mine = next((m for m in reversed(turn) if isinstance(m, AIMessage)
                 and any(c["id"] == call_id for c in m.tool_calls)), None)
    for call in mine.tool_calls if mine else []:  # earlier calls in the same reply run beside this one
        if call["id"] == call_id:
            break
        if call["name"] == "search_docs" and call["id"] not in answered:
            used += _k(call["args"].get("k", 5))
    return used + 1


@tool(response_format="content_and_artifact")
async def search_docs(query: str, state: Annotated[dict | None, InjectedState] = None,
                      tool_call_id: Annotated[str | None, InjectedToolCallId] = None, k: int = 5) -> tuple[str, dict]:
    """Search the team's documents (hybrid BM25 + dense retrieval); returns numbered passages."""
    from rag import search as rag_search

    result = await rag_search.search(query, k=_k(k))
    citations, lines = [], []
    # Indirect injection is neutralised here, in a thread: screening is CPU work on untrusted text.
    screened = await asyncio.to_thread(lambda: [screen_hit(h.title, h.headings, h.text) for h in result.hits])
    for n, (hit, (title, headings, text, flagged)) in enumerate(zip(result.hits, screened),
                                                              start=first_number(state, tool_call_id)):
        section = " › ".join(headings)
        citations.append({
            "n": n, "chunk_id": hit.chunk_id, "source": hit.source, "title": title,
            "section": section, "position": hit.position, "snippet": text[:300], "text": text, "score": round(hit.score, 4),
            "flagged": flagged,
        })
        lines.append(f"[{n}] {cited_as(title, section)} ({hit.source})\n{text}")
    notes = list(result.notes)
    if not lines:
        return "No passage matched. " + " ".join(notes), {"type": "citations", "citations": [], "notes": notes}
    body = "\n\n".join(lines) + ("\n\nNotes: " + " ".join(notes) if notes else "")
    return body, {"type": "citations", "query": query, "citations": citations, "notes": notes}


@tool
async def delete_document(source: str) -> str:
    """Delete every chunk of one source document from the chunk store."""
    from rag import store as rag_store

    removed = await rag_store.delete_source(source)
    return f"Deleted {removed} chunk(s) of {source}." if removed else f"No chunks found for {source}."


register(search_docs, risk=Risk.low, agents={"research"})
register(delete_document, risk=Risk.high, agents={"research"}, side_effects=True,
         describe=lambda a: f"Delete all chunks of {a.get('source')!r} from the document store")

TOOLS = [search_docs, delete_document]
