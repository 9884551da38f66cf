"""Small helpers shared by the specialists' offline policies."""

from __future__ import annotations

import re

from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

from graphs.routing import message_text

_FENCE = re.compile(r"```\s*(?P<lang>[a-zA-Z]+)?\s*\n(?P<body>.*?)```", re.DOTALL)


def turn(messages: list[BaseMessage]) -> tuple[str, list[ToolMessage]]:
    """The latest human text and the tool results that followed it."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            results = [m for m in messages[i + 1 :] if isinstance(m, ToolMessage)]
            return message_text(messages[i]), results
    return "", []


def fenced(text: str, *langs: str) -> str | None:
    """The body of the first fenced block in one of `langs` (or an untagged one)."""
    for m in _FENCE.finditer(text):
        lang = (m.group("lang") or "").lower()
        if lang in langs or (not lang and "" in langs):
            return m.group("body").strip()
    return None
