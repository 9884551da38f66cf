"""The output guard: redact PII and secrets, and drop links that are neither cited sources nor
on the allowlist (a model talked into "click here" by a poisoned document is the classic
exfiltration path, e.g. a markdown image whose URL carries the conversation)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

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


def _norm(url: str) -> str:
    url = url if "://" in url else f"http://{url}"
    p = urlsplit(url)
    return f"{p.netloc.lower()}{p.path.rstrip('/')}" + (f"?{p.query}" if p.query else "")


def _allowed(url: str, cited: set[str], hosts: tuple[str, ...]) -> bool:
    n = _norm(url)
    host = n.split("/", 1)[0].split(":")[0]
    if n in cited or any(n.startswith(c + "/") for c in cited):
        return True
    return any(host == h or host.endswith("." + h) or n.startswith(h) for h in hosts)


def check_output(text: str, allowed_links: Iterable[str] = ()) -> OutputVerdict:
    cited = {_norm(u) for u in allowed_links}
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
