"""The router's decision: structured output, validated before use, plus the offline router.

Offline, routing is rules first (a fenced ```sql or ```python block is unambiguous), then
semantic similarity of the question to a few exemplars per specialist with the bundled
MiniLM encoder.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from pydantic import BaseModel, Field

from graphs.state import Route


class RouteDecision(BaseModel):
    """Which specialist should act next, or `finish` when the question has been answered."""

    next: Route = Field(description="research | code | data | devops | finish")
    reason: str = Field(description="one short sentence explaining the choice", max_length=500)


ROUTER_PROMPT = """You are the router of agentdesk, a desk of specialists:
- research: questions answered from the team's documents, docs and runbooks (with citations)
- code: writing or running Python
- data: questions about the warehouse (customers, orders, products, deployments, incidents), SQL
- devops: metrics, logs, alerts, incidents, latency, errors, restarts, deployments in production
Choose `finish` when the last specialist message already answers the user's latest request.
Reply with the JSON object {"next": ..., "reason": ...} only."""

_EXEMPLARS: dict[str, list[str]] = {
    "research": [
        "What does the documentation say about approvals?",
        "How do I configure the checkpointer?",
        "Summarise the runbook for high latency",
        "Where is the architecture of agentdesk described?",
        "Explain how retrieval and citations work",
        "What is our policy on risky actions?",
    ],
    "code": [
        "Write a Python function that computes a moving average",
        "Run this script and show me the output",
        "Plot a sine wave with matplotlib",
        "Compute the fibonacci numbers up to 100 in python",
    ],
    "data": [
        "How many orders did we have last month?",
        "Which customers spent the most?",
        "Show revenue by product category",
        "What tables are in the warehouse?",
        "Describe the orders table",
        "Top 10 products by quantity sold",
    ],
    "devops": [
        "Why is latency high right now?",
        "Show me the error rate over the last hour",
        "Search the logs for errors",
        "Are there any firing alerts?",
        "The service is crash looping, what should I do?",
        "Restart the api deployment",
        "Check the server metrics",
    ],
}

_FENCE = re.compile(r"```\s*(sql|python|py)\b", re.IGNORECASE)
_KEYWORDS: list[tuple[str, re.Pattern[str]]] = [
    # Asking what a document says is research even when its topic is operational ("what does the
    # latency runbook say"): both keywords then count and similarity decides.
    ("research", re.compile(r"\b(docs?|documentation|documented|documents?|runbooks?|polic(?:y|ies)|handbook|guide|"
                            r"notes|according to|what (?:does|do) (?:the|our|a) [\w -]{1,40}? say|cite|citations?)\b", re.I)),
    ("devops", re.compile(r"\b(latency|p95|p99|error rate|logs?|alerts?|incident|outage|crash ?loop|restart|"
                          r"rollback|scale|metrics?|prometheus|loki|on-?call|5\d\d errors?)\b", re.I)),
    ("data", re.compile(r"\b(sql|warehouse|tables?|orders?|customers?|revenue|products?|select\b)", re.I)),
    ("code", re.compile(r"\b(python|script|function|plot|compute|def |numpy|pandas|code|snippet|implement|regex)\b", re.I)),
]


@lru_cache(maxsize=1)
def _exemplar_matrix() -> tuple[list[str], np.ndarray]:
    from serving.encoder import embed

    labels, texts = [], []
    for route, examples in _EXEMPLARS.items():
        labels += [route] * len(examples)
        texts += examples
    return labels, embed(texts)


def warm() -> None:
    """Load the encoder and embed the exemplars (the server calls this at start-up)."""
    _exemplar_matrix()


def message_text(message: BaseMessage) -> str:
    """A message's text: a string content as it is, or the text of its blocks one per line (the
    content-block list agent-chat-ui and multimodal clients send). str() of such a list is its
    Python repr, which the guard scored and the offline model answered."""
    content = message.content
    if isinstance(content, str):
        return content
    parts = [b if isinstance(b, str) else b.get("text", "") for b in content
             if isinstance(b, str) or (isinstance(b, dict) and b.get("type") == "text")]
    return "\n".join(p for p in parts if isinstance(p, str) and p)


def latest_human(messages: list[BaseMessage]) -> tuple[int, HumanMessage | None]:
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return i, messages[i]
    return -1, None


def answered_since_human(messages: list[BaseMessage]) -> bool:
    idx, _ = latest_human(messages)
    return any(
        isinstance(m, AIMessage) and not m.tool_calls and m.content for m in messages[idx + 1 :]
    )


def classify(text: str) -> RouteDecision:
    if fence := _FENCE.search(text):
        lang = fence.group(1).lower()
        route = "data" if lang == "sql" else "code"
        return RouteDecision(next=route, reason=f"the message holds a ```{lang} block")
    keyword_hits = [route for route, pattern in _KEYWORDS if pattern.search(text)]
    labels, matrix = _exemplar_matrix()
    from serving.encoder import embed

    sims = matrix @ embed([text])[0]
    scores: dict[str, float] = {}
    for label, sim in zip(labels, sims, strict=True):
        scores[label] = max(scores.get(label, -1.0), float(sim))
    for route in keyword_hits:  # a keyword is strong evidence, similarity breaks ties
        scores[route] += 0.25
    best = max(scores, key=scores.__getitem__)
    why = f"closest to {best} examples (similarity {scores[best]:.2f})"
    if best in keyword_hits:
        why += " and mentions a {0} term".format(best)
    return RouteDecision(next=best, reason=why)


def offline_router(messages: list[BaseMessage]) -> RouteDecision:
    """Finish once a specialist has answered the latest human message; otherwise classify it."""
    if answered_since_human(messages):
        return RouteDecision(next="finish", reason="the specialist answered the request")
    if messages and isinstance(messages[-1], ToolMessage):
        return RouteDecision(next="finish", reason="the specialist stopped after a tool result")
    _, human = latest_human(messages)
    if human is None:
        return RouteDecision(next="finish", reason="there is no question to answer")
    return classify(message_text(human))
