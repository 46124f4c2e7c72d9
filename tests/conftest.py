"""Fixtures shared by every test layer: a real local control plane, and a namespace per test.

`control_plane` (session) starts etcd + kube-apiserver once (hack/controlplane/controlplane.py)
or, if KUBECONFIG_E2E names a kubeconfig, uses that cluster instead. Only tests that request
it (directly or through `kube`) start it, so tests/unit never does. The binaries are built
once (minutes) before the first test runs, outside any per-test timeout.
Layer-specific fixtures belong in tests/e2e/conftest.py and tests/integration/conftest.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from controlplane import ControlPlane, ensure_binaries

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


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


@dataclass
class Kube:
    """One test's view of the cluster: its own namespace, and the real kubectl."""

    namespace: str
    kubeconfig: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, namespaced: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = [KUBECTL, f"--kubeconfig={self.kubeconfig}"]
        if namespaced:
            cmd.append(f"--namespace={self.namespace}")
        proc = subprocess.run(
            [*cmd, *args], input=input, capture_output=True, text=True, env=self.env, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def get_json(self, kind: str, name: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", kind, name, "-o", "json").stdout)  # type: ignore[no-any-return]

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 30.0, describe: str = "condition"
    ) -> Any:
        """Poll predicate() until truthy; return its value. Fail with the last value/error seen."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = predicate()
                if last:
                    return last
            except Exception as e:
                last = e
            if time.monotonic() > deadline:
                pytest.fail(
                    f"timed out after {timeout}s waiting for {describe}; last seen: {last!r}"
                )
            time.sleep(0.2)


@pytest.fixture
def kube(control_plane: ControlPlane, request: pytest.FixtureRequest) -> Iterator[Kube]:
    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    k = Kube(f"t-{base}-{uuid.uuid4().hex[:6]}", control_plane.kubeconfig)
    k.kubectl("create", "namespace", k.namespace, namespaced=False)
    yield k
    # Without a controller-manager a namespace never finishes deleting: don't wait for it.
    k.kubectl("delete", "namespace", k.namespace, "--wait=false", namespaced=False, check=False)
