"""Issue 14, item 2: control-plane faults. The operator runs as a process against a control plane
of this module's own (the shared one must not go down under other tests):

- kube-apiserver stopped for 30 s (etcd kept) and started again on the same port: the operator
  reconnects its watches without a restart; a suspension requested just before the outage and
  one requested once the server is back both land exactly once, and statuses converge;
- etcd stopped and started again under a running API server: the same;
- every connection of the operator going silent (a stalled proxy): detected and recovered.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from controlplane import ControlPlane

from support.e2e import API_KEY, E2E, condition
from support.kube import Kube
from support.operator import OperatorProcess
from support.proxy import FreezingProxy
from support.reliability import calls, per_account, wait_until
from support.simulator import Simulator, start_simulator

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
OUTAGE_SECONDS = 30.0
ALICE, BOB = "5c0000000000000000000e01", "5c0000000000000000000e02"


@pytest.fixture
def private(tmp_path: Path) -> Iterator[tuple[ControlPlane, Kube]]:
    cp = ControlPlane.start(tmp_path / "cp" / "state", kubeconfig=tmp_path / "cp" / "kubeconfig")
    try:
        kube = Kube(f"t-outage-{uuid.uuid4().hex[:6]}", cp.kubeconfig)
        kube.kubectl("create", "namespace", kube.namespace, namespaced=False)
        kube.kubectl("apply", "-k", str(ROOT / "crds"), namespaced=False)
        kube.wait_for(
            lambda: kube.kubectl(
                "get", "--raw", "/apis/atlassian.operators.dev/v1beta1/atlassianaccounts",
                check=False, namespaced=False,
            ).returncode == 0,
            60, "the CRDs served",
        )  # fmt: skip
        yield cp, kube
    finally:
        cp.stop()


@pytest.fixture
def world(private: tuple[ControlPlane, Kube]) -> Iterator[tuple[ControlPlane, E2E]]:
    cp, kube = private
    with start_simulator(users=5, seed=9, org_id="org-outage", api_key=API_KEY) as sim:
        operator = OperatorProcess(kube.kubeconfig, [kube.namespace], allow=[sim.url])
        operator.start()
        try:
            yield cp, E2E(kube, sim, operator)
        finally:
            operator.stop()
        operator.assert_clean_log([API_KEY], errors_allowed=True)


def two_accounts(e2e: E2E) -> None:
    sim: Simulator = e2e.sim
    for account_id, name in ((ALICE, "alice"), (BOB, "bob")):
        sim.add_user(
            account_id=account_id, name=name.title(), email=f"{name}@acme.example",
            account_status="active",
        )  # fmt: skip
    e2e.org(syncInterval="30s")
    e2e.account("alice", accountId=ALICE)
    e2e.account("bob", accountId=BOB)
    for name in ("alice", "bob"):
        e2e.wait_status("aacct", name, lambda s: condition(s, "Ready") == "True", name, 60)


def converged(e2e: E2E, pid: int, timeout: float = 120) -> dict[str, Any]:
    for name in ("alice", "bob"):
        e2e.wait_status(
            "aacct", name,
            lambda s: s.get("accountStatus") == "Suspended"
            and condition(s, "Ready", "reason") == "InDesiredState",
            f"{name} Suspended", timeout=timeout,
        )  # fmt: skip
    token = e2e.request_sync()
    org = e2e.wait_synced(after=token, timeout=90)
    disables = per_account(calls(e2e.sim, "disable"))
    assert disables == {ALICE: 1, BOB: 1}
    assert e2e.operator.process is not None and e2e.operator.process.pid == pid  # no restart
    assert e2e.operator.healthy()
    return org


@pytest.mark.parametrize("component", ["kube-apiserver", "etcd"])
def test_the_operator_rides_out_a_control_plane_outage(
    world: tuple[ControlPlane, E2E], component: str
) -> None:
    cp, e2e = world
    assert e2e.operator.process is not None
    pid = e2e.operator.process.pid
    two_accounts(e2e)
    e2e.account("alice", accountId=ALICE, desiredState="Suspended")  # just before the outage
    cp.stop_component(component)
    down_at = time.monotonic()
    # The outage lasts OUTAGE_SECONDS: a scenario's length, not a wait for a state.
    time.sleep(OUTAGE_SECONDS)
    cp.start_component(component)
    back = time.monotonic()
    # Once the API server answers again, a user's `kubectl apply` goes through.
    e2e.kube.wait_for(
        lambda: e2e.kube.kubectl("get", "aacct", "bob", check=False).returncode == 0,
        60, "the API server to serve again",
    )  # fmt: skip
    e2e.account("bob", accountId=BOB, desiredState="Suspended")
    wait_until(lambda: calls(e2e.sim, "disable", BOB, status=204), 60, "bob's suspension")
    recovered = time.monotonic() - back
    org = converged(e2e, pid)
    print(
        f"{component} down {back - down_at:.0f}s; bob suspended {recovered:.1f}s after it was "
        "back, by the same operator process"
    )
    assert condition(org, "Ready") == "True"


def test_a_silently_stalled_connection_is_detected_and_the_operator_recovers(
    private: tuple[ControlPlane, Kube], tmp_path: Path
) -> None:
    """Every connection the operator has open to the API server goes silent (nothing closed,
    nothing answered). kopf's watch notices after its inactivity timeout (70 s; the API server
    sends a bookmark every 60 s) and reconnects; a status write on a silent pooled connection
    times out (30 s) and is retried on a new one. A suspension requested meanwhile lands once."""
    cp, kube = private
    assert cp.server is not None
    host, port = cp.server.removeprefix("https://").rsplit(":", 1)
    with (
        FreezingProxy(host, int(port)) as proxy,
        start_simulator(users=5, seed=9, org_id="org-stall", api_key=API_KEY) as sim,
    ):
        through_proxy = tmp_path / "proxy.kubeconfig"
        through_proxy.write_text(
            kube.kubeconfig.read_text().replace(cp.server, f"https://127.0.0.1:{proxy.port}")
        )
        operator = OperatorProcess(through_proxy, [kube.namespace], allow=[sim.url]).start()
        try:
            e2e = E2E(kube, sim, operator)  # the test itself talks to the API server directly
            two_accounts(e2e)
            e2e.account("bob", accountId=BOB, desiredState="Suspended")
            wait_until(lambda: calls(sim, "disable", BOB, status=204), 30, "bob's suspension")
            assert proxy.freeze() > 0
            frozen_at = time.monotonic()
            e2e.account("alice", accountId=ALICE, desiredState="Suspended")
            assert operator.process is not None
            converged(e2e, operator.process.pid, timeout=200)
            print(f"recovered {time.monotonic() - frozen_at:.0f}s after every connection froze")
        finally:
            operator.stop()
        operator.assert_clean_log([API_KEY], errors_allowed=True)
