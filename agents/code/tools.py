"""The code agent's `run_python` tool, registered in the tool-risk policy.

Risk comes from the static scan (agents/code/policy.py): plain computation is `low` and runs at
once; network use or installs are `high` and stop at the approval interrupt first. Either way the
code runs in the bwrap sandbox; the only thing approval buys is a shared network namespace, and
only when the approved code visibly asked for the network.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.tools import tool

from agents.code.policy import assess_code
from agents.code.sandbox import SandboxResult, SandboxUnavailable
from agents.code.sandbox import run_python as run_in_sandbox
from guardrails.policy import Risk, register

MAX_TIMEOUT_S = 60.0
_SUMMARY_CHARS = 4000  # the model sees this much of each stream; the artifact keeps 64 KiB


def _summary(r: SandboxResult) -> str:
    head = f"exit code {r.exit_code}"
    if r.timed_out:
        head += " (killed: wall-clock timeout)"
    elif r.killed_reason:
        head += f" (killed: {r.killed_reason})"
    parts = [head + f", {r.duration_ms:.0f} ms"]
    for label, text in (("stdout", r.stdout), ("stderr", r.stderr)):
        if text:
            cut = text[-_SUMMARY_CHARS:] if label == "stderr" else text[:_SUMMARY_CHARS]
            more = " (shortened)" if len(text) > _SUMMARY_CHARS else ""
            parts.append(f"{label}{more}:\n{cut}")
    if r.truncated:
        parts.append("note: output exceeded the 64 KiB cap and was truncated")
    if r.files:
        parts.append("files: " + ", ".join(f"{f['name']} ({f['size']} B)" for f in r.files))
    return "\n".join(parts)


@tool("run_python", response_format="content_and_artifact")
async def _run_python_tool(code: str, timeout_s: float = 10) -> tuple[str, dict[str, Any]]:
    """Run a Python 3.11 snippet in an isolated sandbox and return its output.

    numpy and Pillow are available; files written to the working directory come back as
    artifacts (e.g. a PNG chart). No network unless a human approved it. Print what you need.
    """
    timeout_s = min(max(float(timeout_s), 0.5), MAX_TIMEOUT_S)
    # This tool only runs after the policy check: a high-risk snippet got here through approval.
    allow_network = assess_code(code).wants_network
    try:
        # bwrap blocks for up to timeout_s; keep the event loop (and other runs) responsive.
        r = await asyncio.to_thread(run_in_sandbox, code, timeout_s=timeout_s,
                                    allow_network=allow_network)
    except SandboxUnavailable as exc:
        r = SandboxResult(exit_code=-1, stdout="", stderr=str(exc), killed_reason="unavailable")
    artifact = {
        "type": "code_result", "code": code, "stdout": r.stdout, "stderr": r.stderr,
        "exit_code": r.exit_code, "timed_out": r.timed_out, "truncated": r.truncated,
        "killed_reason": r.killed_reason, "duration_ms": r.duration_ms, "files": r.files,
    }
    return _summary(r), artifact


def _describe(args: dict[str, Any]) -> str:
    a = assess_code(str(args.get("code", "")))
    why = "; ".join(a.reasons) or "plain computation"
    return f"Run Python in the sandbox ({why})"


def _risk(args: dict[str, Any]) -> Risk:
    return Risk.high if assess_code(str(args.get("code", ""))).risk == "high" else Risk.low


run_python = register(
    _run_python_tool,
    risk=_risk,
    agents={"code"},
    side_effects=False,
    describe=_describe,
)
