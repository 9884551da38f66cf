"""The per-run budget: steps, tokens and cost of the model calls since the latest human message."""

from __future__ import annotations

from graphs.routing import latest_human
from graphs.state import Budget, fresh_budget
from serving.settings import get_settings


def tally(messages: list, budget: Budget | None, *, step: bool = True) -> Budget:
    """The budget after this run's messages; `step` counts one more router step."""
    settings = get_settings()
    idx, _ = latest_human(messages)
    tokens_in = tokens_out = 0
    for m in messages[idx + 1 :]:
        usage = getattr(m, "usage_metadata", None) or {}
        tokens_in += usage.get("input_tokens", 0)
        tokens_out += usage.get("output_tokens", 0)
    out: Budget = dict(budget or fresh_budget())  # type: ignore[assignment]
    out["steps"] += 1 if step else 0
    out["tokens"] = tokens_in + tokens_out
    out["cost"] = round(tokens_in / 1000 * settings.cost_per_1k_input + tokens_out / 1000 * settings.cost_per_1k_output, 6)
    return out


def over_budget(budget: Budget, *, check_steps: bool = True) -> str | None:
    s = get_settings()
    if check_steps and budget["steps"] > s.max_steps:
        return f"step limit ({s.max_steps}) reached"
    if budget["tokens"] > s.max_tokens:
        return f"token budget ({s.max_tokens}) spent"
    if budget["cost"] > s.max_cost:
        return f"cost budget (${s.max_cost:.2f}) spent"
    return None
