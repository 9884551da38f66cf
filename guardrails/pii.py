"""PII and secret detection, masking and redaction.

Reused from LangChain v1 (`langchain.agents.middleware._redaction`): the email detector and
`apply_strategy` (the "[REDACTED_<TYPE>]" format PIIMiddleware uses). Written here, because
LangChain has no detector for them or its detector is too loose/narrow for our traffic:
- credit cards: LangChain only matches 16 digits in 4-4-4-4 groups (misses Amex 15 and 13/19
  digit cards); ours takes 13-19 digits with a known issuer prefix plus Luhn, so 13-digit epoch
  milliseconds (prefix "1") are never taken for cards;
- phone numbers, IBAN (mod-97), US SSN, API keys/tokens, JWTs, private keys, high-entropy
  strings: LangChain has none of these;
- LangChain's IP detector is not used: dotted versions such as 10.2.0.1 are valid IPs.
High-entropy strings need upper, lower and digits, length >= 24 and >= 4.2 bits/char, which
excludes UUIDs and git SHAs (hex: <= 4 bits/char, one case), order ids and timestamps.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from langchain.agents.middleware._redaction import PIIMatch, apply_strategy, detect_email

Detector = Callable[[str], list[PIIMatch]]


def _regex(pii_type: str, pattern: str, flags: int = 0, group: int = 0,
           check: Callable[[str], bool] | None = None) -> Detector:
    rx = re.compile(pattern, flags)

    def detect(text: str) -> list[PIIMatch]:
        out = []
        for m in rx.finditer(text):
            value = m.group(group)
            if check is None or check(value):
                out.append(PIIMatch(type=pii_type, value=value, start=m.start(group), end=m.end(group)))
        return out

    return detect


_WORD = re.compile(r"\S+")


def _emails(text: str) -> list[PIIMatch]:
    """LangChain's `detect_email`, run only on the words that hold an "@": its pattern re-scans
    every run of address characters from each of their positions, so a 20,000-character text of
    "a.a.a.…" took 0.3 s (and 50,000, 2 s) without a single "@" in it."""
    out = []
    for token in _WORD.finditer(text):
        if "@" not in token.group():
            continue
        for m in detect_email(token.group()):
            out.append(PIIMatch(type=m["type"], value=m["value"], start=token.start() + m["start"],
                                end=token.start() + m["end"]))
    return out


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number if d.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|5|4[4-9]|2)|35)")


def _card_ok(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and luhn_ok(digits)


def iban_ok(value: str) -> bool:
    s = re.sub(r"\s", "", value).upper()
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def shannon(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


_SEGMENT_RE = re.compile(r"[A-Za-z0-9]+")
_SYMBOL_RE = re.compile(r"[A-Za-z]{1,5}\d{0,3}")  # "Oct4", "CD25", "A3", "CXCL10"


def _reads_as_words(value: str) -> bool:
    """Gene and protein compounds ("Oct4/Sox2/Klf4/Myc-mediated", "CD4+CD25+Foxp3+Regulatory") are
    high-entropy strings made of words and short symbols; at least half of a key's characters sit in
    long runs that are no word. (SciFact: 4 of 5,183 abstracts lost such a compound to redaction; 2 of
    20,000 random 40-character base64 keys read as words.)"""
    from guardrails.normalize import known_words

    segments = _SEGMENT_RE.findall(value)
    if len(segments) < 2:
        return False
    wordish = sum(len(s) for s in segments if _SYMBOL_RE.fullmatch(s) or s.rstrip("0123456789").lower() in known_words()
                  or (len(s) >= 4 and s.isalpha() and s.islower()))  # "interferon", "inducible": words MiniLM splits
    return 2 * wordish >= sum(map(len, segments))


def _high_entropy_ok(value: str) -> bool:
    if not (re.search(r"[a-z]", value) and re.search(r"[A-Z]", value) and re.search(r"\d", value)):
        return False
    return shannon(value) >= 4.2 and not _reads_as_words(value)


DETECTORS: dict[str, Detector] = {
    "email": _emails,
    # Cards: 13-19 digits, optionally grouped by single spaces or hyphens; not part of a longer number.
    "credit_card": _regex("credit_card", r"(?<![\d.-])\d(?:[ -]?\d){12,18}(?![\d-])", check=_card_ok),
    "iban": _regex("iban", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", check=iban_ok),
    "us_ssn": _regex("us_ssn", r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])"),
    # Phones: international with "+", or North American 3-3-4 with separators. Bare digit runs
    # (order ids, epoch seconds) and dates (4-2-2) never match.
    "phone": _regex(
        "phone",
        r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}"
        r"|\(\d{3}\)\s?\d{3}[ .-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4})(?![\w-])",
    ),
    "api_key": _regex(
        "api_key",
        r"\b(?:sk-(?:proj-|ant-(?:api\d\d-)?|live-)?[A-Za-z0-9_-]{20,}|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"
        r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|xox[abposr]-[A-Za-z0-9-]{10,}"
        r"|(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,}|hf_[A-Za-z0-9]{30,})",
    ),
    "jwt": _regex("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "private_key": _regex(
        "private_key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
    ),
    # "password: hunter2" style assignments: the value is the secret, whatever its entropy.
    "secret_assignment": _regex(
        "secret",
        r"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret)"
        r"\s*[:=]\s*[\"']?([^\s\"',;]{6,})",
        group=1,
    ),
    "high_entropy": _regex(
        "secret", r"(?<![A-Za-z0-9+/_=.-])[A-Za-z0-9+/_=-]{24,200}(?![A-Za-z0-9+/_=-])", check=_high_entropy_ok
    ),
}
# Everything above runs on the way out; on the way in the same set, configurable per type.
INPUT_TYPES = tuple(DETECTORS)


def find(text: str, types: tuple[str, ...] = INPUT_TYPES) -> list[PIIMatch]:
    """All matches, overlaps resolved in favour of the earliest, then the longest, then the
    most specific (detector order), so "[REDACTED_API_KEY]" beats "[REDACTED_SECRET]"."""
    order = {t: i for i, t in enumerate(DETECTORS)}
    found = [(m, order[t]) for t in types for m in DETECTORS[t](text)]
    found.sort(key=lambda p: (p[0]["start"], -(p[0]["end"] - p[0]["start"]), p[1]))
    out: list[PIIMatch] = []
    for m, _ in found:
        if out and m["start"] < out[-1]["end"]:
            continue
        out.append(m)
    return out


def redact(text: str, types: tuple[str, ...] = INPUT_TYPES) -> tuple[str, list[PIIMatch]]:
    matches = find(text, types)
    return apply_strategy(text, matches, "redact"), matches


# --- nested structures (tool results, artifacts, trace payloads) -------------------------

# Joins the strings of a structure for one scan. No detector reads across "\n\x00\n" ("\x00" is
# neither whitespace nor an address, digit or key character), except a PEM block with no END line,
# which runs to the end of the text: a match that crosses it sends its strings back to one scan each.
_SEP = "\n\x00\n"


def _collect(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _collect(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect(v, out)


def _rebuild(value: Any, clean: Iterator[str]) -> Any:
    if isinstance(value, str):
        return next(clean)
    if isinstance(value, dict):
        return {k: _rebuild(v, clean) for k, v in value.items()}
    if isinstance(value, list):
        return [_rebuild(v, clean) for v in value]
    if isinstance(value, tuple):
        return tuple(_rebuild(v, clean) for v in value)
    return value


def _replace(text: str, matches: list[PIIMatch]) -> str:
    """`apply_strategy(text, matches, "redact")` in one pass (LangChain's rebuilds the whole text
    per match: 0.9 s for 7,500 matches in 1 MB)."""
    parts, at = [], 0
    for m in matches:  # sorted, never overlapping (`find`)
        parts += [text[at:m["start"]], f"[REDACTED_{m['type'].upper()}]"]
        at = m["end"]
    parts.append(text[at:])
    return "".join(parts)


def _redact_strings(strings: list[str], types: tuple[str, ...]) -> list[str]:
    starts, at = [], 0
    for s in strings:
        starts.append(at)
        at += len(s) + len(_SEP)
    per: list[list[PIIMatch]] = [[] for _ in strings]
    alone: set[int] = set()
    for m in find(_SEP.join(strings), types):
        i = bisect_right(starts, m["start"]) - 1
        if m["end"] > starts[i] + len(strings[i]):  # crosses (or starts in) a separator
            alone.update(range(i, bisect_right(starts, m["end"] - 1)))
            continue
        per[i].append(PIIMatch(type=m["type"], value=m["value"], start=m["start"] - starts[i],
                               end=m["end"] - starts[i]))
    return [_replace(s, find(s, types)) if i in alone else _replace(s, per[i]) if per[i] else s
            for i, s in enumerate(strings)]


def redact_all(value: Any, types: tuple[str, ...] = INPUT_TYPES) -> Any:
    """A copy of `value` with every string in it redacted as `redact` redacts one text, however deep
    in dicts, lists and tuples; dict keys, numbers, booleans and None are kept as they are. The
    strings are scanned as one text (a table of 60,000 cells is one scan, not 60,000)."""
    strings: list[str] = []
    _collect(value, strings)
    if not strings:
        return value
    return _rebuild(value, iter(_redact_strings(strings, types)))
