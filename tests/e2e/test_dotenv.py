"""`.env` reaches the server `agentdesk run` starts. The server runs in a folder under the data
directory with a copy of the runner's environment, so settings only in `.env` (a served model,
`AGENTDESK_AUTH=keys`) used to be ignored by the process that runs the graphs while the runner's
banner claimed them: here a `.env` that only says AGENTDESK_AUTH=keys must close the server."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.server import Server

pytestmark = pytest.mark.timeout(300)


def test_auth_set_in_dotenv_closes_the_server(tmp_path):
    (tmp_path / ".env").write_text("AGENTDESK_AUTH=keys\n")
    srv = Server(cwd=tmp_path)
    srv.env.pop("AGENTDESK_AUTH", None)
    srv.start()
    try:
        with httpx.Client(base_url=srv.base, timeout=30) as anon:
            assert anon.get("/api/info").json()["auth"] == "keys"
            assert anon.post("/threads/search", json={}).status_code == 401
    finally:
        srv.stop()
