"""The operator's own RBAC, as the install renders it, moved into one test's namespace."""

from __future__ import annotations

import json
from typing import Any

SA = "atlassian-operator"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
LEADER_ELECTION = f"{SA}-leader-election"  # the Lease role of manifests/base/leader-election.yaml
SECRETS = f"{SA}-secrets"  # Secret `get` and the call ledger: manifests/base/secret-access.yaml
OPERATOR_RBAC = {SA, LEADER_ELECTION, SECRETS}


def rbac_for_namespace(docs: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """The operator's ServiceAccount, roles and bindings of a render, moved into a test
    namespace (not the roles for people, manifests/base/user-roles.yaml).

    Cluster-scoped objects get a per-test name so that tests never share them.
    """
    result = []
    for doc in docs:
        if doc["kind"] not in RBAC_KINDS or doc["metadata"]["name"] not in OPERATOR_RBAC:
            continue
        doc = json.loads(json.dumps(doc))
        meta = doc["metadata"]
        if doc["kind"].startswith("Cluster"):
            meta["name"] = f"{meta['name']}-{namespace}"
        else:
            meta["namespace"] = namespace
        if doc["kind"].endswith("Binding"):
            if doc["roleRef"]["kind"] == "ClusterRole":
                doc["roleRef"]["name"] = f"{doc['roleRef']['name']}-{namespace}"
            for subject in doc["subjects"]:
                assert (subject["kind"], subject["name"]) == ("ServiceAccount", SA)
                subject["namespace"] = namespace
        result.append(doc)
    return result
