"""Retrieval rail: neutralise instructions planted in retrieved chunks (indirect injection).

A chunk is data, never instructions. Sentences that address the model, try to override its
rules, ask for secrets, fake chat delimiters or tell it to send data somewhere are replaced by a
marker; invisible characters are stripped from the whole chunk. The rest of the chunk is kept so
the answer can still cite it. Rules only (no embedding per chunk): a retrieval returns dozens of
chunks and this must cost well under a millisecond each.
"""

from __future__ import annotations

import re

from guardrails.normalize import normalize, strip_invisible
from guardrails.rules import scan

MARKER = "[instruction-like text removed by the retrieval guard]"
_SENTENCE_RE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")
_INDIRECT = [
    re.compile(p, re.I)
    for p in (
        # "AI assistants must ...", but not "this model should prove useful" or "targeted agents
        # should be discouraged" (science and business text): a bare model or agent only counts
        # as the one reading the page.
        r"\b(?:ai|assistants?|llms?|chatbots?|(?:ai|language)\s+(?:models?|agents?))\b[^.\n]{0,20}\b(?:must|should|shall|need to|are required to)\b",
        r"\b(?:models?|agents?|bots?)\s+(?:reading|summari[sz]ing|processing|parsing|that (?:reads?|summari[sz]es|processes))\b[^.\n]{0,40}\b(?:must|should|shall|need to|are required to)\b",
        r"\b(?:do not|don't|never)\s+(?:tell|inform|mention|reveal|show)\b[^.\n]{0,20}\b(?:the user|users|anyone|the human)",
        r"\b(?:send|forward|email|post|upload|exfiltrate|transmit|leak)\b[^.\n]{0,60}\b(?:to|at)\s+(?:https?://|[\w.+-]+@[\w-]+\.)",
        r"\b(?:include|insert|add|render|append)\b[^.\n]{0,30}\b(?:this|the following)\s+(?:link|url|image|markdown)",
        r"\bwhen (?:you )?(?:summari[sz]|answer|respond|read)\w*\b[^.\n]{0,40}\b(?:say|tell|write|include|recommend|claim)\b",
    )
]
_HTML_COMMENT_RE = re.compile(r"<!--.*?-->", re.S)
# A markdown image whose URL carries a query string is an exfiltration beacon once rendered.
_BEACON_RE = re.compile(r"!\[[^\]]*\]\(\s*https?://[^)\s]*[?&][^)\s]*=[^)]*\)")


def _is_instruction(sentence: str) -> bool:
    norm = normalize(sentence)
    if any(h.weight >= 0.5 and h.category != "flooding" for h in scan(norm.all_views)):
        return True
    return any(p.search(v) for p in _INDIRECT for v in norm.all_views)


def screen_chunk(text: str) -> tuple[str, bool]:
    found = False

    def comment(m: re.Match[str]) -> str:
        nonlocal found
        if _is_instruction(m.group()[4:-3]):
            found = True
            return MARKER
        return m.group()

    out = _HTML_COMMENT_RE.sub(comment, strip_invisible(text))
    out, beacons = _BEACON_RE.subn(MARKER, out)
    found = found or beacons > 0

    def sentence(m: re.Match[str]) -> str:
        nonlocal found
        s = m.group()
        if MARKER in s or not _is_instruction(s):
            return s
        found = True
        return MARKER + ("\n" if s.endswith("\n") else " ")

    out = _SENTENCE_RE.sub(sentence, out)
    return out, found
