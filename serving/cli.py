"""`agentdesk` console script. Each subcommand lives with the part it drives; this file only parses."""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import sys
from pathlib import Path


def _lazy(target: str):
    """Import `module:function` only when the subcommand runs, so `agentdesk --help` stays fast."""

    def run(args: argparse.Namespace) -> int:
        module, func = target.split(":")
        return getattr(importlib.import_module(module), func)(args) or 0

    return run


def _at_least(low: float, kind: type = int):
    """An argparse type: a number of `kind` no smaller than `low`, else a usage error (exit 2)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if not math.isfinite(value):  # nan < low is False: it would pass the check below
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {low} or more, got {text}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agentdesk", description="agentdesk multi-agent desk")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the LangGraph server with the chat UI")
    run.add_argument("--port", type=int, default=None, help="default: $PORT or 2024")
    run.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    run.add_argument("--n-jobs-per-worker", type=int, default=None,
                     help="runs the server executes at once (langgraph dev's default when unset)")
    run.set_defaults(func=_lazy("serving.runner:main"))

    ing = sub.add_parser("ingest", help="ingest Markdown, text, HTML and PDF into the chunk store")
    ing.add_argument("paths", nargs="+", help="files or folders (recursive): .md .txt .html .pdf")
    ing.add_argument("--reset", action="store_true",
                     help="empty the chunk store first (after changing AGENTDESK_ENCODER: ingest every document)")
    ing.set_defaults(func=_lazy("rag.ingest:main"))

    ev = sub.add_parser("eval", help="evaluations").add_subparsers(dest="eval", required=True)
    r = ev.add_parser("retrieval", help="retrieval eval on a BEIR-layout dataset")
    r.add_argument("--corpus", required=True, metavar="DIR", help="folder with corpus.jsonl (_id, title, text)")
    r.add_argument("--queries", required=True, metavar="DIR",
                   help="folder with queries.jsonl and qrels/SPLIT.tsv (may be the corpus folder)")
    r.add_argument("--split", required=True, metavar="NAME", help="qrels file to score: qrels/NAME.tsv")
    r.add_argument("--methods", default="bm25,dense,hybrid,hybrid_rerank",
                   help="comma-separated (default: all four)")
    r.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    r.set_defaults(func=_lazy("evals.retrieval:main"))
    g = ev.add_parser("guardrails", help="input-guard eval on a labelled JSONL file")
    g.add_argument("--dataset", required=True, metavar="FILE.jsonl",
                   help='rows {"text", "label" (1 = attack), optional "source"}')
    g.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    g.add_argument("--errors", metavar="OUT.jsonl", help="also write every missed attack and false positive here")
    g.set_defaults(func=_lazy("evals.guardrails_eval:main"))
    s = ev.add_parser("scenarios", help="scripted end-to-end scenarios")
    s.add_argument("--endpoint", default=None, metavar="URL",
                   help="an OpenAI-compatible endpoint (vLLM) to evaluate instead of the recorded responses")
    s.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    s.set_defaults(func=_lazy("evals.scenarios:main"))

    pr = sub.add_parser("prune", help="delete checkpoints of threads idle for more than N days")
    pr.add_argument("--older-than", type=_at_least(0, float), required=True, metavar="DAYS", help="idle for more than DAYS (fractions allowed)")
    pr.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
    pr.add_argument("--include-pending", action="store_true",
                    help="also prune idle threads that wait for an approval decision (kept by default)")
    pr.set_defaults(func=_lazy("serving.prune:main"))

    tr = sub.add_parser("train", help="train offline artifacts").add_subparsers(dest="what", required=True)
    inj = tr.add_parser("injection", help="train the injection classifier from a labelled JSONL")
    inj.add_argument("--dataset", required=True, metavar="FILE.jsonl", help='rows {"text", "label", "source"}')
    inj.add_argument("--report", action="store_true", help="also print CV and leave-one-source-out figures")
    inj.set_defaults(func=_lazy("guardrails.train:main"))

    us = sub.add_parser("users", help="API-key users (none: the server runs as one local user)")
    us_sub = us.add_subparsers(dest="users", required=True)
    ua = us_sub.add_parser("add", help="create a user's API key and print it once")
    ua.add_argument("name", help="a unique user name")
    ua.add_argument("--tenant", default="default", help="the tenant whose threads the user sees")
    ul = us_sub.add_parser("list", help="users and their key ids")
    ul.add_argument("--json", action="store_true", help="print the users as JSON")
    ur = us_sub.add_parser("revoke", help="revoke every key of a user, or one key by its id")
    ur.add_argument("who", metavar="NAME|KEY_ID")
    us.set_defaults(func=_lazy("serving.users:main"))

    b = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="bench", required=True)
    bl = b.add_parser("load", help="many concurrent threads against a server, scripted model at a fixed latency")
    bl.add_argument("--threads", type=_at_least(1), default=50, help="concurrent threads (default 50)")
    bl.add_argument("--turns", type=_at_least(1), default=10, help="turns per thread (default 10)")
    bl.add_argument("--model-latency-ms", type=_at_least(0, float), default=200, help="scripted model latency per call (default 200)")
    bl.add_argument("--url", default=None,
                    help="a running server to drive; default: start one (and the scripted model) and stop it after")
    bl.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    bl.set_defaults(func=_lazy("evals.bench_load:main"))
    bo = b.add_parser("orchestrator", help="one routed turn against bare LangGraph, same database, zero-latency model")
    bo.add_argument("--turns", type=_at_least(1), default=50, help="measured turns per graph (default 50)")
    bo.add_argument("--durability", choices=["sync", "async", "exit"], default="async",
                    help="LangGraph checkpoint durability mode for both graphs (default: async)")
    bo.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    bo.set_defaults(func=_lazy("evals.bench_orchestrator:main"))
    return p


def load_dotenv() -> None:
    """`.env` in the working directory into the environment, variables already set winning (as
    pydantic-settings reads it). The settings classes read `.env` themselves, but what reads the
    environment directly (auth mode, Langfuse, OpenTelemetry, the SQL limits) did not, and neither
    did the server `agentdesk run` starts, whose working directory is under the data folder: a
    served model or `AGENTDESK_AUTH=keys` set in `.env` was ignored by the process that runs the graphs."""
    import dotenv

    dotenv.load_dotenv(Path.cwd() / ".env", override=False)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    load_dotenv()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - only settings and database failures get a short form
        if problem := _settings_problem(exc):
            print(f"error: {problem}", file=sys.stderr)
            return 2
        if not _is_database_failure(exc):
            raise
        print(f"error: Postgres at {_where()} failed: {str(exc).strip().splitlines()[0]}. Check that it runs "
              "and DATABASE_URL is right (unset DATABASE_URL to use the embedded Postgres).", file=sys.stderr)
        return 2


def _settings_problem(exc: BaseException) -> str | None:
    """One line per bad setting (pydantic names the variable), or the auth setting's own error."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError) and exc.title in ("Settings", "GuardSettings"):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}={e.get('input')!r}: {e['msg']}" for e in exc.errors())
    if isinstance(exc, ValueError) and str(exc).startswith(("AGENTDESK_", "DATABASE_URL")):  # our own checks
        return str(exc)
    return None


def _is_database_failure(exc: BaseException) -> bool:
    import psycopg
    from psycopg_pool import PoolTimeout

    return isinstance(exc, (psycopg.OperationalError, PoolTimeout))


def _where() -> str:
    """host:port/dbname of the configured database, never its password."""
    import psycopg

    from serving.db import database_url

    try:
        info = psycopg.conninfo.conninfo_to_dict(database_url())
    except Exception:  # noqa: BLE001 - a URL that does not parse is reported as such
        return "(an unparsable DATABASE_URL)"
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


if __name__ == "__main__":
    sys.exit(main())
