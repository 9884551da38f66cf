"""The router node: budget accounting, the hard step limit, and the validated route decision."""

from __future__ import annotations

import logging

from langchain_core.messages import AIMessage, SystemMessage
from langchain_core.runnables import RunnableConfig

from graphs.routing import ROUTER_PROMPT, RouteDecision, answered_since_human, latest_human, offline_router
from graphs.state import DeskState, fresh_budget
from serving.gateway import ModelBusy, ModelUnavailable, busy_message, structured
from serving.metrics import ROUTES, timed
from serving.settings import get_settings

log = logging.getLogger(__name__)


def _tally(state: DeskState) -> dict:
    """Tokens and cost of the model calls in this run (messages after the latest human one)."""
    settings = get_settings()
    idx, _ = latest_human(state["messages"])
    tokens_in = tokens_out = 0
    for m in state["messages"][idx + 1 :]:
        usage = getattr(m, "usage_metadata", None) or {}
        tokens_in += usage.get("input_tokens", 0)
        tokens_out += usage.get("output_tokens", 0)
    budget = dict(state.get("budget") or fresh_budget())
    budget["steps"] += 1
    budget["tokens"] = tokens_in + tokens_out
    budget["cost"] = round(
        tokens_in / 1000 * settings.cost_per_1k_input + tokens_out / 1000 * settings.cost_per_1k_output, 6
    )
    return budget


def _over_budget(budget: dict) -> str | None:
    s = get_settings()
    if budget["steps"] > s.max_steps:
        return f"step limit ({s.max_steps}) reached"
    if budget["tokens"] > s.max_tokens:
        return f"token budget ({s.max_tokens}) spent"
    if budget["cost"] > s.max_cost:
        return f"cost budget (${s.max_cost:.2f}) spent"
    return None


@timed("router")
async def router(state: DeskState, config: RunnableConfig) -> dict:
    budget = _tally(state)
    if reason := _over_budget(budget):
        note = f"Stopped: {reason}. The partial results above are kept."
        update = {"route": "finish", "route_reason": reason, "budget": budget, "notes": [note]}
        if not answered_since_human(state["messages"]):
            update["messages"] = [AIMessage(note, name="router")]
        return update
    if answered_since_human(state["messages"]):
        # One specialist answers each turn; asking a served model again only to hear "finish"
        # would add a full model call to every turn.
        decision = RouteDecision(next="finish", reason="the specialist answered the request")
    else:
        try:
            decision = await structured(
                "router", RouteDecision, [SystemMessage(ROUTER_PROMPT), *state["messages"]], offline_router
            )
        except ModelBusy as busy:
            ROUTES.labels("busy").inc()
            return {"route": "finish", "route_reason": "the model service is busy", "budget": budget,
                    "messages": [AIMessage(busy_message(busy), name="router")]}
        except ModelUnavailable as exc:  # cannot happen with the offline link, kept for clarity
            log.error("router model unavailable: %s", exc)
            decision = offline_router(state["messages"])
    ROUTES.labels(decision.next).inc()
    return {"route": decision.next, "route_reason": decision.reason, "budget": budget}


def after_specialist(state: DeskState) -> str:
    """Straight to the output guard once the specialist answered; back to the router otherwise
    (a step limit, or a specialist that stopped without an answer)."""
    return "output_guard" if answered_since_human(state["messages"]) else "router"


def next_node(state: DeskState) -> str:
    route = state.get("route") or "finish"
    return "output_guard" if route == "finish" else route
