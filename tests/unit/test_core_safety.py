"""The lifecycle gate: what the v2 search and the user management API say, before any call,
and what an earlier search said of a user the latest one did not return."""

from __future__ import annotations

import pytest

from atlassian_operator.atlassian import DirectoryUser, LifecyclePermission
from atlassian_operator.core.decisions import Action
from atlassian_operator.core.directory import (
    Directory,
    DirectoryFacts,
    DirectorySearch,
    carry_forward,
)
from atlassian_operator.core.safety import lifecycle_gate

SUSPEND, REACTIVATE = Action.SUSPEND, Action.REACTIVATE


def facts(
    source: str | None = "invited", claim: str = "managed", roles: tuple[str, ...] = ()
) -> DirectoryFacts:
    return DirectoryFacts.of(
        DirectoryUser(
            account_id="a1", management_source=source, claim_status=claim, platform_roles=roles
        )
    )


def gate(
    action: Action = SUSPEND,
    found: DirectoryFacts | None = None,
    *,
    fresh: bool = True,
    permission: LifecyclePermission | None = None,
    allow_admins: bool = False,
) -> tuple[str | None, bool]:
    result = lifecycle_gate(
        action, "jo@acme.example", found, fresh=fresh, permission=permission,
        allow_admins=allow_admins,
    )  # fmt: skip
    return (result.blocked.reason if result.blocked else None), result.ask_first


@pytest.mark.parametrize(
    ("found", "fresh", "expected"),
    [
        (facts(), True, (None, False)),  # known and invited: go
        (facts(), False, (None, True)),  # known only from an older search: ask first
        (facts(source=None), True, (None, True)),  # Atlassian could not tell: ask first
        (None, True, (None, True)),  # not in the search (joined in between): ask first
        (facts(source="synced"), True, ("ManagedByIdentityProvider", False)),
        (facts(source="synced"), False, ("ManagedByIdentityProvider", False)),  # stale blocks
        (facts(claim="unmanaged"), True, ("UnmanagedAccount", False)),
        (facts(roles=("atlassian/org-admin",)), True, ("OrganizationAdmin", False)),
        (facts(roles=("atlassian/site-admin",)), False, ("OrganizationAdmin", False)),
        (facts(roles=("atlassian/user-access-admin",)), True, (None, False)),  # not an admin
    ],
)
def test_directory_facts_stop_a_suspension_or_let_it_go(
    found: DirectoryFacts | None, fresh: bool, expected: tuple[str | None, bool]
) -> None:
    assert gate(SUSPEND, found, fresh=fresh) == expected


def test_allow_admins_lets_an_admin_go_and_admins_may_always_be_re_enabled() -> None:
    admin = facts(roles=("atlassian/org-admin",))
    assert gate(SUSPEND, admin, allow_admins=True) == (None, False)
    assert gate(REACTIVATE, admin) == (None, False)


def test_idp_and_unmanaged_accounts_cannot_be_re_enabled_either() -> None:
    assert gate(REACTIVATE, facts(source="synced"))[0] == "ManagedByIdentityProvider"
    assert gate(REACTIVATE, facts(claim="unmanaged"))[0] == "UnmanagedAccount"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("externalDirectory.scim", "ManagedByIdentityProvider"),
        ("externalDirectory.google", "ManagedByIdentityProvider"),
        ("forbidden.targetUnverified", "UnmanagedAccount"),
        ("managedAccount", "ManagedByAnotherOrganization"),
        ("blocked.exportControl", "ExportControlled"),
        ("administrative", "LifecycleNotPermitted"),
        ("someNewReason", "LifecycleNotPermitted"),
    ],
)
def test_each_restriction_reason_of_the_pre_check_is_a_condition_reason(
    reason: str, expected: str
) -> None:
    assert gate(permission=LifecyclePermission(False, reason)) == (expected, False)


def test_an_allowed_pre_check_lets_the_call_go_without_asking_again() -> None:
    assert gate(permission=LifecyclePermission(True), fresh=False) == (None, False)


def test_a_stale_fact_that_blocks_wins_over_an_allowed_pre_check() -> None:
    admin = facts(roles=("atlassian/org-admin",))
    assert gate(SUSPEND, admin, fresh=False, permission=LifecyclePermission(True)) == (
        "OrganizationAdmin",
        False,
    )


