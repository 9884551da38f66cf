"""Extractive answers with numbered citations (the offline model's answer, reusable by agents).

Each of the top chunks contributes its sentences that share the most query terms, each followed
by [n]; citation n maps to the chunk's id and source, so every claim is traceable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rag.bm25 import tokenize
from rag.chunking import split_sentences
from rag.types import Hit

SNIPPET_CHARS = 240


def cited_as(title: str, section: str = "") -> str:
    """How a passage is named in a list of sources: its document, then the section inside it, so
    three passages of one document are told apart ("Approvals › Resume", "Approvals › Audit")."""
    return f"{title} › {section}" if title and section else title or section


def citation(n: int, hit: Hit) -> dict[str, Any]:
    snippet = " ".join(hit.text.split())
    if len(snippet) > SNIPPET_CHARS:
        snippet = snippet[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"
    return {"n": n, "chunk_id": hit.chunk_id, "source": hit.source, "title": hit.title,
            "section": hit.section, "snippet": snippet}


_BULLET = re.compile(r"^(?:#+|[-*+]|\d+[.)])\s+")
# Bounded and free of its own delimiter, so a text of unclosed "**" stays linear.
_BOLD = re.compile(r"\*\*(?=\S)([^*]{1,300}?)(?<=\S)\*\*|__(?=\S)([^_]{1,300}?)(?<=\S)__")
_OWN_MARKER = re.compile(r"\[(\d+)\]")


def answers_question(question: str, texts: Sequence[str]) -> bool:
    """Enough to answer: some passage shares a content term with the question. Dense search
    always returns k hits, so without this a question the documents never mention gets a
    confident, cited answer from whatever is nearest."""
    terms = set(tokenize(question))
    return any(terms & set(tokenize(text)) for text in texts)


def quotable(sentence: str) -> str:
    """A sentence as an answer quotes it: bullet, heading and bold markup dropped, and bracketed
    numbers of its own written (n), so that only the answer's citations read as [n]."""
    text = _BOLD.sub(lambda m: m.group(1) or m.group(2), _BULLET.sub("", sentence.strip()))
    return _OWN_MARKER.sub(r"(\1)", text)


def ranked_sentences(question: str, passages: Sequence[tuple[int, str]],
                     min_chars: int = 20) -> list[tuple[int, str]]:
    """(n, sentence) from every passage, the most query terms shared first; ties go to the earlier
    passage, then the earlier sentence. Fragments under `min_chars` (headings, labels) are left out."""
    terms = set(tokenize(question))
    scored = [(len(terms & set(tokenize(sent))), -i, -j, n, sent)
              for i, (n, text) in enumerate(passages)
              for j, sent in enumerate(split_sentences(text)) if len(sent) >= min_chars]
    return [(n, sent) for *_, n, sent in sorted(scored, key=lambda t: t[:3], reverse=True)]


def best_sentences(question: str, text: str, limit: int) -> list[str]:
    """Sentences of `text` by query-term overlap (ties: earlier first), in reading order."""
    terms = set(tokenize(question))
    sents = split_sentences(text)
    scored = [(len(terms & set(tokenize(s))), -i, s) for i, s in enumerate(sents)]
    top = sorted(scored, reverse=True)[:limit]
    return [s for _, _, s in sorted(top, key=lambda t: -t[1])]


def extractive_answer(question: str, hits: Sequence[Hit | dict[str, Any]], max_chunks: int = 3,
                      sentences_per_chunk: int = 2) -> tuple[str, list[dict[str, Any]]]:
    """(answer text with [n] markers, citations [{n, chunk_id, source, title, snippet}])."""
    lines: list[str] = []
    citations: list[dict[str, Any]] = []
    for hit in map(Hit.of, hits[:max_chunks]):
        sents = best_sentences(question, hit.text, sentences_per_chunk)
        if not sents:
            continue
        n = len(citations) + 1
        citations.append(citation(n, hit))
        lines.extend(f"{quotable(s)} [{n}]" for s in sents)
    return " ".join(lines), citations
