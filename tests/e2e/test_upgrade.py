"""Upgrading from 0.1.0 (v1alpha1 stored) to v1beta1 on the real control plane, as the docs'
"Upgrading" tells a user: apply the new CRDs, run the new operator, keep using v1alpha1
manifests (with a warning), `kubectl atlassian migrate-storage`, then drop v1alpha1.

It needs its own control plane: the session's has the new CRDs already, and a CRD that has
stored v1beta1 cannot go back to the previous release's.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ControlPlane

from support.e2e import API_KEY, E2E, condition
from support.kube import KUBECTL, Kube
from support.operator import OperatorProcess
from support.simulator import start_simulator

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
OLD_CRDS = Path(__file__).parent / "upgrade" / "crds-0.1.0"  # `git show 1fb302e:crds/...`
GROUP = "atlassian.operators.dev"
CRDS = (f"atlassianorgs.{GROUP}", f"atlassianaccounts.{GROUP}")
ALPHA = f"{GROUP}/v1alpha1"
DEPRECATION = (
    f"Warning: {ALPHA} AtlassianAccount is deprecated; use {GROUP}/v1beta1 "
    "(the same schema: change apiVersion only)"
)

PAT = "aa0000000000000000000001"  # pinned by 0.1.0 by her old email; Atlassian shows a new one
SUE = "bb0000000000000000000002"  # suspended by 0.1.0
LEE = "cc0000000000000000000003"  # asked to be suspended after the upgrade, by a v1alpha1 manifest
MAX = "dd0000000000000000000004"  # the same, but the budget (with 0.1.0's call) is spent


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Cluster:
    """The test's own control plane, seen through kubectl with a discovery cache that is
    dropped whenever the CRDs change (a stale one would resolve `aacct` to the old version)."""

    cp: ControlPlane
    cache: Path

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [KUBECTL, f"--kubeconfig={self.cp.kubeconfig}", f"--cache-dir={self.cache}", *args],
            input=input, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {proc.stderr}")
        return proc

    def apply_crds(self, docs: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
        """`kubectl apply`, as the docs' "Upgrading" does; the discovery cache goes with
        the CRDs it described."""
        proc = self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs), check=False)
        shutil.rmtree(self.cache, ignore_errors=True)
        return proc

    def crd(self, name: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", "crd", name, "-o", "json").stdout)  # type: ignore[no-any-return]

    def stored_in_etcd(self, plural: str) -> dict[str, str]:
        """`namespace/name` -> the apiVersion etcd holds it at (custom resources are JSON)."""
        prefix = f"/registry/{GROUP}/{plural}/"
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        body = {"key": _b64(prefix), "range_end": _b64(end)}
        request = urllib.request.Request(
            f"{self.cp.etcd_url}/v3/kv/range", json.dumps(body).encode()
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            kvs = json.load(answer).get("kvs") or ()
        return {
            base64.b64decode(kv["key"]).decode()[len(prefix) :]: json.loads(
                base64.b64decode(kv["value"])
            )["apiVersion"]
            for kv in kvs
        }

    def migrate_storage(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`kubectl atlassian migrate-storage`: kubectl finds the plugin on PATH."""
        env = {
            **os.environ,
            "KUBECONFIG": str(self.cp.kubeconfig),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT / "operator"),  # this tree's code, not an installed copy
        }
        proc = subprocess.run(
            [KUBECTL, "atlassian", "migrate-storage", *args],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc


def migrator_without_crd_status(cluster: Cluster, kube: Kube, path: Path) -> Path:
    """A kubeconfig for someone who may list and patch both kinds and read CRDs, but not
    patch customresourcedefinitions/status."""
    rules = [
        {"apiGroups": [GROUP], "resources": ["atlassianorgs", "atlassianaccounts"],
         "verbs": ["get", "list", "patch"]},
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
         "verbs": ["get"]},
    ]  # fmt: skip
    subject = {"kind": "ServiceAccount", "name": "migrator", "namespace": kube.namespace}
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "migrator"}
    kube.kubectl("create", "serviceaccount", "migrator")
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "migrator"}, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "migrator"}, "roleRef": ref, "subjects": [subject]},
    ]))  # fmt: skip
    token = kube.kubectl("create", "token", "migrator", "--duration=1h").stdout.strip()
    admin = json.loads(cluster.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "migrator",
        "clusters": [{"name": "cp", "cluster": admin["clusters"][0]["cluster"]}],
        "users": [{"name": "migrator", "user": {"token": token}}],
        "contexts": [{"name": "migrator", "context": {"cluster": "cp", "user": "migrator"}}],
    }))  # fmt: skip
    return path


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def crd_docs(directory: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted(directory.glob("atlassian*.yaml"))]


