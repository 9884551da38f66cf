"""The benchmark commands in a short mode: their fixed JSON interfaces, and a clean load run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(600)


def agentdesk(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "serving.cli", *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_bench_orchestrator_short():
    result = agentdesk("bench", "orchestrator", "--turns", "5", "--json")
    assert {"p50_ms", "p95_ms", "baseline_p50_ms", "ratio", "checkpoint_writes_per_turn"} <= result.keys()
    assert result["p50_ms"] > 0 and result["baseline_p50_ms"] > 0
    assert result["ratio"] == pytest.approx(result["p50_ms"] / result["baseline_p50_ms"], rel=0.01)
    assert result["checkpoint_writes_per_turn"] >= 3 and result["durability"] == "async"
    # The database's own commit latency travels with the ratio, measured on the saver's connections.
    assert result["checkpoint_sync_commit"] is True and 0 < result["db_commit_p50_ms"] < 1000


def test_bench_load_short():
    result = agentdesk("bench", "load", "--threads", "3", "--turns", "2", "--model-latency-ms", "50", "--json")
    assert {"ok", "errors", "p50_ms", "p95_ms", "overhead_p95_ms", "runs_per_s"} <= result.keys()
    assert result["ok"] == 6 and result["errors"] == 0
    assert result["p50_ms"] >= 2 * 50  # two model calls per turn at 50 ms each
