"""Pick a chart for a query result: a Vega-Lite v5 spec with the data inline, or None.

The UI renders the spec client-side (vega-embed), so nothing is rendered here. Rules are
deliberately simple and predictable: a time series becomes a line chart, a small
category -> number table becomes a bar chart, anything else stays a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
MAX_BARS = 50


def chart_for(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> dict | None:
    """A Vega-Lite spec for `rows` (values as Python objects or JSON-safe strings)."""
    if len(columns) < 2 or len(rows) < 1 or len(set(columns)) != len(columns):
        return None
    cols = list(columns)
    values = [dict(zip(cols, (_plain(v) for v in row), strict=False)) for row in rows]
    numeric_rest = all(_all(rows, i, _is_number) for i in range(1, len(cols)))
    if len(rows) >= 2 and numeric_rest and _all(rows, 0, _is_temporal):
        return _line(cols, values)
    if len(cols) == 2 and len(rows) <= MAX_BARS and numeric_rest and _all(rows, 0, _is_category):
        return _bar(cols, values)
    return None


def _line(cols: list[str], values: list[dict]) -> dict:
    x = {"field": _field(cols[0]), "type": "temporal", "title": cols[0]}
    spec: dict[str, Any] = {"$schema": VEGA_LITE_SCHEMA, "data": {"values": values},
                            "mark": {"type": "line", "point": len(values) <= 60},
                            "width": "container"}
    if len(cols) == 2:
        spec["encoding"] = {"x": x, "y": {"field": _field(cols[1]), "type": "quantitative",
                                          "title": cols[1]}}
    else:  # several measures: one line each, coloured by measure name
        spec["transform"] = [{"fold": cols[1:], "as": ["series", "value"]}]
        spec["encoding"] = {"x": x, "y": {"field": "value", "type": "quantitative"},
                            "color": {"field": "series", "type": "nominal"}}
    return spec


def _bar(cols: list[str], values: list[dict]) -> dict:
    return {"$schema": VEGA_LITE_SCHEMA, "data": {"values": values}, "mark": "bar",
            "width": "container",
            "encoding": {
                "x": {"field": _field(cols[0]), "type": "nominal", "title": cols[0],
                      "sort": "-y"},
                "y": {"field": _field(cols[1]), "type": "quantitative", "title": cols[1]}}}


def _field(name: str) -> str:
    # Vega-Lite reads "a.b" and "a[0]" as nested access; escape to mean the column name.
    return name.replace("\\", "\\\\").replace(".", "\\.").replace("[", "\\[").replace("]", "\\]")


def _all(rows: Sequence[Sequence[Any]], i: int, test) -> bool:
    seen = [row[i] for row in rows if i < len(row) and row[i] is not None]
    return bool(seen) and all(test(v) for v in seen)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def _is_temporal(v: Any) -> bool:
    if isinstance(v, (date, datetime)):
        return True
    if isinstance(v, str) and len(v) >= 10 and v[4] == "-":  # ISO dates from JSON rows
        try:
            datetime.fromisoformat(v)
            return True
        except ValueError:
            return False
    return False


def _is_category(v: Any) -> bool:
    return isinstance(v, (str, bool)) and not _is_temporal(v)


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return v
