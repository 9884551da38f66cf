"""search_logs against Grafana Loki's HTTP API (/loki/api/v1/push, /loki/api/v1/query_range).

Needs a real Grafana Loki binary: AGENTDESK_LOKI_BIN, or `loki` on PATH if it is Grafana's. It is
not in Debian bookworm (Debian's `loki` is a genetics program), nor on PyPI or npm, so on such a
machine the test that needs it fails with that message instead of running against a fake.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid

import httpx
import pytest

from agents.devops import tools
from agents.devops.signals import Loki, SignalError
from evals.scripted_llm import free_port

WAIT_S = 60  # Loki's ring takes ~15 s to settle on one node


def grafana_loki() -> str:
    for candidate in (os.environ.get("AGENTDESK_LOKI_BIN"), shutil.which("loki")):
        if not candidate:
            continue
        probe = subprocess.run([candidate, "-version"], capture_output=True, text=True, timeout=10)
        if "loki, version" in (probe.stdout + probe.stderr):
            return candidate
    pytest.fail("BLOCKED: no Grafana Loki binary. Set AGENTDESK_LOKI_BIN to a Grafana Loki (3.x) binary; "
                "Debian's `loki` package is a genetics program and no registry here ships Grafana Loki.")


CONFIG = """auth_enabled: false
server: {{http_listen_address: 127.0.0.1, http_listen_port: {http}, grpc_listen_address: 127.0.0.1, grpc_listen_port: {grpc}}}
common:
  path_prefix: {tmp}
  storage: {{filesystem: {{chunks_directory: {tmp}/chunks, rules_directory: {tmp}/rules}}}}
  replication_factor: 1
  ring: {{instance_addr: 127.0.0.1, kvstore: {{store: inmemory}}}}
schema_config:
  configs: [{{from: "2024-01-01", store: tsdb, object_store: filesystem, schema: v13, index: {{prefix: index_, period: 24h}}}}]
analytics: {{reporting_enabled: false}}
"""


@pytest.fixture(scope="module")
def loki(tmp_path_factory):
    binary = grafana_loki()
    tmp = tmp_path_factory.mktemp("loki")
    http, grpc = free_port(), free_port()
    (tmp / "loki.yml").write_text(CONFIG.format(http=http, grpc=grpc, tmp=tmp))
    log = (tmp / "loki.log").open("wb")
    proc = subprocess.Popen([binary, f"-config.file={tmp / 'loki.yml'}"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http}"
    try:
        deadline = time.time() + WAIT_S
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                pytest.fail(f"Loki did not become ready in {WAIT_S}s:\n{(tmp / 'loki.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


async def call(t, **args):
    return await t.ainvoke({"name": t.name, "args": args, "id": f"t-{uuid.uuid4().hex[:8]}", "type": "tool_call"})


async def test_unreachable_loki_is_a_clear_error(settings_env):
    settings_env(LOKI_URL=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(SignalError, match="Loki at .* is unreachable"):
        await call(tools.search_logs, level="error")


@pytest.mark.needs_loki
async def test_push_then_search_with_level_window_and_cap(loki, settings_env):
    settings_env(LOKI_URL=loki)
    run = uuid.uuid4().hex[:8]
    now = time.time()
    await Loki(loki).push([
        ({"service": "checkout", "run": run}, [(now - 5, f'{{"level": "error", "msg": "db timeout {i}"}}') for i in range(5)]
         + [(now - 4, '{"level": "info", "msg": "ok"}')]),
        ({"service": "checkout", "run": run, "age": "old"}, [(now - 7200, '{"level": "error", "msg": "old"}')]),
    ])
    msg = None
    for _ in range(20):  # ingestion is asynchronous: poll, bounded
        msg = await call(tools.search_logs, selector=f'{{run="{run}"}}', level="error", window="15m", limit=3)
        if len(msg.artifact["rows"]) == 3:
            break
        await asyncio.sleep(0.5)
    assert len(msg.artifact["rows"]) == 3 and all("db timeout" in r["line"] for r in msg.artifact["rows"])
    assert msg.artifact["source"] == "loki"
    with pytest.raises(SignalError, match="Loki rejected the query"):
        await call(tools.search_logs, query='{run="x"} |= ')
