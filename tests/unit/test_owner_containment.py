"""One account's failure stays that account's (issue 25, item 10): the org and every other
account go on. Real owner loop, in-memory fakes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from owner_world import World, quiet, until, user

from atlassian_operator.core.conditions import find
from atlassian_operator.reconcile import account_side

ALICE, BOB, CAROL = "aa01", "bb02", "cc03"

JIRA = {"product": "Jira (acme)", "key": "jira-software", "name": "Jira", "status": "Active"}


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = World()
    w.atlassian.add(user(ALICE), user(BOB), user(CAROL))
    w.start()
    yield w
    await w.stop()


def accounts(world: World, odd_status: dict[str, Any] | None = None) -> None:
    """A leaver to suspend, an observed account, and last (so evaluated first) the odd one."""
    world.account("bob", accountId=BOB, desiredState="Suspended")
    world.account("carol", accountId=CAROL)
    world.account("alice", accountId=ALICE, stored_status=odd_status)


async def test_a_product_entry_without_a_product_stops_no_account(world: World) -> None:
    """`kubectl edit --subresource=status`, a restore tool or an older version wrote an entry
    without `product`: it is treated as not there, and nobody waits for it."""
    world.org()
    accounts(
        world,
        {"accountId": ALICE, "atlassianStatus": "active", "productAccess": [
            JIRA, {"key": "confluence", "name": "Confluence", "status": "Active"},
        ]},
    )  # fmt: skip
    await until(lambda: world.atlassian.disables(BOB) == 1, "bob's suspension")
    await until(lambda: world.status("bob").get("accountStatus") == "Suspended", "bob Suspended")
    await until(lambda: world.reason("carol") == "Observed", "carol's status")
    await until(lambda: world.reason("alice") == "Observed", "alice's status")
    await quiet(world)
    assert world.status("alice")["productAccess"] == [{**JIRA, "status": "Deprovisioned"}]
    assert world.org_reason() == "ListingComplete"


async def test_an_unexpected_failure_in_one_account_is_that_accounts_alone(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever fails for one account (here: its rendering) becomes its InternalError."""
    rendered = account_side.account_status

    def failing_for_alice(**kwargs: Any) -> dict[str, Any]:
        if kwargs["observation"].account_id == ALICE:
            raise KeyError("product")
        return rendered(**kwargs)

    monkeypatch.setattr(account_side, "account_status", failing_for_alice)
    world.org()
    accounts(world)
    await until(lambda: world.reason("alice") == "InternalError", "alice's InternalError")
    await until(lambda: world.atlassian.disables(BOB) == 1, "bob's suspension")
    await until(lambda: world.status("bob").get("accountStatus") == "Suspended", "bob Suspended")
    await until(lambda: world.reason("carol") == "Observed", "carol's status")
    await quiet(world)
    ready = find(world.status("alice")["conditions"], "Ready")
    assert ready is not None and ready["status"] == "False"
    assert "KeyError" in ready["message"] and "next sync" in ready["message"]
    assert world.kube.warnings("alice") == ["InternalError"]
    assert world.org_reason() == "ListingComplete"
    # Fixed (here: the fault removed), the next sync renders it as usual.
    monkeypatch.undo()
    world.tick(61)
    await until(lambda: world.reason("alice") == "Observed", "alice's status after the fix")
