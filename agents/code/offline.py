"""Offline code agent: runs the Python the user wrote (in the sandbox) and reports the output."""

from __future__ import annotations

from langchain_core.messages import AIMessage, BaseMessage

from agents._offline import fenced, turn
from serving.offline_model import tool_call


def policy(messages: list[BaseMessage]) -> AIMessage:
    question, results = turn(messages)
    if not results:
        code = fenced(question, "python", "py", "")
        if code is None:
            return AIMessage(
                "Offline, I run the Python you write: put it in a ```python block and I will run "
                "it in the sandbox. With a served model I can write the code for you."
            )
        return AIMessage("", tool_calls=[tool_call("run_python", {"code": code})])
    last = results[-1]
    artifact = last.artifact or {}
    if last.status == "error" or not artifact:
        return AIMessage(str(last.content))
    out = (artifact.get("stdout") or "").strip()
    err = (artifact.get("stderr") or "").strip()
    parts = [f"Ran the code in the sandbox (exit code {artifact.get('exit_code')})."]
    if artifact.get("timed_out"):
        parts.append("It was stopped at the time limit.")
    if out:
        parts.append(f"Output:\n```\n{out[:3000]}\n```")
    if err:
        parts.append(f"Errors:\n```\n{err[:2000]}\n```")
    if files := artifact.get("files"):
        parts.append("Files: " + ", ".join(f["name"] for f in files))
    return AIMessage("\n".join(parts))
