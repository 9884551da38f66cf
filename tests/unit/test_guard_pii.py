"""PII / secrets: a seeded planted set (every item must be masked) and look-alikes (never masked)."""

from __future__ import annotations

import base64
import json
import random
import string

import pytest

from guardrails import pii
from guardrails.pii import iban_ok, luhn_ok


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for d in string.digits:
        if luhn_ok(body + d):
            return body + d
    raise AssertionError


def _iban(country: str, bban: str) -> str:
    num = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - num % 97:02d}{bban}"


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def planted(seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    an = string.ascii_letters + string.digits
    items: list[tuple[str, str]] = []
    for _ in range(14):
        user = _rand(rng, string.ascii_lowercase, 6) + rng.choice([".", "_", "+"]) + _rand(rng, string.ascii_lowercase, 4)
        items.append(("email", f"{user}@{_rand(rng, string.ascii_lowercase, 7)}.{rng.choice(['com', 'io', 'co.uk', 'de'])}"))
    for _ in range(12):
        a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
        fmt = rng.choice(["({a}) {b}-{c:04d}", "{a}-{b}-{c:04d}", "{a}.{b}.{c:04d}", "+1 {a} {b} {c:04d}",
                          "+44 20 {b}4 {c:04d}", "+49 30 {b}{c:04d}"])
        items.append(("phone", fmt.format(a=a, b=b, c=c)))
    for prefix, length, groups in [("4", 16, (4, 4, 4, 4)), ("51", 16, (4, 4, 4, 4)), ("37", 15, (4, 6, 5)),
                                   ("6011", 16, (4, 4, 4, 4)), ("4", 13, (13,)), ("2221", 16, (16,))]:
        for _ in range(3):
            n = _luhn_complete(prefix, length, rng)
            sep = rng.choice([" ", "-", ""])
            parts, i = [], 0
            for g in groups:
                parts.append(n[i : i + g])
                i += g
            items.append(("credit_card", sep.join(parts)))
    for country, n in [("DE", 18), ("GB", 18), ("FR", 23), ("NL", 14)]:
        for _ in range(3):
            bban = (_rand(rng, string.ascii_uppercase, 4) if country in ("GB", "NL") else "") + _rand(
                rng, string.digits, n - (4 if country in ("GB", "NL") else 0))
            iban = _iban(country, bban)
            assert iban_ok(iban)
            spaced = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
            items.append(("iban", rng.choice([iban, spaced])))
    for _ in range(12):
        items.append(("us_ssn", f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"))
    for _ in range(3):
        items += [
            ("api_key", "sk-proj-" + _rand(rng, an + "_-", 40)),
            ("api_key", "sk-" + _rand(rng, an, 48)),
            ("api_key", "ghp_" + _rand(rng, an, 36)),
            ("api_key", "xoxb-" + "-".join(_rand(rng, string.digits, 12) for _ in range(2)) + "-" + _rand(rng, an, 24)),
            ("api_key", "AKIA" + _rand(rng, string.ascii_uppercase + string.digits, 16)),
            ("api_key", "AIza" + _rand(rng, an + "_-", 35)),
            ("api_key", "glpat-" + _rand(rng, an + "_-", 20)),
        ]
    for _ in range(5):
        head = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()).decode().rstrip("=")
        body = base64.urlsafe_b64encode(json.dumps({"sub": _rand(rng, string.digits, 8)}).encode()).decode().rstrip("=")
        items.append(("jwt", f"{head}.{body}.{_rand(rng, an + '_-', 43)}"))
    for _ in range(8):
        while True:
            s = _rand(rng, an, rng.randint(28, 48))
            if any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s):
                break
        items.append(("secret", s))
    for _ in range(4):  # base64 keys with "/" and "+" (AWS secret keys look like this)
        items.append(("secret", base64.b64encode(bytes(rng.getrandbits(8) for _ in range(30))).decode()))
    return items


TEMPLATES = [
    "Please contact {v} about the refund.",
    "The value is {v}, can you check it?",
    "{v}",
    "Customer record: name=Jane, field={v}; status=active",
    "Log line: user provided '{v}' at login",
]

NEGATIVES = [
    "Order ORD-2024-000123 shipped on 2024-05-01T12:34:56Z.",
    "Epoch seconds 1714567890 and milliseconds 1714567890123 are in the events table.",
    "Upgrade from v2.3.1 to 2.10.0-rc1; the image tag is 1.24.3.",
    "Version 10.2.0.1 of the agent is deployed; build 2024.05.01.7.",
    "Trace id 3f2b9c1e-8a4d-4e7b-9c2a-1b3d5e7f9a0c and request 550e8400-e29b-41d4-a716-446655440000.",
    "Commit 9fceb02d0ae598e95dc970b74767f19372d61af8 (short 9fceb02) fixed it.",
    "Digest sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.",
    "Pod api-7d9f8c6b5-x2kq9 restarted 3 times; p95 latency 230 ms; cost $1,234.56.",
    "Ticket 12345678 and invoice INV-00098231 were merged.",
    "The run took 00:12:45 on 2024-01-15 10:30:00 UTC.",
    "Use the HumanInTheLoopMiddleware and ModelRetryMiddleware classes.",
    "See guardrails/artifacts/injection_lr.npz and tests/unit/test_guard_pii.py.",
    "Port 5432, pool size 10, timeout 30s, retries 3.",
    "Table fct_orders_daily_2024 has 1,234,567 rows.",
    "The SKU is AB-1234-XYZ and the batch is 2024W18.",
    "Call the endpoint at 127.0.0.1:8000 with limit=100&offset=200.",
    # gene and protein compounds: high entropy, but words and short symbols (SciFact abstracts)
    "Oct4/Sox2/Klf4/Myc-mediated reprogramming of fibroblasts was less efficient.",
    "CD4+CD25+Foxp3+Regulatory T cells suppressed the response.",
    "CXCL10/interferon-gamma-inducible protein 10 was raised; huIi80MAGE-A3-transduced cells responded.",
]


@pytest.mark.parametrize("kind,value", planted())
def test_planted_item_is_masked(kind: str, value: str) -> None:
    for tpl in TEMPLATES:
        text = tpl.format(v=value)
        masked, matches = pii.redact(text)
        assert value not in masked, (kind, text, masked)
        assert matches


def test_planted_set_is_large_enough() -> None:
    assert len(planted()) >= 100


@pytest.mark.parametrize("text", NEGATIVES)
def test_negative_not_masked(text: str) -> None:
    masked, matches = pii.redact(text)
    assert masked == text, matches


def test_check_digits() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")
    # A Luhn-failing 16-digit number and a bad-checksum IBAN are left alone.
    assert pii.redact("card 4111 1111 1111 1112")[1] == []
    assert pii.redact("iban DE00 1234 5678 9012 3456 78")[1] == []


def test_email_detection_is_linear_and_keeps_offsets() -> None:
    # LangChain's email pattern re-scans every run of address characters from each position: a text
    # of "a.a.a.…" with no "@" took 2 s at 50,000 characters. It now runs only on words with an "@".
    import time

    from guardrails import pii

    started = time.perf_counter()
    pii.redact("a." * 25_000)
    pii.redact("Ab1-" * 12_500)
    assert time.perf_counter() - started < 2.0
    text = "mail j.doe+tag@ex-ample.co.uk, then x@y.io; not bad@ or @no"
    found = [(m["start"], m["end"], m["value"]) for m in pii.DETECTORS["email"](text)]
    assert found == [(5, 29, "j.doe+tag@ex-ample.co.uk"), (36, 42, "x@y.io")]
    assert all(text[s:e] == v for s, e, v in found)
