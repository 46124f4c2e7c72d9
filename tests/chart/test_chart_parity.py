"""The chart renders the same objects as the kustomize install: `helm template` with the default
values equals `kubectl kustomize manifests`, and with ci/namespaced-values.yaml equals
`kubectl kustomize manifests/overlays/namespaced`, object by object and field by field, after
chart_support.normalize (Helm's standard labels, CRD labels) and without the Namespace object.
A change to a limit, probe, arg, RBAC rule or label in only one of them fails here.
The optional parts likewise: `--set admissionGuard.enabled=true`, `secretAccess.clusterWide=true`
and `networkPolicy.enabled=true` each equal `manifests` with its component (manifests/components/),
and `secretAccess.namespaces` equals manifests/base/secret-namespaces.yaml with the same list.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_support import CHART, HELM_LABELS, ROOT, Helm, Obj, by_key, differences, kustomize

NAMESPACED_VALUES = CHART / "ci" / "namespaced-values.yaml"
COMPONENTS = ROOT / "manifests" / "components"
ADMISSION_GUARD = COMPONENTS / "admission-guard"
GUARD_KINDS = {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}


def without_namespace(objs: list[Obj]) -> list[Obj]:
    assert [o["metadata"]["name"] for o in objs if o["kind"] == "Namespace"] == [
        "atlassian-operator"
    ]
    return [o for o in objs if o["kind"] != "Namespace"]


@pytest.fixture(scope="module")
def chart(helm: Helm) -> list[Obj]:
    """`helm template atlassian-operator CHART --namespace atlassian-operator --include-crds`"""
    return helm.template("--include-crds")


@pytest.fixture(scope="module")
def manifests() -> list[Obj]:
    """`kubectl kustomize manifests` without its Namespace object"""
    return without_namespace(kustomize("manifests"))


def test_cluster_wide_defaults_render_what_kustomize_renders(
    chart: list[Obj], manifests: list[Obj]
) -> None:
    assert differences(chart, manifests) == ""
    kinds = sorted(o["kind"] for o in chart)
    assert kinds.count("CustomResourceDefinition") == 2 and "ClusterRoleBinding" in kinds


def test_namespaced_values_render_what_the_namespaced_overlay_renders(helm: Helm) -> None:
    chart = helm.template("--include-crds", "-f", str(NAMESPACED_VALUES))
    manifests = without_namespace(kustomize("manifests/overlays/namespaced"))
    assert differences(chart, manifests) == ""
    assert not {"ClusterRole", "ClusterRoleBinding"} & {o["kind"] for o in chart}


def with_component(
    overlay: Path, component: Path = ADMISSION_GUARD, base: Path = ROOT
) -> list[Obj]:
    """`kubectl kustomize` of an overlay of `base`/manifests with a component, as a user writes
    it (kustomize takes relative paths only)."""
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(base / "manifests", overlay)],
                "components": [os.path.relpath(component, overlay)],
            }
        )
    )
    return without_namespace(kustomize(str(overlay)))


def test_admission_guard_renders_what_the_component_renders(helm: Helm, tmp_path: Path) -> None:
    chart = helm.template("--include-crds", "--set", "admissionGuard.enabled=true")
    manifests = with_component(tmp_path / "guarded")
    assert differences(chart, manifests) == ""
    guard = sorted(o["metadata"]["name"] for o in chart if o["kind"] in GUARD_KINDS)
    assert guard == sorted(
        2 * ["atlassian-operator-protected-accounts", "atlassian-operator-account-needs-an-org"]
        + 2 * ["atlassian-operator-org-limits"]
    )


def test_admission_guard_is_off_by_default(chart: list[Obj]) -> None:
    assert not GUARD_KINDS & {o["kind"] for o in chart}


def secret_grants(objs: list[Obj]) -> list[tuple[str, str, str]]:
    """Where the operator may get Secrets: (binding kind, namespace, role) of every binding of
    a role with a rule on Secrets."""
    with_secrets = {
        (o["kind"], o["metadata"]["name"])
        for o in objs
        if o["kind"] in ("Role", "ClusterRole")
        and any("secrets" in r["resources"] for r in o["rules"])
    }
    return sorted(
        (o["kind"], o["metadata"].get("namespace", ""), o["roleRef"]["name"])
        for o in objs
        if o["kind"].endswith("Binding")
        and (o["roleRef"]["kind"], o["roleRef"]["name"]) in with_secrets
    )


def test_secret_access_is_the_release_namespace_by_default(chart: list[Obj]) -> None:
    assert secret_grants(chart) == [
        ("RoleBinding", "atlassian-operator", "atlassian-operator-secrets")
    ]


def test_cluster_wide_secret_access_renders_what_the_component_renders(
    helm: Helm, tmp_path: Path
) -> None:
    chart = helm.template("--include-crds", "--set", "secretAccess.clusterWide=true")
    manifests = with_component(tmp_path / "o", COMPONENTS / "secret-access-cluster-wide")
    assert differences(chart, manifests) == ""
    assert secret_grants(chart) == [("ClusterRoleBinding", "", "atlassian-operator")]


def test_secret_namespaces_render_what_the_kustomize_list_renders(
    helm: Helm, tmp_path: Path
) -> None:
    """The list's documented edit (copy an entry, set its namespace) against the chart value."""
    copy_ = tmp_path / "repo"
    for part in ("manifests", "crds"):
        shutil.copytree(ROOT / part, copy_ / part)
    listed = copy_ / "manifests" / "base" / "secret-namespaces.yaml"
    [entry] = [d for d in yaml.safe_load_all(listed.read_text()) if d]
    added = []
    for namespace in ("team-a", "team-b"):
        other = copy.deepcopy(entry)
        other["metadata"]["namespace"] = namespace
        added.append(other)
    listed.write_text(listed.read_text() + "---\n" + yaml.safe_dump_all(added))
    chart = helm.template(
        "--include-crds", "--set", "secretAccess.namespaces={atlassian-operator,team-a,team-b}"
    )
    manifests = without_namespace(kustomize(str(copy_ / "manifests")))
    assert differences(chart, manifests) == ""
    assert secret_grants(chart) == [
        ("RoleBinding", ns, "atlassian-operator-secrets")
        for ns in ("atlassian-operator", "team-a", "team-b")
    ]
    subjects = {
        json.dumps(o["subjects"]) for o in chart if o["metadata"]["name"].endswith("-secrets")
        and o["kind"] == "RoleBinding"
    }  # fmt: skip
    assert subjects == {
        json.dumps([{"kind": "ServiceAccount", "name": "atlassian-operator",
                     "namespace": "atlassian-operator"}])
    }  # fmt: skip


