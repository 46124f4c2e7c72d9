"""A snapshot finds the user an AtlassianAccount names and sums up the org for its status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from atlassian_operator.atlassian import User
from atlassian_operator.core.resources import AccountSpec
from atlassian_operator.core.snapshot import OrgSnapshot

TAKEN_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ACME_WIKI = "https://acme.atlassian.net/wiki"
ACME = "https://acme.atlassian.net"
BETA = "https://beta.atlassian.net"


def user(
    account_id: str,
    *,
    status: str = "active",
    email: str | None = None,
    billable: bool | None = True,
    products: Sequence[tuple[str, str, str | None]] = (),
) -> User:
    return User.model_validate(
        {
            "account_id": account_id,
            "account_type": "atlassian",
            "account_status": status,
            "name": f"User {account_id}",
            "picture": "https://avatar.example/p.png",
            "email": email,
            "access_billable": billable,
            "last_active": "2024-05-01T10:00:00Z",
            "product_access": [
                {"key": k, "name": n, "url": u, "last_active": None} for k, n, u in products
            ],
        }
    )


ADA = user("5570:ada", email="ada@acme.example")
BOB = user("5570:bob", status="inactive", email="Bob@Acme.Example")
CAROL = user("5570:carol", status="closed", email=None)


def snapshot(*users: User) -> OrgSnapshot:
    return OrgSnapshot("org-1", users, TAKEN_AT)


def by_id(account_id: str) -> AccountSpec:
    return AccountSpec("acme", account_id=account_id)


def by_email(email: str) -> AccountSpec:
    return AccountSpec("acme", email=email)


# ----- observe ---------------------------------------------------------------------------------


def test_observe_by_account_id() -> None:
    obs = snapshot(ADA, BOB).observe(by_id("5570:bob"), None)

    assert (obs.user, obs.account_id, obs.problem) == (BOB, "5570:bob", None)


def test_account_id_wins_over_email() -> None:
    spec = AccountSpec("acme", account_id="5570:bob", email="ada@acme.example")

    obs = snapshot(ADA, BOB).observe(spec, None)

    assert obs.user == BOB


def test_observe_a_missing_account_id_names_it_and_the_org() -> None:
    obs = snapshot(ADA).observe(by_id("5570:zed"), None)

    assert obs.user is None
    assert obs.account_id == "5570:zed"
    assert obs.problem == "no user with accountId 5570:zed in org org-1"


@pytest.mark.parametrize(
    ("spec_email", "expected"),
    [
        pytest.param("ada@acme.example", ADA, id="same-case"),
        pytest.param("ADA@acme.EXAMPLE", ADA, id="spec-upper-case"),
        pytest.param("bob@acme.example", BOB, id="atlassian-mixed-case"),
    ],
)
def test_observe_by_email_ignores_case(spec_email: str, expected: User) -> None:
    obs = snapshot(ADA, BOB, CAROL).observe(by_email(spec_email), None)

    assert (obs.user, obs.account_id, obs.problem) == (expected, expected.account_id, None)


def test_observe_by_email_follows_the_known_account_when_the_email_changed_upstream() -> None:
    renamed = user("5570:ada", email="ada.lovelace@acme.example")

    obs = snapshot(renamed, BOB).observe(by_email("ada@acme.example"), "5570:ada")

    assert (obs.user, obs.account_id, obs.problem) == (renamed, "5570:ada", None)


def test_observe_by_email_with_two_users_names_both_and_says_to_set_account_id() -> None:
    twin = user("5570:ada2", email="ADA@acme.example")

    obs = snapshot(ADA, twin, BOB).observe(by_email("ada@acme.example"), None)

    assert obs.user is None
    assert obs.account_id is None
    assert obs.problem is not None
    assert "matches 2 users in org org-1" in obs.problem
    assert "5570:ada, 5570:ada2" in obs.problem
    assert "set spec.accountId" in obs.problem
    assert obs.reason == "AccountNotFound"


# ----- a pinned identity -----------------------------------------------------------------------


def test_a_pinned_account_among_two_users_with_the_email_is_the_one_observed() -> None:
    twin = user("5570:ada2", email="ADA@acme.example")

    obs = snapshot(ADA, twin, BOB).observe(by_email("ada@acme.example"), "5570:ada2")

    assert (obs.user, obs.account_id, obs.problem) == (twin, "5570:ada2", None)


@pytest.mark.parametrize(
    "pinned_user",
    [
        pytest.param(user("5570:ada", email="ada.lovelace@acme.example"), id="email-changed"),
        pytest.param(user("5570:ada", email=None), id="email-hidden"),
    ],
)
def test_a_pinned_account_whose_email_matches_nobody_is_still_observed(pinned_user: User) -> None:
    obs = snapshot(pinned_user, BOB).observe(by_email("ada@acme.example"), "5570:ada")

    assert (obs.user, obs.account_id, obs.problem) == (pinned_user, "5570:ada", None)


@pytest.mark.parametrize(
    "pinned_still_listed",
    [
        pytest.param(True, id="pinned-user-listed-under-another-email"),
        pytest.param(False, id="pinned-user-gone"),
    ],
)
def test_an_email_that_now_resolves_to_someone_else_is_an_identity_change(
    pinned_still_listed: bool,
) -> None:
    newcomer = user("5570:eve", email="Ada@Acme.Example")
    renamed = user("5570:ada", email="ada.lovelace@acme.example")
    users = [newcomer, BOB, *([renamed] if pinned_still_listed else [])]

    obs = snapshot(*users).observe(by_email("ada@acme.example"), "5570:ada")

    assert obs.user is None
    assert obs.account_id == "5570:ada"
    assert obs.reason == "IdentityChanged"
    assert obs.problem is not None
    assert "5570:eve" in obs.problem
    assert "5570:ada" in obs.problem
    assert "ada@acme.example" in obs.problem
    assert "set spec.accountId" in obs.problem


def test_an_identity_change_to_several_users_names_them_all() -> None:
    users = [user("5570:eve", email=ADA.email), user("5570:mal", email=ADA.email), BOB]

    obs = snapshot(*users).observe(by_email("ada@acme.example"), "5570:ada")

    assert (obs.user, obs.account_id, obs.reason) == (None, "5570:ada", "IdentityChanged")
    assert obs.problem is not None
    assert "5570:eve, 5570:mal" in obs.problem


@pytest.mark.parametrize(
    ("spec_id", "pinned", "expected"),
    [
        pytest.param("5570:bob", "5570:ada", BOB, id="spec-id-over-another-pin"),
        pytest.param("5570:bob", "5570:bob", BOB, id="spec-id-equal-to-pin"),
        pytest.param("5570:zed", "5570:ada", None, id="missing-spec-id-never-falls-back-to-pin"),
    ],
)
def test_spec_account_id_always_wins_over_the_pin(
    spec_id: str, pinned: str, expected: User | None
) -> None:
    spec = AccountSpec("acme", account_id=spec_id, email="ada@acme.example")

    obs = snapshot(ADA, BOB).observe(spec, pinned)

    assert (obs.user, obs.account_id) == (expected, spec_id)
    assert obs.reason != "IdentityChanged"


def test_observe_a_missing_email_says_how_to_fix_it() -> None:
    obs = snapshot(ADA, CAROL).observe(by_email("zed@acme.example"), None)

    assert obs.user is None
    assert obs.account_id is None
    assert obs.problem is not None
    assert "no user with email zed@acme.example in org org-1" in obs.problem
    assert "spec.accountId" in obs.problem


def test_observe_a_vanished_user_keeps_the_known_account_id() -> None:
    obs = snapshot(BOB).observe(by_email("ada@acme.example"), "5570:ada")

    assert obs.user is None
    assert obs.account_id == "5570:ada"
    assert obs.problem is not None
    assert obs.reason == "AccountNotFound"


# ----- trusted and untrusted listings ----------------------------------------------------------


def test_a_snapshot_is_trusted_by_default() -> None:
    assert snapshot(ADA).trusted is True


def test_an_untrusted_listing_keeps_the_previous_copy_of_users_it_lacks() -> None:
    previous = snapshot(ADA, BOB, CAROL)
    bob_reactivated = user("5570:bob", status="active", email="Bob@Acme.Example")
    dave = user("5570:dave", email="dave@acme.example")
    later = datetime(2024, 6, 1, 12, 5, tzinfo=UTC)

    merged = OrgSnapshot.untrusted("org-1", previous, [bob_reactivated, dave], later)

    assert merged.trusted is False
    assert merged.taken_at == later
    assert merged.org_id == "org-1"
    assert dict(merged.users) == {
        "5570:ada": ADA,
        "5570:bob": bob_reactivated,
        "5570:carol": CAROL,
        "5570:dave": dave,
    }
    assert merged.observe(by_email("ada@acme.example"), None).user == ADA
    assert merged.observe(by_email("dave@acme.example"), None).user == dave
    assert merged.user_counts()["active"] == 3
    assert dict(previous.users) == {"5570:ada": ADA, "5570:bob": BOB, "5570:carol": CAROL}
    assert previous.trusted is True


def test_an_untrusted_listing_without_a_previous_snapshot_is_what_it_listed() -> None:
    merged = OrgSnapshot.untrusted("org-1", None, [ADA], TAKEN_AT)

    assert (merged.trusted, dict(merged.users)) == (False, {"5570:ada": ADA})


def test_recording_a_status_on_an_untrusted_merge_leaves_the_previous_snapshot_alone() -> None:
    previous = snapshot(ADA)
    merged = OrgSnapshot.untrusted("org-1", previous, [], TAKEN_AT)

    merged.record_status("5570:ada", "inactive")

    assert merged.users["5570:ada"].account_status == "inactive"
    assert previous.users["5570:ada"] == ADA


def test_an_empty_org_is_a_snapshot_of_nobody() -> None:
    snap = snapshot()

    assert len(snap) == 0
    assert snap.user_counts() == {
        "total": 0,
        "active": 0,
        "suspended": 0,
        "deprovisioned": 0,
        "billable": 0,
    }
    assert snap.products() == []


# ----- user_counts -----------------------------------------------------------------------------


def test_user_counts_sum_up_the_org() -> None:
    snap = snapshot(
        ADA,
        user("5570:a2", billable=False),
        BOB,
        CAROL,
        user("5570:odd", status="pending", billable=None),
    )

    assert snap.user_counts() == {
        "total": 5,
        "active": 2,
        "suspended": 1,
        "deprovisioned": 1,
        "billable": 3,
    }


# ----- products --------------------------------------------------------------------------------


def test_products_lists_each_product_once_per_site_with_its_active_users() -> None:
    snap = snapshot(
        user(
            "5570:1",
            products=[("confluence", "Confluence", ACME_WIKI), ("jira-software", "Jira", ACME)],
        ),
        user("5570:2", products=[("jira-software", "Jira", ACME), ("jira-software", "Jira", BETA)]),
        user("5570:3", status="inactive", products=[("jira-software", "Jira", BETA)]),
        user("5570:4", status="closed", products=[("confluence", "Confluence", ACME_WIKI)]),
    )

    assert snap.products() == [
        {
            "product": "Confluence (acme)",
            "key": "confluence",
            "name": "Confluence",
            "site": "acme",
            "url": ACME_WIKI,
            "activeUsers": 1,
        },
        {
            "product": "Jira (acme)",
            "key": "jira-software",
            "name": "Jira",
            "site": "acme",
            "url": ACME,
            "activeUsers": 2,
        },
        {
            "product": "Jira (beta)",
            "key": "jira-software",
            "name": "Jira",
            "site": "beta",
            "url": BETA,
            "activeUsers": 1,
        },
    ]


def test_a_product_used_only_by_suspended_users_has_zero_active_users() -> None:
    snap = snapshot(user("5570:3", status="inactive", products=[("jira-software", "Jira", BETA)]))

    assert [(p["product"], p["activeUsers"]) for p in snap.products()] == [("Jira (beta)", 0)]


def test_products_do_not_depend_on_the_listing_order() -> None:
    first = user("5570:1", products=[("jira-software", "Jira", BETA)])
    second = user("5570:2", products=[("confluence", "Confluence", ACME_WIKI)])

    assert snapshot(first, second).products() == snapshot(second, first).products()


def test_a_product_without_url_has_no_site() -> None:
    snap = snapshot(user("5570:1", products=[("opsgenie", "Opsgenie", None)]))

    assert snap.products() == [
        {"product": "Opsgenie", "key": "opsgenie", "name": "Opsgenie", "activeUsers": 1}
    ]


# ----- record_status ---------------------------------------------------------------------------


def test_record_status_changes_the_user_until_the_next_listing() -> None:
    snap = snapshot(ADA, BOB)

    snap.record_status("5570:ada", "inactive")

    assert snap.users["5570:ada"].account_status == "inactive"
    assert snap.users["5570:ada"].email == "ada@acme.example"
    assert snap.observe(by_email("ada@acme.example"), None).user == snap.users["5570:ada"]
    assert snap.user_counts()["suspended"] == 2
    assert ADA.account_status == "active"


def test_record_status_of_an_unknown_account_changes_nothing() -> None:
    snap = snapshot(ADA)

    snap.record_status("5570:zed", "inactive")

    assert dict(snap.users) == {"5570:ada": ADA}
