"""The tool-risk policy: one registry of every tool, its argument schema, risk tier and callers.

Tiers (ARCHITECTURE.md): `low` runs; `medium` runs and is audit-logged; `high` and
`critical` stop at the approval interrupt; `critical` also needs a `reason` argument.
A tool's tier may depend on its arguments (SQL that writes is riskier than a SELECT),
so a spec carries either a fixed tier or a function of the arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import jsonschema
from langchain_core.tools import BaseTool


class Risk(str, Enum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def needs_approval(self) -> bool:
        return self in (Risk.high, Risk.critical)

    @property
    def audited(self) -> bool:
        return self is not Risk.low


class PolicyError(ValueError):
    """A tool call that breaks the policy; its message is shown to the model and the user."""


@dataclass(frozen=True)
class ToolSpec:
    tool: BaseTool
    risk: Risk | Callable[[dict[str, Any]], Risk]
    agents: frozenset[str]
    # Side-effecting calls get an idempotency key so an approved action runs once. Like the
    # tier, it may depend on the arguments (SQL that writes vs. a SELECT).
    side_effects: bool | Callable[[dict[str, Any]], bool] = False
    describe: Callable[[dict[str, Any]], str] | None = None
    schema: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.tool.name

    def risk_for(self, args: dict[str, Any]) -> Risk:
        return self.risk(args) if callable(self.risk) else self.risk

    def has_side_effects(self, args: dict[str, Any]) -> bool:
        return self.side_effects(args) if callable(self.side_effects) else self.side_effects

    def description_for(self, args: dict[str, Any]) -> str:
        if self.describe:
            return self.describe(args)
        return self.tool.description.split("\n")[0]


_REGISTRY: dict[str, ToolSpec] = {}


def register(
    tool: BaseTool,
    *,
    risk: Risk | Callable[[dict[str, Any]], Risk],
    agents: Iterable[str],
    side_effects: bool | Callable[[dict[str, Any]], bool] = False,
    describe: Callable[[dict[str, Any]], str] | None = None,
) -> BaseTool:
    """Register `tool` (idempotent by name) and return it, so modules can write
    `run_sql = register(_run_sql, risk=..., agents={"data"})`."""
    schema = tool.tool_call_schema.model_json_schema() if tool.args_schema else {"type": "object"}
    _REGISTRY[tool.name] = ToolSpec(tool, risk, frozenset(agents), side_effects, describe, schema)
    return tool


def get_spec(name: str) -> ToolSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise PolicyError(f"unknown tool {name!r}") from None


def all_specs() -> list[ToolSpec]:
    return list(_REGISTRY.values())


def check_call(agent: str, name: str, args: dict[str, Any]) -> tuple[ToolSpec, Risk]:
    """Validate a call before it runs (or before it is shown for approval).

    Raises PolicyError with a message fit for the model and the user.
    """
    spec = get_spec(name)
    if agent not in spec.agents:
        raise PolicyError(f"agent {agent!r} may not call tool {name!r}")
    try:
        jsonschema.validate(args, spec.schema)
    except jsonschema.ValidationError as exc:
        raise PolicyError(f"invalid arguments for {name}: {exc.message}") from None
    try:
        risk = spec.risk_for(args)
    except Exception as exc:  # noqa: BLE001 - a scanner's failure must not crash the approval node
        raise PolicyError(f"{name}: its arguments could not be assessed ({type(exc).__name__}); "
                          "simplify them and call it again") from None
    if risk is Risk.critical and not str(args.get("reason") or "").strip():
        raise PolicyError(
            f"{name} is a critical action: call it again with a `reason` argument "
            "explaining why it is needed"
        )
    return spec, risk
