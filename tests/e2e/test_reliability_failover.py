"""Issue 14, item 1: an active and a standby operator, as `--leader-election` runs them. The
active one is SIGKILLed (as when its node dies) while suspensions are queued and some are in
flight; the standby takes the Lease once it expires and finishes the batch: every suspension
exactly once, none twice. The takeover time is measured (the lease duration bounds it)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from support.e2e import API_KEY, E2E, condition
from support.kube import Kube
from support.operator import OperatorProcess
from support.reliability import BulkKube, calls, per_account, wait_until
from support.simulator import Simulator

pytestmark = pytest.mark.e2e
LEASE_SECONDS = 15  # the default --leader-election-lease-duration


def operator(kube: Kube, sim: Simulator) -> OperatorProcess:
    return OperatorProcess(
        kube.kubeconfig, [kube.namespace], allow=[sim.url],
        extra_args=["--leader-election", "--leader-election-namespace", kube.namespace],
    )  # fmt: skip


@pytest.fixture
def pair(kube: Kube, crds: None, simulator: Simulator) -> Iterator[tuple[E2E, OperatorProcess]]:
    active, standby = operator(kube, simulator), operator(kube, simulator)
    active.start()
    kube.wait_for(lambda: "holding the leader-election lease" in active.log_text(), 30, "lease")
    standby.start()  # healthy while it waits: /healthz answers before it holds the Lease
    kube.wait_for(lambda: "waiting for the leader-election lease" in standby.log_text(), 30, "wait")
    try:
        yield E2E(kube, simulator, active), standby
    finally:
        for op in (active, standby):
            op.stop()
        for op in (active, standby):
            op.assert_clean_log([API_KEY], errors_allowed=True)


def test_the_standby_takes_over_a_batch_and_suspends_each_account_once(
    pair: tuple[E2E, OperatorProcess],
) -> None:
    e2e, standby = pair
    ids = [f"5c00000000000000000f{i:04d}" for i in range(8)]
    for i, account_id in enumerate(ids):
        e2e.sim.add_user(
            account_id=account_id, name=f"Leaver {i}", email=f"f{i}@acme.example",
            account_status="active",
        )  # fmt: skip
    e2e.org(syncInterval="10m", suspension={"maxPerSync": 20})
    names = [f"leaver{i}" for i in range(len(ids))]
    for name, account_id in zip(names, ids, strict=True):
        e2e.account(name, accountId=account_id)
    for name in names:
        e2e.wait_status("aacct", name, lambda s: condition(s, "Ready") == "True", name, 60)
    for account_id in ids:  # each disable answers after 4 s
        e2e.sim.add_fault(
            endpoint="disable", account_id=account_id, kind="slow", delay_seconds=4.0, times=1
        )
    bulk = BulkKube(e2e.kube)
    bulk.patch_accounts(names, {"desiredState": "Suspended"})
    bulk.close()
    wait_until(lambda: len(e2e.sim.faults()) == 4, 30, "four disables in flight")

    # Prometheus sees which replica acts: the active one 1, the standby 0.
    assert leader_gauge(e2e.operator) == 1.0 and leader_gauge(standby) == 0.0
    e2e.operator.kill()  # the active operator's node dies
    killed = time.monotonic()
    took = wait_until(
        lambda: re.search(r"took the leader-election lease", standby.log_text()),
        LEASE_SECONDS + 30, "the standby to take the Lease",
    )  # fmt: skip
    takeover = time.monotonic() - killed
    assert took
    for name in names:
        e2e.wait_status(
            "aacct", name,
            lambda s: s.get("accountStatus") == "Suspended"
            and condition(s, "Ready", "reason") == "InDesiredState",
            f"{name} Suspended", timeout=90,
        )  # fmt: skip
    token = e2e.request_sync()
    e2e.wait_synced(after=token, timeout=60)
    assert per_account(calls(e2e.sim, "disable")) == {account_id: 1 for account_id in ids}
    assert leader_gauge(standby) == 1.0
    print(f"standby took over {takeover:.1f}s after the active operator was killed")
    # The Lease is not renewed for its whole duration on the standby's own clock first.
    assert takeover >= LEASE_SECONDS - 3


def leader_gauge(op: OperatorProcess) -> float:
    [value] = re.findall(r"^atlassian_operator_leader (\S+)$", op.metrics(), re.MULTILINE)
    return float(value)


def test_a_standby_stops_cleanly_at_once_on_sigterm(pair: tuple[E2E, OperatorProcess]) -> None:
    """A rollout or an uninstall sends SIGTERM to the standby too. As a container's PID 1 it
    ignored it while waiting for the Lease (the kernel drops a signal PID 1 has no handler for)
    and was killed at the end of the grace period; it now exits 0 at once, and says why."""
    _, standby = pair
    assert standby.process is not None
    standby.process.terminate()
    assert standby.process.wait(timeout=10) == 0, standby.log_text()[-2000:]
    assert "SIGTERM while waiting for the leader-election lease: stopping" in standby.log_text()
