"""Issue 11: the single-namespace install (manifests/overlays/namespaced) on the real node,
with no cluster-wide permission: the Pod acts on the orgs of its own namespace, and sees
nothing anywhere else."""

from __future__ import annotations

import json
import re

import pytest

from support.e2e import condition
from support.kube import Kube
from support.node import Install, e2e_on_node
from support.reliability import calls, wait_until
from support.simulator import Simulator

pytestmark = pytest.mark.e2e
OVERLAY = "manifests/overlays/namespaced"
SIMULATOR = {"seed": 5, "org_id": "org-ns"}
NAMESPACE = "team-identity"  # a user's own namespace, set by their kustomization
SA = f"system:serviceaccount:{NAMESPACE}:atlassian-operator"


def test_the_namespaced_install_acts_in_its_namespace_with_no_cluster_wide_right(
    install: Install, sim: Simulator, node_kube: Kube
) -> None:
    install.leader_pod()
    bindings = json.loads(
        install.kubectl("get", "clusterrolebindings", "-o", "json", namespaced=False).stdout
    )["items"]
    granted = [
        b["metadata"]["name"]
        for b in bindings
        for s in b.get("subjects") or []
        if s.get("namespace") == NAMESPACE and s.get("name") == "atlassian-operator"
    ]
    assert granted == []
    for verb, what, where in (
        ("list", "atlassianaccounts.atlassian.operators.dev", node_kube.namespace),
        ("get", "secrets", node_kube.namespace),
        ("list", "namespaces", None),
        ("patch", "leases.coordination.k8s.io", node_kube.namespace),
    ):
        scope = ["--namespace", where] if where else ["--all-namespaces"]
        answer = install.kubectl(
            "auth", "can-i", verb, what, f"--as={SA}", *scope, namespaced=False, check=False
        ).stdout.strip()
        assert answer == "no", (verb, what, where)

    # Its own namespace: an org syncs and an account is suspended.
    mine = e2e_on_node(Kube(NAMESPACE, install.kubeconfig), sim, install)
    ids = ["5c0000000000000000000c01", "5c0000000000000000000c02"]
    for i, account_id in enumerate(ids):
        sim.add_user(
            account_id=account_id, name=f"Leaver {i}", email=f"c{i}@acme.example",
            account_status="active",
        )  # fmt: skip
    mine.org(syncInterval="10m")
    mine.account("leaver", accountId=ids[0], desiredState="Suspended")
    mine.wait_status(
        "aacct", "leaver", lambda s: s.get("accountStatus") == "Suspended", "Suspended", 90
    )
    # Another namespace: the same objects are never looked at.
    other = e2e_on_node(node_kube, sim, install)
    other.org(syncInterval="10m")
    other.account("leaver", accountId=ids[1], desiredState="Suspended")
    token = mine.request_sync()
    mine.wait_synced(after=token, timeout=60)
    assert other.status("aorg", "acme") in ({}, {"observedGeneration": 0})
    assert condition(other.status("aacct", "leaver"), "Ready") is None
    wait_until(lambda: len(calls(sim, "disable")) == 1, 5, "one suspension only")
    log = install.log_text()
    assert not re.search(r"403|Forbidden|Not enough permissions", log), log[-3000:]
