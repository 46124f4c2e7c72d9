"""The chart lints clean, its values schema rejects typos and wrong types with a message that names
the key, and each value does what values.yaml says. (Parity with manifests/: test_chart_parity.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chart_support import CHART, CLUSTER_SCOPED, Helm, Obj, by_key

NAMESPACED_VALUES = CHART / "ci" / "namespaced-values.yaml"


def only(objs: list[Obj], kind: str) -> Obj:
    [obj] = [o for o in objs if o["kind"] == kind]
    return obj


def container(objs: list[Obj]) -> Obj:
    [c] = only(objs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return c  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["-f", str(NAMESPACED_VALUES)],
        ["--set", "admissionGuard.enabled=true"],
        ["--set", "secretAccess.namespaces={atlassian-operator,team-a}"],
        ["--set", "secretAccess.clusterWide=true,networkPolicy.enabled=true"],
    ],
    ids=["default", "namespaced", "admission-guard", "secret-namespaces", "cluster-wide-secrets"],
)
def test_helm_lint_strict_passes(helm: Helm, values: list[str]) -> None:
    proc = helm("lint", "--strict", str(CHART), "--namespace", "atlassian-operator", *values)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


INVALID = {
    "unknown top-level key": (["--set", "imag.tag=1.0.0"], "at '': additional properties 'imag'"),
    "unknown nested key": (["--set", "image.tagg=1"], "at '/image': additional properties 'tagg'"),
    "typo in a flag": (["--set", "serviceMonitor.enable=true"], "'enable' not allowed"),
    "wrong type": (["--set", "metrics.service.enabled=yes"], "at '/metrics/service/enabled'"),
    "number for a string": (["--set", "image.tag=1"], "at '/image/tag': got number, want string"),
    "not in the enum": (["--set", "image.pullPolicy=Sometimes"], "at '/image/pullPolicy'"),
    "list for a map": (["--set", "nodeSelector={a}"], "at '/nodeSelector'"),
    "bad namespace": (["--set", "watchNamespaces={Team_A}"], "at '/watchNamespaces/0'"),
    "bad quantity": (["--set", "resources.limits.memory=512MB"], "at '/resources/limits/memory'"),
    "bad digest": (["--set", "image.digest=sha256:abc"], "at '/image/digest'"),
    "bad toleration": (["--set", "tolerations[0].efect=NoSchedule"], "at '/tolerations/0'"),
    "env without a name": (["--set", "extraEnv[0].value=x"], "at '/extraEnv/0'"),
    "scope in extraArgs": (["--set", "extraArgs={--namespace=x}"], 'extraArgs: "--namespace=x"'),
    "all-namespaces in extraArgs": (["--set", "extraArgs={-A}"], 'extraArgs: "-A"'),
    "port in extraArgs": (["--set", "extraArgs={--metrics-port=9}"], "--metrics-port=9"),
    "lease in extraArgs": (
        ["--set", "extraArgs={--leader-election-namespace=x}"],
        "--leader-election-namespace=x",
    ),
    "guard action": (
        ["--set", "admissionGuard.validationActions={Refuse}"],
        "at '/admissionGuard/validationActions/0'",
    ),
    "guard ceiling": (["--set", "admissionGuard.maxPerSyncCeiling=ten"], "maxPerSyncCeiling"),
    "guard group with a quote": (
        ["--set", "admissionGuard.approverGroups[0]=a'b"],
        "at '/admissionGuard/approverGroups/0'",
    ),
    "bad secret namespace": (
        ["--set", "secretAccess.namespaces={Team_A}"],
        "at '/secretAccess/namespaces/0'",
    ),
    "secret access typo": (["--set", "secretAccess.clusterwide=true"], "'clusterwide' not allowed"),
    "secret namespaces with watched namespaces": (
        ["--set", "watchNamespaces={a}", "--set", "secretAccess.namespaces={b}"],
        "secretAccess is for the cluster-wide install",
    ),
    "cluster-wide secrets with watched namespaces": (
        ["--set", "watchNamespaces={a}", "--set", "secretAccess.clusterWide=true"],
        "secretAccess is for the cluster-wide install",
    ),
    "bad egress port": (["--set", "networkPolicy.egressPorts={0}"], "/networkPolicy/egressPorts/0"),
    "servicemonitor without service": (
        ["--set", "serviceMonitor.enabled=true", "--set", "metrics.service.enabled=false"],
        "serviceMonitor.enabled needs metrics.service.enabled",
    ),
}


@pytest.mark.parametrize("case", INVALID)
def test_invalid_values_fail_naming_the_key(helm: Helm, case: str) -> None:
    args, message = INVALID[case]
    proc = helm("template", "atlassian-operator", str(CHART), *args)
    assert proc.returncode != 0, proc.stdout
    assert message in proc.stderr, proc.stderr


def test_a_typo_in_a_values_file_fails_lint(helm: Helm, tmp_path: Path) -> None:
    """(`helm install` with it: test_chart_cluster.py.)"""
    values = tmp_path / "values.yaml"
    values.write_text("image:\n  repository: r\npodAnnotation:\n  a: b\n")
    proc = helm("lint", "--strict", str(CHART), "-f", str(values))
    assert proc.returncode != 0 and "podAnnotation" in proc.stdout + proc.stderr


def test_every_namespaced_object_is_in_the_release_namespace(helm: Helm) -> None:
    objs = helm.template(
        "--include-crds",
        "--set",
        "admissionGuard.enabled=true,networkPolicy.enabled=true",
        namespace="ops",
    )
    for obj in objs:
        expected = None if obj["kind"] in CLUSTER_SCOPED else "ops"
        assert obj["metadata"].get("namespace") == expected, obj["metadata"]
    subjects = [s for o in objs for s in o.get("subjects", [])]
    assert subjects and {s["namespace"] for s in subjects} == {"ops"}
    assert "Namespace" not in {o["kind"] for o in objs}


def test_watch_namespaces_gives_a_role_in_each_and_nothing_cluster_wide(helm: Helm) -> None:
    objs = helm.template("--set", "watchNamespaces={ops,team-a,team-b}", namespace="ops")
    keyed = by_key(objs)
    assert not {o["kind"] for o in objs} & CLUSTER_SCOPED
    for ns in ("ops", "team-a", "team-b"):
        role, binding = (
            keyed[("Role", ns, "atlassian-operator")],
            keyed[("RoleBinding", ns, "atlassian-operator")],
        )
        assert "customresourcedefinitions" not in str(role["rules"])
        assert binding["roleRef"]["name"] == "atlassian-operator"
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "atlassian-operator", "namespace": "ops"}
        ]
    assert ("Role", "ops", "atlassian-operator-leader-election") in keyed
    args = container(objs)["args"]
    scope = [a for a in args if a.startswith(("--namespace", "--all-namespaces"))]
    assert scope == ["--namespace=$(POD_NAMESPACE)", "--namespace=team-a", "--namespace=team-b"]
    assert container(objs)["env"][0]["name"] == "POD_NAMESPACE"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], True),
        (["--set", "watchNamespaces={a}"], False),
        (["--set", "watchNamespaces={a}", "--set", "userRoles.enabled=true"], True),
        (["--set", "userRoles.enabled=false"], False),
        (["--set", "userRoles.enabled=null"], True),
    ],
)
def test_user_roles(helm: Helm, values: list[str], expected: bool) -> None:
    names = {o["metadata"]["name"] for o in helm.template(*values) if o["kind"] == "ClusterRole"}
    roles = {f"atlassian-operator-{r}" for r in ("viewer", "editor", "org-admin")}
    assert (roles <= names) is expected and (roles & names == set()) is not expected


def test_release_name_prefixes_every_name_and_references_follow(helm: Helm) -> None:
    objs = helm.template(release="acme", namespace="ops")
    for obj in objs:
        assert obj["metadata"]["name"].startswith("acme-atlassian-operator"), obj["metadata"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == "acme"
    pod = only(objs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "acme-atlassian-operator"
    names = {(o["kind"], o["metadata"]["name"]) for o in objs}
    for binding in (o for o in objs if o["kind"].endswith("Binding")):
        assert (binding["roleRef"]["kind"], binding["roleRef"]["name"]) in names
        assert [s["name"] for s in binding["subjects"]] == ["acme-atlassian-operator"]
    assert only(objs, "Service")["metadata"]["name"] == "acme-atlassian-operator-metrics"


def test_admission_guard_values_reach_its_objects(helm: Helm) -> None:
    """The values other than `enabled` change what the component's files say, as documented."""
    objs = helm.template(
        "--set",
        "admissionGuard.enabled=true,admissionGuard.requireOrg=false,"
        "admissionGuard.maxPerSyncCeiling=25,admissionGuard.pauseAboveCeiling=40,"
        "admissionGuard.approverGroups={platform-admins,system:masters},"
        "admissionGuard.validationActions={Warn}",
        release="acme",
        namespace="ops",
    )
    keyed = by_key(objs)
    assert (
        "ValidatingAdmissionPolicyBinding",
        "",
        "acme-atlassian-operator-account-needs-an-org",
    ) not in keyed
    policy = keyed[("ValidatingAdmissionPolicy", "", "acme-atlassian-operator-org-limits")]
    settings = {v["name"]: v["expression"] for v in policy["spec"]["variables"][:3]}
    assert settings == {
        "approverGroups": "['platform-admins', 'system:masters']",
        "maxPerSyncCeiling": "25",
        "pauseAboveCeiling": "40",
    }
    assert {
        tuple(o["spec"]["validationActions"])
        for o in objs
        if o["kind"] == "ValidatingAdmissionPolicyBinding"
    } == {("Warn",)}
    for binding in (o for o in objs if o["kind"] == "ValidatingAdmissionPolicyBinding"):
        assert ("ValidatingAdmissionPolicy", binding["spec"]["policyName"]) in {
            (o["kind"], o["metadata"]["name"]) for o in objs
        }


