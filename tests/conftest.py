"""Fixtures shared by every test layer: a real local control plane, and a namespace per test.

`control_plane` (session) starts etcd + kube-apiserver once (hack/controlplane/controlplane.py)
or, if KUBECONFIG_E2E names a kubeconfig, uses that cluster instead. Only tests that request
it (directly or through `kube`) start it, so tests/unit never does. The binaries are built
once (minutes) before the first test runs, outside any per-test timeout.
Layer-specific fixtures belong in tests/e2e/conftest.py and tests/integration/conftest.py.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from controlplane import ControlPlane, ensure_binaries

from support.kube import Kube


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the control-plane binaries (first time only) before any test's timeout starts."""
    if os.environ.get("KUBECONFIG_E2E") or session.config.option.collectonly:
        return
    if not any("control_plane" in getattr(i, "fixturenames", ()) for i in session.items):
        return
    capman = session.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():  # show build.sh's progress
        ensure_binaries()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    external = os.environ.get("KUBECONFIG_E2E")
    if external:
        if not Path(external).is_file():
            pytest.fail(f"KUBECONFIG_E2E={external} is not a file")
        yield ControlPlane.external(external)
        return
    base = tmp_path_factory.mktemp("controlplane")
    cp = ControlPlane.start(base / "state", kubeconfig=base / "kubeconfig")
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture
def kube(control_plane: ControlPlane, request: pytest.FixtureRequest) -> Iterator[Kube]:
    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    k = Kube(f"t-{base}-{uuid.uuid4().hex[:6]}", control_plane.kubeconfig)
    k.kubectl("create", "namespace", k.namespace, namespaced=False)
    yield k
    # Without a controller-manager a namespace never finishes deleting: don't wait for it.
    k.kubectl("delete", "namespace", k.namespace, "--wait=false", namespaced=False, check=False)
