"""The operator installed on the real node the way users install it; this module holds no tests.

`Install` writes a user's own kustomization over the shipped manifests (the repository's
`manifests/` or `manifests/overlays/namespaced`) that changes only what a user of a private
image would change: the image (a kustomize `images:` entry, the image built here by
hack/image/build.sh) and the one flag a cluster admin adds to let the operator send API keys to
a non-default Atlassian endpoint (here, the simulator). It applies it with `kubectl apply -k`,
waits for the rollout, and reads the running Pod the way an administrator would: its status,
its log (`kubectl logs`), and, on the node, its container's process and cgroup.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import localnode
import yaml
from controlplane import ControlPlane

from support.e2e import E2E
from support.kube import Kube
from support.simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_IMAGE = "ghcr.io/atlassian-operator/atlassian-operator"
LABEL = "app.kubernetes.io/name=atlassian-operator"
LEASE = "atlassian-operator"  # run --leader-election-id's default, as the manifests use it
CGROUP_MEMORY = Path("/sys/fs/cgroup/memory")


def split_ref(ref: str) -> tuple[str, str]:
    name, _, tag = ref.rpartition(":")
    return name, tag


def user_kustomization(
    base: Path, at: Path, image: str, allow_urls: Sequence[str], namespace: str | None = None
) -> dict[str, Any]:
    """A user's kustomization in directory `at` over the shipped manifests in `base`: their
    image, their endpoint (kustomize wants the base as a relative path)."""
    name, tag = split_ref(image)
    k: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(base, at)],
        "images": [{"name": SHIPPED_IMAGE, "newName": name, "newTag": tag}],
        "patches": [
            {
                "target": {"kind": "Deployment", "name": "atlassian-operator"},
                "patch": yaml.safe_dump(
                    [
                        {
                            "op": "add",
                            "path": "/spec/template/spec/containers/0/args/-",
                            "value": f"--allow-api-base-url={url}",
                        }
                        for url in allow_urls
                    ]
                ),
            }
        ],
    }
    if namespace:
        k["namespace"] = namespace
    return k


@dataclass
class Install:
    """One installation of the operator on the node, in `namespace`."""

    kubeconfig: Path
    namespace: str
    workdir: Path

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, namespaced: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = ["kubectl", f"--kubeconfig={self.kubeconfig}"]
        if namespaced:
            cmd.append(f"--namespace={self.namespace}")
        proc = subprocess.run([*cmd, *args], input=input, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}"
            )
        return proc

    # ---- installing

    def apply_kustomization(self, kustomization: dict[str, Any]) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        self.kubectl("apply", "--server-side", "-k", str(self.workdir), namespaced=False)

    def uninstall(self) -> None:
        """Delete what the kustomization installed but the CRDs, and wait until the Pods are gone.

        The CRDs stay, as they do for a user who reinstalls: deleting them would delete every
        org and account of every test namespace with them (minutes at 10,000 accounts)."""
        rendered = self.kubectl("kustomize", str(self.workdir), namespaced=False).stdout
        kept = [
            d for d in yaml.safe_load_all(rendered)
            if d and d["kind"] != "CustomResourceDefinition"
        ]  # fmt: skip
        self.kubectl(
            "delete", "-f", "-", "--ignore-not-found", "--wait=true", "--timeout=120s",
            input=yaml.safe_dump_all(kept), namespaced=False, check=False,
        )  # fmt: skip

    def rollout(self, timeout: str = "120s") -> None:
        self.kubectl("rollout", "status", "deployment/atlassian-operator", f"--timeout={timeout}")

    # ---- reading the running operator

    def pods(self) -> list[dict[str, Any]]:
        out = self.kubectl("get", "pods", "-l", LABEL, "-o", "json").stdout
        return json.loads(out)["items"]  # type: ignore[no-any-return]

    def ready_pods(self) -> list[dict[str, Any]]:
        return [p for p in self.pods() if _ready(p) and not p["metadata"].get("deletionTimestamp")]

    def lease_holder(self) -> str | None:
        """The Pod named by the leader-election Lease (identity: `<hostname>_<random>`)."""
        proc = self.kubectl("get", "lease", LEASE, "-o", "json", check=False)
        if proc.returncode != 0:
            return None
        holder = json.loads(proc.stdout)["spec"].get("holderIdentity") or ""
        return holder.rpartition("_")[0] or None

    def leader_pod(self, timeout: float = 120.0, *, not_: str | None = None) -> dict[str, Any]:
        """The Ready Pod that holds the Lease (the one replica that acts); with `not_`, one
        other than that Pod (after a takeover). Fails if none by the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            holder = self.lease_holder()
            ready = {p["metadata"]["name"]: p for p in self.ready_pods()}
            if holder in ready and holder != not_:
                return ready[holder]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no Ready operator Pod holds Lease {LEASE} (holder {holder!r}); "
                    f"Pods: {json.dumps(self.pods())[:3000]}"
                )
            time.sleep(0.2)

    def standby_pod(self) -> dict[str, Any]:
        """The one Ready replica that does not hold the Lease."""
        leader = self.leader_pod()["metadata"]["name"]
        others = [p for p in self.ready_pods() if p["metadata"]["name"] != leader]
        assert len(others) == 1, [p["metadata"]["name"] for p in others]
        return others[0]

    def log_text(self) -> str:
        """The recent log of every replica, each line prefixed with its Pod."""
        return self.kubectl("logs", "-l", LABEL, "--prefix", "--tail=400", check=False).stdout

    def container_pid(self, pod: dict[str, Any], containerd_socket: Path) -> int:
        """The host pid of the operator container's main process (from containerd)."""
        cid = pod["status"]["containerStatuses"][0]["containerID"].removeprefix("containerd://")
        out = subprocess.run(
            ["ctr", "--address", str(containerd_socket), "--namespace", "k8s.io",
             "tasks", "ls"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        for line in out.splitlines()[1:]:
            task, pid, *_ = line.split()
            if task == cid:
                return int(pid)
        raise AssertionError(f"container {cid} has no task in containerd:\n{out}")


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def memory_cgroup(pid: int) -> Path:
    """The cgroup-v1 memory directory of a process (this host mounts the v1 hierarchies)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return CGROUP_MEMORY / path.lstrip("/")
    raise AssertionError(f"process {pid} has no memory cgroup")


def working_set_bytes(cgroup: Path) -> int:
    """What the kubelet calls the working set: usage minus inactive file pages."""
    usage = int((cgroup / "memory.usage_in_bytes").read_text())
    stat = dict(line.split() for line in (cgroup / "memory.stat").read_text().splitlines() if line)
    return max(0, usage - int(stat.get("total_inactive_file", 0)))


def proc_status(pid: int) -> dict[str, str]:
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(re.findall(r"^(\w+):\s*(.*)$", text, flags=re.MULTILINE))


def installed(
    cluster: ControlPlane,
    images: dict[str, str],
    sims: Sequence[Simulator],
    workdir: Path,
    *,
    overlay: str = "manifests",
    namespace: str = "atlassian-operator",
) -> Install:
    """The operator installed from `overlay` with a user's kustomization; waits for rollout."""
    install = Install(cluster.kubeconfig, namespace, workdir)
    install.apply_kustomization(
        user_kustomization(
            ROOT / overlay,
            workdir,
            images["image"],
            [sim.url for sim in sims],
            namespace=None if namespace == "atlassian-operator" else namespace,
        )
    )
    install.rollout()
    return install


class PodOperator:
    """What E2E needs of an operator, for the one running as a Pod."""

    def __init__(self, install: Install) -> None:
        self.install = install

    def log_text(self) -> str:
        return self.install.log_text()


def e2e_on_node(kube: Kube, sim: Simulator, install: Install) -> E2E:
    grant_secret_access(kube, install)
    return E2E(kube, sim, PodOperator(install))  # type: ignore[arg-type]


SECRET_ROLE = "atlassian-operator-secrets"  # manifests/base/secret-access.yaml, the chart's


def grant_secret_access(kube: Kube, install: Install) -> None:
    """What a cluster admin does for a cluster-wide install before an org goes into a new
    namespace: the list's RoleBinding there (manifests/base/secret-namespaces.yaml; Helm
    secretAccess.namespaces). A namespaced install watches its own namespace only: nothing."""
    if kube.namespace == install.namespace:
        return
    role = install.kubectl("get", "clusterrole", SECRET_ROLE, namespaced=False, check=False)
    if role.returncode != 0:
        return
    kube.kubectl(
        "create", "rolebinding", SECRET_ROLE, f"--clusterrole={SECRET_ROLE}",
        f"--serviceaccount={install.namespace}:atlassian-operator",
    )  # fmt: skip


def layout(cluster: ControlPlane) -> Any:
    assert cluster.workdir is not None
    return localnode.NodeLayout(cluster.workdir / "node")
