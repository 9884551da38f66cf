"""Reading PromQL text without evaluating it.

Two questions the DevOps tools ask before a query leaves the process: how far back its range
selectors reach (the window cap must hold for `metric[10y]` as it does for the `window` argument),
and which metric names it mentions (all the own-metrics fallback can answer without Prometheus).
Strings and label matchers are blanked first, so `{path=~"/a[0-9]"}` is neither a range nor a name.
"""

from __future__ import annotations

import re

from agents.devops.signals import SignalError

_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`[^`]*`')
_NAME_MATCHER = re.compile(r'__name__\s*=\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"')
_LABELS = re.compile(r"\{[^{}]*\}")
_SELECTOR = re.compile(r"\[([^\[\]]*)\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
# A name not followed by "(" (that is a function) and not inside a longer word or a number ("5m").
_IDENT = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on", "ignoring",
             "group_left", "group_right", "atan2"}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
METRIC_NAME = re.compile(r"^[a-zA-Z0-9_:]+$")  # what `match` may hold: part of a metric name


class PromQLProblem(SignalError):
    """A query the tools refuse to send, with the reason."""


def _blank_strings(query: str) -> str:
    return _STRING.sub('""', query)


def _seconds(text: str) -> float:
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):  # Prometheus 3 takes a bare number as seconds
        return float(text)
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise PromQLProblem(f"range selector [{text}] is not a plain duration (use e.g. [5m], [1h:1m])")
    return sum(int(n) * _UNIT_S[u] for n, u in parts)


def range_selectors(query: str) -> list[tuple[float, float | None]]:
    """(range seconds, subquery step seconds or None) of every `[...]` in the query."""
    out = []
    for inner in _SELECTOR.findall(_LABELS.sub("{}", _blank_strings(query))):
        rng, _, step = inner.partition(":")
        out.append((_seconds(rng), _seconds(step) if step.strip() else None))
    return out


def check_ranges(query: str, max_window_s: float, max_points: int) -> None:
    """Refuse a selector reaching back further than `max_window_s`, or a subquery of more than
    `max_points` steps: either makes Prometheus read and return far more than triage needs."""
    for rng, step in range_selectors(query):
        if rng > max_window_s:
            raise PromQLProblem(f"a range selector of {rng:g}s reaches back more than "
                                f"{max_window_s / 86400:g} days; narrow it (e.g. [1h])")
        if step and rng / step > max_points:
            raise PromQLProblem(f"a subquery of {rng:g}s at {step:g}s steps is more than {max_points:,} points; "
                                "use a larger step")


def metric_names(query: str) -> list[str]:
    """Metric names the query mentions, in order, without repeats (no function, keyword or label)."""
    text = _blank_strings(query)
    names = _NAME_MATCHER.findall(query)
    text = _GROUPING.sub(" ", _SELECTOR.sub(" ", _LABELS.sub(" ", text)))
    names += [n for n in _IDENT.findall(text) if n.lower() not in _KEYWORDS]
    return list(dict.fromkeys(names))
