"""NeMo's YARA injection detection runs offline on answers (yara-python is a dependency)."""

from __future__ import annotations

import pytest

from guardrails.rails import YARA_AVAILABLE, nemo_check_output


def test_yara_is_installed():
    assert YARA_AVAILABLE


@pytest.mark.parametrize("payload", [
    "Here is the page: <script>alert(document.cookie)</script>",
    "Run this: '; DROP TABLE users; --",
])
async def test_injection_in_an_answer_is_rejected(payload):
    out = await nemo_check_output(payload)
    assert "triggered rule" in out


async def test_plain_answer_passes():
    assert await nemo_check_output("The p95 latency is 240 ms [1].") == "The p95 latency is 240 ms [1]."
