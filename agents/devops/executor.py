"""Remediation executors: Kubernetes when a kubeconfig is configured, otherwise a dry run.

The dry-run executor records the exact intended action in the audit log (status "dry-run") and
says plainly that nothing ran. Both are called only from tools that the policy marks high or
critical with side effects, so every call has passed the approval node and holds an idempotency
key (graphs/tool_exec.py): an approved action reaches an executor once.
"""

from __future__ import annotations

import asyncio
import copy
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from langchain_core.runnables import RunnableConfig

from serving import audit

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"  # the annotation `kubectl rollout restart` sets
REVISION = "deployment.kubernetes.io/revision"


@dataclass
class Outcome:
    ran: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    async def restart(self, workload: str, namespace: str) -> Outcome: ...
    async def scale(self, workload: str, namespace: str, replicas: int) -> Outcome: ...
    async def rollback(self, workload: str, namespace: str, revision: int | None, reason: str) -> Outcome: ...


class DryRunExecutor:
    def __init__(self, config: RunnableConfig | None = None, tool: str = "", risk: str = ""):
        self._config, self._tool, self._risk = config, tool, risk

    async def _intend(self, action: str, **details: Any) -> Outcome:
        target = f"{details.get('namespace')}/{details.get('workload')}"
        extra = ", ".join(f"{k}={v}" for k, v in details.items()
                          if k not in ("workload", "namespace") and v not in (None, ""))
        summary = (f"DRY RUN: would {action} {target}{' (' + extra + ')' if extra else ''}. "
                   "No cluster is configured, so nothing was changed; the intended action is in the audit log.")
        intended = {"action": action, **details, "executor": "dry-run"}
        await audit.record("action", self._config, agent="devops", tool=self._tool, risk=self._risk,
                           status="dry-run", args=intended, result={"content": summary})
        return Outcome(False, summary, intended)

    async def restart(self, workload: str, namespace: str) -> Outcome:
        return await self._intend("restart", workload=workload, namespace=namespace)

    async def scale(self, workload: str, namespace: str, replicas: int) -> Outcome:
        return await self._intend("scale", workload=workload, namespace=namespace, replicas=replicas)

    async def rollback(self, workload: str, namespace: str, revision: int | None, reason: str) -> Outcome:
        return await self._intend("rollback", workload=workload, namespace=namespace, revision=revision,
                                  reason=reason)


def rollback_template(deployment: dict[str, Any], replica_sets: list[dict[str, Any]],
                      revision: int | None) -> tuple[int, dict[str, Any]]:
    """The pod template to roll back to, as `kubectl rollout undo` picks it: the ReplicaSet owned
    by the deployment with the given revision, or the newest one older than the current revision.
    Objects are plain dicts in the API's JSON shape. Returns (revision, template)."""
    uid = deployment["metadata"]["uid"]
    current = int((deployment["metadata"].get("annotations") or {}).get(REVISION, 0))
    owned: dict[int, dict[str, Any]] = {}
    for rs in replica_sets:
        meta = rs["metadata"]
        if any(o.get("uid") == uid for o in meta.get("ownerReferences") or []):
            owned[int((meta.get("annotations") or {}).get(REVISION, 0))] = rs
    if revision is not None:
        if revision not in owned:
            raise ValueError(f"revision {revision} not found; known revisions: {sorted(owned)}")
        target = revision
    else:
        older = [r for r in owned if r < current]
        if not older:
            raise ValueError(f"no revision older than the current one ({current}) to roll back to")
        target = max(older)
    template = copy.deepcopy(owned[target]["spec"]["template"])
    # The ReplicaSet controller adds pod-template-hash; the deployment's template must not carry it.
    (template.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    return target, template


class KubernetesExecutor:
    """Deployments through the official client. The client is synchronous, so calls run in a
    worker thread to keep the graph's event loop free."""

    def __init__(self, kubeconfig: str):
        from kubernetes import client, config

        try:
            self._api_client = config.new_client_from_config(config_file=kubeconfig)
        except Exception as exc:  # noqa: BLE001 - any load failure means we must not pretend to run
            raise RuntimeError(f"kubeconfig {kubeconfig!r} could not be loaded ({exc}); nothing was changed") from exc
        self._apps = client.AppsV1Api(self._api_client)

    def _dict(self, obj: Any) -> dict[str, Any]:
        return self._api_client.sanitize_for_serialization(obj)

    async def restart(self, workload: str, namespace: str) -> Outcome:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
        await asyncio.to_thread(self._apps.patch_namespaced_deployment, workload, namespace, body)
        return Outcome(True, f"Restarted {namespace}/{workload}: rolling restart started at {now}.",
                       {"action": "restart", "restartedAt": now})

    async def scale(self, workload: str, namespace: str, replicas: int) -> Outcome:
        body = {"spec": {"replicas": replicas}}
        await asyncio.to_thread(self._apps.patch_namespaced_deployment_scale, workload, namespace, body)
        return Outcome(True, f"Scaled {namespace}/{workload} to {replicas} replicas.",
                       {"action": "scale", "replicas": replicas})

    async def rollback(self, workload: str, namespace: str, revision: int | None, reason: str) -> Outcome:
        dep = self._dict(await asyncio.to_thread(self._apps.read_namespaced_deployment, workload, namespace))
        selector = ",".join(f"{k}={v}" for k, v in dep["spec"]["selector"].get("matchLabels", {}).items())
        rs_list = await asyncio.to_thread(self._apps.list_namespaced_replica_set, namespace, label_selector=selector)
        target, template = rollback_template(dep, [self._dict(rs) for rs in rs_list.items], revision)
        patch = [{"op": "replace", "path": "/spec/template", "value": template}]  # list body = JSON patch
        await asyncio.to_thread(self._apps.patch_namespaced_deployment, workload, namespace, patch)
        return Outcome(True, f"Rolled back {namespace}/{workload} to revision {target} (reason: {reason}).",
                       {"action": "rollback", "revision": target})


def kubeconfig_path() -> str | None:
    # Read here rather than in serving/settings.py: only the executor needs it, and KUBECONFIG is
    # the variable kubectl users already have set.
    return os.environ.get("AGENTDESK_KUBECONFIG") or os.environ.get("KUBECONFIG") or None


def get_executor(config: RunnableConfig | None = None, tool: str = "", risk: str = "") -> Executor:
    path = kubeconfig_path()
    return KubernetesExecutor(path) if path else DryRunExecutor(config, tool, risk)
