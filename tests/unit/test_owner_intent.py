"""A call's intent is recorded in status before the request is sent (issue 25, bug 8), so that
neither a drain nor a SIGKILL loses the call's record or the budget slot it took. A process
that finds a `pendingAction` it did not send settles it from its first complete listing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from owner_world import World, quiet, synced, until, user

ALICE, BOB = "aa01", "bb02"


def ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = World()
    w.atlassian.add(user(ALICE), user(BOB))
    w.start()
    yield w
    await w.stop()


async def test_the_intent_is_stored_before_the_request_is_sent(world: World) -> None:
    seen: list[dict[str, object]] = []
    world.atlassian.on_call = lambda action, account_id: seen.append(world.status("alice"))
    world.org()
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.atlassian.disables(ALICE) == 1, "the disable")
    await quiet(world)
    pending = seen[0].get("pendingAction")
    assert isinstance(pending, dict) and pending["action"] == "Suspend"
    assert pending["accountId"] == ALICE and pending["requestedBy"] == "kubectl-client-side-apply"
    alice = world.status("alice")
    assert "pendingAction" not in alice and alice["lastAction"]["result"] == "Succeeded"


async def test_a_write_the_api_server_refuses_means_no_call(world: World) -> None:
    world.org()
    world.account("alice", accountId=ALICE)
    await synced(world)
    world.kube.refuse_status = lambda ref, patch: 422 if "pendingAction" in patch else 0
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.reason("alice") == "InternalError", "the refusal said")
    await quiet(world)
    assert world.atlassian.calls == []
    assert world.owner.budget.spent(world.now) == 0  # the slot is given back


async def test_a_recorded_call_a_listing_shows_done_is_recorded_and_not_repeated(
    world: World,
) -> None:
    """SIGKILL after the request was sent: the next process finds the person suspended."""
    world.atlassian.add(user(ALICE, status="inactive"))
    pending = {"action": "Suspend", "accountId": ALICE, "time": ago(10), "requestedBy": "flux"}
    world.account(
        "alice", accountId=ALICE, desiredState="Suspended",
        stored_status={"accountId": ALICE, "accountStatus": "Active", "pendingAction": pending},
    )  # fmt: skip
    world.account("bob", accountId=BOB, desiredState="Suspended")
    world.org(suspension={"maxPerSync": 1})
    await synced(world)
    alice = world.status("alice")
    assert "pendingAction" not in alice
    assert alice["lastAction"]["result"] == "Succeeded"
    assert alice["lastAction"]["requestedBy"] == "flux"
    assert "took effect" in alice["lastAction"]["message"]
    assert world.atlassian.calls == []  # and the slot it took 10 s ago still counts
    assert world.reason("bob") == "SuspensionBudgetExceeded"


async def test_a_recorded_call_a_listing_shows_not_done_is_said_and_planned_again(
    world: World,
) -> None:
    """SIGKILL before the request was sent (or it failed): the person is still active."""
    pending = {"action": "Suspend", "accountId": ALICE, "time": ago(120)}
    world.account(
        "alice", accountId=ALICE, desiredState="Suspended",
        stored_status={"accountId": ALICE, "accountStatus": "Active", "pendingAction": pending},
    )  # fmt: skip
    world.atlassian.call_gate.close()  # the call planned again waits, so its record shows
    world.org()
    await until(lambda: world.atlassian.call_gate.waiting == 1, "planned again at once")
    await quiet(world)
    alice = world.status("alice")
    assert alice["lastAction"]["result"] == "Failed"
    assert alice["lastAction"]["reason"] == "OutcomeUnknown"
    assert alice["pendingAction"]["time"] != pending["time"]  # the new call's own record
    assert world.kube.warnings("alice") == []  # nothing failed at Atlassian: no Warning
    world.atlassian.call_gate.open()
    await until(lambda: world.status("alice").get("accountStatus") == "Suspended", "done")
    assert world.atlassian.disables(ALICE) == 1


async def test_an_edit_while_the_intent_is_recorded_means_no_call(world: World) -> None:
    world.org()
    world.account("alice", accountId=ALICE)
    await synced(world)
    world.kube.status_gate.close()  # the write carrying the intent waits
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.kube.status_gate.waiting >= 1, "the intent being written")
    world.account("alice", accountId=ALICE, desiredState="Active")  # changed their mind
    world.kube.status_gate.open()
    await quiet(world)
    world.tick(61)
    await synced(world, listings=2)
    assert world.atlassian.calls == []
    assert "pendingAction" not in world.status("alice")
