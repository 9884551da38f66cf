"""The `rag` subgraph: rewrite -> (BM25 || dense) -> fuse -> rerank -> screen -> sufficiency -> answer.

Model steps go through serving.gateway. With the offline model (no LLM) the rewrite is the
identity and the answer is extractive (rag.answer), so the graph does useful, citable work on a
laptop. Compiled without a checkpointer: the LangGraph server (or a parent graph) supplies one.
Hits are stored in state as plain dicts so checkpoints serialise them without custom types.
"""

from __future__ import annotations

import asyncio
import logging
import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from guardrails.output_guard import check_output
from guardrails.retrieval_guard import screen_hit
from rag.answer import answers_question, citation, extractive_answer
from rag.search import Retriever, retriever
from rag.types import Hit

log = logging.getLogger(__name__)
TOP_K = 5

REWRITE_PROMPT = ("Rewrite the user's question as one short search query for a document index. "
                  "Keep names, numbers and technical terms. Reply with the query only.")
ANSWER_PROMPT = ("Answer the question using only the numbered passages. After every claim put "
                 "the number of the passage that supports it, like [1]. If the passages do not "
                 "answer the question, say so.")
NO_ANSWER = "The indexed documents do not contain enough to answer this question."


class RagState(TypedDict, total=False):
    question: str
    rewritten: str
    bm25_hits: list[dict[str, Any]]
    dense_hits: list[dict[str, Any]]
    fused: list[dict[str, Any]]
    hits: list[dict[str, Any]]
    sufficient: bool
    answer: str
    citations: list[dict[str, Any]]
    notes: Annotated[list[str], operator.add]


def _offline() -> bool:
    try:
        from serving.gateway import is_offline

        return is_offline()
    except ImportError:  # gateway not installed: behave as the offline model
        return True


async def _ask(role: str, system: str, user: str) -> str:
    from serving.gateway import chat_model

    msg = await chat_model(role).ainvoke([SystemMessage(system), HumanMessage(user)])
    return str(msg.content).strip()


def build_graph(r: Retriever | None = None) -> StateGraph:
    r = r or retriever()

    async def rewrite(state: RagState) -> dict[str, Any]:
        q = state["question"]
        if _offline():
            return {"rewritten": q}
        try:
            return {"rewritten": (await _ask("rag_rewrite", REWRITE_PROMPT, q)) or q}
        except Exception as e:  # a failed rewrite must not fail retrieval
            log.warning("query rewrite failed: %s", e)
            return {"rewritten": q, "notes": [f"query rewrite skipped: {type(e).__name__}"]}

    async def bm25(state: RagState) -> dict[str, Any]:
        return {"bm25_hits": [h.to_dict() for h in await r.bm25(state["rewritten"])]}

    async def dense(state: RagState) -> dict[str, Any]:
        snap = await r.snapshot()
        hits = [h.to_dict() for h in await r.dense(state["rewritten"], snap=snap)]
        return {"dense_hits": hits, "notes": [snap.mismatch] if snap.mismatch else []}

    def fuse(state: RagState) -> dict[str, Any]:
        fused = r.fuse([Hit.of(h) for h in state.get("bm25_hits", [])],
                       [Hit.of(h) for h in state.get("dense_hits", [])])
        return {"fused": [h.to_dict() for h in fused]}

    async def rerank(state: RagState) -> dict[str, Any]:
        hits, notes = await r.rerank(state["rewritten"], [Hit.of(h) for h in state["fused"]])
        return {"hits": [h.to_dict() for h in hits[:TOP_K]], "notes": notes}

    async def screen(state: RagState) -> dict[str, Any]:
        # The graph is served on its own (langgraph.json `rag`), so it screens what it retrieved
        # as search_docs does: instructions planted in a document never reach the answer model.
        hits = state.get("hits", [])
        screened = await asyncio.to_thread(lambda: [screen_hit(h["title"], h.get("headings") or [], h["text"])
                                                    for h in hits])
        out = [{**h, "title": t, "headings": hs, "text": x, "flagged": f} for h, (t, hs, x, f) in zip(hits, screened)]
        flagged = sum(f for *_, f in screened)
        return {"hits": out, "notes": [f"{flagged} retrieved passage(s) carried instructions; neutralised"] if flagged else []}

    def check(state: RagState) -> dict[str, Any]:
        texts = [h["text"] for h in state.get("hits", [])]
        question = f"{state['question']} {state.get('rewritten', '')}"
        return {"sufficient": answers_question(question, texts)}

    async def answer(state: RagState) -> dict[str, Any]:
        out = await _answer(state)
        # The same output guard as the orchestrator's: secrets and PII redacted, links only to
        # cited sources (or the allowlist).
        cited = [c.get("source", "") for c in out.get("citations", [])]
        verdict = check_output(out["answer"], allowed_links=[u for u in cited if u.startswith("http")])
        if verdict.text != out["answer"]:
            out = {**out, "answer": verdict.text,
                   "notes": [*out.get("notes", []), "the answer was redacted by the output guard"]}
        return out

    async def _answer(state: RagState) -> dict[str, Any]:
        if not state.get("sufficient"):
            return {"answer": NO_ANSWER, "citations": []}
        q, hits = state["question"], state["hits"]
        if _offline():
            text, cites = extractive_answer(q, hits)
            return {"answer": text, "citations": cites}
        cites = [citation(n, Hit.of(h)) for n, h in enumerate(hits, start=1)]
        passages = "\n\n".join(f"[{c['n']}] {c['title']}\n{h['text']}" for c, h in zip(cites, hits))
        try:
            text = await _ask("rag_answer", ANSWER_PROMPT, f"Passages:\n{passages}\n\nQuestion: {q}")
            return {"answer": text, "citations": cites}
        except Exception as e:
            text, cites = extractive_answer(q, hits)
            return {"answer": text, "citations": cites,
                    "notes": [f"model answer failed ({type(e).__name__}); extractive answer"]}

    g = StateGraph(RagState)
    for name, fn in [("rewrite", rewrite), ("bm25", bm25), ("dense", dense), ("fuse", fuse),
                     ("rerank", rerank), ("screen", screen), ("check", check), ("answer", answer)]:
        g.add_node(name, fn)
    g.add_edge(START, "rewrite")
    g.add_edge("rewrite", "bm25")
    g.add_edge("rewrite", "dense")
    g.add_edge(["bm25", "dense"], "fuse")  # waits for both branches
    g.add_edge("fuse", "rerank")
    g.add_edge("rerank", "screen")
    g.add_edge("screen", "check")
    g.add_edge("check", "answer")
    g.add_edge("answer", END)
    return g


graph = build_graph().compile()
