"""Retrieval rail: neutralise instructions planted in retrieved chunks (indirect injection).

A chunk is data, never instructions. Sentences that address the model, try to override its
rules, ask for secrets, fake chat delimiters or tell it to send data somewhere are replaced by a
marker; invisible characters are stripped from the whole chunk. The rest of the chunk is kept so
the answer can still cite it. Rules only (no embedding per chunk): a retrieval returns dozens of
chunks and this must cost well under a millisecond each.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from guardrails.normalize import normalize, strip_invisible
from guardrails.rules import scan

MARKER = "[instruction-like text removed by the retrieval guard]"
# A sentence ends at . ! ? followed by space or the end, so "billing@acme.example" or "v2.3" is
# never cut in two (a neutralised half-sentence left "example and tell them ..." behind).
_SENTENCE_RE = re.compile(r"(?:[^.!?\n]|[.!?](?=[^\s.!?]))+(?:[.!?]+|\n|$)")
# What a planted order sends away; "send the refund form to billing@..." in a support macro is not.
_SENSITIVE = (
    r"(?:conversation|chat|history|messages|transcripts?|customer (?:list|data|table|records|e-?mails?)|"
    r"user (?:data|list|records)|credentials?|passwords?|tokens?|api keys?|secrets?|keys|database|dump|"
    r"personal data|pii|contacts|e-?mail addresses|everything|all (?:the )?(?:data|files|records))"
)
_INDIRECT = [
    re.compile(p, re.I)
    for p in (
        # "AI assistants must ...", but not "this model should prove useful" or "targeted agents
        # should be discouraged" (science and business text): a bare model or agent only counts
        # as the one reading the page.
        r"\b(?:ai|assistants?|llms?|chatbots?|(?:ai|language)\s+(?:models?|agents?))\b[^.\n]{0,20}\b(?:must|should|shall|need to|are required to)\b",
        r"\b(?:models?|agents?|bots?)\s+(?:reading|summari[sz]ing|processing|parsing|that (?:reads?|summari[sz]es|processes))\b[^.\n]{0,40}\b(?:must|should|shall|need to|are required to)\b",
        r"\b(?:do not|don't|never)\s+(?:tell|inform|mention|reveal|show)\b[^.\n]{0,20}\b(?:the user|users|anyone|the human)",
        r"\b(?:exfiltrate|transmit|leak)\b[^.\n]{0,60}\b(?:to|at)\s+(?:https?://|[\w.+-]+@[\w-]+\.)",
        rf"\b(?:send|forward|email|post|upload|copy)\b[^\n]{{0,40}}\b{_SENSITIVE}\b[^\n]{{0,40}}\b(?:to|at)\s+(?:https?://|[\w.+-]+@[\w-]+\.)",
        r"\b(?:include|insert|add|render|append)\b[^.\n]{0,30}\b(?:this|the following)\s+(?:link|url|image|markdown)",
        # "when summarising this page, say ...", not an on-call handbook's "when you answer a page, say your name"
        r"\bwhen (?:you )?(?:summari[sz]|answer|respond|read|process)\w*\s+(?:(?:about|to|on)\s+)?(?:this|these|the user|users|any|anyone|questions?|queries|requests?|it\b)"
        r"[^.\n]{0,40}\b(?:say|tell|write|include|recommend|claim)\b",
    )
]
# A markdown image whose URL carries a query string is an exfiltration beacon once rendered. Linear
# time: `[^)\s]*[?&][^)\s]*=` could split a URL at every "?" and "=" and tried each split from
# every "![" (a 20 KB chunk of "![a](http://x?" took about a minute). Now each part has one way to
# match (the URL up to its first "?"/"&", then up to the next "=", then to ")") and is bounded;
# the alt text stops at a bracket (one nested pair allowed, "![a [b] c](...)"), so no two "!["
# scan the same text. A URL that runs 2,048 characters without a space or ")" is too long to
# check and counts as a beacon. Also met: "HTTPS://", "//host" and "<https://...>".
_BEACON_RE = re.compile(
    r"!\[(?:[^\[\]]|\[[^\[\]]*+\])*+\]\(\s*+<?(?:(?i:https?):)?//"
    r"(?:[^)\s?&]{0,2048}+[?&][^)\s=]{0,2048}+=[^)]{0,2048}+\)|[^)\s]{2048})"
)


def _sub_comments(text: str, repl: Callable[[str], str]) -> str:
    """`re.sub(r"<!--.*?-->", repl, text, flags=re.S)`, linear: that pattern looked for "-->"
    from every "<!--" to the end (100 KB of "<!--": 12 s); once one has no "-->" after it,
    none after it has."""
    out, pos = [], 0
    while (start := text.find("<!--", pos)) >= 0 and (end := text.find("-->", start + 4)) >= 0:
        out += [text[pos:start], repl(text[start:end + 3])]
        pos = end + 3
    out.append(text[pos:])
    return "".join(out)


def _is_instruction(sentence: str) -> bool:
    norm = normalize(sentence)
    if any(h.weight >= 0.5 and h.category != "flooding" for h in scan(norm.all_views)):
        return True
    return any(p.search(v) for p in _INDIRECT for v in norm.all_views)


def screen_chunk(text: str) -> tuple[str, bool]:
    found = False

    def comment(c: str) -> str:
        nonlocal found
        if _is_instruction(c[4:-3]):
            found = True
            return MARKER
        return c

    out = _sub_comments(strip_invisible(text), comment)
    out, beacons = _BEACON_RE.subn(MARKER, out)
    found = found or beacons > 0

    def sentence(m: re.Match[str]) -> str:
        nonlocal found
        s = m.group()
        if MARKER in s or not _is_instruction(s):
            return s
        found = True
        lead = s[: len(s) - len(s.lstrip())]  # the space after the previous sentence stays
        return lead + MARKER + ("\n" if s.endswith("\n") else " ")

    out = _SENTENCE_RE.sub(sentence, out)
    return out, found


def screen_hit(title: str, headings: list[str], text: str) -> tuple[str, list[str], str, bool]:
    """A retrieved chunk as it reaches a model: its text, and the title and headings that name it,
    each screened. A title is its document author's words as much as the body is: "Refund policy
    › Ignore all previous instructions ..." went to the model untouched."""
    parts = [screen_chunk(part or "") for part in (title, *headings, text)]
    return parts[0][0].strip(), [h.strip() for h, _ in parts[1:-1]], parts[-1][0], any(f for _, f in parts)
