"""Whom an account acts on: only the person its *current* spec names (issue 25, bugs 1 and 3).

A pin is valid only for the spec it was resolved from, and every per-person fact in status
belongs to one account ID. Real owner loop, in-memory fakes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from owner_world import World, synced, until, user

ALICE, BOB, NEWHIRE = "aa01", "bb02", "nn03"


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = World()
    w.atlassian.add(
        user(ALICE, email="alice@acme.example", last_active=datetime.now(UTC)),
        user(BOB, status="inactive", email="bob@acme.example"),
        user(NEWHIRE, email="new@acme.example"),  # has never logged in
    )
    w.start()
    yield w
    await w.stop()


async def test_an_email_edited_to_nobody_never_suspends_the_person_it_was_pinned_to(
    world: World,
) -> None:
    world.org()
    world.account("alice", email="alice@acme.example")
    await synced(world)
    assert world.status("alice")["accountId"] == ALICE
    # A typo: the new address matches nobody. The old pin must not carry the suspension.
    world.account("alice", email="alise@acme.example", desiredState="Suspended")
    await until(lambda: world.reason("alice") == "AccountNotFound", "AccountNotFound")
    world.tick(61)
    await synced(world, listings=2)
    assert world.atlassian.disables() == 0
    assert "accountId" not in world.status("alice")
    assert "alise@acme.example" in world.status("alice")["conditions"][0]["message"]


async def test_an_email_edited_to_nobody_never_re_enables_the_leaver_it_was_pinned_to(
    world: World,
) -> None:
    world.org(suspension={"allowReactivation": True})
    world.account("bob", email="bob@acme.example")
    await synced(world)
    assert world.status("bob")["accountId"] == BOB
    world.account("bob", email="rob@acme.example", desiredState="Active")
    await until(lambda: world.reason("bob") == "AccountNotFound", "AccountNotFound")
    world.tick(61)
    await synced(world, listings=2)
    assert world.atlassian.calls == []


async def test_an_email_edited_to_another_person_resolves_to_that_person(world: World) -> None:
    world.org()
    world.account("who", email="alice@acme.example")
    await synced(world)
    world.account("who", email="new@acme.example")
    await until(lambda: world.status("who").get("accountId") == NEWHIRE, "the new person")
    assert world.status("who")["pinnedFrom"] == {"email": "new@acme.example"}


async def test_a_new_hire_never_inherits_another_persons_inactivity_clock(world: World) -> None:
    world.org(inactivity={"suspendAfterDays": 90, "mode": "Enforce"})
    # Watched alice (a daily user) for 200 days.
    world.account(
        "seat", accountId=ALICE, stored_status={"accountId": ALICE, "firstObserved": ago(200)}
    )
    await synced(world)
    assert world.atlassian.calls == []
    # The seat is pointed at a new hire who has never logged in.
    world.account("seat", accountId=NEWHIRE)
    await until(lambda: world.status("seat").get("accountId") == NEWHIRE, "the new hire")
    world.tick(61)
    await synced(world, listings=2)
    assert world.atlassian.calls == []
    first = datetime.strptime(world.status("seat")["firstObserved"], "%Y-%m-%dT%H:%M:%SZ")
    assert datetime.now(UTC) - first.replace(tzinfo=UTC) < timedelta(hours=1)
    assert world.reason("seat") == "Observed"