def test_fullname_override(helm: Helm) -> None:
    objs = helm.template("--set", "fullnameOverride=ao", release="whatever")
    assert only(objs, "Deployment")["metadata"]["name"] == "ao"
    assert only(objs, "Service")["metadata"]["name"] == "ao-metrics"


@pytest.mark.parametrize(
    ("values", "image"),
    [
        ([], "ghcr.io/atlassian-operator/atlassian-operator:0.1.0"),
        (["--set", "image.repository=r.example/ao", "--set", "image.tag=dev"], "r.example/ao:dev"),
        (
            ["--set", f"image.digest=sha256:{'a' * 64}"],
            f"ghcr.io/atlassian-operator/atlassian-operator@sha256:{'a' * 64}",
        ),
        (  # the digest alone decides: the tag is ignored
            ["--set", "image.tag=0.0.9", "--set", f"image.digest=sha256:{'b' * 64}"],
            f"ghcr.io/atlassian-operator/atlassian-operator@sha256:{'b' * 64}",
        ),
    ],
)
def test_image(helm: Helm, values: list[str], image: str) -> None:
    assert container(helm.template(*values))["image"] == image


def test_pod_options(helm: Helm, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        """
image: {pullPolicy: Always, pullSecrets: [regcred]}
resources: {requests: {cpu: 50m}, limits: {memory: 1Gi, cpu: null}}  # null drops a default
extraArgs: [--log-format=json, --allow-api-base-url=https://atlassian.example]
extraEnv:
  - {name: HTTPS_PROXY, value: "http://proxy:3128"}
  - {name: TOKEN, valueFrom: {secretKeyRef: {name: s, key: k}}}
podAnnotations: {example.com/a: "1"}
podLabels: {team: identity, app.kubernetes.io/name: not-the-selector}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: ops, effect: NoSchedule}]
affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: []}}}
priorityClassName: system-cluster-critical
"""
    )
    objs = helm.template("-f", str(values))
    template = only(objs, "Deployment")["spec"]["template"]
    pod, c = template["spec"], container(objs)
    assert c["imagePullPolicy"] == "Always"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert c["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
        "limits": {"memory": "1Gi", "ephemeral-storage": "256Mi"},
    }
    assert c["args"][-2:] == ["--log-format=json", "--allow-api-base-url=https://atlassian.example"]
    assert [e["name"] for e in c["env"]] == ["POD_NAMESPACE", "HTTPS_PROXY", "TOKEN"]
    assert template["metadata"]["annotations"] == {"example.com/a": "1"}
    # podLabels add labels but never change the selector's.
    assert template["metadata"]["labels"]["team"] == "identity"
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == "atlassian-operator"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert "nodeAffinity" in pod["affinity"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    # Not configurable: the base's security settings stay.
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True


def test_defaults_set_no_optional_pod_field(helm: Helm) -> None:
    template = only(helm.template(), "Deployment")["spec"]["template"]
    assert "annotations" not in template["metadata"]
    for field in (
        "imagePullSecrets",
        "nodeSelector",
        "tolerations",
        "priorityClassName",
    ):
        assert field not in template["spec"]
    # The one default: prefer the replicas on different nodes (a standby beside the leader
    # would die with it). `affinity` replaces it.
    [term] = template["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    mine = {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 1, "preference": {"matchExpressions": [
                    {"key": "pool", "operator": "In", "values": ["system"]}
                ]}}
            ]
        }
    }  # fmt: skip
    custom = only(helm.template("--set-json", f"affinity={json.dumps(mine)}"), "Deployment")
    assert custom["spec"]["template"]["spec"]["affinity"] == mine