def test_network_policy_renders_what_the_component_renders(helm: Helm, tmp_path: Path) -> None:
    chart = helm.template("--include-crds", "--set", "networkPolicy.enabled=true")
    manifests = with_component(tmp_path / "o", COMPONENTS / "network-policy")
    assert differences(chart, manifests) == ""
    [policy] = [o for o in chart if o["kind"] == "NetworkPolicy"]
    assert policy["metadata"]["namespace"] == "atlassian-operator"


def test_network_policy_is_off_by_default(chart: list[Obj]) -> None:
    assert "NetworkPolicy" not in {o["kind"] for o in chart}


def test_service_monitor_is_the_monitoring_one(helm: Helm) -> None:
    [chart] = [
        o
        for o in helm.template("--set", "serviceMonitor.enabled=true")
        if o["kind"] == "ServiceMonitor"
    ]
    [manifests] = [o for o in kustomize("manifests/monitoring") if o["kind"] == "ServiceMonitor"]
    assert differences([chart], [manifests]) == ""


def test_chart_crds_are_the_repository_crds() -> None:
    """Helm cannot read files outside the chart, so crds/ holds copies; byte-identical ones.
    To update: cp crds/atlassian*.yaml charts/atlassian-operator/crds/"""
    listed = yaml.safe_load((ROOT / "crds" / "kustomization.yaml").read_text())["resources"]
    assert sorted(p.name for p in (CHART / "crds").iterdir()) == sorted(listed)
    for name in listed:
        assert (CHART / "crds" / name).read_bytes() == (ROOT / "crds" / name).read_bytes(), (
            f"charts/atlassian-operator/crds/{name} differs from crds/{name}: "
            "cp crds/atlassian*.yaml charts/atlassian-operator/crds/"
        )


