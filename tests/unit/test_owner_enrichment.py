"""Know before you act (issue 12): the v2 search and the user management pre-check decide
whether a lifecycle call is made at all; a lost call outcome is observed before calling again.

The owner runs its real loop against in-memory fakes; gates decide the interleavings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from owner_world import FakeAtlassian, World, quiet, until, user

from atlassian_operator.atlassian import (
    AtlassianUnavailable,
    DirectoryUser,
    LifecyclePermission,
    ListingInconsistent,
    OutcomeUnknown,
)
from atlassian_operator.reconcile import effects

ALICE, BOB, ADMIN, SCIM = "aa01", "bb02", "ad03", "sc04"
GUEST = "gu05"  # unmanaged: only the v2 search knows them


def guest() -> DirectoryUser:
    return DirectoryUser(
        account_id=GUEST,
        account_status="active",
        claim_status="unmanaged",
        management_source="invited",
        membership_status="active",
        email="guest@partner.example",
        name="Gus Guest",
    )


@pytest.fixture
async def world() -> AsyncIterator[World]:
    atlassian = FakeAtlassian()
    atlassian.add(user(ALICE), user(BOB), user(ADMIN), user(SCIM))
    atlassian.directory[ADMIN] = {"platform_roles": ("atlassian/org-admin",)}
    atlassian.directory[SCIM] = {"management_source": "synced"}
    atlassian.unmanaged.append(guest())
    w = World(atlassian)
    w.start()
    yield w
    await w.stop()


async def synced(world: World, listings: int = 1) -> None:
    await until(lambda: world.atlassian.listings >= listings, f"listing {listings}")
    await until(
        lambda: world.org_status().get("lastSyncTime") and world.org_reason() != "RateLimited",
        "the org synced",
    )
    await quiet(world)


def condition(world: World, type_: str) -> dict[str, str]:
    found = [c for c in world.org_status().get("conditions", []) if c["type"] == type_]
    assert found, f"no {type_} condition in {world.org_status()}"
    return found[0]


async def test_fresh_enrichment_refuses_idp_admin_and_unmanaged_accounts_without_a_call(
    world: World,
) -> None:
    world.org()
    for name, ident in (("scim", SCIM), ("admin", ADMIN), ("guest", GUEST), ("alice", ALICE)):
        world.account(name, accountId=ident, desiredState="Suspended")
    await synced(world)
    await until(lambda: world.atlassian.disables(ALICE) == 1, "alice disabled")
    await quiet(world)
    assert world.reason("scim") == "ManagedByIdentityProvider"
    assert "identity provider" in world.status("scim")["conditions"][0]["message"]
    assert world.reason("admin") == "OrganizationAdmin"
    assert "allowAdmins" in world.status("admin")["conditions"][0]["message"]
    assert world.reason("guest") == "UnmanagedAccount"
    # Fresh facts that say how each account is managed need no pre-check; nothing else is
    # disabled.
    assert world.atlassian.calls == [("disable", ALICE)]
    assert world.atlassian.checks == []
    assert world.kube.warnings("scim") == ["ManagedByIdentityProvider"]
    # What the search said shows on each account.
    assert world.status("scim")["managedBy"] == "IdentityProvider"
    assert world.status("admin")["platformRoles"] == ["atlassian/org-admin"]
    assert world.status("alice")["managedBy"] == "Atlassian"
    assert world.status("guest")["claimStatus"] == "unmanaged"
    assert world.status("guest")["email"] == "guest@partner.example"
    assert "productAccess" not in world.status("guest")


async def test_allow_admins_lets_an_admin_be_suspended(world: World) -> None:
    world.org(suspension={"allowAdmins": True})
    world.account("admin", accountId=ADMIN, desiredState="Suspended")
    await synced(world)
    await until(lambda: world.atlassian.disables(ADMIN) == 1, "the admin disabled")
    await quiet(world)
    assert world.status("admin")["accountStatus"] == "Suspended"


async def test_unmanaged_users_are_observed_counted_and_discovered(world: World) -> None:
    world.org(accountDiscovery={"enabled": True})
    await synced(world)
    await until(lambda: len(world.kube.created) == 5, "five discovered accounts")
    assert any(name.endswith(GUEST) for name in world.kube.created)
    users = world.org_status()["users"]
    assert users["total"] == 5 and users["unmanaged"] == 1
    enrichment = world.org_status()["enrichment"]
    assert enrichment == {
        "fresh": True, "users": 5, "unmanaged": 1, "admins": 1,
        "managedByIdentityProvider": 1, "apiRequests": 0,
    }  # fmt: skip
    assert condition(world, "Enriched")["status"] == "True"
    world.account("guest", accountId=GUEST)
    await until(lambda: world.reason("guest") == "Observed", "observed")
    ready = world.status("guest")["conditions"][0]
    assert ready["reason"] == "Observed" and "lifecycle calls do not apply" in ready["message"]


async def test_a_failed_search_fails_nothing_and_every_call_is_checked_first(
    world: World,
) -> None:
    world.atlassian.fail_search = AtlassianUnavailable("Atlassian is unavailable: search 503")
    world.atlassian.permissions[SCIM] = LifecyclePermission(False, "externalDirectory.scim")
    world.org(suspension={"maxPerSync": 1})
    world.account("scim", accountId=SCIM, desiredState="Suspended")
    await synced(world)
    await until(lambda: world.reason("scim") == "ManagedByIdentityProvider", "refused")
    # The sync itself is fine; the org says why enrichment is missing.
    assert condition(world, "Ready")["status"] == "True"
    enriched = condition(world, "Enriched")
    assert enriched["status"] == "False" and enriched["reason"] == "AtlassianUnavailable"
    assert "user management API" in enriched["message"]
    failures = world.metrics.registry.get_sample_value(
        "atlassian_operator_enrichment_failures_total",
        {"namespace": "team", "org": "acme", "reason": "AtlassianUnavailable"},
    )
    assert failures == 1
    assert world.atlassian.checks == [SCIM] and world.atlassian.disables() == 0
    # The refusal gave its budget slot back: with maxPerSync 1, alice still goes at once.
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.atlassian.disables(ALICE) == 1, "alice disabled")
    assert world.atlassian.checks == [SCIM, ALICE]
    await quiet(world)
    # One answer per listing: re-evaluating the refused account asks nothing more.
    world.account("scim", accountId=SCIM, desiredState="Suspended", suspensionMessage="bye")
    await quiet(world)
    assert world.atlassian.checks == [SCIM, ALICE]
    # The next listing asks again.
    world.tick(61)
    await synced(world, listings=2)
    await until(lambda: world.atlassian.checks.count(SCIM) == 2, "asked again")
    assert world.atlassian.disables(SCIM) == 0


async def test_a_search_that_would_not_end_enriches_nothing_and_every_call_is_checked(
    world: World,
) -> None:
    """Issue 25 (14), the v2 half: the abandoned search says so, and no fact comes from it."""
    world.atlassian.fail_search = ListingInconsistent(
        "stopped searching users of org 'org-1' (v2, page 10), a listing that would not end"
    )
    world.org()
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await synced(world)
    enriched = condition(world, "Enriched")
    assert (enriched["status"], enriched["reason"]) == ("False", "ListingInconsistent")
    assert "would not end" in enriched["message"]
    await until(lambda: world.atlassian.disables(ALICE) == 1, "alice disabled")
    assert world.atlassian.checks == [ALICE], "checked first: no search vouches for her"


async def test_what_an_older_search_said_still_stops_a_call(world: World) -> None:
    world.org()
    await synced(world)
    world.atlassian.fail_search = AtlassianUnavailable("Atlassian is unavailable: search 503")
    world.tick(61)
    await synced(world, listings=2)
    assert world.org_status()["enrichment"]["fresh"] is False
    world.account("admin", accountId=ADMIN, desiredState="Suspended")
    await until(lambda: world.reason("admin") == "OrganizationAdmin", "still an admin")
    await quiet(world)
    assert world.atlassian.checks == [] and world.atlassian.disables() == 0
    # ...but cannot let one go on its own: alice is checked first.
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.atlassian.disables(ALICE) == 1, "alice disabled")
    assert world.atlassian.checks == [ALICE]


async def test_an_unknown_management_source_is_checked_first(world: World) -> None:
    world.atlassian.directory[ALICE] = {"management_source": None}
    world.org()
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await synced(world)
    await until(lambda: world.atlassian.disables(ALICE) == 1, "alice disabled")
    assert world.atlassian.checks == [ALICE]
    assert "managedBy" not in world.status("alice")


async def test_with_enrichment_off_there_is_no_search_and_calls_are_checked(
    world: World,
) -> None:
    world.org(enrichment={"enabled": False})
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await synced(world)
    await until(lambda: world.atlassian.disables(ALICE) == 1, "alice disabled")
    assert world.atlassian.searches == 0 and world.atlassian.checks == [ALICE]
    assert "enrichment" not in world.org_status()
    assert condition(world, "Enriched")["reason"] == "EnrichmentDisabled"
    assert "unmanaged" not in world.org_status()["users"]


async def test_turning_enrichment_off_drops_what_the_last_search_said(world: World) -> None:
    world.org()
    world.account("admin", accountId=ADMIN)
    await synced(world)
    assert world.org_status()["enrichment"]["admins"] == 1
    assert world.status("admin")["platformRoles"] == ["atlassian/org-admin"]
    world.org(generation=2, enrichment={"enabled": False})
    await until(lambda: "enrichment" not in world.org_status(), "the block dropped")
    await until(lambda: "platformRoles" not in world.status("admin"), "the roles dropped")
    assert condition(world, "Enriched")["reason"] == "EnrichmentDisabled"
    assert "unmanaged" not in world.org_status()["users"]


async def test_a_slow_search_is_abandoned_and_the_listing_is_not_held(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(effects, "SEARCH_GRACE_SECONDS", 0.05)
    world.atlassian.search_gate.close()  # the search never answers
    world.org()
    world.account("alice", accountId=ALICE)
    await synced(world)
    assert world.status("alice")["accountStatus"] == "Active"
    assert condition(world, "Enriched")["reason"] == "SearchTooSlow"
    assert condition(world, "Ready")["status"] == "True"
    world.atlassian.search_gate.open()


async def test_a_disable_whose_outcome_is_lost_is_observed_before_any_second_call(
    world: World,
) -> None:
    lost = OutcomeUnknown("disabling account 'aa01': no answer within 30s")
    world.atlassian.fail_calls = lambda action, ident: lost if ident == ALICE else None
    world.org()
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await synced(world)
    await until(lambda: world.reason("alice") == "OutcomeUnknown", "OutcomeUnknown")
    # The call did not take effect (the fake changed nothing), but nobody knows that yet:
    # no retry however often the account is looked at, until a listing shows the truth.
    world.atlassian.fail_calls = lambda action, ident: None
    world.account("alice", accountId=ALICE, desiredState="Suspended", suspensionMessage="bye")
    await quiet(world)
    world.tick(2)
    await quiet(world)
    assert world.atlassian.disables(ALICE) == 1
    # The next listing comes soon (not a whole interval later) and shows alice still active:
    # now the call is made again, once.
    world.tick(5)
    await synced(world, listings=2)
    await until(lambda: world.atlassian.disables(ALICE) == 2, "the second call")
    await until(lambda: world.status("alice").get("accountStatus") == "Suspended", "Suspended")


async def test_a_lost_outcome_that_did_take_effect_is_not_repeated(world: World) -> None:
    def took_effect_but_lost(action: str, ident: str) -> OutcomeUnknown | None:
        if ident != ALICE:
            return None
        world.atlassian.users[ALICE] = user(ALICE, status="inactive")
        return OutcomeUnknown("disabling account 'aa01': no answer within 30s")

    world.atlassian.fail_calls = took_effect_but_lost
    world.org()
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await synced(world)
    await until(lambda: world.reason("alice") == "OutcomeUnknown", "OutcomeUnknown")
    world.tick(5)
    await synced(world, listings=2)
    await until(lambda: world.status("alice").get("accountStatus") == "Suspended", "seen")
    await quiet(world)
    assert world.reason("alice") == "InDesiredState"
    assert world.atlassian.disables(ALICE) == 1


async def test_an_admin_a_later_search_does_not_return_stays_protected(world: World) -> None:
    world.org()
    world.account("admin", accountId=ADMIN, desiredState="Suspended")
    await synced(world)
    await until(lambda: world.reason("admin") == "OrganizationAdmin", "an admin")
    # The next search succeeds but skips him: it says nothing about him, so he stays an admin.
    world.atlassian.search_omits = {ADMIN}
    world.tick(61)
    await synced(world, listings=2)
    world.account("admin", accountId=ADMIN, desiredState="Suspended", suspensionMessage="bye")
    await quiet(world)
    assert world.atlassian.disables(ADMIN) == 0
    ready = world.status("admin")["conditions"][0]
    assert ready["reason"] == "OrganizationAdmin" and "org-admin" in ready["message"]
    assert world.status("admin")["platformRoles"] == ["atlassian/org-admin"]
    enriched = condition(world, "Enriched")
    assert enriched["status"] == "True"
    assert "for 1 user of the org it did not return" in enriched["message"]
    # A search that returns him without the role is what lifts the protection.
    world.atlassian.search_omits = set()
    world.atlassian.directory[ADMIN] = {}
    world.tick(61)
    await synced(world, listings=3)
    await until(lambda: world.atlassian.disables(ADMIN) == 1, "the former admin disabled")
    assert world.atlassian.checks == []


async def test_a_re_created_org_still_knows_an_admin_its_first_search_leaves_out(
    world: World,
) -> None:
    """Found by the model-based test: re-creating the AtlassianOrg (a Flux prune-and-create)
    dropped what earlier searches said, so an admin whom the new object's first search left
    out was disabled. Like the budget, what is known of the org's people belongs to the orgId."""
    world.org()
    await synced(world)
    world.delete_org()
    await quiet(world)
    world.atlassian.search_omits = {ADMIN}
    world.org(uid="org-uid-2", created="2026-12-02T00:00:00Z")
    await synced(world, listings=2)
    world.account("admin", accountId=ADMIN, desiredState="Suspended")
    await until(lambda: world.reason("admin") == "OrganizationAdmin", "still an admin")
    await quiet(world)
    assert world.atlassian.disables(ADMIN) == 0
