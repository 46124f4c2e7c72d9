"""`kubectl atlassian check` end to end: the real command (through kubectl's plugin lookup and as
`atlassian-operator check`) against the simulator and a real API server.

Each test sets up what a user would have (an org and its Secret, the operator's RBAC rendered
from the manifests, a running operator holding its Lease, or none of these) and reads the lines
the user reads. Every run is also checked for what the check must never do: show the key, call a
lifecycle endpoint, or change an object in Kubernetes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ControlPlane

from support.e2e import API_KEY, API_KEY_LABEL
from support.kube import Kube
from support.operator import OperatorProcess
from support.rbac import SA, rbac_for_namespace
from support.simulator import Simulator

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv's bin: kubectl-atlassian, atlassian-operator
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
WRONG_KEY = "wrong-key-7c1d5e0b9a8f4e2d6c3b1a0f"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def lines(self, check: str) -> list[str]:
        """The output lines of one check, e.g. every `plan` line."""
        return [line for line in self.stdout.splitlines() if line[6:].split(" ", 1)[0] == check]

    def verdicts(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for line in self.stdout.splitlines():
            if line[:4] in ("PASS", "WARN", "FAIL"):
                found.setdefault(line[6:].split(" ", 1)[0], set()).add(line[:4])
        return found

    def verdict(self, check: str) -> str:
        verdicts = self.verdicts().get(check)
        assert verdicts, f"no {check} line in:\n{self.stdout}\n{self.stderr}"
        assert len(verdicts) == 1, f"{check}: {verdicts} in:\n{self.stdout}"
        return next(iter(verdicts))


def check(kubeconfig: Path, *args: str, stdin: str | None = None, entry: str = "kubectl") -> Run:
    """`kubectl atlassian check ARGS` (kubectl finds the plugin on PATH), or with
    entry="atlassian-operator", `atlassian-operator check ARGS`; this checkout's code either way."""
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT / "operator"),
    }
    # Not inside a Pod: the check must use the kubeconfig, as on a user's laptop.
    env.pop("KUBERNETES_SERVICE_HOST", None)
    program = (
        [KUBECTL, "atlassian", "check"]
        if entry == "kubectl"
        else [str(BIN / "atlassian-operator"), "check"]
    )
    proc = subprocess.run(
        [*program, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return Run(proc.returncode, proc.stdout, proc.stderr)


def lifecycle_calls(sim: Simulator) -> list[dict[str, Any]]:
    return [r for r in sim.requests() if r["endpoint"] in ("disable", "enable")]


# -- what a user sets up --------------------------------------------------------------------------


def apply(kube: Kube, docs: list[dict[str, Any]]) -> None:
    kube.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))


def org_and_secret(kube: Kube, sim: Simulator, key: str = API_KEY) -> None:
    apply(
        kube,
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "atlassian-api-key", "labels": {API_KEY_LABEL: "true"}},
                "stringData": {"api-key": key},
            },
            {
                "apiVersion": "atlassian.operators.dev/v1beta1",
                "kind": "AtlassianOrg",
                "metadata": {"name": "acme"},
                "spec": {
                    "orgId": sim.org_id,
                    "apiKeySecretRef": {"name": "atlassian-api-key"},
                    "apiBaseURL": sim.url,
                },
            },
        ],
    )


def operator_rbac(namespace: str) -> list[dict[str, Any]]:
    """The operator's ServiceAccount, roles and bindings as `kubectl kustomize manifests`
    renders them, moved into `namespace` (the operator's namespace and the org's, here one);
    cluster-scoped ones get a per-test name."""
    rendered = subprocess.run(
        [KUBECTL, "kustomize", str(ROOT / "manifests")], capture_output=True, text=True, check=True
    ).stdout
    return rbac_for_namespace([d for d in yaml.safe_load_all(rendered) if d], namespace)


@pytest.fixture
def rbac(kube: Kube, crds: None) -> Iterator[list[dict[str, Any]]]:
    docs = operator_rbac(kube.namespace)
    apply(kube, docs)
    yield docs
    for doc in docs:
        if doc["kind"].startswith("Cluster"):
            kube.kubectl(
                "delete", doc["kind"], doc["metadata"]["name"], "--ignore-not-found",
                namespaced=False, check=False,
            )  # fmt: skip


