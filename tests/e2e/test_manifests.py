"""The install manifests render with kustomize and the real API server accepts them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from atlassian_operator.handlers import DRAIN_SECONDS

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}


def render(path: str) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [KUBECTL, "kustomize", str(ROOT / path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def only(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [doc] = [d for d in docs if d["kind"] == kind]
    return doc


@pytest.mark.parametrize("path", ["manifests", "manifests/overlays/namespaced"])
def test_renders_a_safe_highly_available_deployment(path: str) -> None:
    docs = render(path)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds.count("CustomResourceDefinition") == 2
    role = "Role" if path.endswith("namespaced") else "ClusterRole"
    assert {"Namespace", "ServiceAccount", role, "Deployment", "Service"} <= set(kinds)
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] not in CLUSTER_SCOPED} == {
        "atlassian-operator"
    }
    deployment = only(docs, "Deployment")
    spec = deployment["spec"]
    # A leader and a standby; a rollout adds the new Pod before it stops an old one, and a
    # drain evicts one at a time.
    assert spec["replicas"] == 2
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    pdb = only(docs, "PodDisruptionBudget")
    assert pdb["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": spec["selector"]["matchLabels"]},
    }
    pod = spec["template"]["spec"]
    # On SIGTERM the calls on the wire get DRAIN_SECONDS, then the Lease is released.
    assert pod["terminationGracePeriodSeconds"] >= DRAIN_SECONDS + 5
    assert "--leader-election" in pod["containers"][0]["args"]
    assert pod["serviceAccountName"] == "atlassian-operator"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = pod["containers"]
    assert container["image"] == "ghcr.io/atlassian-operator/atlassian-operator:0.1.0"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    # Not ready while the CRDs are not served; only a dead or stalled loop restarts the Pod.
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert {"requests", "limits"} <= set(container["resources"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert f"--health-port={ports['health']}" in container["args"]
    assert f"--metrics-port={ports['metrics']}" in container["args"]
    service = only(docs, "Service")
    assert service["spec"]["ports"][0]["name"] == "metrics"
    assert service["spec"]["selector"].items() <= (spec["template"]["metadata"]["labels"].items())
    scope = "--all-namespaces" if path == "manifests" else "--namespace=$(POD_NAMESPACE)"
    assert container["args"][:2] == ["run", scope]


def into_namespace(docs: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """The render in a test namespace: the dry run creates no namespace to put it in."""
    for doc in docs:
        if doc["kind"] not in CLUSTER_SCOPED:
            doc["metadata"]["namespace"] = namespace
        for subject in doc.get("subjects", []):
            subject["namespace"] = namespace
    return [d for d in docs if d["kind"] != "Namespace"]


def with_components(tmp_path: Path, *components: str) -> list[dict[str, Any]]:
    """`manifests` with optional components, as a user's overlay adds them."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(ROOT / "manifests", overlay)],
        "components": [
            os.path.relpath(ROOT / "manifests" / "components" / c, overlay) for c in components
        ],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return render(str(overlay))


def test_the_api_server_accepts_the_optional_components(
    kube: Any, crds: None, tmp_path: Path
) -> None:
    """The NetworkPolicy (no CNI here enforces it: only that it is valid is shown) and
    cluster-wide Secret access."""
    docs = with_components(tmp_path, "network-policy", "secret-access-cluster-wide")
    [policy] = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert policy["metadata"]["namespace"] == "atlassian-operator"
    assert "atlassian-operator-secrets" not in {d["metadata"]["name"] for d in docs}
    result = kube.kubectl(
        "apply", "--dry-run=server", "-f", "-",
        input=yaml.safe_dump_all(into_namespace(docs, kube.namespace)), namespaced=False,
    )  # fmt: skip
    assert "networkpolicy.networking.k8s.io/atlassian-operator created" in result.stdout
    # The policy's named ports are the Pod's, so that it admits the scrape and the probes.
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    [ingress] = policy["spec"]["ingress"]
    assert {p["port"] for p in ingress["ports"]} == {p["name"] for p in container["ports"]}
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= (
        deployment["spec"]["template"]["metadata"]["labels"].items()
    )


def test_the_api_server_accepts_the_install_and_the_examples(kube: Any, crds: None) -> None:
    docs = into_namespace(render("manifests"), kube.namespace)
    result = kube.kubectl(
        "apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump_all(docs), namespaced=False
    )
    assert "deployment.apps/atlassian-operator created (server dry run)" in result.stdout
    assert "clusterrole.rbac.authorization.k8s.io/atlassian-operator created" in result.stdout
    # Secret `get` granted in the install's namespace only (base/secret-namespaces.yaml).
    assert "rolebinding.rbac.authorization.k8s.io/atlassian-operator-secrets created" in (
        result.stdout
    )
    for role in ("viewer", "editor", "org-admin"):  # people's (test_user_roles may apply them)
        assert f"clusterrole.rbac.authorization.k8s.io/atlassian-operator-{role} " in result.stdout

    examples = sorted((ROOT / "manifests" / "examples").glob("*.yaml"))
    assert examples
    result = kube.kubectl("apply", "--dry-run=server", *[f"--filename={path}" for path in examples])
    for kind, name in [
        ("atlassianorg", "acme"),
        ("atlassianaccount", "john-smith"),
        ("atlassianaccount", "jane-doe"),
        ("secret", "atlassian-api-key"),
    ]:
        assert f"{kind}.atlassian.operators.dev/{name} created" in result.stdout or (
            f"{kind}/{name} created" in result.stdout
        ), result.stdout
