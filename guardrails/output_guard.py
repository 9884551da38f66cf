"""The output guard: redact PII and secrets, and drop links that are neither cited sources nor
on the allowlist (a model talked into "click here" by a poisoned document is the classic
exfiltration path, e.g. a markdown image whose URL carries the conversation)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import SplitResult, unquote, urlsplit

from guardrails import pii
from guardrails.settings import get_guard_settings

# Scheme URLs and bare "www." hosts. Bare "host.tld/path" forms are left alone on purpose:
# in engineering answers they are mostly file paths (serving/cli.py, docs/x.md).
_URL_RE = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'`{}|\\^\[\]()]+", re.I)
# No brackets inside a link's text or URL: with them, an answer of "![a](![a](..." re-scanned the rest
# of itself from every "[" (20k characters: 4 s). A bare URL with brackets still meets _URL_RE.
_MD_LINK_RE = re.compile(r"(!?)\[([^\[\]]*)\]\(\s*<?([^)\s>\[\]]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_TRAILING = ".,;:!?*_~"


@dataclass
class OutputVerdict:
    text: str
    findings: list[dict] = field(default_factory=list)
    removed_links: list[str] = field(default_factory=list)


# A link is parsed the way a browser reads it (WHATWG): the host is urlsplit's `hostname`
# (lower-cased, without userinfo or port), and a backslash ends the host as "/" does, so
# "https://evil.net\@docs.acme.com/" is evil.net, as it is to a browser (urlsplit alone says
# docs.acme.com). Only http(s) links pass. A host with anything but ASCII letters, digits and
# ".-_:" (percent-escapes, full-width dots) never matches the allowlist.
_SCHEME_RE = re.compile(r"[a-z][a-z0-9+.-]*:", re.I)
_HOST_RE = re.compile(r"[a-z0-9._:-]+")


def _split(url: str) -> SplitResult | None:
    """The http(s) URL a link leads to, or None for any other scheme (javascript:, data:, ...)."""
    url = url.replace("\\", "/")
    if url[:4].lower() == "www." or not _SCHEME_RE.match(url):
        url = f"http://{url}"  # "www.host/x", or a markdown link written without a scheme
    try:
        p = urlsplit(url)
    except ValueError:  # "http://[x": an unclosed IPv6 literal
        return None
    return p if p.scheme in ("http", "https") and p.hostname else None


def _norm(p: SplitResult) -> str:
    return f"{p.netloc.lower()}{p.path.rstrip('/')}" + (f"?{p.query}" if p.query else "")


@lru_cache(maxsize=32)
def _entries(allowlist: tuple[str, ...]) -> tuple[tuple[str, int | None, str | None], ...]:
    """Allowlist entries as (host, port, path prefix or None). "docs.acme.com" allows that host
    and its subdomains; an entry with a "/" ("docs.acme.com/guides") is a URL prefix: that host
    only, and paths that equal the prefix or go on below it ("/guides", "/guides/x", not
    "/guidesevil")."""
    out = []
    for entry in allowlist:
        rest = entry.split("://", 1)[-1]
        try:
            q = urlsplit(f"http://{rest}")
            host, port = (q.hostname or "").rstrip("."), q.port
        except ValueError:
            continue
        if host:
            out.append((host, port, q.path.rstrip("/") if "/" in rest else None))
    return tuple(out)


def _on_allowlist(p: SplitResult, allowlist: tuple[str, ...]) -> bool:
    host = (p.hostname or "").rstrip(".")
    if not _HOST_RE.fullmatch(host):
        return False
    try:
        port = p.port
    except ValueError:  # a port out of range or not a number
        return False
    for ehost, eport, epath in _entries(allowlist):
        if eport is not None and port != eport:
            continue
        if epath is None:
            if host == ehost or host.endswith("." + ehost):
                return True
            continue
        if host != ehost:
            continue
        if any(seg in (".", "..") for seg in unquote(p.path).split("/")):
            continue  # "/guides/../admin" leaves the prefix once the browser resolves it
        if not epath or p.path == epath or p.path.startswith(epath + "/"):
            return True
    return False


def _allowed(url: str, cited: set[str], allowlist: tuple[str, ...]) -> bool:
    p = _split(url)
    if p is None:
        return False
    n = _norm(p)
    if n in cited or any(n.startswith(c + "/") for c in cited):
        return True
    return _on_allowlist(p, allowlist)


def check_output(text: str, allowed_links: Iterable[str] = ()) -> OutputVerdict:
    cited = {_norm(p) for p in map(_split, allowed_links) if p is not None}
    hosts = get_guard_settings().allowlist
    removed: list[str] = []

    def md(m: re.Match[str]) -> str:
        bang, label, url = m.groups()
        if _allowed(url, cited, hosts):
            return m.group()
        removed.append(url)
        return "" if bang else f"{label} [link removed]"

    out = _MD_LINK_RE.sub(md, text)

    def bare(m: re.Match[str]) -> str:
        url = m.group().rstrip(_TRAILING)
        tail = m.group()[len(url):]
        if _allowed(url, cited, hosts):
            return m.group()
        removed.append(url)
        return "[link removed]" + tail

    out = _URL_RE.sub(bare, out)
    out, matches = pii.redact(out)
    findings = [{"type": "pii", "pii_type": m["type"]} for m in matches]
    findings += [{"type": "link_removed", "url": u} for u in removed]
    return OutputVerdict(out, findings, removed)


class StreamRedactor:
    """PII and secret redaction for a token stream, before the tokens reach a listener (the chat
    UI, a "messages" stream client, a tracer). `check_output` redacts the stored answer at the
    end of the run; without this, the live stream would show what it later removes.

    Text is released at whitespace at least `holdback` characters behind the newest token, and
    never inside a match. An item without spaces (email, key, card with dashes) is never cut, and
    one with spaces (phone, IBAN: at most 42 characters) is complete before any of it is
    released; a private-key block is held until its END line. So a short answer arrives whole at
    the end, a long one in runs of a few words, `holdback` characters behind the model. Each
    release is redacted with `context` characters of released text in front, so the "password:"
    before a value still counts. The joined output equals `pii.redact(text)` of the whole answer
    (~17 us per token for a 4,000-character answer).
    """

    def __init__(self, holdback: int = 48, step: int = 24, context: int = 64):
        self.holdback, self.step, self.context = holdback, step, context
        self._raw, self._sent, self._cut, self._held = "", "", 0, False

    def feed(self, piece: str) -> str:
        self._raw += piece
        limit = len(self._raw) - self.holdback
        if self._held or limit - self._cut < self.step:  # release in runs of words (cost)
            return ""
        cut = max(self._raw.rfind(c, self._cut, limit) for c in " \n\t") + 1
        # Only the unreleased tail (plus context) can hold a match that crosses the cut: an item
        # that began before the last cut was complete then, and the last cut avoided it.
        ctx = max(0, self._cut - self.context)
        for m in pii.find(self._raw[ctx:]):
            if m["start"] + ctx < cut < m["end"] + ctx:
                cut = m["start"] + ctx
        return self._release(cut) if cut > self._cut else ""

    def flush(self) -> str:
        if self._held:  # settle once, on the whole answer
            redacted, _ = pii.redact(self._raw)
            return redacted[len(self._sent):] if redacted.startswith(self._sent) else ""
        return self._release(len(self._raw))

    def _release(self, cut: int) -> str:
        # The redaction of the whole prefix, computed on the new text and some released context.
        ctx = max(0, self._cut - self.context)
        before, _ = pii.redact(self._raw[ctx:self._cut])
        after, _ = pii.redact(self._raw[ctx:cut])
        self._cut = cut
        if not after.startswith(before):  # a match reached back into released text: hold
            self._held = True
            return ""
        out = after[len(before):]
        self._sent += out
        return out
