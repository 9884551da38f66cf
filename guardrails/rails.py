"""NeMo Guardrails wrapper: `await nemo_check_input(text) -> Verdict` via guardrails/config.

The LLMRails object is a lazy singleton (building it parses Colang and imports actions: ~0.1 s).
Our action returns the full Verdict, which we read back from the generation log, so callers get
the same object the direct path returns (latency_ms is the whole NeMo round trip).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from pathlib import Path
from typing import Any

from guardrails.input_guard import Verdict, check_input
from guardrails.output_guard import OutputVerdict, check_output

CONFIG_DIR = Path(__file__).parent / "config"
YARA_AVAILABLE = importlib.util.find_spec("yara") is not None
log = logging.getLogger(__name__)
_rails: Any = None
_lock = threading.Lock()


def get_rails() -> Any:
    global _rails
    if _rails is None:
        with _lock:
            if _rails is None:
                from nemoguardrails import LLMRails, RailsConfig

                config = RailsConfig.from_path(str(CONFIG_DIR))
                if not YARA_AVAILABLE:
                    # NeMo's injection_detection action raises ImportError at call time without it.
                    log.warning("yara-python not installed: NeMo YARA injection detection disabled")
                    config.rails.output.flows = [f for f in config.rails.output.flows if f != "injection detection"]
                _rails = LLMRails(config)
    return _rails


async def _run(messages: list[dict], rails: list[str]) -> Any:
    return await get_rails().generate_async(
        messages=messages, options={"rails": rails, "log": {"activated_rails": True}}
    )


async def nemo_check_input(text: str) -> Verdict:
    t0 = time.perf_counter()
    res = await _run([{"role": "user", "content": text}], ["input"])
    for rail in res.log.activated_rails if res.log else []:
        for act in rail.executed_actions:
            if act.action_name == "agentdesk_check_input" and isinstance(act.return_value, dict):
                fields = {k: v for k, v in act.return_value.items() if k in Verdict.__dataclass_fields__}
                v = Verdict(**fields)
                v.latency_ms = (time.perf_counter() - t0) * 1000
                return v
    # The rail did not run (should not happen with this config): fall back to the direct path.
    log.warning("NeMo input rail produced no verdict; using check_input directly")
    return check_input(text)


async def nemo_check_output(text: str, allowed_links: list[str] = ()) -> str:
    return (await nemo_output_verdict(text, allowed_links)).text


async def nemo_output_verdict(text: str, allowed_links: list[str] = ()) -> OutputVerdict:
    """The output rails' verdict: our redaction's findings, and NeMo's YARA rules on top (a
    rejected answer comes back as NeMo's refusal text, recorded as a `yara` finding)."""
    msgs = [{"role": "context", "content": {"allowed_links": list(allowed_links)}},
            {"role": "user", "content": "."}, {"role": "assistant", "content": text}]
    res = await _run(msgs, ["output"])
    final = res.response[0]["content"]
    for rail in res.log.activated_rails if res.log else []:
        for act in rail.executed_actions:
            if act.action_name == "agentdesk_check_output" and isinstance(act.return_value, dict):
                ours = act.return_value
                findings = list(ours.get("findings") or [])
                if final != ours.get("text"):
                    findings.append({"type": "yara", "detail": "NeMo injection detection rejected the answer"})
                return OutputVerdict(final, findings, list(ours.get("removed_links") or []))
    log.warning("NeMo output rail produced no verdict; using check_output directly")
    return check_output(text, list(allowed_links))
