"""Remediation executors. Without a configured cluster, the dry-run executor records the exact
intended action in the audit log and says plainly that nothing ran."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass
class Outcome:
    ran: bool
    summary: str
    details: dict[str, Any]


class Executor(Protocol):
    async def restart(self, workload: str, namespace: str) -> Outcome: ...
    async def scale(self, workload: str, namespace: str, replicas: int) -> Outcome: ...
    async def rollback(self, workload: str, namespace: str, revision: int | None) -> Outcome: ...


class DryRunExecutor:
    async def _intend(self, action: str, **details: Any) -> Outcome:
        target = f"{details.get('namespace')}/{details.get('workload')}"
        extra = ", ".join(f"{k}={v}" for k, v in details.items() if k not in ("workload", "namespace"))
        summary = (f"DRY RUN: would {action} {target}{' (' + extra + ')' if extra else ''}. "
                   "No cluster is configured, so nothing was changed; the intended action is in the audit log.")
        return Outcome(False, summary, {"action": action, **details, "executor": "dry-run"})

    async def restart(self, workload: str, namespace: str) -> Outcome:
        return await self._intend("restart", workload=workload, namespace=namespace)

    async def scale(self, workload: str, namespace: str, replicas: int) -> Outcome:
        return await self._intend("scale", workload=workload, namespace=namespace, replicas=replicas)

    async def rollback(self, workload: str, namespace: str, revision: int | None) -> Outcome:
        return await self._intend("rollback", workload=workload, namespace=namespace, revision=revision)


def get_executor() -> Executor:
    return DryRunExecutor()
