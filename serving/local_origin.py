"""Browsers may not drive a server in local mode from another web site.

Local mode (no users, no keys) trusts whoever can reach the server, and a browser can reach
127.0.0.1 from any page it shows: with the server's CORS policy allowing every origin, a page on
another site read every thread and approved its own SQL write (the audit log said `local`). And
with any Host accepted, DNS rebinding gets the same access whatever CORS says. So, in local mode:
the Host must be a loopback name (or one listed in AGENTDESK_ALLOWED_HOSTS), and a request that
carries an Origin (every cross-origin fetch does) must come from the server itself, from LangGraph
Studio, or from an origin listed in AGENTDESK_ALLOWED_ORIGINS (agent-chat-ui, say). Requests with
no Origin (curl, the SDK, Studio's desktop app) are not browsers acting for another site. In keys
mode nothing changes: the API key, sent as a header, is what a foreign page does not have.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from serving.settings import get_settings

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
PROBE_PATHS = frozenset({"/ok", "/healthz", "/metrics"})  # Kubernetes probes and Prometheus, by pod IP
STUDIO_ORIGINS = frozenset({"https://smith.langchain.com", "https://eu.smith.langchain.com"})


def _listed(value: str) -> set[str]:
    return {v.strip().lower().rstrip("/") for v in value.split(",") if v.strip()}


def _hostname(host_header: str) -> str:
    try:
        return (urlsplit(f"//{host_header}").hostname or "").rstrip(".")
    except ValueError:
        return ""


def problem(headers: dict[bytes, bytes]) -> str | None:
    """Why a local-mode request is refused, or None."""
    settings = get_settings()
    host_header = headers.get(b"host", b"").decode("latin-1").strip().lower()
    hosts = LOOPBACK_HOSTS | _listed(settings.allowed_hosts)
    if "*" not in hosts and _hostname(host_header) not in hosts:
        return (f"this server is in local mode (no users) and answers only for localhost; Host "
                f"{host_header!r} is not allowed (list it in AGENTDESK_ALLOWED_HOSTS, or add users)")
    origin = headers.get(b"origin")
    if origin is None:
        return None
    origin_s = origin.decode("latin-1").strip().lower().rstrip("/")
    own = {f"http://{host_header}", f"https://{host_header}"}
    allowed = STUDIO_ORIGINS | _listed(settings.allowed_origins)
    if origin_s in own or origin_s in allowed or "*" in allowed:
        return None
    return (f"this server is in local mode (no users): a browser page from {origin_s} may not use it "
            "(list the origin in AGENTDESK_ALLOWED_ORIGINS, or add users with `agentdesk users add`)")
