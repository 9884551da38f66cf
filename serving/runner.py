"""`agentdesk run` (what `make run` calls): prepare the database, then start the LangGraph server.

Preparation is idempotent: our schema, the demo warehouse (loaded once) and the demo corpus
(the project's own docs and runbooks, ingested by content hash). The server is `langgraph dev`
without browser or reload; it may move to another port when the one asked for is taken, so the
real port is read from its output before any URL is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from serving.settings import PROJECT_ROOT, get_settings

_API_LINE = re.compile(r"API:\s*(?:\x1b\[[0-9;]*m)?(https?://[^\s\x1b]+)")
DEMO_CORPUS = [PROJECT_ROOT / "docs", PROJECT_ROOT / "agents" / "devops" / "runbooks", PROJECT_ROOT / "README.md"]


def prepare(url: str) -> None:
    """Schema, warehouse and demo corpus; each step says what it did."""
    from serving.db import connect, ensure_schema

    with connect(url) as conn:
        ensure_schema(conn)
    try:
        from agents.data.warehouse import load

        started = time.perf_counter()
        loaded = load(url)
        print(f"warehouse: {'loaded' if loaded else 'already loaded'} ({time.perf_counter() - started:.1f}s)", flush=True)
    except Exception as exc:  # noqa: BLE001 - the server can still start without the demo data
        print(f"warehouse: not loaded ({type(exc).__name__}: {exc})", file=sys.stderr, flush=True)
    try:
        from rag.ingest import ingest_paths

        report = ingest_paths([p for p in DEMO_CORPUS if p.exists()])
        print(f"demo corpus: {report.summary()}", flush=True)
    except Exception as exc:  # noqa: BLE001
        print(f"demo corpus: not ingested ({type(exc).__name__}: {exc})", file=sys.stderr, flush=True)


def runtime_config(data_dir: Path) -> Path:
    """langgraph.json with absolute paths, in a server folder under the data dir.

    `langgraph dev` keeps its thread bookkeeping in `.langgraph_api/` under its working folder
    and resolves `./` paths against it; running each data dir's server in its own folder keeps
    two servers (a developer's, a test's, a benchmark's) from overwriting each other's files.
    """
    config = json.loads((PROJECT_ROOT / "langgraph.json").read_text())

    def absolute(value: str) -> str:
        return str(PROJECT_ROOT / value[2:]) if value.startswith("./") else value

    config["graphs"] = {k: absolute(v) for k, v in config["graphs"].items()}
    for section in ("checkpointer", "auth"):
        if section in config:
            config[section]["path"] = absolute(config[section]["path"])
    if "http" in config:
        config["http"]["app"] = absolute(config["http"]["app"])
    config["dependencies"] = [str(PROJECT_ROOT) if d == "." else absolute(d) for d in config["dependencies"]]
    folder = data_dir / "server"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "langgraph.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def server_command(port: int, host: str, n_jobs: int | None, config: Path) -> list[str]:
    # serving.dev_server is the langgraph CLI with a longer HTTP keep-alive (its docstring says why).
    cmd = [sys.executable, "-m", "serving.dev_server", "dev", "--no-browser", "--no-reload",
           "--allow-blocking", "--port", str(port), "--host", host, "--config", str(config)]
    if n_jobs:
        cmd += ["--n-jobs-per-worker", str(n_jobs)]
    return cmd


def model_preflight(settings) -> str:
    """One line on the model endpoint: what is configured and whether it serves that model. Never
    fatal (the endpoint may come up after the server; until then the offline fallback answers),
    but a wrong address or model name is said here rather than as fallback answers later."""
    from serving.vllm.check_endpoint import EndpointProblem, served_models

    if settings.offline:
        return "offline model (set AGENTDESK_LLM_BASE_URL for vLLM)"
    line = f"{settings.llm_model} at {settings.llm_base_url}"
    try:
        api, served = served_models(settings.llm_base_url, timeout_s=3.0, api_key=settings.llm_api_key)
    except EndpointProblem as exc:
        return f"{line}\nwarning: {exc}; the offline fallback answers until it does"
    if api != settings.llm_base_url.rstrip("/"):
        return f"{line}\nwarning: the API is at {api}: set AGENTDESK_LLM_BASE_URL={api}"
    if settings.llm_model not in served:
        return f"{line}\nwarning: {settings.llm_model!r} is not served there (it lists {served}): set AGENTDESK_LLM_MODEL"
    return f"{line} (served)"


def main(args: argparse.Namespace) -> int:
    from serving.db import database_url

    from serving import auth

    settings = get_settings()
    auth.forced_keys(), auth.jwt_settings()  # a bad auth setting stops here, before any work
    port = args.port or int(os.environ.get("PORT", "2024"))
    started = time.perf_counter()
    url = database_url()
    where = "DATABASE_URL" if settings.database_url else f"embedded Postgres in {settings.data_dir / 'pg'}"
    print(f"database: {where}", flush=True)
    prepare(url)
    print(f"model: {model_preflight(settings)}", flush=True)

    env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    config = runtime_config(settings.data_dir)
    proc = subprocess.Popen(server_command(port, args.host, args.n_jobs_per_worker, config), cwd=config.parent,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    found: dict[str, str] = {}

    def pump() -> None:  # echo the server's output and learn its real URL from it
        for line in proc.stdout:  # type: ignore[union-attr]
            sys.stdout.write(line)
            sys.stdout.flush()
            if "base" not in found and (m := _API_LINE.search(line)):
                found["base"] = m.group(1).rstrip("/")

    def announce_when_ready() -> None:
        while proc.poll() is None:
            if (base := found.get("base")) and _healthy(base):
                _announce(base, time.perf_counter() - started)
                return
            time.sleep(0.2)

    threading.Thread(target=pump, daemon=True).start()
    threading.Thread(target=announce_when_ready, daemon=True).start()
    # One signal reaches the server: a second one makes uvicorn skip its graceful shutdown, and
    # the in-memory runtime writes its thread bookkeeping only then. Ctrl-C in a terminal already
    # signals the whole process group, so on SIGINT the runner just waits.
    signal.signal(signal.SIGTERM, lambda *_: proc.send_signal(signal.SIGTERM))
    signal.signal(signal.SIGINT, lambda *_: None)
    return proc.wait()


def _healthy(base: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{base}/ok", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _announce(base: str, seconds: float) -> None:
    print(
        f"\nagentdesk is ready in {seconds:.1f}s\n"
        f"  chat UI:   {base}/ui\n"
        f"  Studio:    https://smith.langchain.com/studio/?baseUrl={base}\n"
        f"  API docs:  {base}/docs\n"
        f"  health:    {base}/healthz\n",
        flush=True,
    )
