"""Issue 27, item 4: the CRDs deleted under a running operator (an uninstall in the wrong order,
or a cluster admin cleaning up) and applied again.

The operator must not exit (a Deployment would crash-loop through the uninstall): it stays up,
alive for its liveness probe and not ready for its readiness probe, says once in its log why,
and acts again by itself once the CRDs are back. Each test runs on a control plane of its own:
deleting the CRDs deletes every AtlassianOrg and AtlassianAccount of the cluster.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from controlplane import ControlPlane

from support.e2e import API_KEY, E2E, condition
from support.kube import Kube
from support.operator import OperatorProcess
from support.simulator import Simulator, start_simulator

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
ALICE = "c7d000000000000000000a01"
ACCOUNTS_URL = "/apis/atlassian.operators.dev/v1beta1/atlassianaccounts"
NOT_SERVED = "CRDs are not installed"  # the one log line that says why nothing is acted on
RESUMED = "CRDs are installed: resuming"


def apply_crds(kube: Kube) -> None:
    """Apply the CRDs and wait until the API server serves and caches them."""
    kube.kubectl("apply", "-k", str(ROOT / "crds"), namespaced=False)
    kube.wait_for(
        lambda: kube.kubectl(
            "get", "--raw", f"{ACCOUNTS_URL}?resourceVersion=0", check=False, namespaced=False
        ).returncode == 0,
        60, "the CRDs served",
    )  # fmt: skip


@pytest.fixture
def private(tmp_path: Path) -> Iterator[Kube]:
    """A control plane of this test's own: deleting the CRDs must not touch other tests."""
    cp = ControlPlane.start(tmp_path / "cp" / "state", kubeconfig=tmp_path / "cp" / "kubeconfig")
    try:
        kube = Kube(f"t-crds-{uuid.uuid4().hex[:6]}", cp.kubeconfig)
        kube.kubectl("create", "namespace", kube.namespace, namespaced=False)
        apply_crds(kube)
        yield kube
    finally:
        cp.stop()


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    with start_simulator(users=5, seed=5, org_id="org-crds", api_key=API_KEY) as sim:
        sim.add_user(
            account_id=ALICE,
            name="Alice Adams",
            email="alice@acme.example",
            account_status="active",
        )
        yield sim


def org_and_account_reconciled(e2e: E2E) -> None:
    """An AtlassianOrg and an AtlassianAccount created now are listed and get their status."""
    e2e.org()
    e2e.account("alice", accountId=ALICE)
    org = e2e.wait_synced(timeout=60)
    assert org["users"]["total"] == 6
    status = e2e.wait_status(
        "aacct",
        "alice",
        lambda s: s.get("accountStatus") == "Active" and condition(s, "Ready") == "True",
        "alice observed Active and Ready",
        timeout=60,
    )
    assert status["accountId"] == ALICE


@pytest.mark.parametrize("scope", ["namespaced", "cluster-wide"])
def test_operator_waits_while_the_crds_are_gone_and_resumes_when_they_return(
    private: Kube, simulator: Simulator, scope: str
) -> None:
    namespaces = [private.namespace] if scope == "namespaced" else []
    operator = OperatorProcess(private.kubeconfig, namespaces, allow=[simulator.url])
    operator.start()
    try:
        e2e = E2E(private, simulator, operator)
        org_and_account_reconciled(e2e)
        assert operator.ready()
        pid = operator.pid

        # The CRDs go (with every object of theirs: kubectl waits for the API server to
        # delete them all before the CRDs themselves are gone).
        private.kubectl("delete", "-k", str(ROOT / "crds"), "--wait=true", namespaced=False)

        def settled() -> bool:
            exited = not operator.running()
            return exited or (NOT_SERVED in operator.log_text() and not operator.ready())

        private.wait_for(settled, 60, "the operator to report the CRDs missing, not ready")
        assert operator.running(), f"the operator exited:\n{operator.log_text()[-4000:]}"
        assert operator.pid == pid
        assert operator.healthy(), "the liveness probe failed: Kubernetes would restart the Pod"
        log = operator.log_text()
        assert "Traceback" not in log, log[-5000:]
        said = [line for line in log.splitlines() if NOT_SERVED in line]
        assert len(said) == 1, said
        assert "atlassianorgs.atlassian.operators.dev" in said[0], said[0]
        assert "v1beta1 not served): waiting for them; nothing is acted on" in said[0], said[0]

        # They come back: objects created now are acted on by the same process.
        apply_crds(private)
        private.wait_for(operator.ready, 60, "the operator ready again")
        org_and_account_reconciled(e2e)
        assert operator.running() and operator.pid == pid
        assert RESUMED in operator.log_text()
    finally:
        operator.stop()
    assert operator.process is not None
    assert operator.process.returncode == 0, "SIGTERM did not stop the operator cleanly"
    operator.assert_clean_log([API_KEY], errors_allowed=False)
