"""End-to-end fixtures: CRDs on the real API server, a simulator, and the operator as a process."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.e2e import API_KEY, E2E
from support.operator import OperatorProcess
from support.simulator import Simulator, start_simulator

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def crds(control_plane: Any) -> None:
    kubectl = ["kubectl", f"--kubeconfig={control_plane.kubeconfig}"]
    subprocess.run([*kubectl, "apply", "-k", str(ROOT / "crds")], check=True, capture_output=True)
    subprocess.run(
        [
            *kubectl,
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/atlassianorgs.atlassian.operators.dev",
            "crd/atlassianaccounts.atlassian.operators.dev",
        ],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    with start_simulator(
        users=40, seed=3, page_size=10, org_id="org-e2e", api_key=API_KEY, scim_every=1000
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
def e2e(kube: Any, simulator: Simulator, operator: OperatorProcess) -> E2E:
    return E2E(kube, simulator, operator)
