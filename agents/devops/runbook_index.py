"""Finding the runbook for a symptom.

The runbooks are ingested into the RAG store by `agentdesk run` (serving/runner.py DEMO_CORPUS), so
the search goes through the same hybrid retrieval as the research agent, keeping only hits whose
source is a runbook. When the store cannot answer (not ingested yet, rag not importable, database
down) the runbook files themselves are ranked with BM25, and the answer says so: triage must not
stop because retrieval is unavailable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

RUNBOOK_DIR = Path(__file__).resolve().parent / "runbooks"
_WORD = re.compile(r"[a-z0-9]+")
_TOOL = re.compile(r"`(restart_workload|scale_workload|rollback_deployment)`")


@dataclass
class Runbook:
    slug: str  # file stem, e.g. "error-spike"
    title: str
    source: str  # path relative to the project, what the answer cites
    text: str
    score: float = 0.0

    @property
    def remediations(self) -> list[str]:
        """Tools named in the Remediate section, in the runbook's order of preference."""
        section = self.text.split("## Remediate", 1)[-1].split("\n## ", 1)[0]
        return list(dict.fromkeys(_TOOL.findall(section)))

    def section(self, heading: str) -> str:
        parts = self.text.split(f"## {heading}", 1)
        return parts[1].split("\n## ", 1)[0].strip() if len(parts) == 2 else ""


@lru_cache(maxsize=1)
def all_runbooks() -> dict[str, Runbook]:
    books = {}
    for path in sorted(RUNBOOK_DIR.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        title = text.splitlines()[0].lstrip("# ").strip() if text else path.stem
        books[path.stem] = Runbook(path.stem, title, f"agents/devops/runbooks/{path.name}", text)
    return books


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _local(symptom: str, k: int) -> list[Runbook]:
    from rank_bm25 import BM25Okapi

    books = list(all_runbooks().values())
    # The title and symptoms paragraph say what a runbook is for; weight them by repeating.
    docs = [_tokens(b.title * 3 + b.text.split("## Check", 1)[0] * 2 + b.text) for b in books]
    scores = BM25Okapi(docs).get_scores(_tokens(symptom))
    ranked = sorted(zip(scores, books, strict=True), key=lambda p: -p[0])
    return [Runbook(b.slug, b.title, b.source, b.text, float(s)) for s, b in ranked[:k] if s > 0]


async def find(symptom: str, k: int = 3) -> tuple[list[Runbook], str]:
    """Top runbooks for `symptom` and a note on how they were found."""
    books = all_runbooks()
    try:
        from rag import search as rag_search  # lazily: rag/ is optional for the rest of the agent

        # Over-fetch: the store also holds docs; only runbook chunks count here.
        result = await rag_search.search(symptom, k=max(20, k * 6))
        found: dict[str, Runbook] = {}
        for hit in result.hits:
            slug = Path(hit.source).stem
            if "runbooks" in Path(hit.source).parts and slug in books and slug not in found:
                b = books[slug]
                found[slug] = Runbook(b.slug, b.title, b.source, b.text, float(hit.score))
        if found:
            return list(found.values())[:k], "found with the RAG store (hybrid search)"
        reason = "the RAG store has no runbook chunks (run `agentdesk ingest agents/devops/runbooks`)"
    except Exception as exc:  # noqa: BLE001 - any retrieval failure falls back, and is reported
        reason = f"the RAG store is unavailable ({type(exc).__name__}: {str(exc)[:200]})"
    return _local(symptom, k), f"{reason}; ranked the runbook files directly with BM25"
