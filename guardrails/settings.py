"""Guardrail settings, read from the environment like serving.settings (which another team owns).

AGENTDESK_INPUT_PII: "mask" (default: PII and secrets in a user message are replaced by
[REDACTED_<TYPE>] before any model sees them), "block" (refuse the message) or "off".
AGENTDESK_LINK_ALLOWLIST: comma-separated hosts (or URL prefixes) links may point to besides
the cited sources. AGENTDESK_MAX_INPUT_CHARS: longer messages are refused (length).
AGENTDESK_GUARD_ENGINE: how the orchestrator's guard nodes run the detectors. "direct" (default)
calls them in process; "nemo" goes through the NeMo Guardrails rails in guardrails/config (same
verdicts, plus NeMo's YARA rules on answers, ~20 ms more per message in and ~45 ms out here).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GuardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    input_pii: Literal["mask", "block", "off"] = Field(default="mask", alias="AGENTDESK_INPUT_PII")
    max_input_chars: int = Field(default=20_000, ge=1, alias="AGENTDESK_MAX_INPUT_CHARS")
    link_allowlist: str = Field(default="", alias="AGENTDESK_LINK_ALLOWLIST")
    engine: Literal["direct", "nemo"] = Field(default="direct", alias="AGENTDESK_GUARD_ENGINE")

    @property
    def allowlist(self) -> tuple[str, ...]:
        return tuple(h.strip().lower() for h in self.link_allowlist.split(",") if h.strip())


@lru_cache
def get_guard_settings() -> GuardSettings:
    return GuardSettings()
