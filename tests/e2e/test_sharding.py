"""Issue 14, item 5: sharding, as manifests/overlays/sharded installs it. Two shards with the
namespaces, Lease ids, ServiceAccounts and RBAC that the overlay renders (moved into fresh
namespaces of this control plane), each shard with an org of its own: each shard suspends in its
own org only and never touches the other's namespace, and its token may not act there either."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.e2e import E2E, condition
from support.kube import Kube
from support.operator import OperatorProcess
from support.reliability import calls, per_account
from support.simulator import start_simulator

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
OVERLAY = "manifests/overlays/sharded"
HOME = "atlassian-operator"  # the namespace the overlay runs its shards in
SHARD_ROLE = "atlassian-operator-shard"  # the rules each shard gets in its namespaces
LEASE_ROLE = "atlassian-operator-leader-election"  # manifests/base/leader-election.yaml
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
RBAC_KINDS = {"ServiceAccount", "Role", "RoleBinding", "ClusterRole"}
PERMISSION_PROBLEMS = re.compile(r"403|Forbidden|Not enough permissions|Failed to post an event")
# What a shard does in a namespace it watches: see its orgs, read their keys, write status.
RIGHTS = [("watch", "atlassianorgs"), ("get", "secrets"), ("patch", "atlassianaccounts/status")]


def render(path: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [KUBECTL, "kustomize", str(ROOT / path)], capture_output=True, text=True, check=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@dataclass(frozen=True)
class Shard:
    """One operator Deployment of a render: where it runs, its ServiceAccount, its args."""

    name: str
    home: str
    service_account: str
    args: tuple[str, ...]

    def flag(self, name: str) -> list[str]:
        return [a.removeprefix(f"{name}=") for a in self.args if a.startswith(f"{name}=")]

    @property
    def namespaces(self) -> list[str]:
        return self.flag("--namespace")

    @property
    def lease(self) -> str:
        [lease] = self.flag("--leader-election-id")
        return lease

    @property
    def user(self) -> str:
        """The ServiceAccount as `kubectl --as` names it."""
        return f"system:serviceaccount:{self.home}:{self.service_account}"


def shards(docs: list[dict[str, Any]]) -> list[Shard]:
    result = []
    for doc in docs:
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            [container] = pod["containers"]
            meta = doc["metadata"]
            args = tuple(container["args"])
            result.append(Shard(meta["name"], meta["namespace"], pod["serviceAccountName"], args))
    return result


def bound_namespaces(docs: list[dict[str, Any]], shard: Shard) -> list[str]:
    """The namespaces where a RoleBinding grants the shard's ServiceAccount the shard rules."""
    return [
        d["metadata"]["namespace"]
        for d in docs
        if d["kind"] == "RoleBinding"
        and d["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                             "name": SHARD_ROLE}
        and {"kind": "ServiceAccount", "name": shard.service_account, "namespace": shard.home}
        in d["subjects"]
    ]  # fmt: skip


def test_the_overlay_gives_each_namespace_to_exactly_one_shard() -> None:
    docs = render(OVERLAY)
    a, b = found = shards(docs)
    for shard in found:
        # What it watches is exactly where it may act, and it holds a Lease of its own.
        assert shard.namespaces, shard
        assert sorted(bound_namespaces(docs, shard)) == sorted(shard.namespaces), shard
        assert "--leader-election" in shard.args
    assert not set(a.namespaces) & set(b.namespaces), "a namespace in two shards: both would act"
    assert a.lease != b.lease, "one Lease id: the shards would elect one leader between them"
    for shard in found:  # its Lease Role reaches its own Lease only (create cannot be named)
        suffix = shard.name.removeprefix("atlassian-operator")  # nameSuffix: -shard-<x>
        [role] = [
            d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == LEASE_ROLE + suffix
        ]
        assert [r.get("resourceNames") for r in role["rules"]] == [[shard.lease], None], role
    assert a.service_account != b.service_account
    # Each Deployment runs as the base's does (replicas, rollout), and whatever selects Pods
    # (metrics Service, disruption budget) selects one shard's Pods only.
    [base] = [d["spec"] for d in render("manifests") if d["kind"] == "Deployment"]
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    for spec in (d["spec"] for d in deployments):
        assert (spec["replicas"], spec["strategy"]) == (base["replicas"], base["strategy"])
    selectors = [
        d["spec"]["selector"].get("matchLabels", d["spec"]["selector"])
        for d in docs
        if d["kind"] in ("Deployment", "Service", "PodDisruptionBudget")
    ]
    assert len(selectors) >= 4  # a Deployment and a Service per shard, at least
    pods = [d["spec"]["template"]["metadata"]["labels"].items() for d in deployments]
    for selector in selectors:
        assert len([labels for labels in pods if selector.items() <= labels]) == 1, selector
    # Nothing cluster-wide but the CRDs, the shards' namespace and the rules' definition (which
    # only RoleBindings use); the rules are the single-namespace install's, which
    # tests/e2e/test_rbac.py shows are each needed.
    assert sorted(
        (d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] in CLUSTER_SCOPED
    ) == [
        ("ClusterRole", SHARD_ROLE),
        ("CustomResourceDefinition", "atlassianaccounts.atlassian.operators.dev"),
        ("CustomResourceDefinition", "atlassianorgs.atlassian.operators.dev"),
        ("Namespace", HOME),
    ]
    [shard_role] = [d for d in docs if d["kind"] == "ClusterRole"]
    [namespaced_role] = [
        d for d in render("manifests/overlays/namespaced") if d["metadata"]["name"] == HOME
        and d["kind"] == "Role"
    ]  # fmt: skip
    assert shard_role["rules"] == namespaced_role["rules"]
    homes = {d["metadata"].get("namespace") for d in docs if d["kind"] != "RoleBinding"}
    assert homes <= {HOME, None}  # only the RoleBindings are in the watched namespaces


@dataclass
class Sharded:
    """The overlay's RBAC applied to this control plane, its namespaces renamed for the test."""

    kube: Kube  # the shards' home namespace
    shards: list[Shard]

    def can_i(
        self, shard: Shard, verb: str, resource: str, namespace: str | None, name: str = ""
    ) -> bool:
        """`kubectl auth can-i` as the shard's ServiceAccount; namespace None: all of them;
        `name`: the object of that name only."""
        where = f"--namespace={namespace}" if namespace else "--all-namespaces"
        resource, _, subresource = resource.partition("/")
        extra = [f"--subresource={subresource}"] if subresource else []
        what = f"{resource}/{name}" if name else resource
        proc = self.kube.kubectl(
            "auth", "can-i", verb, what, *extra, where, f"--as={shard.user}",
            namespaced=False, check=False,
        )  # fmt: skip
        answer = proc.stdout.strip()
        assert answer in ("yes", "no"), proc.stderr
        return answer == "yes"

    def token_kubeconfig(self, shard: Shard, path: Path) -> Path:
        """A kubeconfig whose only credential is a token of the shard's ServiceAccount."""
        kube = self.kube
        token = kube.kubectl(
            "create", "token", shard.service_account, f"--namespace={shard.home}",
            "--duration=1h", namespaced=False,
        ).stdout.strip()  # fmt: skip
        admin = json.loads(
            kube.kubectl(
                "config", "view", "--raw", "--minify", "-o", "json", namespaced=False
            ).stdout
        )
        cluster = admin["clusters"][0]["cluster"]
        server = {k: cluster[k] for k in ("server", "certificate-authority-data")}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": shard.name,
            "clusters": [{"name": "c", "cluster": server}],
            "users": [{"name": shard.name, "user": {"token": token}}],
            "contexts": [{"name": shard.name, "context": {"cluster": "c", "user": shard.name}}],
        }
        path.write_text(json.dumps(config))
        path.chmod(0o600)
        return path


