"""Issue 7, item 4: crash safety.

The operator is SIGKILLed (no clean-up, as when a node dies) in the middle of a batch of
suspensions, some of which are in flight at Atlassian and some not yet sent, and restarted:
every requested suspension happens exactly once in effect, statuses converge, no Event storm,
nothing is stuck. And a restart must not refill the suspension budget: `maxPerSync` is a
rolling window one syncInterval long, whatever happened to the process in between.
"""

from __future__ import annotations

import json

import pytest

from support.e2e import E2E, condition
from support.reliability import BulkKube, calls, per_account, wait_until

pytestmark = pytest.mark.e2e
LEDGER = "atlassian.operators.dev/call-ledger=true"  # the label of the orgs' call ledgers


def leavers(e2e: E2E, count: int) -> list[str]:
    ids = [f"5c00000000000000000000{i:02d}" for i in range(count)]
    for i, account_id in enumerate(ids):
        e2e.sim.add_user(
            account_id=account_id,
            name=f"Leaver {i}",
            email=f"leaver{i}@acme.example",
            account_status="active",
        )
    return ids


def full_sync(e2e: E2E) -> None:
    """Request a listing and wait until the next one starts: the first, with the account
    reconciles that follow it, is then complete (one loop per org does both in turn)."""
    for _ in range(2):
        listed = len(e2e.sim.requests("list_users"))
        e2e.request_sync()
        e2e.kube.wait_for(
            lambda listed=listed: len(e2e.sim.requests("list_users")) > listed, 30, "a listing"
        )
    e2e.wait_synced()


def test_sigkill_in_the_middle_of_a_batch_of_suspensions(e2e: E2E) -> None:
    ids = leavers(e2e, 8)
    e2e.org(syncInterval="10m", suspension={"maxPerSync": 20})
    names = [f"leaver{i}" for i in range(len(ids))]
    for name, account_id in zip(names, ids, strict=True):
        e2e.account(name, accountId=account_id)
    for name in names:
        e2e.wait_status("aacct", name, lambda s: condition(s, "Ready") == "True", f"{name} seen")
    for account_id in ids:  # every disable answers after 4 s
        e2e.sim.add_fault(
            endpoint="disable", account_id=account_id, kind="slow", delay_seconds=4.0, times=1
        )

    bulk = BulkKube(e2e.kube)
    bulk.patch_accounts(names, {"desiredState": "Suspended"})
    bulk.close()
    # The client sends at most 4 at a time: kill once 4 are in flight and 4 not yet sent.
    wait_until(lambda: len(e2e.sim.faults()) == 4, 20, "four disables in flight")
    e2e.operator.kill()
    in_flight = set(ids) - {f["account_id"] for f in e2e.sim.faults()}
    assert len(in_flight) == 4
    # What was in flight still lands at Atlassian; what was not sent never does.
    wait_until(lambda: len(calls(e2e.sim, "disable")) == 4, 15, "the in-flight disables")
    assert set(per_account(calls(e2e.sim, "disable", status=204))) == in_flight
    e2e.sim.clear_faults()

    e2e.operator.start()
    for name in names:
        e2e.wait_status(
            "aacct",
            name,
            lambda s: (
                s.get("accountStatus") == "Suspended"
                and condition(s, "Ready", "reason") == "InDesiredState"
                and condition(s, "Synced") == "True"
            ),
            f"{name} Suspended",
            timeout=60,
        )
    full_sync(e2e)

    # Exactly once in effect: one disable per account, none repeated after the restart.
    assert per_account(calls(e2e.sim, "disable")) == {account_id: 1 for account_id in ids}
    for account_id in ids:
        assert e2e.sim.user(account_id)["user"]["account_status"] == "inactive"
    for name in names:
        events = [(ev["type"], ev["reason"]) for ev in e2e.events(name)]
        assert events in ([], [("Normal", "Suspended")]), (name, events)
        status = e2e.status("aacct", name)
        assert status["observedGeneration"] == e2e.get("aacct", name)["metadata"]["generation"]
    org = e2e.status("aorg", "acme")
    assert condition(org, "Ready") == "True" and org["users"]["suspended"] >= len(ids)


def test_a_restart_does_not_refill_the_suspension_budget(e2e: E2E) -> None:
    ids = leavers(e2e, 5)
    e2e.org(syncInterval="10m", suspension={"maxPerSync": 2})
    names = [f"leaver{i}" for i in range(len(ids))]
    for name, account_id in zip(names, ids, strict=True):
        e2e.account(name, accountId=account_id)
    for name in names:
        e2e.wait_status("aacct", name, lambda s: condition(s, "Ready") == "True", f"{name} seen")

    bulk = BulkKube(e2e.kube)
    bulk.patch_accounts(names, {"desiredState": "Suspended"})
    bulk.close()
    e2e.kube.wait_for(
        lambda: (
            sorted(condition(e2e.status("aacct", n), "Ready", "reason") or "" for n in names)
            == ["InDesiredState"] * 2 + ["SuspensionBudgetExceeded"] * 3
        ),
        30,
        "2 suspended, 3 waiting",
    )
    assert len(calls(e2e.sim, "disable")) == 2
    waiting = [
        n
        for n in names
        if condition(e2e.status("aacct", n), "Ready", "reason") == "SuspensionBudgetExceeded"
    ]

    e2e.operator.kill()
    e2e.operator.start()
    full_sync(e2e)

    # The window is 10 minutes long and has seen 2 disables: nothing more may go out.
    assert len(calls(e2e.sim, "disable")) == 2, "the restart refilled the suspension budget"
    for name in waiting:
        status = e2e.status("aacct", name)
        assert condition(status, "Ready", "reason") == "SuspensionBudgetExceeded"
        # Announced once when the wait began, not again by the restarted operator.
        assert [(ev["type"], ev["reason"]) for ev in e2e.events(name)] == [
            ("Warning", "SuspensionBudgetExceeded")
        ]


def test_the_calls_ledger_outlives_the_org_and_its_accounts(e2e: E2E) -> None:
    """A bad commit prunes the org and the accounts while the operator restarts; the revert
    creates them again. No object remembers the call any more, but the org's call ledger does,
    so the window stays spent. The ledger is a ConfigMap a person can read."""
    ids = leavers(e2e, 2)
    e2e.org(syncInterval="10m", suspension={"maxPerSync": 1})
    e2e.account("leaver0", accountId=ids[0], desiredState="Suspended")
    e2e.wait_status(
        "aacct", "leaver0", lambda s: s.get("accountStatus") == "Suspended", "leaver0 suspended"
    )
    e2e.operator.stop()
    e2e.kube.kubectl("delete", "aacct", "leaver0")
    e2e.kube.kubectl("delete", "aorg", "acme")
    ledger = json.loads(e2e.kube.kubectl("get", "configmap", "-l", LEDGER, "-o", "json").stdout)
    [configmap] = ledger["items"]
    assert configmap["data"]["orgId"] == e2e.org_manifest()["spec"]["orgId"]
    assert [row[1] for row in json.loads(configmap["data"]["calls"])] == ["leaver0"]

    e2e.operator.start()
    e2e.org(syncInterval="10m", suspension={"maxPerSync": 1})
    e2e.account("leaver1", accountId=ids[1], desiredState="Suspended")
    e2e.wait_status(
        "aacct", "leaver1",
        lambda s: condition(s, "Ready", "reason") == "SuspensionBudgetExceeded",
        "leaver1 waits for the window",
    )  # fmt: skip
    assert per_account(calls(e2e.sim, "disable")) == {ids[0]: 1}
