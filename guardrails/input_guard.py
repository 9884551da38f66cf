"""The input guard the orchestrator calls on every user message: `check_input(text)`.

Order: length -> injection/jailbreak (rules + classifier over normalised text) -> encoding
tricks -> PII. Everything is local and CPU-only; p95 is ~10-20 ms on a 2-core box, dominated by
one int8 ONNX MiniLM forward pass over at most 64 tokens.
`category` is set only when the message is refused; masking is reported in `findings`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from guardrails import injection, pii
from guardrails.settings import get_guard_settings


@dataclass
class Verdict:
    allowed: bool
    category: str | None  # "injection" | "jailbreak" | "too_long" | "encoding" | "pii" | None
    reason: str
    score: float
    masked_text: str
    findings: list[dict] = field(default_factory=list)
    latency_ms: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def _encoding_abuse(signals: dict[str, int]) -> str | None:
    """Obfuscation that has no place in an analyst's question, even if what it hides looks
    harmless: hidden tag characters, bidi overrides, zero-width characters or Cyrillic/Greek
    look-alikes inside Latin words."""
    if signals.get("tag_chars", 0) >= 4:
        return f"{signals['tag_chars']} hidden Unicode tag characters"
    if signals.get("bidi", 0):
        return "bidirectional override characters"
    if signals.get("zero_width_in_words", 0) >= 3:
        return f"{signals['zero_width_in_words']} zero-width characters inside words"
    if signals.get("mixed_script_words", 0) >= 2:
        return f"{signals['mixed_script_words']} words mixing Latin with look-alike letters"
    return None


def check_input(text: str) -> Verdict:
    t0 = time.perf_counter()
    settings = get_guard_settings()

    def done(v: Verdict) -> Verdict:
        v.latency_ms = (time.perf_counter() - t0) * 1000
        return v

    if len(text) > settings.max_input_chars:
        return done(Verdict(False, "too_long", f"message has {len(text)} characters, the limit is "
                            f"{settings.max_input_chars}", 1.0, text, [{"type": "length", "chars": len(text)}]))

    det = injection.detect(text)
    findings: list[dict] = [
        {"type": "rule", "rule": h.rule, "category": h.category, "weight": h.weight} for h in det.hits
    ]
    findings += [{"type": "obfuscation", "signal": k, "count": v} for k, v in det.signals.items() if v]
    if det.is_attack:
        rules = ", ".join(h.rule for h in det.hits) or "classifier"
        return done(Verdict(False, det.category, f"{det.category} detected ({rules}; score {det.score:.2f})",
                            det.score, text, findings))
    if why := _encoding_abuse(det.signals):
        return done(Verdict(False, "encoding", f"obfuscated input: {why}", det.score, text, findings))

    masked = text
    if settings.input_pii != "off":
        masked, matches = pii.redact(text)
        findings += [{"type": "pii", "pii_type": m["type"], "start": m["start"], "end": m["end"]} for m in matches]
        if matches and settings.input_pii == "block":
            kinds = sorted({m["type"] for m in matches})
            return done(Verdict(False, "pii", f"message contains {', '.join(kinds)}", det.score, masked, findings))
        if matches:
            return done(Verdict(True, None, f"allowed; masked {len(matches)} sensitive item(s)", det.score,
                                masked, findings))
    return done(Verdict(True, None, "allowed", det.score, masked, findings))


_REFUSALS = {
    "injection": "it looks like an attempt to change or read my instructions (prompt injection)",
    "jailbreak": "it asks me to drop my rules or play an unrestricted persona (jailbreak)",
    "too_long": "it is longer than I can accept",
    "encoding": "it contains hidden or disguised characters",
    "pii": "it contains personal data or secrets, which I am configured not to accept",
}


def refusal_message(verdict: Verdict) -> str:
    if verdict.category == "too_long":  # say the numbers, and what to do instead
        return (f"Sorry, that message is too long: the {verdict.reason}. Please shorten it, split it "
                "into several messages, or put large documents in the document store with `agentdesk ingest`.")
    why = _REFUSALS.get(verdict.category or "", "it was flagged by the input guard")
    return (f"Sorry, I can't help with that message because {why}. "
            "If this is a genuine question, please rephrase it and try again.")
