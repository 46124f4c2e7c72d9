"""Issue 28: the operator installed by Flux, on the real node, with the files a person applies
there (examples/gitops/clusters/local: production's atlassian-operator.yaml pointed at the
registry `make gitops-up` runs on 127.0.0.1:5050, the node's image, the simulator allowed).

The release's manifests (crds/ and manifests/) are published with hack/gitops/publish-manifests.sh
to a real OCI registry on loopback; Flux's real source-controller pulls them (OCIRepository) and
its kustomize-controller applies the CRDs, then the operator, then the accounts from Git
(production's atlassian.yaml), each waiting for the one before (dependsOn). The test changes
only the namespace, the Git URL, its simulator's port and the intervals. Then, as a person
would: the operator's Pods become Ready, the org syncs, an offboarding commit suspends one
account (the simulator records the call), and deleting the operator's Kustomization uninstalls
the operator and nothing else: the CRDs, the namespace, the Secret, the org and the accounts
stay, unacted on (README "Uninstall", step 1).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from controlplane import ControlPlane
from localflux import LOCAL_REGISTRY_PORT, LOCAL_REPOSITORY, LOCAL_TAG

from support.e2e import API_KEY, API_KEY_LABEL
from support.gitops import (
    EXAMPLE,
    FluxControllers,
    GitServer,
    OCIRegistry,
    Repository,
    condition_of,
    flux_dir,
    render_local_flux_objects,
)
from support.kube import Kube
from support.node import Install, split_ref
from support.reliability import calls, wait_until
from support.simulator import Simulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

EXAMPLE_ORG = yaml.safe_load((EXAMPLE / "atlassian" / "org.yaml").read_text())
SIMULATOR = {"users": 0, "seed": 5, "org_id": EXAMPLE_ORG["spec"]["orgId"], "scim_every": 1000}
LOCAL_ALLOWED_URL = "http://10.244.0.1:8090"  # the docs' simulator; this module's has a free port
ACCOUNTS = EXAMPLE / "clusters" / "production" / "atlassian.yaml"
OFFBOARDING = EXAMPLE / "offboarding" / "0001-Offboard-John-Smith-HR-1234.patch"
NAMESPACE = "atlassian-operator"  # the manifests' namespace, and atlassian.yaml's targetNamespace
JOHN = "5a0000000000000000000001"
PEOPLE = {  # the people examples/gitops/atlassian/accounts names
    JOHN: ("John Smith", "john.smith@acme.example"),
    "5a0000000000000000000002": ("Jane Doe", "jane.doe@acme.example"),
    "5b10ac8d82e05b22cc7d4ef5": ("Ravi Patel", "ravi.patel@acme.example"),
    "5a0000000000000000000004": ("IT Admin", "admin@acme.example"),
}
KS = "kustomization.kustomize.toolkit.fluxcd.io"
OCI = "ocirepository.source.toolkit.fluxcd.io"
GIT = "gitrepository.source.toolkit.fluxcd.io"
CRDS = ("atlassianorgs.atlassian.operators.dev", "atlassianaccounts.atlassian.operators.dev")


def flux_objects(
    flux_namespace: str, git_url: str, image: str, allow_url: str
) -> list[dict[str, Any]]:
    """The Flux objects a person applies on the local node (examples/gitops/clusters/local,
    rendered as docs/tasks/install-gitops.md says) and the accounts' (production's
    atlassian.yaml) with only what a test must change: the test's namespace, its Git
    repository, its simulator's port, and short intervals."""
    local = render_local_flux_objects()
    assert LOCAL_ALLOWED_URL in local and f"newName: {split_ref(image)[0]}" in local
    local = local.replace(LOCAL_ALLOWED_URL, allow_url)
    docs = [d for d in yaml.safe_load_all(local) if d]
    docs += [d for d in yaml.safe_load_all(ACCOUNTS.read_text()) if d]
    for doc in docs:
        doc["metadata"]["namespace"] = flux_namespace
        spec = doc["spec"]
        spec["interval"] = "1m"
        if doc["kind"] == "GitRepository":
            spec["url"] = git_url
    return docs