def test_the_join_keeps_unmanaged_users_v1_cannot_list_and_nothing_it_invents() -> None:
    listed = [
        DirectoryUser(account_id="m1", claim_status="managed", management_source="invited"),
        DirectoryUser(account_id="u1", claim_status="unmanaged", email="x@partner.example"),
        # Managed but not in v1: joined between the two listings; v1 shows them next time.
        DirectoryUser(account_id="m2", claim_status="managed"),
    ]
    search = DirectorySearch()
    search.add(listed)
    directory = Directory.join(search, ["m1"], requests=3)
    assert [u.account_id for u in directory.unmanaged] == ["u1"]
    assert directory.unmanaged[0].email == "x@partner.example"
    assert set(directory.facts) == {"m1", "u1", "m2"} and len(directory) == 3
    stale = directory.stale()
    assert (stale.fresh, stale.requests, stale.facts) == (False, 0, directory.facts)


ADMIN = facts(roles=("atlassian/org-admin",))
SCIM = facts(source="synced")
GUEST = facts(claim="unmanaged")
INVITED = facts()


def searched(**found: DirectoryFacts) -> Directory:
    return Directory(found, _ids=frozenset(found))


@pytest.mark.parametrize(
    ("earlier", "search", "members", "expected"),
    [
        pytest.param({"a1": ADMIN}, {}, {"a1"}, {"a1": ADMIN}, id="admin-skipped-stays-admin"),
        pytest.param({"a1": SCIM}, {}, {"a1"}, {"a1": SCIM}, id="idp-skipped-stays-idp"),
        pytest.param({"a1": GUEST}, {}, {"a1"}, {"a1": GUEST}, id="unmanaged-skipped-stays"),
        pytest.param({"a1": INVITED}, {}, {"a1"}, {}, id="nothing-to-block-nothing-carried"),
        pytest.param({"a1": ADMIN}, {"a1": INVITED}, {"a1"}, {}, id="returned-says-otherwise"),
        pytest.param({"a1": ADMIN}, {"a1": ADMIN}, {"a1"}, {}, id="returned-is-fresh"),
        pytest.param({"a1": ADMIN}, {}, set(), {}, id="left-the-org"),
        pytest.param({"a1": ADMIN}, {}, None, {"a1": ADMIN}, id="incomplete-listing-drops-none"),
    ],
)
def test_what_blocks_a_call_is_carried_per_user_until_a_search_returns_them(
    earlier: dict[str, DirectoryFacts],
    search: dict[str, DirectoryFacts],
    members: set[str] | None,
    expected: dict[str, DirectoryFacts],
) -> None:
    assert carry_forward(searched(**earlier), search, members) == expected


def test_a_fact_is_carried_through_every_search_that_skips_the_user() -> None:
    first = DirectorySearch()
    first.add(
        [
            DirectoryUser(
                account_id="a1",
                management_source="invited",
                claim_status="managed",
                platform_roles=("atlassian/org-admin",),
            )
        ]
    )
    directory = Directory.join(first, ["a1", "b2"])
    for _ in range(3):  # ...and through a failed search in between
        skipped = DirectorySearch()
        skipped.add([DirectoryUser(account_id="b2", management_source="invited")])
        directory = Directory.join(skipped, ["a1", "b2"], earlier=directory.stale())
    assert directory.about("a1") == ADMIN and not directory.fresh_about("a1")
    assert directory.fresh_about("b2") and len(directory) == 1
    assert directory.stale().carried == directory.carried
    assert carry_forward(None, {}, None) == {}


def test_a_carried_admin_is_not_suspended_and_cannot_be_re_enabled_without_asking() -> None:
    directory = Directory.join(DirectorySearch(), ["a1"], earlier=searched(a1=ADMIN))
    carried = directory.about("a1")
    fresh = directory.fresh_about("a1")
    assert gate(SUSPEND, carried, fresh=fresh, permission=LifecyclePermission(True)) == (
        "OrganizationAdmin",
        False,
    )
    assert gate(REACTIVATE, carried, fresh=fresh) == (None, True)