def stored_versions(kube: Kube) -> dict[str, str]:
    """kind/name -> resourceVersion of every object in the test's namespace, and of the CRDs:
    a write of any kind (an object created, changed or deleted; an Event) changes this."""
    kinds = kube.kubectl(
        "api-resources", "--namespaced=true", "--verbs=list", "-o", "name", namespaced=False
    ).stdout.split()
    items = json.loads(kube.kubectl("get", ",".join(kinds), "-o", "json").stdout)["items"]
    crds = json.loads(kube.kubectl("get", "crd", "-o", "json", namespaced=False).stdout)["items"]
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["resourceVersion"]
        for o in [*items, *crds]
    }


# -- the tests --------------------------------------------------------------------------------


def test_a_ready_org_passes_every_line(
    kube: Kube, crds: None, simulator: Simulator, rbac: list[dict[str, Any]]
) -> None:
    ns = kube.namespace
    org_and_secret(kube, simulator)
    operator = OperatorProcess(
        kube.kubeconfig, [ns], ["--leader-election", "--leader-election-namespace", ns],
        allow=[simulator.url],
    )  # fmt: skip
    with operator:
        kube.wait_for(
            lambda: kube.kubectl("get", "lease", SA, "-o", "jsonpath={.spec.holderIdentity}",
                                 check=False).stdout,
            30, "the operator to hold its Lease",
        )  # fmt: skip
        simulator.clear_requests()
        run = check(kube.kubeconfig, "acme", "-n", ns, "--operator-namespace", ns)
        same = check(
            kube.kubeconfig, "acme", "-n", ns, "--operator-namespace", ns,
            entry="atlassian-operator",
        )  # fmt: skip
    assert run.code == 0, run.stdout + run.stderr
    verdicts = run.verdicts()
    assert set(verdicts) == {
        "key", "org", "listing", "search", "lifecycle", "plan", "secret", "crds", "rbac",
        "lease", "cost",
    }, run.stdout  # fmt: skip
    assert all(v == {"PASS"} for v in verdicts.values()), run.stdout
    assert run.stdout.splitlines()[-1] == "Result: PASS (0 fail, 0 warn, 15 pass)", run.stdout
    # 40 users at 10 a page: 4 v1 pages; 40 users at 100 a page plus the unmanaged search: 2.
    assert "makes 6 requests (4 v1 pages + 2 v2 pages) for 40 accounts" in run.stdout
    assert "40 users by its meta.total, 10 a page: a full sync reads 4 pages" in run.stdout
    assert "a full sync reads 2 pages of it" in run.lines("search")[0]
    assert f"system:serviceaccount:{ns}:{SA} may do all 11 things" in run.lines("rbac")[0]
    assert "is held by" in run.lines("lease")[0]
    assert same.code == 0 and same.verdicts() == verdicts
    # Both runs read, and asked one permission each: no lifecycle call, one page of each listing
    # (the count says the rest), never the whole org.
    endpoints = [r["endpoint"] for r in simulator.requests()]
    assert lifecycle_calls(simulator) == []
    assert endpoints.count("manage") == 2, endpoints
    operator.assert_clean_log([API_KEY])


def test_a_wrong_key_fails_the_first_line_and_is_never_shown(
    kube: Kube, crds: None, simulator: Simulator, rbac: list[dict[str, Any]]
) -> None:
    org_and_secret(kube, simulator, key=WRONG_KEY)
    ns = kube.namespace
    for output in ("text", "json"):
        run = check(kube.kubeconfig, "acme", "-n", ns, "--operator-namespace", ns, "-o", output)
        assert run.code == 1, run.stdout + run.stderr
        assert WRONG_KEY not in run.stdout + run.stderr
        assert API_KEY not in run.stdout + run.stderr
    assert json.loads(run.stdout)["checks"][0] == {
        "check": "key",
        "verdict": "FAIL",
        "found": f"Atlassian at {simulator.url} rejected the API key (401): it is invalid, "
        "expired or revoked",
        "do": "create an org API key at admin.atlassian.com (Settings > API keys) as an admin "
        "of this organization, without scopes (the lifecycle calls refuse scoped keys), and put "
        "it in the Secret the AtlassianOrg names (or pass it with --api-key-file); then run this "
        "check again",
    }
    text = check(kube.kubeconfig, "acme", "-n", ns, "--operator-namespace", ns)
    assert text.stdout.splitlines()[1].startswith("FAIL  key  "), text.stdout
    # Nothing else of Atlassian is asked once the key is refused; the cluster still is.
    assert {"org", "listing", "lifecycle"}.isdisjoint(text.verdicts()), text.stdout
    assert text.verdict("rbac") == "PASS" and text.verdict("crds") == "PASS"
    assert {r["endpoint"] for r in simulator.requests()} == {"list_users"}


