"""The owner plans the whole org, then acts, and plans again after every call (issue 25, bugs
4, 5 and 13): an evaluation made before another call started, or before a rival was seen, never
acts, and every lifecycle call, re-enables too, takes a slot of the org's budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from owner_world import World, quiet, synced, until, user

IDLE, X = "id01", "xx02"


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = World()
    w.atlassian.add(
        user(IDLE, last_active=datetime.now(UTC) - timedelta(days=300)),
        user(X, email="x@acme.example"),
    )
    w.start()
    yield w
    await w.stop()


async def test_two_observe_only_accounts_for_one_idle_user_make_one_disable_call(
    world: World,
) -> None:
    world.org(inactivity={"suspendAfterDays": 90, "mode": "Enforce"})
    long_ago = (datetime.now(UTC) - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name in ("idle-a", "idle-b"):
        world.account(name, accountId=IDLE, stored_status={"accountId": IDLE,
                                                           "firstObserved": long_ago})  # fmt: skip
    await synced(world)
    await until(lambda: world.atlassian.disables(IDLE) >= 1, "the policy's disable")
    world.tick(61)
    await synced(world, listings=2)
    assert world.atlassian.disables(IDLE) == 1


@pytest.mark.parametrize("first", ["offboard-x", "keep-x"])
async def test_a_conflict_present_at_start_never_acts_whatever_the_order(
    world: World, first: str
) -> None:
    specs = {
        "offboard-x": {"accountId": X, "desiredState": "Suspended"},
        "keep-x": {"email": "x@acme.example", "desiredState": "Active"},
    }
    for name in sorted(specs, key=lambda n: n != first):
        world.account(name, **specs[name])
    world.org()
    await synced(world)
    world.tick(61)
    await synced(world, listings=2)
    assert world.atlassian.calls == []
    assert world.reason("offboard-x") == "DuplicateAccount"
    assert world.reason("keep-x") == "DuplicateAccount"


async def test_re_enables_take_slots_of_the_same_budget(world: World) -> None:
    leavers = [f"lv{i:02d}" for i in range(5)]
    world.atlassian.add(*(user(i, status="inactive") for i in leavers))
    world.org(suspension={"maxPerSync": 2, "allowReactivation": True})
    for ident in leavers:
        world.account(ident, accountId=ident, desiredState="Active")  # a bad revert
    await synced(world)
    await until(lambda: len(world.atlassian.calls) >= 2, "two re-enables")
    await quiet(world)
    assert len(world.atlassian.calls) == 2
    waiting = [i for i in leavers if world.reason(i) == "SuspensionBudgetExceeded"]
    assert len(waiting) == 3
    message = world.status(waiting[0])["conditions"][0]["message"]
    assert "re-enable waits its turn" in message
    world.tick(61)
    await until(lambda: len(world.atlassian.calls) >= 4, "two more in the next window")
    await quiet(world)
    assert len(world.atlassian.calls) == 4