def move(docs: list[dict[str, Any]], names: dict[str, str], tag: str) -> list[dict[str, Any]]:
    """The namespaced objects of a render, each namespace renamed by `names` (also in bindings
    and args), and its ClusterRole with a name of this test's own: tests share no RBAC."""
    moved = []
    for doc in json.loads(json.dumps(docs)):
        meta = doc["metadata"]
        if doc["kind"] == "ClusterRole":
            meta["name"] += tag
        elif doc["kind"] in CLUSTER_SCOPED:
            continue
        else:
            meta["namespace"] = names[meta["namespace"]]
        if doc.get("roleRef", {}).get("kind") == "ClusterRole":
            doc["roleRef"]["name"] += tag
        for subject in doc.get("subjects", []):
            subject["namespace"] = names[subject["namespace"]]
        if doc["kind"] == "Deployment":
            [container] = doc["spec"]["template"]["spec"]["containers"]
            container["args"] = [
                f"--namespace={names[a.removeprefix('--namespace=')]}"
                if a.startswith("--namespace=")
                else a
                for a in container["args"]
            ]
        moved.append(doc)
    return moved


@pytest.fixture
def sharded(kube: Kube, crds: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sharded]:
    """The overlay's shards, at home in this test's namespace, each watched namespace a new one
    named after the overlay's; the RBAC objects applied, the rest (Deployments: there is no node
    here) only dry-run on the server."""
    # Inside a pod, the Kubernetes client and kopf would prefer the pod's own account.
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    docs = render(OVERLAY)
    tag = f"-{uuid.uuid4().hex[:6]}"
    watched = sorted({ns for shard in shards(docs) for ns in shard.namespaces})
    names = {HOME: kube.namespace, **{ns: ns + tag for ns in watched}}
    for namespace in watched:
        kube.kubectl("create", "namespace", names[namespace], namespaced=False)
    moved = move(docs, names, tag)
    rbac = [d for d in moved if d["kind"] in RBAC_KINDS]
    kube.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(rbac), namespaced=False)
    rest = [d for d in moved if d["kind"] not in RBAC_KINDS]  # the API server accepts it too
    assert {d["kind"] for d in rest} >= {"Deployment", "Service"}
    kube.kubectl(
        "apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump_all(rest), namespaced=False
    )
    try:
        yield Sharded(kube, shards(moved))
    finally:
        for namespace in watched:
            kube.kubectl(
                "delete", "namespace", names[namespace], "--wait=false",
                namespaced=False, check=False,
            )  # fmt: skip
        kube.kubectl(
            "delete", "clusterrole", SHARD_ROLE + tag, "--ignore-not-found",
            namespaced=False, check=False,
        )  # fmt: skip


