"""Issue 11: `helm install` of charts/atlassian-operator on the real node passes the same smoke
test as the kustomize install: the Pod becomes Ready with the chart's defaults (only the image
and the simulator's endpoint set), syncs an org, suspends an account, and serves metrics."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from controlplane import ControlPlane

from support.e2e import API_KEY, condition
from support.kube import Kube
from support.node import ROOT, Install, e2e_on_node, split_ref
from support.reliability import calls, wait_until
from support.simulator import Simulator

pytestmark = pytest.mark.e2e
SIMULATOR = {"seed": 7, "org_id": "org-helm"}
RELEASE, NAMESPACE = "atlassian-operator", "atlassian-operator"


def helm_binary() -> str:
    out = subprocess.run(
        [str(ROOT / "hack" / "tools" / "helm.sh")], capture_output=True, text=True, check=True
    ).stdout
    return out.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def release(
    node_cluster: ControlPlane, node_images: dict[str, str], sim: Simulator, tmp_path: Path
) -> Iterator[Install]:
    helm = [helm_binary(), f"--kubeconfig={node_cluster.kubeconfig}", f"--namespace={NAMESPACE}"]
    repository, tag = split_ref(node_images["image"])
    subprocess.run(
        [*helm, "install", RELEASE, str(ROOT / "charts" / "atlassian-operator"),
         "--create-namespace", "--wait", "--timeout=180s",
         f"--set=image.repository={repository}", f"--set=image.tag={tag}",
         f"--set=extraArgs={{--allow-api-base-url={sim.url}}}"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    try:
        yield Install(node_cluster.kubeconfig, NAMESPACE, tmp_path)
    finally:
        subprocess.run([*helm, "uninstall", RELEASE, "--wait"], capture_output=True, check=False)
        subprocess.run(
            ["kubectl", f"--kubeconfig={node_cluster.kubeconfig}", "delete", "namespace",
             NAMESPACE, "--wait=true", "--timeout=120s"],
            capture_output=True, check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def tmp_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("helm")


def test_a_helm_release_runs_syncs_suspends_and_serves_metrics(
    release: Install, sim: Simulator, node_kube: Kube
) -> None:
    pod = release.leader_pod()
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    e2e = e2e_on_node(node_kube, sim, release)
    account_id = "5c0000000000000000000d01"
    sim.add_user(
        account_id=account_id, name="Helm Leaver", email="helm@acme.example",
        account_status="active",
    )  # fmt: skip
    e2e.org(syncInterval="10m")
    e2e.account("leaver", accountId=account_id, desiredState="Suspended")
    e2e.wait_status(
        "aacct", "leaver",
        lambda s: s.get("accountStatus") == "Suspended"
        and condition(s, "Ready", "reason") == "InDesiredState",
        "leaver Suspended", 90,
    )  # fmt: skip
    wait_until(lambda: len(calls(sim, "disable", account_id)) == 1, 5, "one disable")
    service = json.loads(
        release.kubectl("get", "service", "atlassian-operator-metrics", "-o", "json").stdout
    )
    port = service["spec"]["ports"][0]["port"]
    # Through the Service, either replica answers; the leader (Pod IP) is the one that acted.
    for host in (service["spec"]["clusterIP"], pod["status"]["podIP"]):
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        assert "atlassian_operator_leader " in metrics, host
    assert re.search(
        r'atlassian_operator_lifecycle_actions_total\{[^}]*result="Succeeded"', metrics
    )
    log = release.log_text()
    assert "Traceback" not in log and API_KEY not in log
