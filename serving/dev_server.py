"""`langgraph dev`, with idle HTTP connections kept open longer than clients keep them.

uvicorn closes an idle keep-alive connection after 5 s, and httpx (so langgraph-sdk) reuses an idle
connection for up to 5 s. A request sent on a connection at the moment the server closes it fails
with `httpx.ReadError` before reaching the server (seen under load: 1-4 of 1,000 thread creations
through one client). A server should keep idle connections longer than its clients do, and
`langgraph dev` has no option for it, so this entry point gives uvicorn a longer
`timeout_keep_alive`, then runs the langgraph CLI unchanged. Checked end to end by
tests/e2e/test_faults_db.py (a connection idle past 5 s is still served).
"""

from __future__ import annotations

import functools
import sys

KEEP_ALIVE_S = 75  # above httpx's 5 s, aiohttp's 15 s and the usual 60 s of load balancers


def main(argv: list[str] | None = None) -> None:
    import uvicorn
    from langgraph_cli.cli import cli

    # langgraph_api.cli.run_server calls `uvicorn.run(...)` by attribute, at start.
    uvicorn.run = functools.partial(uvicorn.run, timeout_keep_alive=KEEP_ALIVE_S)
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="langgraph")


if __name__ == "__main__":
    main()