def test_metrics_service_and_service_monitor(helm: Helm) -> None:
    kinds = {o["kind"] for o in helm.template()}
    assert "Service" in kinds and "ServiceMonitor" not in kinds
    assert "Service" not in {
        o["kind"] for o in helm.template("--set", "metrics.service.enabled=false")
    }
    objs = helm.template(
        "--set", "serviceMonitor.enabled=true",
        "--set", "serviceMonitor.interval=1m",
        "--set", "serviceMonitor.labels.release=prometheus",
    )  # fmt: skip
    monitor, service = only(objs, "ServiceMonitor"), only(objs, "Service")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["interval"] == "1m"
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()


def secret_rules(role: Obj) -> list[Obj]:
    return [r for r in role["rules"] if "secrets" in r["resources"]]


def test_secrets_are_readable_only_in_the_listed_namespaces(helm: Helm) -> None:
    """The operator's ClusterRole holds no Secret rule; one RoleBinding per listed namespace
    grants the ClusterRole <fullname>-secrets there, to the release's ServiceAccount."""
    objs = helm.template(
        "--set", "secretAccess.namespaces={team-a,team-b}", release="acme", namespace="ops"
    )
    keyed = by_key(objs)
    assert secret_rules(keyed[("ClusterRole", "", "acme-atlassian-operator")]) == []
    secrets_role = keyed[("ClusterRole", "", "acme-atlassian-operator-secrets")]
    assert secrets_role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "patch"]},
    ]
    bindings = [
        o for o in objs if o.get("roleRef", {}).get("name") == "acme-atlassian-operator-secrets"
    ]
    assert sorted((b["kind"], b["metadata"]["namespace"]) for b in bindings) == [
        ("RoleBinding", "team-a"),
        ("RoleBinding", "team-b"),
    ]  # not the release namespace: the list replaces the default
    for binding in bindings:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "acme-atlassian-operator", "namespace": "ops"}
        ]
    # The default: the release namespace only.
    default = [
        (o["kind"], o["metadata"]["namespace"])
        for o in helm.template(namespace="ops")
        if o.get("roleRef", {}).get("name") == "atlassian-operator-secrets"
    ]
    assert default == [("RoleBinding", "ops")]