def without_alpha(*, drop: bool) -> list[dict[str, Any]]:
    """This release's CRDs with v1alpha1 no longer served (`drop`: gone from spec.versions)."""
    docs = crd_docs(ROOT / "crds")
    for doc in docs:
        versions = doc["spec"]["versions"]
        if drop:
            versions[:] = [v for v in versions if v["name"] != "v1alpha1"]
        else:
            for v in versions:
                if v["name"] == "v1alpha1":
                    v["served"] = False
    return docs


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    # Every kubectl of the test (the E2E helpers' too) shares the cache dropped on CRD changes.
    monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "kube-cache"))
    cp = ControlPlane.start(tmp_path / "cp" / "state", kubeconfig=tmp_path / "cp" / "kubeconfig")
    try:
        yield Cluster(cp, tmp_path / "kube-cache")
    finally:
        cp.stop()


def alpha(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": ALPHA, "kind": kind, "metadata": {"name": name}, "spec": spec}


def write_old_status(kube: Kube, plural: str, name: str, status: dict[str, Any]) -> None:
    """Status as 0.1.0's operator wrote it: through the v1alpha1 status subresource."""
    kube.kubectl(
        "patch", f"{plural}.v1alpha1.{GROUP}", name, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": status}),
    )  # fmt: skip


def test_upgrade_from_v1alpha1_keeps_every_object_acted_on_and_lets_v1alpha1_go(
    cluster: Cluster, tmp_path: Path
) -> None:
    # ---- 0.1.0: its CRDs (v1alpha1 only), its objects, the statuses its operator wrote
    assert cluster.apply_crds(crd_docs(OLD_CRDS)).returncode == 0
    cluster.kubectl("wait", "--for=condition=Established", *(f"crd/{c}" for c in CRDS))
    kube = Kube("upgrade", cluster.cp.kubeconfig)
    bystander = Kube("elsewhere", cluster.cp.kubeconfig)  # no operator watches it
    for k in (kube, bystander):
        k.kubectl("create", "namespace", k.namespace, namespaced=False)

    with start_simulator(
        users=5, seed=3, page_size=10, org_id="org-e2e", api_key=API_KEY, scim_every=1000
    ) as sim:
        sim.add_user(account_id=PAT, name="Pat Pinned", email="pat.new@acme.example",
                     account_status="active")  # fmt: skip
        sim.add_user(account_id=SUE, name="Sue Gone", email="sue@acme.example",
                     account_status="inactive")  # fmt: skip
        sim.add_user(account_id=LEE, name="Lee Leaver", email="lee@acme.example",
                     account_status="active")  # fmt: skip
        sim.add_user(account_id=MAX, name="Max Leaver", email="max@acme.example",
                     account_status="active")  # fmt: skip
        operator = OperatorProcess(cluster.cp.kubeconfig, [kube.namespace], allow=[sim.url])
        e2e = E2E(kube, sim, operator)
        e2e.secret()
        org_spec = {
            "orgId": sim.org_id,
            "apiKeySecretRef": {"name": "atlassian-api-key"},
            "apiBaseURL": sim.url,
            "syncInterval": "10m",  # the budget's window: the call 0.1.0 made still counts
            "suspension": {"maxPerSync": 2},
        }
        called = datetime.now(UTC) - timedelta(minutes=2)
        e2e.apply(alpha("AtlassianOrg", "acme", org_spec))
        e2e.apply([
            alpha("AtlassianAccount", "pat", {"orgRef": {"name": "acme"},
                                              "email": "pat@acme.example"}),
            alpha("AtlassianAccount", "sue", {"orgRef": {"name": "acme"}, "accountId": SUE,
                                              "desiredState": "Suspended"}),
            alpha("AtlassianAccount", "lee", {"orgRef": {"name": "acme"}, "accountId": LEE}),
            alpha("AtlassianAccount", "max", {"orgRef": {"name": "acme"}, "accountId": MAX}),
        ])  # fmt: skip
        write_old_status(kube, "atlassianorgs", "acme", {
            "budget": {"orgId": sim.org_id, "calls": [rfc3339(called - timedelta(seconds=1))]},
        })  # fmt: skip
        write_old_status(kube, "atlassianaccounts", "pat", {
            "accountId": PAT, "pinnedFrom": {"email": "pat@acme.example"},
            "email": "pat@acme.example", "displayName": "Pat Pinned", "atlassianStatus": "active",
            "accountStatus": "Active",
        })  # fmt: skip
        sue_last_action = {
            "action": "Suspend", "result": "Succeeded", "reason": "Suspended",
            "message": "suspended sue@acme.example", "time": rfc3339(called),
            "observedGeneration": 1,
        }  # fmt: skip
        write_old_status(kube, "atlassianaccounts", "sue", {
            "accountId": SUE, "email": "sue@acme.example", "atlassianStatus": "inactive",
            "accountStatus": "Suspended", "lastAction": sue_last_action,
        })  # fmt: skip
        bystander.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([
            alpha("AtlassianOrg", "other", {**org_spec, "orgId": "org-other"}),
            alpha("AtlassianAccount", "ann", {"orgRef": {"name": "other"},
                                              "email": "ann@x.example"}),
        ]))  # fmt: skip

        # ---- the new CRDs: v1beta1 stored, v1alpha1 still served; nothing moved in etcd yet
        assert cluster.apply_crds(crd_docs(ROOT / "crds")).returncode == 0
        cluster.kubectl("wait", "--for=condition=Established", *(f"crd/{c}" for c in CRDS))
        for name in CRDS:
            assert cluster.crd(name)["status"]["storedVersions"] == ["v1alpha1", "v1beta1"]
        assert set(cluster.stored_in_etcd("atlassianaccounts").values()) == {ALPHA}

        # ---- the new operator acts on the objects 0.1.0 left, as 0.1.0 left them
        operator.start()
        try:
            pat = e2e.wait_status(
                "aacct", "pat",
                lambda s: condition(s, "Ready") == "True"
                and s.get("email") == "pat.new@acme.example",
                "pat observed by her pinned accountId though Atlassian shows a new email",
            )  # fmt: skip
            assert pat["accountId"] == PAT
            sue = e2e.wait_status(
                "aacct", "sue", lambda s: condition(s, "Ready") == "True", "sue in her state"
            )
            assert sue["accountStatus"] == "Suspended" and sue["lastAction"] == sue_last_action
            e2e.wait_status("aacct", "lee", lambda s: s.get("accountStatus") == "Active", "lee")

            # A suspension asked for with a v1alpha1 manifest (a Git repository not yet
            # changed): it goes out once, and the budget's window still holds 0.1.0's call.
            asked = kube.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([
                alpha("AtlassianAccount", name, {"orgRef": {"name": "acme"}, "accountId": aid,
                                                 "desiredState": "Suspended"})
                for name, aid in (("lee", LEE), ("max", MAX))
            ]))  # fmt: skip
            assert DEPRECATION in asked.stderr
            e2e.wait_status(
                "aacct", "lee", lambda s: s.get("accountStatus") == "Suspended", "lee suspended"
            )
            e2e.wait_status(
                "aacct", "max",
                lambda s: condition(s, "Ready", "reason") == "SuspensionBudgetExceeded",
                "max waiting: 0.1.0's call and lee's fill the window of maxPerSync 2",
            )  # fmt: skip
            assert [LEE in c["path"] for c in sim.requests("disable")] == [True]

            # v1beta1 shows them all (and says so in apiVersion)
            listed = json.loads(
                cluster.kubectl(
                    "get", f"atlassianaccounts.v1beta1.{GROUP}", "-A", "-o", "json"
                ).stdout
            )["items"]
            assert {(a["metadata"]["name"], a["apiVersion"]) for a in listed} == {
                (n, f"{GROUP}/v1beta1") for n in ("pat", "sue", "lee", "max", "ann")
            }

            # ---- before the migration the API server refuses to drop v1alpha1
            refused = cluster.apply_crds(without_alpha(drop=True))
            assert refused.returncode != 0
            assert (
                'status.storedVersions[0]: Invalid value: "v1alpha1": missing from spec.versions; '
                "v1alpha1 was previously a storage version, and must remain in spec.versions "
                "until a storage migration ensures no data remains persisted in v1alpha1"
            ) in refused.stderr, refused.stderr
            still_old = [k for k, v in cluster.stored_in_etcd("atlassianaccounts").items()
                         if v == ALPHA]  # fmt: skip
            assert "elsewhere/ann" in still_old  # nobody wrote it since 0.1.0
            old_orgs = [k for k, v in cluster.stored_in_etcd("atlassianorgs").items() if v == ALPHA]

            # ---- migrate-storage: refused without the CRD status permission, saying which
            limited = migrator_without_crd_status(cluster, kube, tmp_path / "migrator.kubeconfig")
            denied = cluster.migrate_storage("--dry-run", f"--kubeconfig={limited}")
            print(f"$ kubectl atlassian migrate-storage --dry-run (no CRD status rights)\n"
                  f"{denied.stdout}{denied.stderr}")  # fmt: skip
            assert denied.returncode == 1
            assert "needs RBAC patch on customresourcedefinitions/status" in denied.stderr

            # ---- migrate-storage: first what it would do, then do it
            dry = cluster.migrate_storage("--dry-run")
            assert dry.returncode == 0, dry.stderr
            print(f"$ kubectl atlassian migrate-storage --dry-run\n{dry.stdout}")
            assert "would write 5 objects in all namespaces" in dry.stdout
            assert "would set storedVersions to [v1beta1]" in dry.stdout
            assert cluster.stored_in_etcd("atlassianaccounts")["elsewhere/ann"] == ALPHA
            assert cluster.crd(CRDS[1])["status"]["storedVersions"] == ["v1alpha1", "v1beta1"]

            specs = {a["metadata"]["name"]: (a["spec"], a.get("status")) for a in listed}
            done = cluster.migrate_storage()
            assert done.returncode == 0, done.stderr
            print(f"$ kubectl atlassian migrate-storage\n{done.stdout}")
            assert "AtlassianOrg (atlassianorgs.atlassian.operators.dev)" in done.stdout
            # Exactly those etcd held at v1alpha1 were stored again; the rest were left alone.
            assert (
                f"2 objects in all namespaces: {len(old_orgs)} rewritten, "
                f"{2 - len(old_orgs)} already current, 0 deleted meanwhile"
            ) in done.stdout
            assert (
                f"5 objects in all namespaces: {len(still_old)} rewritten, "
                f"{5 - len(still_old)} already current, 0 deleted meanwhile"
            ) in done.stdout
            assert done.stdout.count("storedVersions set to [v1beta1]") == 2
            for name in CRDS:
                assert cluster.crd(name)["status"]["storedVersions"] == ["v1beta1"]
            for plural in ("atlassianorgs", "atlassianaccounts"):
                assert set(cluster.stored_in_etcd(plural).values()) == {f"{GROUP}/v1beta1"}
            after = cluster.kubectl("get", f"atlassianaccounts.{GROUP}", "-n", "elsewhere",
                                    "-o", "json")  # fmt: skip
            ann = json.loads(after.stdout)["items"]
            assert [(a["spec"], a.get("status")) for a in ann] == [specs["ann"]]
            again = cluster.migrate_storage()
            assert again.returncode == 0 and "already migrated" in again.stdout

            # ---- v1alpha1 goes: first not served, then out of the CRDs
            assert cluster.apply_crds(without_alpha(drop=False)).returncode == 0
            gone = cluster.kubectl("get", f"atlassianaccounts.v1alpha1.{GROUP}", "-A", check=False)
            assert gone.returncode != 0
            removed = cluster.apply_crds(without_alpha(drop=True))
            assert removed.returncode == 0, removed.stderr
            for name in CRDS:
                versions = [v["name"] for v in cluster.crd(name)["spec"]["versions"]]
                assert versions == ["v1beta1"]

            # ---- and the operator still reads and acts: a change in Atlassian shows
            sim.update_user(PAT, name="Pat Renamed")
            e2e.later_sync()
            e2e.wait_status(
                "aacct", "pat", lambda s: s.get("displayName") == "Pat Renamed", "pat renamed"
            )
            assert [LEE in c["path"] for c in sim.requests("disable")] == [True]
            assert e2e.status("aacct", "sue")["lastAction"] == sue_last_action
        finally:
            operator.stop()
        operator.assert_clean_log([API_KEY])