def test_each_shard_may_act_only_in_its_own_namespaces(sharded: Sharded) -> None:
    everywhere = sorted({ns for shard in sharded.shards for ns in shard.namespaces})
    for shard in sharded.shards:
        may = {
            (ns, f"{verb} {resource}"): sharded.can_i(shard, verb, resource, ns)
            for ns in [*everywhere, shard.home]
            for verb, resource in RIGHTS
        }
        assert may == {
            (ns, f"{verb} {resource}"): ns in shard.namespaces
            for ns in [*everywhere, shard.home]
            for verb, resource in RIGHTS
        }, shard.name
        for verb, resource in RIGHTS:  # and nothing cluster-wide
            assert not sharded.can_i(shard, verb, resource, None), (shard.name, verb, resource)
        # Its own Lease, at home, and no other shard's: it cannot disturb their elections.
        for other in sharded.shards:
            for verb in ("get", "patch"):
                mine = sharded.can_i(shard, verb, "leases", shard.home, name=other.lease)
                assert mine is (other is shard), (shard.name, verb, other.lease)


def test_each_shard_acts_only_on_its_own_org(sharded: Sharded, tmp_path: Path) -> None:
    kube = sharded.kube
    keys = [f"shard-key-{i}-{uuid.uuid4().hex[:8]}" for i in range(2)]
    with ExitStack() as stack:
        sims = [
            stack.enter_context(start_simulator(users=3, seed=i, org_id=f"org-{i}", api_key=key))
            for i, key in enumerate(keys)
        ]
        operators = []
        for shard in sharded.shards:
            # As the Deployment runs it, with its own token and its own Lease; ports aside.
            args = [a for a in shard.args[1:] if not a.startswith(("--metrics-", "--health-"))]
            op = OperatorProcess(
                sharded.token_kubeconfig(shard, tmp_path / f"{shard.name}.kubeconfig"), [],
                [*args, "--leader-election-namespace", shard.home],
                # Both simulators allowed to both: what keeps the shards apart is the overlay.
                allow=[sim.url for sim in sims],
            )  # fmt: skip
            stack.callback(op.stop)
            operators.append(op.start())
        # Both act at once: with one Lease id between them, one would wait for the other.
        kube.wait_for(
            lambda: all("holding the leader-election lease" in op.log_text() for op in operators),
            30,
            "both shards to hold a Lease",
        )
        leases = json.loads(kube.kubectl("get", "leases", "-o", "json").stdout)["items"]
        holders = {lease["metadata"]["name"]: lease["spec"]["holderIdentity"] for lease in leases}
        assert sorted(holders) == sorted(shard.lease for shard in sharded.shards)
        assert len(set(holders.values())) == 2

        # An org per shard, in the last namespace it watches: same names, other namespaces.
        worlds = []
        for i, (shard, sim, op) in enumerate(zip(sharded.shards, sims, operators, strict=True)):
            e2e = E2E(Kube(shard.namespaces[-1], kube.kubeconfig), sim, op)
            account_id = f"5c0000000000000000005{i:03d}"
            sim.add_user(
                account_id=account_id, name=f"Leaver {i}", email=f"leaver{i}@org{i}.example",
                account_status="active",
            )  # fmt: skip
            e2e.secret(value=sim.api_key)
            e2e.account("leaver", accountId=account_id, desiredState="Suspended")
            e2e.org(secret=False)
            worlds.append((e2e, account_id))

        for e2e, account_id in worlds:
            e2e.wait_status(
                "aacct", "leaver",
                lambda s: s.get("accountStatus") == "Suspended"
                and condition(s, "Ready", "reason") == "InDesiredState",
                f"leaver Suspended in {e2e.kube.namespace}", timeout=60,
            )  # fmt: skip
            org = e2e.wait_synced()
            assert org["users"]["total"] == 4  # its own org's users: 3 generated + the leaver
            # Its own org got one disable, for its own leaver: none went astray, none twice.
            assert per_account(calls(e2e.sim, "disable")) == {account_id: 1}
            assert e2e.sim.user(account_id)["user"]["account_status"] == "inactive"

        # Each shard's metrics know its own org only, and it made that org's suspension itself;
        # its log names no other shard's namespace, and shows no attempt to act outside its own.
        pairs = list(zip(sharded.shards, operators, strict=True))
        own = {shard.name: shard.namespaces[-1] for shard in sharded.shards}  # its org's
        metrics = {shard.name: op.metrics() for shard, op in pairs}
        for name, text in metrics.items():
            seen = set(re.findall(r'^atlassian_operator_\w+\{.*namespace="([^"]+)"', text, re.M))
            assert seen == {own[name]}, f"{name} acted in {sorted(seen)}"
        for name, text in metrics.items():
            suspended = re.search(
                rf'^atlassian_operator_lifecycle_actions_total\{{.*namespace="{own[name]}"'
                r'.*result="Succeeded".*\} 1\.0$', text, re.M,
            )  # fmt: skip
            assert suspended, f"{name} did not suspend its own leaver:\n{text[-3000:]}"
        for shard, op in pairs:
            log = op.log_text()
            others = {ns for other in sharded.shards if other != shard for ns in other.namespaces}
            assert not [ns for ns in others if ns in log], log[-3000:]
            assert not PERMISSION_PROBLEMS.search(log), log[-3000:]
    for op in operators:
        op.assert_clean_log(keys)