def test_cluster_wide_secret_access_is_the_operators_clusterrole(helm: Helm) -> None:
    objs = helm.template("--set", "secretAccess.clusterWide=true")
    keyed = by_key(objs)
    assert secret_rules(keyed[("ClusterRole", "", "atlassian-operator")]) == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
    ]
    assert not [o for o in objs if o["metadata"]["name"] == "atlassian-operator-secrets"]


@pytest.mark.parametrize("release", ["atlassian-operator", "acme"])
def test_the_lease_role_reaches_only_the_releases_lease(helm: Helm, release: str) -> None:
    objs = helm.template(release=release)
    [lease_id] = [
        a.removeprefix("--leader-election-id=")
        for a in container(objs)["args"]
        if a.startswith("--leader-election-id=")
    ]
    [role] = [
        o
        for o in objs
        if o["kind"] == "Role" and o["metadata"]["name"].endswith("-leader-election")
    ]
    named = [r for r in role["rules"] if "resourceNames" in r]
    assert named == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "resourceNames": [lease_id], "verbs": ["get", "patch"]}
    ]  # fmt: skip
    # `create` cannot be limited to a name; it is the only verb without one.
    assert [r["verbs"] for r in role["rules"] if "resourceNames" not in r] == [["create"]]


def test_network_policy_values(helm: Helm) -> None:
    objs = helm.template(
        "--set", "networkPolicy.enabled=true", "--set", "networkPolicy.egressPorts={443,3128}",
        release="acme", namespace="ops",
    )  # fmt: skip
    policy = only(objs, "NetworkPolicy")
    pod = only(objs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod.items()
    dns, other = policy["spec"]["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert other == {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 3128, "protocol": "TCP"}]}
    # In: only the ports the Service and the probes use, by the container's port names.
    names = {p["name"] for p in container(objs)["ports"]}
    [ingress] = policy["spec"]["ingress"]
    assert {p["port"] for p in ingress["ports"]} == names == {"metrics", "health"}