def test_an_unknown_org_fails_the_second_line(kube: Kube, simulator: Simulator) -> None:
    run = check(
        kube.kubeconfig, "--org-id", "org-nobody", "--api-key-file", "-",
        "--api-base-url", simulator.url, "--no-cluster", stdin=API_KEY + "\n",
        entry="atlassian-operator",
    )  # fmt: skip
    assert run.code == 1, run.stdout + run.stderr
    assert run.verdict("key") == "PASS"
    assert run.verdict("org") == "FAIL"
    assert "no organization org-nobody for this key (404)" in run.lines("org")[0]
    assert API_KEY not in run.stdout + run.stderr


def test_a_key_without_the_lifecycle_privilege_fails_and_a_synced_sample_warns(
    kube: Kube, simulator: Simulator, tmp_path: Path
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(API_KEY)
    flags = ("--org-id", simulator.org_id, "--api-key-file", str(key_file),
             "--api-base-url", simulator.url, "--no-cluster")  # fmt: skip

    # The user management API refuses the key itself (as it does a scoped key): FAIL.
    simulator.add_fault(endpoint="manage", kind="status", status=403)
    refused = check(kube.kubeconfig, *flags)
    assert refused.code == 1, refused.stdout + refused.stderr
    assert refused.verdict("lifecycle") == "FAIL", refused.stdout
    assert "(403 forbidden)" in refused.lines("lifecycle")[0]

    # An account synced from an identity provider may not be suspended by any key: WARN.
    synced = simulator.users()[0]["user"]["account_id"]
    simulator.update_user(synced, scim=True)
    warned = check(kube.kubeconfig, *flags, "--sample-account", synced)
    assert warned.code == 0, warned.stdout + warned.stderr
    assert warned.verdict("lifecycle") == "WARN", warned.stdout
    assert f"may not suspend account {synced}" in warned.lines("lifecycle")[0]
    assert "externalDirectory.scim" in warned.lines("lifecycle")[0]
    # Left to choose, the check passes over that account for one it can ask about.
    chosen = check(kube.kubeconfig, *flags)
    assert chosen.verdict("lifecycle") == "PASS", chosen.stdout
    assert synced not in chosen.lines("lifecycle")[0]
    asked = [r["path"] for r in simulator.requests("manage")]
    assert len(asked) == 3 and asked[1] == f"/users/{synced}/manage"
    assert lifecycle_calls(simulator) == []


def test_missing_optional_facts_warn(kube: Kube, simulator: Simulator) -> None:
    # A plan without the v2 user APIs, and a listing without last-active dates.
    simulator.add_fault(endpoint="search_users", kind="status", status=403, times=10)
    for entry in simulator.users():
        user = entry["user"]
        products = [
            {k: v for k, v in p.items() if k != "last_active"}
            for p in user.get("product_access") or ()
        ]
        simulator.update_user(user["account_id"], last_active=None, product_access=products)
    run = check(
        kube.kubeconfig, "--org-id", simulator.org_id, "--api-key-file", "-",
        "--api-base-url", simulator.url, "--no-cluster", stdin=API_KEY,
    )  # fmt: skip
    assert run.code == 0, run.stdout + run.stderr  # the operator works, with less
    assert run.verdict("search") == "WARN"
    assert "Enriched=False" in run.lines("search")[0]
    last_active = [line for line in run.lines("plan") if "last-active dates" in line]
    assert last_active and last_active[0].startswith("WARN"), run.stdout
    assert "status.firstObserved" in last_active[0]
    # The operator still asks for the search every sync: the estimate counts its pages.
    assert "4 v1 pages + 2 v2 pages" in run.lines("cost")[0]
    assert "Result: WARN" in run.stdout


def test_the_check_writes_nothing_and_an_absent_operator_warns(
    kube: Kube, crds: None, simulator: Simulator, rbac: list[dict[str, Any]]
) -> None:
    ns = kube.namespace
    org_and_secret(kube, simulator)
    before = stored_versions(kube)
    runs = [
        check(kube.kubeconfig, "acme", "-n", ns, "--operator-namespace", ns, "-o", output)
        for output in ("text", "json")
    ]
    assert stored_versions(kube) == before
    assert lifecycle_calls(simulator) == []
    text, as_json = runs
    assert text.code == 0, text.stdout + text.stderr
    assert text.verdict("lease") == "WARN"
    assert f"no Lease {ns}/{SA}: no operator holds it" in text.lines("lease")[0]
    assert text.verdict("rbac") == "PASS"
    body = json.loads(as_json.stdout)
    assert body["result"] == "WARN"
    assert body["estimate"]["requestsPerSync"] == 6
    assert [c["check"] for c in body["checks"] if c["verdict"] != "PASS"] == ["lease"]


def test_without_the_operators_rbac_the_rbac_line_fails(
    kube: Kube, crds: None, simulator: Simulator
) -> None:
    org_and_secret(kube, simulator)
    run = check(
        kube.kubeconfig, "acme", "-n", kube.namespace, "--operator-namespace", kube.namespace
    )
    assert run.code == 1
    assert run.verdict("rbac") == "FAIL"
    line = run.lines("rbac")[0]
    assert "may not get secrets 'atlassian-api-key'" in line
    assert "secret-namespaces.yaml" in line


@pytest.fixture
def bare_cluster(tmp_path: Path) -> Iterator[Path]:
    """A control plane of its own, without the CRDs (the session's has them)."""
    cp = ControlPlane.start(tmp_path / "cp" / "state", kubeconfig=tmp_path / "cp" / "kubeconfig")
    try:
        yield Path(cp.kubeconfig)
    finally:
        cp.stop()


def test_no_crds_fail(bare_cluster: Path, simulator: Simulator) -> None:
    run = check(
        bare_cluster, "--org-id", simulator.org_id, "--api-key-file", "-",
        "--api-base-url", simulator.url, stdin=API_KEY,
    )  # fmt: skip
    assert run.code == 1, run.stdout + run.stderr
    assert run.verdict("crds") == "FAIL"
    crds = run.lines("crds")[0]
    assert "atlassianorgs.atlassian.operators.dev is not installed" in crds
    assert "kubectl apply -k crds/" in crds
    assert run.verdict("lease") == "WARN"
    assert run.verdict("key") == "PASS"


def token_kubeconfig(kube: Kube, service_account: str, path: Path) -> Path:
    """A kubeconfig with the cluster's server and CA and a ServiceAccount token: a user who
    has only what that account's roles grant."""
    token = kube.kubectl("create", "token", service_account, "--duration=10m").stdout.strip()
    admin = json.loads(kube.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    cluster = admin["clusters"][0]["cluster"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "reader",
        "clusters": [{"name": "c", "cluster": {
            "server": cluster["server"],
            "certificate-authority-data": cluster["certificate-authority-data"],
        }}],
        "users": [{"name": "reader", "user": {"token": token}}],
        "contexts": [{"name": "reader", "context": {
            "cluster": "c", "user": "reader", "namespace": kube.namespace,
        }}],
    }  # fmt: skip
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


def test_a_user_who_may_not_ask_about_rbac_gets_a_warning(
    kube: Kube, crds: None, simulator: Simulator, rbac: list[dict[str, Any]], tmp_path: Path
) -> None:
    """A namespace's own user: may read the org, its Secret and the Lease, nothing more."""
    org_and_secret(kube, simulator)
    reader = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "reader"},
            "rules": [
                {"apiGroups": ["atlassian.operators.dev"], "resources": ["atlassianorgs"],
                 "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": kube.namespace}],
        },
    ]  # fmt: skip
    apply(kube, reader)
    kubeconfig = token_kubeconfig(kube, "reader", tmp_path / "reader.kubeconfig")
    # The context's namespace is the org's: no -n needed.
    run = check(kubeconfig, "acme", "--operator-namespace", kube.namespace)
    assert run.code == 0, run.stdout + run.stderr
    assert run.verdict("rbac") == "WARN"
    assert "you may not create SubjectAccessReviews" in run.lines("rbac")[0]
    assert "kubectl auth can-i --list" in run.lines("rbac")[0]
    assert run.verdict("crds") == "WARN"  # cluster-scoped: this user may not read them
    assert run.verdict("key") == "PASS" and run.verdict("lifecycle") == "PASS"