class World:
    """Flux, the registry, the Git repository and the cluster, as the test drives them."""

    def __init__(
        self, kube: Kube, install: Install, sim: Simulator, flux: FluxControllers,
        registry: OCIRegistry, repo: Repository, git: GitServer,
    ) -> None:  # fmt: skip
        self.kube, self.install, self.sim = kube, install, sim
        self.flux, self.registry, self.repo, self.git = flux, registry, repo, git

    def admin(self, *args: str, input: str | None = None, check: bool = True) -> Any:
        return self.kube.kubectl(*args, input=input, check=check, namespaced=False)

    def flux_object(self, kind: str, name: str) -> dict[str, Any]:
        return self.kube.get_json(kind, name)

    def wait_ready(
        self, kind: str, name: str, timeout: float, revision: str | None = None
    ) -> dict[str, Any]:
        """Wait for a Flux object's Ready=True (at `revision` if given); on failure, print why."""
        last: dict[str, Any] = {}

        def ready() -> bool:
            nonlocal last
            last = self.flux_object(kind, name)
            status = last.get("status") or {}
            at = status.get("lastAppliedRevision") or (status.get("artifact") or {}).get("revision")
            return condition_of(last, "Ready").get("status") == "True" and (
                revision is None or at == revision
            )

        try:
            self.kube.wait_for(ready, timeout, f"{kind}/{name} Ready at {revision or 'any'}")
        except BaseException:
            print(f"last {kind}/{name} status:", json.dumps(last.get("status"), indent=1))
            print("kustomize-controller:\n", self.flux.log_text("kustomize-controller")[-4000:])
            print("source-controller:\n", self.flux.log_text("source-controller")[-2000:])
            print("operator:\n", self.install.log_text()[-3000:])
            raise
        return last

    def fetch(self, commit: str) -> str:
        """What a webhook Receiver or `flux reconcile source git` does: fetch now."""
        self.kube.kubectl(
            "annotate", "--overwrite", f"{GIT}/platform",
            f"reconcile.fluxcd.io/requestedAt={time.time_ns()}",
        )  # fmt: skip
        revision = f"main@sha1:{commit}"
        self.wait_ready(GIT, "platform", 30, revision)
        return revision

    def seed_accounts(self) -> str:
        """The example's accounts folder as the first commit, the org pointed at the simulator."""
        self.repo.copy_tree(EXAMPLE / "atlassian", "atlassian")
        org = yaml.safe_load(self.repo.read("atlassian/org.yaml"))
        org["spec"]["apiBaseURL"] = self.sim.url
        self.repo.write("atlassian/org.yaml", yaml.safe_dump(org, sort_keys=False))
        return self.repo.commit("Atlassian accounts")

    def exists(self, *args: str) -> bool:
        return bool(self.admin("get", *args, "-o", "name", check=False).stdout.strip())


@pytest.fixture
def world(
    node_cluster: ControlPlane, node_kube: Kube, sim: Simulator, tmp_path: Path
) -> Iterator[World]:
    for account_id, (name, email) in PEOPLE.items():
        sim.add_user(account_id=account_id, name=name, email=email, account_status="active")
    kubectl = ["apply", "--server-side", "-f", str(flux_dir() / "crds")]
    node_kube.kubectl(*kubectl, namespaced=False)
    node_kube.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all", namespaced=False
    )
    # The install namespace is Flux's to create: none may be left from a module before.
    node_kube.kubectl(
        "wait", "--for=delete", f"namespace/{NAMESPACE}", "--timeout=120s", namespaced=False,
        check=False,
    )  # fmt: skip
    assert not node_kube.kubectl(
        "get", "namespace", NAMESPACE, check=False, namespaced=False
    ).stdout
    (tmp_path / "flux").mkdir()
    flux = FluxControllers(
        flux_dir(), node_cluster.kubeconfig, node_kube.namespace, tmp_path / "flux"
    )
    registry = OCIRegistry(tmp_path / "registry", port=LOCAL_REGISTRY_PORT)  # the file's URL
    (tmp_path / "git").mkdir()
    git = GitServer(tmp_path / "git")
    install = Install(node_cluster.kubeconfig, NAMESPACE, tmp_path / "install")
    try:
        registry.start()
        flux.start()
        with git:
            w = World(
                node_kube,
                install,
                sim,
                flux,
                registry,
                Repository(tmp_path / "git" / "platform"),
                git,
            )
            try:
                yield w
            finally:
                # Flux's objects carry finalizers: delete them while the controllers run. The
                # accounts' Kustomization prunes the org and accounts (nothing in Atlassian).
                node_kube.kubectl(
                    "delete", f"{KS},{OCI},{GIT}", "--all", "--wait=true", "--timeout=120s",
                    check=False,
                )  # fmt: skip
    finally:
        flux.stop()
        registry.stop()
        node_kube.kubectl(
            "delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true",
            "--timeout=180s", namespaced=False, check=False,
        )  # fmt: skip
        assert API_KEY not in flux.log_text("kustomize-controller")