@pytest.mark.parametrize(
    "path", ["manifests", "manifests/overlays/namespaced", "manifests/monitoring"]
)
def test_manifests_use_no_helm_label(path: str) -> None:
    """normalize() drops HELM_LABELS; it hides nothing only as long as manifests/ sets none."""
    for obj in kustomize(path):
        for meta in (obj["metadata"], obj.get("spec", {}).get("template", {}).get("metadata", {})):
            assert not HELM_LABELS & set(meta.get("labels", {})), obj["metadata"]["name"]


def _deployment(objs: list[Obj]) -> Obj:
    [d] = [o for o in objs if o["kind"] == "Deployment"]
    return d


def _container(objs: list[Obj]) -> Any:
    return _deployment(objs)["spec"]["template"]["spec"]["containers"][0]


def _clusterrole(objs: list[Obj]) -> Obj:
    return by_key(objs)[("ClusterRole", "", "atlassian-operator")]


MUTATIONS: dict[str, Callable[[list[Obj]], None]] = {
    "resource limit": lambda o: _container(o)["resources"]["limits"].update(memory="1Gi"),
    "probe": lambda o: _container(o)["livenessProbe"].update(periodSeconds=30),
    "arg": lambda o: _container(o)["args"].append("--debug"),
    "image": lambda o: _container(o).update(image="ghcr.io/x/y:1"),
    "security": lambda o: _container(o)["securityContext"].update(readOnlyRootFilesystem=False),
    "rbac rule": lambda o: _clusterrole(o)["rules"][4]["verbs"].append("list"),
    "selector": lambda o: _deployment(o)["spec"]["selector"]["matchLabels"].update(a="b"),
    "label": lambda o: _clusterrole(o)["metadata"]["labels"].update(team="x"),
    "pod label": lambda o: _deployment(o)["spec"]["template"]["metadata"]["labels"].update(a="b"),
    "namespace": lambda o: _deployment(o)["metadata"].update(namespace="other"),
    "extra object": lambda o: o.append({"kind": "ConfigMap", "metadata": {"name": "x"}}),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_the_comparison_sees_a_change_in_one_of_them(
    chart: list[Obj], manifests: list[Obj], mutation: str
) -> None:
    changed = copy.deepcopy(manifests)
    MUTATIONS[mutation](changed)
    assert differences(chart, changed) != ""
    assert differences(chart, manifests) == ""  # the module-scoped renderings stay untouched


def test_a_changed_chart_default_fails_the_comparison(
    helm: Helm, manifests: list[Obj], tmp_path: Path
) -> None:
    """The same through helm: a copy of the chart with another memory limit in values.yaml."""
    chart = tmp_path / "atlassian-operator"
    shutil.copytree(CHART, chart)
    values = chart / "values.yaml"
    text = values.read_text()
    assert text.count("memory: 1344Mi") == 1
    values.write_text(text.replace("memory: 1344Mi", "memory: 1Gi"))
    diff = differences(helm.template("--include-crds", chart=chart), manifests)
    changed = [
        line[0] + line[1:].strip()
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("---", "+++"))
    ]
    assert changed == ["-memory: 1344Mi", "+memory: 1Gi"], diff
