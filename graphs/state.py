"""Shared state schemas of the orchestrator and the specialist subgraphs."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import NotRequired, TypedDict

Route = Literal["research", "code", "data", "devops", "finish"]
SPECIALISTS: tuple[str, ...] = ("research", "code", "data", "devops")


class Budget(TypedDict):
    steps: int
    tokens: int
    cost: float


def fresh_budget() -> Budget:
    return {"steps": 0, "tokens": 0, "cost": 0.0}


class DeskState(TypedDict):
    """The orchestrator's state. Specialists share `messages` and `artifacts` with it."""

    messages: Annotated[list[AnyMessage], add_messages]
    route: NotRequired[str | None]
    route_reason: NotRequired[str]
    budget: NotRequired[Budget]
    # Tables, charts, citations, code results: appended, each tagged with the tool call
    # that produced it so the UI can show it beside the right message.
    artifacts: NotRequired[Annotated[list[dict[str, Any]], operator.add]]
    guard: NotRequired[Annotated[list[dict[str, Any]], operator.add]]
    notes: NotRequired[list[str]]


class SpecialistState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    artifacts: NotRequired[Annotated[list[dict[str, Any]], operator.add]]
    agent_steps: NotRequired[int]
