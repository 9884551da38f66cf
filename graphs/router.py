"""The router node: budget accounting, the hard step limit, and the validated route decision."""

from __future__ import annotations

import logging

from langchain_core.messages import AIMessage, SystemMessage
from langchain_core.runnables import RunnableConfig

from graphs.budget import over_budget, tally
from graphs.routing import ROUTER_PROMPT, RouteDecision, answered_since_human, latest_human, offline_router
from graphs.state import DeskState
from serving.gateway import ModelBusy, ModelUnavailable, busy_message, structured
from serving.metrics import ROUTES, timed

log = logging.getLogger(__name__)


@timed("router")
async def router(state: DeskState, config: RunnableConfig) -> dict:
    budget = tally(state["messages"], state.get("budget"))
    if reason := over_budget(budget):
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