def test_flux_installs_the_operator_from_an_oci_artifact_and_uninstalls_it(
    world: World, node_images: dict[str, str]
) -> None:
    began = time.monotonic()
    steps: dict[str, float] = {}

    def step(name: str) -> None:
        steps[name] = time.monotonic() - began

    digest = world.registry.publish_manifests(LOCAL_REPOSITORY, LOCAL_TAG)
    step("published")
    docs = flux_objects(
        world.kube.namespace,
        world.git.url("platform"),
        node_images["image"],
        world.sim.url,
    )
    commit = world.seed_accounts()
    world.admin("apply", "-f", "-", input=yaml.safe_dump_all(docs))

    # Flux pulls the artifact, applies the CRDs, then the operator; wait: true means rolled out.
    world.wait_ready(OCI, "atlassian-operator", 60, f"{LOCAL_TAG}@{digest}")
    world.wait_ready(KS, "atlassian-operator-crds", 60)
    world.wait_ready(KS, "atlassian-operator", 300)
    step("operator installed")
    pods = world.install.ready_pods()
    assert len(pods) == 2, [p["metadata"]["name"] for p in world.install.pods()]
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {node_images["image"]}
    for crd in CRDS:  # the CRDs are atlassian-operator-crds', not the operator's
        labels = world.admin("get", "crd", crd, "-o", "json")
        meta = json.loads(labels.stdout)["metadata"]
        assert meta["labels"]["kustomize.toolkit.fluxcd.io/name"] == "atlassian-operator-crds"

    # The API key, as the example says: never in Git, created with kubectl.
    world.install.kubectl(
        "create", "secret", "generic", "atlassian-api-key", f"--from-literal=api-key={API_KEY}"
    )
    world.install.kubectl("label", "secret", "atlassian-api-key", f"{API_KEY_LABEL}=true")
    revision = world.fetch(commit)
    world.wait_ready(
        KS, "atlassian-accounts", 180, revision
    )  # wait: true: the org and accounts Ready
    step("org synced")
    org = json.loads(world.install.kubectl("get", "aorg", "acme", "-o", "json").stdout)
    assert condition_of(org, "Ready").get("status") == "True", org.get("status")
    assert calls(world.sim, "disable") == []

    # Offboarding: a merged pull request (the example's patch as a commit).
    revision = world.fetch(world.repo.am(OFFBOARDING))
    step("offboarding fetched")
    done = wait_until(
        lambda: calls(world.sim, "disable", JOHN, status=204), 60, "John's suspension"
    )
    step("offboarded")
    world.wait_ready(KS, "atlassian-accounts", 120, revision)
    john = json.loads(world.install.kubectl("get", "aacct", "john-smith", "-o", "json").stdout)
    assert john["status"]["accountStatus"] == "Suspended"
    assert len(calls(world.sim, "disable")) == 1 and len(done) == 1  # only John, once

    log = world.install.log_text()
    assert API_KEY not in log and "Traceback" not in log, log[-3000:]

    # Uninstall: delete the operator's Kustomization; Flux prunes what it applied from it. (The
    # standby replica, blocked waiting for the Lease, ignores SIGTERM as the container's PID 1:
    # its Pod goes only at the end of the 45 s grace period.)
    world.kube.kubectl("delete", KS, "atlassian-operator", "--wait=true", "--timeout=180s")
    step("operator's Kustomization deleted")
    world.kube.wait_for(
        lambda: not world.exists("deployment", "-n", NAMESPACE, "atlassian-operator")
        and not world.install.pods(),
        120, "the operator's Deployment and Pods gone",
    )  # fmt: skip
    step("uninstalled")
    for gone in ("clusterrole/atlassian-operator", "clusterrolebinding/atlassian-operator"):
        assert not world.exists(gone), gone
    assert not world.exists("serviceaccount", "-n", NAMESPACE, "atlassian-operator")
    # What stays (README "Uninstall": steps 2 and 3 are yours): the CRDs, the namespace with
    # the Secret, the org and the accounts, John still recorded as suspended.
    for crd in CRDS:
        assert world.exists("crd", crd), crd
    assert world.exists("namespace", NAMESPACE)
    assert world.exists("secret", "-n", NAMESPACE, "atlassian-api-key")
    names = world.install.kubectl("get", "aacct", "-o", "name").stdout.split()
    assert len(names) == 4, names
    john = json.loads(world.install.kubectl("get", "aacct", "john-smith", "-o", "json").stdout)
    assert john["status"]["accountStatus"] == "Suspended"
    assert len(calls(world.sim, "disable")) == 1  # nothing more in Atlassian
    print(
        "GitOps install on the node: "
        + ", ".join(f"{name} after {seconds:.1f}s" for name, seconds in steps.items())
    )
