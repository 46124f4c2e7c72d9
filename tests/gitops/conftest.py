"""GitOps fixtures: Flux CRDs and controllers, a Git server on loopback, the operator, a simulator.

Each test gets its own namespace, simulator, operator, Git repository and pair of Flux
controllers (watching only that namespace), so no test sees another's commits.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.e2e import API_KEY
from support.gitops import EXAMPLE, FluxControllers, GitServer, Repository, flux_dir
from support.operator import OperatorProcess
from support.simulator import Simulator, start_simulator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_ORG = yaml.safe_load((EXAMPLE / "atlassian" / "org.yaml").read_text())


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build Flux (first time only) before any test's timeout starts, showing its progress."""
    if session.config.option.collectonly:
        return
    if not any(str(item.path).startswith(str(Path(__file__).parent)) for item in session.items):
        return
    capman = session.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        subprocess.run(
            [str(ROOT / "hack" / "flux" / "build.sh")], check=True, stdout=subprocess.DEVNULL
        )
        for script in ("argocd/build.sh", "tools/kubeconform.sh", "gitops/crds.sh"):
            subprocess.run([str(ROOT / "hack" / script)], check=True, stdout=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def crds(control_plane: Any) -> None:
    """The operator's CRDs and Flux's (from the same module versions as its binaries)."""
    kubectl = ["kubectl", f"--kubeconfig={control_plane.kubeconfig}"]
    subprocess.run([*kubectl, "apply", "-k", str(ROOT / "crds")], check=True, capture_output=True)
    subprocess.run(
        [*kubectl, "apply", "--server-side", "-f", str(flux_dir() / "crds")],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*kubectl, "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """An org with the example's orgId and no generated users: tests add the people they need."""
    with start_simulator(
        users=0, seed=5, org_id=EXAMPLE_ORG["spec"]["orgId"], api_key=API_KEY, scim_every=1000
    ) as sim:
        yield sim


@pytest.fixture
def operator(kube: Any, crds: None, simulator: Simulator) -> Iterator[OperatorProcess]:
    op = OperatorProcess(kube.kubeconfig, [kube.namespace], allow=[simulator.url])
    op.start()
    try:
        yield op
    finally:
        op.stop()
        op.assert_clean_log([API_KEY])


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitServer]:
    (tmp_path / "git").mkdir()
    with GitServer(tmp_path / "git") as server:
        yield server


@pytest.fixture
def repository(tmp_path: Path, git_server: GitServer) -> Repository:
    return Repository(tmp_path / "git" / "platform")


@pytest.fixture
def flux(kube: Any, crds: None, tmp_path: Path) -> Iterator[FluxControllers]:
    controllers = FluxControllers(flux_dir(), kube.kubeconfig, kube.namespace, tmp_path / "flux")
    (tmp_path / "flux").mkdir()
    try:
        controllers.start()
        yield controllers
    finally:
        controllers.stop()
        if os.environ.get("GITOPS_KEEP_LOGS"):
            print(controllers.log_text("kustomize-controller")[-5000:])
