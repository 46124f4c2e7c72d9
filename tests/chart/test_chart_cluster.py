"""A real kube-apiserver (tests/conftest.py's control plane) accepts what the chart renders, and
`helm install`, `upgrade` and `uninstall` work against it. The objects go into the test's namespace
(`helm template --namespace`, as `helm install -n` does); the dry runs persist nothing, and the
real install is namespaced with --skip-crds, so nothing cluster-wide is left behind.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from chart_support import CHART, Helm, Obj

pytestmark = pytest.mark.e2e


def apply_server_dry_run(kube: Any, objs: list[Obj]) -> str:
    proc = kube.kubectl(
        "apply", "--dry-run=server", "-f", "-",
        input=yaml.safe_dump_all(objs), namespaced=False, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    accepted = [line for line in proc.stdout.splitlines() if line.endswith("(server dry run)")]
    assert len(accepted) == len(objs), proc.stdout
    return proc.stdout  # type: ignore[no-any-return]


def test_the_api_server_accepts_the_cluster_wide_install(helm: Helm, kube: Any) -> None:
    objs = helm.template("--include-crds", namespace=kube.namespace)
    assert {"CustomResourceDefinition", "ClusterRole", "Deployment"} <= {o["kind"] for o in objs}
    out = apply_server_dry_run(kube, objs)
    assert "deployment.apps/atlassian-operator created (server dry run)" in out


def test_the_api_server_accepts_a_namespaced_install_of_two_namespaces(
    helm: Helm, kube: Any
) -> None:
    other = f"{kube.namespace}-b"
    kube.kubectl("create", "namespace", other, namespaced=False)
    try:
        objs = helm.template(
            "--include-crds",
            "--set", f"watchNamespaces={{{kube.namespace},{other}}}",
            namespace=kube.namespace,
        )  # fmt: skip
        out = apply_server_dry_run(kube, objs)
        roles = "role.rbac.authorization.k8s.io/atlassian-operator created (server dry run)"
        assert out.count(roles) == 2, out
        assert "clusterrole" not in out
    finally:
        kube.kubectl("delete", "namespace", other, "--wait=false", namespaced=False, check=False)


def test_the_api_server_accepts_the_optional_parts(helm: Helm, kube: Any) -> None:
    """Secret access listed per namespace (two of them) or cluster-wide, and the NetworkPolicy."""
    other = f"{kube.namespace}-b"
    kube.kubectl("create", "namespace", other, namespaced=False)
    try:
        listed = helm.template(
            "--include-crds", "--set", f"secretAccess.namespaces={{{kube.namespace},{other}}}",
            namespace=kube.namespace,
        )  # fmt: skip
        out = apply_server_dry_run(kube, listed)
        binding = "rolebinding.rbac.authorization.k8s.io/atlassian-operator-secrets created"
        assert out.count(binding) == 2, out
        everywhere = helm.template(
            "--include-crds", "--set", "secretAccess.clusterWide=true,networkPolicy.enabled=true",
            namespace=kube.namespace,
        )  # fmt: skip
        out = apply_server_dry_run(kube, everywhere)
        assert "networkpolicy.networking.k8s.io/atlassian-operator created" in out, out
        assert "atlassian-operator-secrets" not in out
    finally:
        kube.kubectl("delete", "namespace", other, "--wait=false", namespaced=False, check=False)


def test_helm_install_upgrade_and_uninstall(helm: Helm, kube: Any) -> None:
    ns = kube.namespace
    cluster = ["--kubeconfig", str(kube.kubeconfig), "--namespace", ns]
    values = ["--skip-crds", "--set", f"watchNamespaces={{{ns}}}"]

    def deployment_args() -> list[str]:
        got = kube.kubectl("get", "deployment", "ao-atlassian-operator", "-o", "json").stdout
        return json.loads(got)["spec"]["template"]["spec"]["containers"][0]["args"]  # type: ignore[no-any-return]

    typo = helm("install", "ao", str(CHART), *cluster, *values, "--set", "imag.tag=x")
    assert typo.returncode != 0 and "additional properties 'imag' not allowed" in typo.stderr
    assert "ao-atlassian-operator" not in kube.kubectl("get", "deployments").stdout

    proc = helm("install", "ao", str(CHART), *cluster, *values)
    assert proc.returncode == 0, proc.stderr
    assert "--namespace=$(POD_NAMESPACE)" in deployment_args()
    # Its own Lease: another release in this namespace would not share its leader.
    assert "--leader-election-id=ao-atlassian-operator" in deployment_args()
    pdb = json.loads(kube.kubectl("get", "pdb", "ao-atlassian-operator", "-o", "json").stdout)
    assert pdb["spec"]["maxUnavailable"] == 1
    kube.kubectl("get", "serviceaccount/ao-atlassian-operator", "role/ao-atlassian-operator")

    proc = helm(
        "upgrade", "ao", str(CHART), *cluster, "--reuse-values",
        "--set", "extraArgs={--log-format=json}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert deployment_args()[-1] == "--log-format=json"

    proc = helm("uninstall", "ao", *cluster)
    assert proc.returncode == 0, proc.stderr
    gone = kube.kubectl("get", "deployment", "ao-atlassian-operator", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def test_the_api_server_accepts_the_admission_guard_as_values_change_it(
    helm: Helm, kube: Any
) -> None:
    """The API server compiles every CEL expression when a policy is created: the approver
    groups and ceilings the chart writes into them must still compile."""
    objs = [
        o
        for o in helm.template(
            "--set",
            "admissionGuard.enabled=true,admissionGuard.approverGroups={platform-admins,ci},"
            "admissionGuard.maxPerSyncCeiling=25,admissionGuard.validationActions={Warn,Audit}",
            namespace=kube.namespace,
        )
        if o["kind"].startswith("ValidatingAdmissionPolicy")
    ]
    assert len(objs) == 6
    out = apply_server_dry_run(kube, objs)
    assert "atlassian-operator-org-limits created (server dry run)" in out
