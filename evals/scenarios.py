"""`agentdesk eval scenarios [--endpoint URL] [--json]`: end-to-end scenarios through the orchestrator.

Each scenario in `evals/data/scenarios.yaml` runs on a fresh thread with Postgres checkpoints:
the recorded model responses are replayed by the scripted OpenAI-compatible server (or, with
`--endpoint`, a real vLLM answers), approvals are decided as the scenario says, and the run is
scored on route accuracy, tool-call validity and task success.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any

import yaml
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Command

from evals.scripted_llm import ScriptedServer, text, tool
from guardrails.policy import PolicyError, check_call


@dataclass
class Outcome:
    name: str
    route_ok: bool
    tool_calls: int
    valid_tool_calls: int
    success: bool
    problems: list[str] = field(default_factory=list)
    ms: float = 0.0


def load_scenarios() -> list[dict]:
    return yaml.safe_load(resources.files("evals").joinpath("data", "scenarios.yaml").read_text())


def _replies(scenario: dict) -> list[dict]:
    out = []
    for r in scenario.get("replies", []):
        if "route" in r:
            out.append(text(json.dumps({"next": r["route"], "reason": "recorded"})))
        elif "tool" in r:
            [(name, args)] = r["tool"].items()
            out.append(tool(name, **args))
        else:
            out.append(text(r["text"]))
    return out


def _decision(approval: dict) -> dict:
    kind = approval["decision"]
    if kind == "edit":
        return {"type": "edit", "edited_action": {"name": approval["tool"], "args": approval["args"]}}
    if kind == "reject":
        return {"type": "reject", "message": approval.get("message", "")}
    return {"type": "approve"}


async def run_one(desk, scenario: dict) -> Outcome:
    config = {"configurable": {"thread_id": f"scenario-{uuid.uuid4().hex}"}}
    problems: list[str] = []
    started = time.perf_counter()
    out = await desk.ainvoke({"messages": [HumanMessage(scenario["ask"])]}, config)
    approval = scenario.get("approval")
    if interrupts := out.get("__interrupt__"):
        request = interrupts[0].value
        asked = [a["name"] for a in request["action_requests"]]
        if not approval or approval["tool"] not in asked:
            problems.append(f"unexpected approval for {asked}")
            decision = {"type": "reject", "message": "not expected by the scenario"}
            decisions = [decision] * len(asked)
        else:
            decisions = [_decision(approval)] * len(asked)
        out = await desk.ainvoke(Command(resume={"decisions": decisions}), config)
    elif approval:
        problems.append(f"expected an approval for {approval['tool']}, none was asked")

    expect = scenario.get("expect", {})
    calls = [c for m in out["messages"] if isinstance(m, AIMessage) for c in m.tool_calls]
    agent = out.get("route")
    valid = 0
    for c in calls:
        try:
            check_call(agent or "", c["name"], c["args"])
            valid += 1
        except PolicyError:
            pass
    names = [c["name"] for c in calls]
    if names[: len(expect.get("tools", []))] != expect.get("tools", []):
        problems.append(f"tools {names} != expected {expect.get('tools', [])}")
    kinds = {a.get("type") for a in out.get("artifacts") or []}
    for kind in expect.get("artifacts", []):
        if kind not in kinds:
            problems.append(f"no {kind} artifact")
    answer = next((m.content for m in reversed(out["messages"]) if isinstance(m, AIMessage) and m.content), "")
    for needle in expect.get("answer", []):
        if needle.lower() not in str(answer).lower():
            problems.append(f"answer lacks {needle!r}")
    route_ok = agent == scenario["route"]
    if not route_ok:
        problems.append(f"route {agent} != {scenario['route']}")
    return Outcome(scenario["name"], route_ok, len(calls), valid, not problems, problems,
                   round((time.perf_counter() - started) * 1000, 1))


class EndpointError(RuntimeError):
    """The endpoint to evaluate does not answer; scoring the offline fallback instead would mislead."""


def resolve_endpoint(endpoint: str, timeout_s: float = 10.0) -> tuple[str, str]:
    """(API base, model) to evaluate. Accepts the server root as well as its `/v1` base. The model
    is AGENTDESK_LLM_MODEL when set, else the one the endpoint lists first, so a vLLM serving any
    model is scored as it is, not through the offline fallback."""
    from serving.settings import get_settings
    from serving.vllm.check_endpoint import EndpointProblem, served_models

    settings = get_settings()
    try:
        api_base, served = served_models(endpoint, timeout_s=timeout_s, api_key=settings.llm_api_key)
    except EndpointProblem as exc:
        raise EndpointError(str(exc)) from None
    if "llm_model" in settings.model_fields_set:  # chosen by the user: it must be served
        if settings.llm_model not in served:
            raise EndpointError(f"AGENTDESK_LLM_MODEL={settings.llm_model!r} is not served by {api_base}; "
                                f"it lists {served}")
        return api_base, settings.llm_model
    if settings.llm_model not in served:
        print(f"evaluating {served[0]!r}, the first model {api_base} lists (set AGENTDESK_LLM_MODEL to "
              "choose another)", file=sys.stderr)
        return api_base, served[0]
    return api_base, settings.llm_model


def _offline_answers() -> float:
    """Model calls the offline fallback has answered in this process (agentdesk_model_calls_total)."""
    from serving.metrics import MODEL_CALLS
    from serving.offline_model import OFFLINE_MODEL_NAME

    return sum(s.value for m in MODEL_CALLS.collect() for s in m.samples
               if s.name.endswith("_total") and s.labels == {"model": OFFLINE_MODEL_NAME, "outcome": "ok"})


async def run(endpoint: str | None, names: list[str] | None = None) -> dict:
    from agents.data.warehouse import ensure_warehouse_async
    from serving import gateway
    from serving.persistence import checkpointer
    from serving.settings import get_settings

    scenarios = [s for s in load_scenarios() if not names or s["name"] in names]
    env = {"AGENTDESK_LLM_BASE_URL": None, "AGENTDESK_LLM_MODEL": None}
    if endpoint:
        env["AGENTDESK_LLM_BASE_URL"], env["AGENTDESK_LLM_MODEL"] = resolve_endpoint(endpoint)
    await ensure_warehouse_async()
    offline_before = _offline_answers()
    outcomes: list[Outcome] = []
    server = None if endpoint else ScriptedServer()
    saved = {key: os.environ.get(key) for key in env}
    try:
        if server:
            server.__enter__()
            env["AGENTDESK_LLM_BASE_URL"] = server.url
        os.environ.update({k: v for k, v in env.items() if v is not None})
        get_settings.cache_clear()
        gateway.reset()
        from graphs.orchestrator import build_orchestrator

        async with checkpointer() as saver:
            desk = build_orchestrator(checkpointer=saver)
            for scenario in scenarios:
                if server:
                    server.script.queue.clear()
                    server.push(*_replies(scenario))
                outcomes.append(await run_one(desk, scenario))
                print(f"{'ok  ' if outcomes[-1].success else 'FAIL'} {scenario['name']}", file=sys.stderr)
    finally:
        if server:
            server.__exit__(None, None, None)
        for key, value in saved.items():  # in-process callers get their settings back
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        gateway.reset()
    n = len(outcomes)
    calls = sum(o.tool_calls for o in outcomes)
    offline = int(_offline_answers() - offline_before)
    if offline:
        print(f"warning: the offline fallback answered {offline} model call(s): the endpoint failed or timed out "
              "for them, so those scenarios score the fallback, not the endpoint", file=sys.stderr)
    return {
        "endpoint": env["AGENTDESK_LLM_BASE_URL"] if endpoint else "scripted",
        "model": env["AGENTDESK_LLM_MODEL"] if endpoint else "scripted",
        "offline_fallback_calls": offline,
        "scenarios": n,
        "route_accuracy": round(sum(o.route_ok for o in outcomes) / n, 3) if n else 0.0,
        "tool_call_validity": round(sum(o.valid_tool_calls for o in outcomes) / calls, 3) if calls else 1.0,
        "task_success": round(sum(o.success for o in outcomes) / n, 3) if n else 0.0,
        "failures": [asdict(o) for o in outcomes if not o.success],
    }


def main(args: argparse.Namespace) -> int:
    try:
        result = asyncio.run(run(args.endpoint))
    except EndpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        for key in ("endpoint", "scenarios", "route_accuracy", "tool_call_validity", "task_success"):
            print(f"{key:20s} {result[key]}")
        for f in result["failures"]:
            print(f"FAIL {f['name']}: {'; '.join(f['problems'])}")
    return 0
