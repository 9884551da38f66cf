"""Research tools: search the chunk store (low risk) and delete a document from it (high risk)."""

from __future__ import annotations

from langchain_core.tools import tool

from guardrails.policy import Risk, register
from guardrails.retrieval_guard import screen_chunk
from rag.answer import cited_as


@tool(response_format="content_and_artifact")
async def search_docs(query: str, k: int = 5) -> tuple[str, dict]:
    """Search the team's documents (hybrid BM25 + dense retrieval); returns numbered passages."""
    from rag import search as rag_search

    result = await rag_search.search(query, k=max(1, min(k, 20)))
    citations, lines = [], []
    for n, hit in enumerate(result.hits, start=1):
        text, flagged = screen_chunk(hit.text)  # indirect injection is neutralised here
        citations.append({
            "n": n, "chunk_id": hit.chunk_id, "source": hit.source, "title": hit.title,
            "section": hit.section, "position": hit.position, "snippet": text[:300], "text": text, "score": round(hit.score, 4),
            "flagged": flagged,
        })
        lines.append(f"[{n}] {cited_as(hit.title, hit.section)} ({hit.source})\n{text}")
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
