"""Offline DevOps agent: a deterministic triage, one phase per model call.

gather signals -> find the runbook -> rank hypotheses and propose the runbook's remediation (stops
at approval) -> after it ran, re-read the signals -> report. The phase is read off the tool results
since the user's message, so a resumed or replayed run continues where it was. An explicit request
("restart the payments deployment") skips straight to proposing that action.
"""

from __future__ import annotations

import re

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from agents._offline import turn
from agents.devops import signals, triage
from agents.devops.tools import REMEDIATIONS, SIGNAL_TOOLS
from serving.offline_model import tool_call

# An order starts its sentence ("restart X", "please scale X to 4", "can you roll back X"): the
# verb anywhere ("How long does a restart usually take?") made the offline agent propose a
# restart of "usually" for approval.
_ACTION = re.compile(r"(?:^|[.!?;\n]\s*)(?:(?:please|pls|ok|okay|now|then|go ahead and|can you|could you|would you|kindly)[\s,]+)*"
                     r"(restart|scale|roll ?back)\b(?:\s+(?:the\s+)?(?:(?:deployment|workload|service|pods?\s+(?:of|for|in))\s+)?"
                     r"[`'\"]?([a-z0-9][a-z0-9-]*))?", re.I)
_REPLICAS = re.compile(r"\bto\s+(\d+)\b")
_REASON = re.compile(r"\b(?:because|reason:?)\s+(.+)", re.I)
_FIX = re.compile(r"\b(fix|remediat\w*|mitigat\w*|triage|resolve|repair|heal|recover)\b", re.I)
_GENERIC = {"the", "a", "an", "it", "this", "that", "them", "if", "and", "to", "up", "down", "out", "in", "of",
            "deployment", "workload", "service", "pod", "pods", "everything", "all", "something"}


def explicit_action(question: str) -> dict | str | None:
    """The remediation an order asks for; a question (str) when it names no workload; None when
    the message is no order."""
    if not (m := _ACTION.search(question.strip())):
        return None
    verb = m.group(1).lower().replace(" ", "")
    workload = m.group(2)
    if not workload or workload.lower() in _GENERIC:  # guessing one would put a wrong target up for approval
        return (f"Which workload should I {m.group(1).lower()}? Name it, e.g. \"{m.group(1).lower()} checkout\""
                + (" to 4 replicas" if verb == "scale" else "") + ".")
    if verb == "restart":
        return tool_call("restart_workload", {"workload": workload})
    if verb == "scale":
        replicas = int(r.group(1)) if (r := _REPLICAS.search(question)) else 2
        return tool_call("scale_workload", {"workload": workload, "replicas": replicas})
    reason = r.group(1).strip() if (r := _REASON.search(question)) else ""
    return tool_call("rollback_deployment", {"workload": workload, "reason": reason})


def policy(messages: list[BaseMessage]) -> AIMessage:
    question, results = turn(messages)
    if not results:
        if (call := explicit_action(question)) and not _FIX.search(question):
            return AIMessage(call) if isinstance(call, str) else AIMessage("", tool_calls=[call])
        return AIMessage("", tool_calls=triage.gather_calls(signals.mode()))

    done = [i for i, r in enumerate(results) if r.name in REMEDIATIONS]
    if done:
        before, outcome, after = results[: done[-1]], results[done[-1]], results[done[-1] + 1 :]
        if outcome.status != "error" and not any(r.name in SIGNAL_TOOLS for r in after):
            return AIMessage("", tool_calls=triage.gather_calls(signals.mode()))  # verify
        return AIMessage(_report(question, before, outcome, after))

    ev = triage.evidence(results)
    book, _ = triage.runbook_of(results)
    if book is None and ev.abnormal and not any(r.name == "find_runbook" for r in results):
        return AIMessage("", tool_calls=[tool_call("find_runbook", {"symptom": triage.symptom(question, ev)})])
    if _FIX.search(question) and ev.abnormal:
        hs = triage.hypotheses(book, ev)
        target = triage.workload(question, ev)
        if call := triage.proposal(hs[0], target, ev, book):
            text = "\n".join([*_analysis(ev, results), "", f"Proposed, following the runbook: {call['name']} "
                              f"{call['args']}. It waits for your approval."])
            return AIMessage(text, tool_calls=[call])
    return AIMessage(_report(question, results, None, []))


def _analysis(ev: triage.Evidence, results: list[ToolMessage]) -> list[str]:
    book, n = triage.runbook_of(results)
    lines = ["Signals:", *[f"- {x}" for x in triage.describe(ev)]]
    if book:
        lines += ["", f"Runbook followed: {book.title} ({book.source}) [{n}]"]
    if ev.abnormal:
        lines += ["", *triage.ranking(triage.hypotheses(book, ev))]
    else:
        lines += ["", "Nothing abnormal: no firing alert, no error log line and no metric past its objective."]
    return lines


def _report(question: str, before: list[ToolMessage], outcome: ToolMessage | None,
            after: list[ToolMessage]) -> str:
    ev = triage.evidence(before)
    title = "DevOps triage" if before else "DevOps action"
    lines = [title + (f" of {triage.workload(question, ev)}" if ev.abnormal else "") + "."]
    if before:
        lines += ["", *_analysis(ev, before)]
    if outcome is not None:
        lines += ["", f"Action {outcome.name}: {outcome.content}"]
        if outcome.status != "error":
            lines += ["", "Verification (signals re-read after the action):",
                      *[f"- {x}" for x in triage.compare(ev, triage.evidence(after))]]
            if "DRY RUN" in str(outcome.content):
                lines.append("This was a dry run, so the signals were not expected to change.")
    elif ev.abnormal and not _FIX.search(question):
        lines += ["", "Ask me to fix it and I will propose the runbook's remediation for approval."]
    elif ev.abnormal:
        top = triage.hypotheses(triage.runbook_of(before)[0], ev)[0]
        why = ("no cause has evidence yet" if top.score <= 0 else
               "the runbook has no workload action for it: escalate to the owner of the failing part")
        lines += ["", f"No action proposed: the leading cause is {top.cause}, and {why}."]
    lines += ["", triage.source_note()]
    return "\n".join(lines)
