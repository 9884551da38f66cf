"""find_runbook over the real RAG store (Postgres chunk store, BM25 + MiniLM), restricted to runbooks."""

from __future__ import annotations

import asyncio

import pytest

from agents.devops import runbook_index, tools
from agents.devops.runbook_index import RUNBOOK_DIR


@pytest.fixture(scope="module")
async def ingested():
    from rag.ingest import ingest_paths

    report = await asyncio.to_thread(ingest_paths, [RUNBOOK_DIR], None, False)
    assert not report.skipped, report.skipped


@pytest.mark.parametrize("symptom, slug", [
    ("HighErrorRate: 5xx ratio above 2% on checkout", "error-spike"),
    ("p95 latency above 500 ms, users report slow answers", "high-latency"),
    ("pod in CrashLoopBackOff, OOMKilled", "crash-loop"),
    ("volume 90% used, DiskPressure evictions", "disk-pressure"),
    ("new version failing readiness after the rollout", "failed-deploy"),
])
async def test_the_rag_store_finds_the_runbook(ingested, symptom, slug):
    books, how = await runbook_index.find(symptom, k=3)
    assert how == "found with the RAG store (hybrid search)"
    assert books[0].slug == slug
    assert all(b.source.startswith("agents/devops/runbooks/") for b in books)  # docs are filtered out


async def test_find_runbook_tool_cites_sources_and_remediations(ingested):
    msg = await tools.find_runbook.ainvoke({"name": "find_runbook", "args": {"symptom": "HighErrorRate 5xx"},
                                            "id": "rb-1", "type": "tool_call"})
    top = msg.artifact["citations"][0]
    assert top["source"] == "agents/devops/runbooks/error-spike.md" and top["n"] == 1
    assert top["remediations"] == ["rollback_deployment", "restart_workload"]
    assert msg.content.startswith("[1] Runbook: error spike (agents/devops/runbooks/error-spike.md)")
