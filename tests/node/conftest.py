"""Fixtures for the tests on a real node: the operator runs as a Pod from the image built here.

`node_cluster` (session) is the local control plane with a node (containerd + runc + kubelet,
kube-controller-manager, kube-scheduler, kube-proxy; hack/controlplane/localnode.py), with the
operator and pause images imported. Its teardown checks that the host is as it was: no new
iptables chain, the bridge gone, the sysctls the kubelet changes restored. One node runs per
machine, so these tests run in one pytest process at a time (`make e2e-node`, or `make test`).

`sim` (module) listens on the node's bridge address, where Pods and the host both reach it;
`install` (module) is the operator installed as a user would, allowed to call that simulator.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import localnode
import pytest
from controlplane import ControlPlane, ensure_binaries, image_archives

from support.e2e import API_KEY
from support.kube import Kube
from support.node import Install, installed
from support.simulator import Simulator, start_simulator


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the node's binaries and the images before any test's timeout starts."""
    if session.config.option.collectonly:
        return
    if not any("node_cluster" in getattr(i, "fixturenames", ()) for i in session.items):
        return
    capman = session.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        ensure_binaries(node=True)
        image_archives()


@pytest.fixture(scope="session")
def node_images() -> dict[str, str]:
    return image_archives()  # built already: this only reads the references


@pytest.fixture(scope="session")
def node_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    if os.geteuid() != 0:
        pytest.fail("the node tests need root (containerd, kubelet, bridge, iptables)")
    base = tmp_path_factory.mktemp("node")
    host_before = localnode.host_snapshot()
    cp = ControlPlane.start(base / "state", kubeconfig=base / "kubeconfig", node=True)
    try:
        yield cp
    finally:
        cp.stop(keep_logs=True)
    leftovers = localnode.host_differences(host_before, localnode.host_snapshot())
    assert not leftovers, f"the node left the host changed: {leftovers}"


@pytest.fixture
def node_kube(node_cluster: ControlPlane) -> Iterator[Kube]:
    k = Kube(f"t-node-{uuid.uuid4().hex[:6]}", node_cluster.kubeconfig)
    k.kubectl("create", "namespace", k.namespace, namespaced=False)
    yield k
    k.kubectl("delete", "namespace", k.namespace, "--wait=false", namespaced=False, check=False)


@pytest.fixture(scope="module")
def sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """The module's simulator, on the node's bridge; a module's SIMULATOR dict changes it."""
    options = {
        "users": 10,
        "seed": 1,
        "org_id": "org-node",
        **getattr(request.module, "SIMULATOR", {}),
    }
    with start_simulator(api_key=API_KEY, host=localnode.NODE_IP, **options) as s:
        yield s


@pytest.fixture(scope="module")
def install(
    node_cluster: ControlPlane,
    node_images: dict[str, str],
    sim: Simulator,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Install]:
    """The module's operator, from the module's OVERLAY (default `manifests`) into its
    NAMESPACE (default atlassian-operator); uninstalled after the module's last test."""
    inst = installed(
        node_cluster, node_images, [sim], tmp_path_factory.mktemp("install"),
        overlay=getattr(request.module, "OVERLAY", "manifests"),
        namespace=getattr(request.module, "NAMESPACE", "atlassian-operator"),
    )  # fmt: skip
    try:
        yield inst
    finally:
        inst.uninstall()
