"""The operator's RBAC, proven on a real API server: the operator runs with nothing but the
ServiceAccount token the manifests grant, and does everything a user relies on.

kopf does not fail on missing permissions: it logs them ("Not enough permissions", "Failed to
post an event") and degrades. So these tests fail on those log lines and on any 403, not only
on outcomes, and also check the outcomes themselves.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ControlPlane

from support.e2e import API_KEY, E2E, condition
from support.operator import OperatorProcess
from support.rbac import OPERATOR_RBAC, SA, SECRETS, rbac_for_namespace
from support.simulator import Simulator

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
ALICE = "aa00000000000000000000a1"
ACCOUNTS_URL = "/apis/atlassian.operators.dev/v1beta1/atlassianaccounts"
PERMISSION_PROBLEMS = re.compile(r"403|Forbidden|Not enough permissions|Failed to post an event")
SECRET_RULE = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
# The org's call ledger (core/ledger.py), granted wherever the org API key is.
LEDGER_RULE = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "patch"]}


def render(path: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [KUBECTL, "kustomize", str(ROOT / path)], capture_output=True, text=True, check=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


CLUSTER_WIDE_SECRETS = "manifests/components/secret-access-cluster-wide"


def render_with_component(component: str) -> list[dict[str, Any]]:
    """`manifests` with a component, as a user's overlay adds it."""
    with tempfile.TemporaryDirectory() as overlay:
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [os.path.relpath(ROOT / "manifests", overlay)],
            "components": [os.path.relpath(ROOT / component, overlay)],
        }
        (Path(overlay) / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        out = subprocess.run(
            [KUBECTL, "kustomize", overlay], capture_output=True, text=True, check=True
        ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def token_kubeconfig(admin_kubeconfig: Path, token: str, path: Path) -> Path:
    """A kubeconfig with the admin's server and CA, and nothing but the token as credential."""
    admin = json.loads(
        subprocess.run(
            [
                KUBECTL,
                f"--kubeconfig={admin_kubeconfig}",
                "config",
                "view",
                "--raw",
                "--minify",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    cluster = admin["clusters"][0]["cluster"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "operator",
        "clusters": [
            {
                "name": "c",
                "cluster": {
                    "server": cluster["server"],
                    "certificate-authority-data": cluster["certificate-authority-data"],
                },
            }
        ],
        "users": [{"name": SA, "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "c", "user": SA}}],
    }
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


class OperatorAsServiceAccount:
    """Apply a render's RBAC into the test namespace, and run the operator with its token."""

    def __init__(self, kube: Any, tmp_path: Path, docs: list[dict[str, Any]]) -> None:
        self.kube, self.tmp_path = kube, tmp_path
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.rbac = rbac_for_namespace(docs, kube.namespace)
        self.operator: OperatorProcess | None = None

    def start(self, args: list[str]) -> OperatorProcess:
        self.kube.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(self.rbac))
        token = self.kube.kubectl("create", "token", SA, "--duration=1h").stdout.strip()
        kubeconfig = token_kubeconfig(self.kube.kubeconfig, token, self.tmp_path / "sa.kubeconfig")
        whoami = subprocess.run(
            [KUBECTL, f"--kubeconfig={kubeconfig}", "auth", "whoami", "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert json.loads(whoami)["status"]["userInfo"]["username"] == (
            f"system:serviceaccount:{self.kube.namespace}:{SA}"
        )
        # The operator gets only this kubeconfig: no client certificate, no admin context.
        assert "client-certificate" not in kubeconfig.read_text()
        self.operator = OperatorProcess(kubeconfig, [], args).start()
        return self.operator

    def stop(self) -> str:
        """Stop the operator and return its log."""
        assert self.operator is not None
        self.operator.stop()
        return self.operator.log_text()

    def cleanup(self) -> None:
        if self.operator is not None:
            self.operator.stop()
        for doc in self.rbac:
            if doc["kind"].startswith("Cluster"):
                self.kube.kubectl(
                    "delete",
                    doc["kind"],
                    doc["metadata"]["name"],
                    "--ignore-not-found",
                    namespaced=False,
                    check=False,
                )


@pytest.fixture
def as_service_account(
    crds: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    # Inside a pod, the Kubernetes client and kopf would prefer the pod's own account.
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    runs: list[OperatorAsServiceAccount] = []

    def make(kube: Any, docs: list[dict[str, Any]]) -> OperatorAsServiceAccount:
        runs.append(OperatorAsServiceAccount(kube, tmp_path / str(len(runs)), docs))
        return runs[-1]

    yield make
    for run in runs:
        run.cleanup()


def permission_problems(log: str) -> list[str]:
    return [line for line in log.splitlines() if PERMISSION_PROBLEMS.search(line)]


def exercise(e2e: E2E) -> None:
    """Sync with discovery, a suspension with its Event, and status writes of both kinds."""
    e2e.sim.add_user(
        account_id=ALICE, name="Alice Adams", email="alice@acme.example", account_status="active"
    )
    e2e.account("alice", accountId=ALICE)
    e2e.org(accountDiscovery={"enabled": True})  # reads the Secret, lists, creates accounts

    org = e2e.wait_synced()
    assert org["users"]["total"] == 41
    assert condition(org, "Ready") == "True"

    def accounts() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(
            e2e.kube.kubectl("get", "aacct", "-o", "json").stdout
        )["items"]
        return (
            items
            if len(items) == 41 and all((a.get("status") or {}).get("accountStatus") for a in items)
            else []
        )

    listed = e2e.kube.wait_for(accounts, 30, "a discovered, observed account per org user")
    discovered = [a for a in listed if a["metadata"]["name"] != "alice"]
    assert len(discovered) == 40
    assert all(a["metadata"]["labels"]["atlassian.operators.dev/org"] == "acme" for a in discovered)

    e2e.kube.kubectl(
        "patch", "aacct/alice", "--type=merge", "-p", '{"spec":{"desiredState":"Suspended"}}'
    )
    status = e2e.wait_status(
        "aacct", "alice", lambda s: s.get("accountStatus") == "Suspended", "alice Suspended"
    )
    assert status["lastAction"]["result"] == "Succeeded"
    assert e2e.sim.user(ALICE)["user"]["account_status"] == "inactive"
    e2e.kube.wait_for(
        lambda: (
            ("Normal", "Suspended") in [(ev["type"], ev["reason"]) for ev in e2e.events("alice")]
        ),
        10,
        "the Suspended Event",
    )
    # The operator writes status and Events only: no finalizers, no kopf annotations.
    objects = [("aorg", "acme"), ("aacct", "alice"), ("aacct", discovered[0]["metadata"]["name"])]
    for kind, name in objects:
        meta = e2e.get(kind, name)["metadata"]
        assert not meta.get("finalizers"), (kind, name, meta)
        assert set(meta.get("annotations") or {}) <= {
            "kubectl.kubernetes.io/last-applied-configuration"
        }, (kind, name, meta)


def test_namespaced_install_rbac_is_enough(
    as_service_account: Any, kube: Any, simulator: Simulator
) -> None:
    """The single-namespace overlay: Role + RoleBinding, and kopf's cluster-wide reads."""
    run = as_service_account(kube, render("manifests/overlays/namespaced"))
    operator = run.start(
        ["--namespace", kube.namespace, "--allow-api-base-url", simulator.url,
         *leader_election(kube)]
    )  # fmt: skip
    exercise(E2E(kube, simulator, operator))
    log = run.stop()
    assert permission_problems(log) == [], log[-5000:]
    assert "Traceback" not in log, log[-5000:]
    assert API_KEY not in log


@pytest.fixture
def private_kube(kube: Any, tmp_path: Path) -> Iterator[Any]:
    """A namespace on a control plane of its own, with the CRDs: an operator watching all
    namespaces sees no other test's leftovers there (without a controller-manager, deleted
    namespaces keep their objects). On an external cluster (KUBECONFIG_E2E), the shared one."""
    if os.environ.get("KUBECONFIG_E2E"):
        # A real cluster finishes deleting earlier tests' namespaces: wait for that instead.
        def settled() -> bool:
            out = kube.kubectl(
                "get", "namespaces", "-o", "jsonpath={.items[*].status.phase}", namespaced=False
            ).stdout
            return "Terminating" not in out

        kube.wait_for(settled, 120, "earlier tests' namespaces to be deleted")
        yield kube
        return
    cp = ControlPlane.start(tmp_path / "cp" / "state", kubeconfig=tmp_path / "cp" / "kubeconfig")
    try:
        private = type(kube)(f"t-cluster-wide-{uuid.uuid4().hex[:6]}", cp.kubeconfig)
        private.kubectl("create", "namespace", private.namespace, namespaced=False)
        private.kubectl("apply", "-k", str(ROOT / "crds"), namespaced=False)
        # `kubectl wait` fails at once if a CRD has no conditions yet: poll it instead.
        private.wait_for(
            lambda: (
                private.kubectl(
                    "wait",
                    "--for=condition=Established",
                    "--timeout=5s",
                    "crd/atlassianorgs.atlassian.operators.dev",
                    "crd/atlassianaccounts.atlassian.operators.dev",
                    namespaced=False,
                    check=False,
                ).returncode
                == 0
            ),
            60,
            "the CRDs to be Established",
        )
        # A fresh API server answers 429 "storage is (re)initializing" to cached lists of a
        # new CRD for a moment; let that pass before the operator lists.
        private.wait_for(
            lambda: (
                private.kubectl(
                    "get",
                    "--raw",
                    f"{ACCOUNTS_URL}?resourceVersion=0",
                    check=False,
                    namespaced=False,
                ).returncode
                == 0
            ),
            30,
            "the CRDs' watch cache",
        )
        yield private
    finally:
        cp.stop()


def test_cluster_wide_install_rbac_is_enough(
    as_service_account: Any, private_kube: Any, simulator: Simulator
) -> None:
    """The base: ClusterRole + ClusterRoleBinding, the operator run with --all-namespaces."""
    run = as_service_account(private_kube, render("manifests"))
    operator = run.start(
        ["--all-namespaces", "--allow-api-base-url", simulator.url, *leader_election(private_kube)]
    )
    exercise(E2E(private_kube, simulator, operator))
    log = run.stop()
    assert permission_problems(log) == [], log[-5000:]
    assert "Traceback" not in log, log[-5000:]


STATUS_RULE = "atlassian.operators.dev/atlassianorgs/status,atlassianaccounts/status"
# Every rule of the namespaced install, and what goes wrong without it. The cluster-wide
# install holds the same rules plus a CRD watch (test_roles_grant_only_what_is_needed).
WITHOUT_RULE: dict[str, str] = {
    "atlassian.operators.dev/atlassianorgs,atlassianaccounts": r"atlassianorgs.* is forbidden",
    "atlassian.operators.dev/atlassianaccounts": r'cannot create resource \\?"atlassianaccounts',
    STATUS_RULE: r'cannot patch resource \\?"atlassian(orgs|accounts)/status',
    "/secrets": "SecretNotUsable",  # the org says so in its status
    # Without the call ledger's ConfigMap the org lists nothing it could act on, and says why.
    "/configmaps": r"ConfigMap \S+/atlassian-calls-\w+, cannot be read \(403",
    "/events": "Failed to post an event",
    # Without the Lease the operator never starts acting, and says why: it cannot read its
    # Lease, or (no Lease yet) cannot create it.
    f"coordination.k8s.io/leases[{SA}]": r"cannot read the leader-election lease: 403",
    "coordination.k8s.io/leases": r"cannot write the leader-election lease: 403",
}


def rule_key(rule: dict[str, Any]) -> str:
    names = f"[{','.join(rule['resourceNames'])}]" if "resourceNames" in rule else ""
    return f"{','.join(rule['apiGroups'])}/{','.join(rule['resources'])}{names}"


def roles(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every Role and ClusterRole of a render: the operator's and those for people."""
    return [d for d in docs if d["kind"] in ("Role", "ClusterRole")]


def operator_roles(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in roles(docs) if d["metadata"]["name"] in OPERATOR_RBAC]


def leader_election(kube: Any) -> list[str]:
    """The flags of the shipped Deployment that make the operator hold a Lease."""
    return ["--leader-election", "--leader-election-namespace", kube.namespace]


@pytest.mark.parametrize("dropped", list(WITHOUT_RULE))
def test_every_rule_is_needed(
    as_service_account: Any, kube: Any, simulator: Simulator, dropped: str
) -> None:
    """Without any one rule, the operator visibly fails, and this test file notices."""
    docs = render("manifests/overlays/namespaced")
    for role in roles(docs):
        role["rules"] = [r for r in role["rules"] if rule_key(r) != dropped]
    run = as_service_account(kube, docs)
    operator = run.start(
        ["--namespace", kube.namespace, "--allow-api-base-url", simulator.url,
         *leader_election(kube)]
    )  # fmt: skip
    e2e = E2E(kube, simulator, operator)
    simulator.add_user(
        account_id=ALICE, name="Alice Adams", email="alice@acme.example", account_status="active"
    )
    e2e.account("alice", accountId=ALICE, desiredState="Suspended")
    e2e.org(accountDiscovery={"enabled": True})
    symptom = re.compile(WITHOUT_RULE[dropped])

    def noticed() -> bool:
        if dropped == "/secrets":
            org = e2e.status("aorg", "acme")
            return condition(org, "Ready", "reason") == "SecretNotUsable" and (
                f"no get on Secrets in namespace {kube.namespace}"
                in str(condition(org, "Ready", "message"))
            )
        return bool(symptom.search(operator.log_text()))

    kube.wait_for(noticed, 30, f"the symptom of a missing {dropped} rule")
    if dropped != "/secrets":
        assert permission_problems(run.stop())


def lease_id(docs: list[dict[str, Any]]) -> str:
    """The Lease the render's Deployment holds: its --leader-election-id."""
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    [lease] = [
        a.removeprefix("--leader-election-id=")
        for a in container["args"]
        if a.startswith("--leader-election-id=")
    ]
    return lease


def test_roles_grant_only_what_is_needed() -> None:
    base, namespaced = render("manifests"), render("manifests/overlays/namespaced")
    for docs in (base, namespaced):
        for role in roles(docs):
            for rule in role["rules"]:
                for field in ("apiGroups", "resources", "verbs"):
                    assert "*" not in rule[field], (role["kind"], rule)
                assert "nonResourceURLs" not in rule
                if "secrets" in rule["resources"]:
                    assert rule["verbs"] == ["get"], "Secrets: get by name only, no list/watch"
                # Names only where RBAC can use them: the Lease's get and patch, this
                # Deployment's Lease only. `create` cannot be limited by name.
                if "resourceNames" in rule:
                    assert (rule["resources"], rule["verbs"]) == (["leases"], ["get", "patch"])
                    assert rule["resourceNames"] == [lease_id(docs)]
                elif rule["resources"] == ["leases"]:
                    assert rule["verbs"] == ["create"]
    # The single-namespace install needs nothing cluster-wide.
    assert [d["kind"] for d in namespaced if d["kind"].startswith("Cluster")] == []
    # The roles for people (manifests/base/user-roles.yaml, tests/e2e/test_user_roles.py)
    # are in the base only; the operator's own rules are these:
    assert {d["metadata"]["name"] for d in roles(base)} - OPERATOR_RBAC == {
        f"{SA}-viewer",
        f"{SA}-editor",
        f"{SA}-org-admin",
    }
    assert roles(namespaced) == operator_roles(namespaced)
    namespaced_rules = [r for role in operator_roles(namespaced) for r in role["rules"]]
    base_rules = [r for role in operator_roles(base) for r in role["rules"]]
    crd_watch = "apiextensions.k8s.io/customresourcedefinitions"
    # Each rule has a test that shows it is needed, and the two installs grant the same, but
    # for the CRD watch that kopf's cluster-wide scanning uses.
    assert sorted(map(rule_key, namespaced_rules)) == sorted(WITHOUT_RULE)
    assert sorted(json.dumps(r, sort_keys=True) for r in namespaced_rules) == sorted(
        json.dumps(r, sort_keys=True) for r in base_rules if rule_key(r) != crd_watch
    )
    assert [r["verbs"] for r in base_rules if rule_key(r) == crd_watch] == [["list", "watch"]]
    # Each rule says why it is there.
    for path in (
        "manifests/base/clusterrole.yaml",
        "manifests/base/secret-access.yaml",
        "manifests/base/leader-election.yaml",
        "manifests/base/user-roles.yaml",
        "manifests/overlays/namespaced/role.yaml",
    ):
        lines = (ROOT / path).read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith("- apiGroups:"):
                assert lines[i - 1].strip().startswith("#"), f"{path}:{i + 1}: say why"


def secret_grants(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(binding kind, namespace) of every binding of a role that may get Secrets."""
    readers = {
        (d["kind"], d["metadata"]["name"])
        for d in roles(docs)
        if any("secrets" in r["resources"] for r in d["rules"])
    }
    return sorted(
        (d["kind"], d["metadata"].get("namespace", ""))
        for d in docs
        if d["kind"].endswith("Binding") and (d["roleRef"]["kind"], d["roleRef"]["name"]) in readers
    )


def test_the_cluster_wide_install_reads_secrets_only_where_listed() -> None:
    """By default in its own namespace only (manifests/base/secret-namespaces.yaml); every
    namespace only with the component that says so."""
    base = render("manifests")
    assert secret_grants(base) == [("RoleBinding", "atlassian-operator")]
    [clusterrole] = [d for d in operator_roles(base) if d["metadata"]["name"] == SA]
    assert SECRET_RULE not in clusterrole["rules"]
    everywhere = render_with_component(CLUSTER_WIDE_SECRETS)
    assert secret_grants(everywhere) == [("ClusterRoleBinding", "")]
    [wide] = [d for d in operator_roles(everywhere) if d["metadata"]["name"] == SA]
    assert wide["rules"] == [*clusterrole["rules"], SECRET_RULE, LEDGER_RULE]
    assert SECRETS not in {d["metadata"]["name"] for d in everywhere}


def grant(kube: Any, run: OperatorAsServiceAccount, entry: dict[str, Any]) -> None:
    """The list's entry for kube's namespace, as the install renders it, bound to the run's
    ServiceAccount and its (renamed) ClusterRole."""
    binding = json.loads(json.dumps(entry))
    binding["metadata"]["namespace"] = kube.namespace
    binding["roleRef"]["name"] = f"{SECRETS}-{run.kube.namespace}"
    binding["subjects"][0]["namespace"] = run.kube.namespace
    kube.kubectl("apply", "-f", "-", input=yaml.safe_dump(binding))


@pytest.fixture
def cleanup() -> Iterator[list[Callable[[], Any]]]:
    done: list[Callable[[], Any]] = []
    yield done
    for step in reversed(done):
        step()


def another_namespace(kube: Any, prefix: str, cleanup: list[Callable[[], Any]]) -> Any:
    """A second namespace on kube's control plane, deleted after the test."""
    other = type(kube)(f"{prefix}-{uuid.uuid4().hex[:6]}", kube.kubeconfig)
    other.kubectl("create", "namespace", other.namespace, namespaced=False)
    cleanup.append(
        lambda: other.kubectl(
            "delete", "namespace", other.namespace, "--wait=false", namespaced=False, check=False
        )
    )
    return other


def test_an_org_outside_the_listed_namespaces_says_what_to_grant(
    as_service_account: Any,
    private_kube: Any,
    simulator: Simulator,
    cleanup: list[Callable[[], Any]],
) -> None:
    """The cluster-wide install as shipped: an org in a namespace the list does not name is
    told which grant is missing and where to add it; the list's entry for it fixes it, without
    a restart. The operator's own namespace (listed) is not affected."""
    docs = render("manifests")
    run = as_service_account(private_kube, docs)
    operator = run.start(
        ["--all-namespaces", "--allow-api-base-url", simulator.url, *leader_election(private_kube)]
    )
    elsewhere = another_namespace(private_kube, "t-unlisted", cleanup)
    e2e = E2E(elsewhere, simulator, operator)
    e2e.org()
    e2e.kube.wait_for(
        lambda: condition(e2e.status("aorg", "acme"), "Ready", "reason") == "SecretNotUsable",
        30,
        "the org to say its Secret is not usable",
    )
    message = str(condition(e2e.status("aorg", "acme"), "Ready", "message"))
    assert f"no get on Secrets in namespace {elsewhere.namespace}" in message, message
    assert f"add {elsewhere.namespace} to the Helm value secretAccess.namespaces" in message
    assert "manifests/base/secret-namespaces.yaml" in message
    assert API_KEY not in message
    [entry] = [d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["name"] == SECRETS]
    grant(elsewhere, run, entry)
    org = e2e.wait_synced()
    assert condition(org, "Ready") == "True"
    log = run.stop()
    # The 403 before the grant is the only permission problem, and the org reported it.
    assert all("secret" in line.lower() for line in permission_problems(log)), log[-5000:]


def test_the_cluster_wide_secret_component_reads_any_namespace(
    as_service_account: Any,
    private_kube: Any,
    simulator: Simulator,
    cleanup: list[Callable[[], Any]],
) -> None:
    run = as_service_account(private_kube, render_with_component(CLUSTER_WIDE_SECRETS))
    operator = run.start(
        ["--all-namespaces", "--allow-api-base-url", simulator.url, *leader_election(private_kube)]
    )
    elsewhere = another_namespace(private_kube, "t-anywhere", cleanup)
    e2e = E2E(elsewhere, simulator, operator)
    e2e.org()
    assert condition(e2e.wait_synced(), "Ready") == "True"
    log = run.stop()
    assert permission_problems(log) == [], log[-5000:]
