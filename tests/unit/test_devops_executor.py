"""Executor selection and the rollback target choice (the part of `kubectl rollout undo` we reimplement)."""

from __future__ import annotations

import pytest

from agents.devops.executor import DryRunExecutor, KubernetesExecutor, get_executor, rollback_template

UID = "dep-uid"


def rs(revision: int, image: str, owner: str = UID) -> dict:
    return {"metadata": {"annotations": {"deployment.kubernetes.io/revision": str(revision)},
                         "ownerReferences": [{"uid": owner}]},
            "spec": {"template": {"metadata": {"labels": {"app": "api", "pod-template-hash": f"h{revision}"}},
                                  "spec": {"containers": [{"name": "api", "image": image}]}}}}


DEPLOYMENT = {"metadata": {"uid": UID, "annotations": {"deployment.kubernetes.io/revision": "3"}}}
SETS = [rs(1, "api:1"), rs(2, "api:2"), rs(3, "api:3"), rs(9, "other:9", owner="someone-else")]


def test_rollback_picks_the_newest_older_revision_and_strips_the_hash():
    revision, template = rollback_template(DEPLOYMENT, SETS, None)
    assert revision == 2
    assert template["spec"]["containers"][0]["image"] == "api:2"
    assert template["metadata"]["labels"] == {"app": "api"}
    assert SETS[1]["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == "h2"  # input untouched


def test_rollback_to_a_given_revision_and_clear_errors():
    assert rollback_template(DEPLOYMENT, SETS, 1)[0] == 1
    with pytest.raises(ValueError, match=r"revision 9 not found; known revisions: \[1, 2, 3\]"):
        rollback_template(DEPLOYMENT, SETS, 9)  # owned by another deployment
    with pytest.raises(ValueError, match="no revision older"):
        rollback_template(DEPLOYMENT, [rs(3, "api:3")], None)


def test_without_kubeconfig_the_dry_run_executor_is_used(monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("AGENTDESK_KUBECONFIG", raising=False)
    assert isinstance(get_executor(), DryRunExecutor)


def test_a_broken_kubeconfig_fails_loudly_instead_of_pretending(monkeypatch, tmp_path):
    bad = tmp_path / "config"
    bad.write_text("this: is: not a kubeconfig")
    monkeypatch.setenv("AGENTDESK_KUBECONFIG", str(bad))
    with pytest.raises(RuntimeError, match="(?s)could not be loaded.*nothing was changed"):
        get_executor()


def test_a_valid_kubeconfig_selects_kubernetes(monkeypatch, tmp_path):
    cfg = tmp_path / "config"
    cfg.write_text("""apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
""")
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    monkeypatch.delenv("AGENTDESK_KUBECONFIG", raising=False)
    assert isinstance(get_executor(), KubernetesExecutor)


@pytest.mark.parametrize("args, why", [
    ({"workload": "checkout", "replicas": -5}, "minimum"),
    ({"workload": "checkout", "replicas": 10**12}, "maximum"),
    ({"workload": "", "replicas": 3}, "non-empty"),
    ({"workload": "checkout", "replicas": 3, "namespace": ""}, "non-empty"),
    ({"workload": "Checkout; rm -rf", "replicas": 3}, "does not match"),
])
def test_remediation_arguments_are_checked_before_anyone_approves_them(args, why):
    # The schema had no bounds: "Scale default/checkout to -5 replicas" reached the approval card
    # and failed only after a human approved it.
    import agents.devops.tools  # noqa: F401 - registers the tools
    from guardrails.policy import PolicyError, check_call

    with pytest.raises(PolicyError, match=why):
        check_call("devops", "scale_workload", args)
    assert check_call("devops", "scale_workload", {"workload": "checkout", "replicas": 3})[1].needs_approval
