"""The v2 search models and v2 choices: lenient where the spec is open, strict on the join key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pydantic
import pytest

from atlassian_operator.atlassian import DirectoryProductAccess, DirectoryUser, UnreadableTime
from atlassian_operator.atlassian._directory import DirectoryPage
from atlassian_operator.atlassian.v2_choices import (
    SEARCH_EXPAND,
    SEARCH_PAGE_LIMIT,
    cursor_from_next,
    manage_query,
    search_request,
    trim_fraction,
)

# The field values of the spec's MultiDirectoryUser examples (API-NOTES-v2 §1.5, S-gen).
SPEC_USER: dict[str, Any] = {
    "accountId": "12345678-1234-1234-1234-123456789012",
    "accountType": "atlassian",
    "status": "active",
    "accountStatus": "active",
    "membershipStatus": "active",
    "addedToOrg": "2024-01-01T00:00:00.000Z",
    "name": "Ada Lovelace",
    "nickname": "ada",
    "email": "ada@acme.example",
    "emailVerified": True,
    "claimStatus": "managed",
    "platformRoles": ["atlassian/org-admin"],
    "managementSource": "synced",
    "mfaEnabled": True,
    "productAccess": [
        {
            "key": "confluence",
            "id": "ari:cloud:confluence::site/12345678-1234-1234-1234-123456789012",
            "lastActiveTimestamp": "2025-11-06T23:07:29.936941226Z",
        }
    ],
    "links": {"self": "ECg53CukK1twBo0LK1u9nw"},
}


def test_the_spec_example_reads_with_nanoseconds_cut_to_microseconds() -> None:
    user = DirectoryUser.model_validate(SPEC_USER)

    assert user.account_id == "12345678-1234-1234-1234-123456789012"
    assert (user.status, user.account_status, user.membership_status) == ("active",) * 3
    assert (user.claim_status, user.management_source) == ("managed", "synced")
    assert user.platform_roles == ("atlassian/org-admin",)
    assert user.added_to_org == datetime(2024, 1, 1, tzinfo=UTC)
    [access] = user.product_access
    assert access.key == "confluence" and access.id is not None and access.id.endswith("9012")
    assert access.last_active == datetime(2025, 11, 6, 23, 7, 29, 936941, tzinfo=UTC)
    assert user.last_active == access.last_active
    # Fields the model does not name are kept, in the API's own spelling.
    assert user.model_extra is not None and user.model_extra["mfaEnabled"] is True


def test_only_the_account_id_is_required() -> None:
    user = DirectoryUser.model_validate({"accountId": "712020:abc"})
    assert user.platform_roles == () and user.product_access == ()
    assert user.status is None and user.management_source is None
    assert user.added_to_org is None and user.last_active is None


@pytest.mark.parametrize(
    "payload",
    [{}, {"accountId": ""}, {"accountId": None}, {"accountId": 7}],
    ids=["missing", "empty", "null", "number"],
)
def test_a_user_without_a_usable_account_id_is_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError, match="accountId"):
        DirectoryUser.model_validate(payload)


def test_unknown_enum_values_are_data() -> None:
    user = DirectoryUser.model_validate(
        {
            "accountId": "a",
            "accountType": "app",
            "status": "archived",
            "accountStatus": "frozen",
            "membershipStatus": "pending",
            "claimStatus": "partial",
            "managementSource": "scim-v2",
            "platformRoles": ["atlassian/unit-admin"],
        }
    )
    assert (user.account_type, user.status, user.account_status) == ("app", "archived", "frozen")
    assert (user.membership_status, user.claim_status) == ("pending", "partial")
    assert user.management_source == "scim-v2"
    assert user.platform_roles == ("atlassian/unit-admin",)


def test_nulls_read_as_absent() -> None:
    user = DirectoryUser.model_validate(
        {"accountId": "a", "managementSource": None, "platformRoles": None, "productAccess": None}
    )
    assert user.management_source is None
    assert user.platform_roles == () and user.product_access == ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-11-06T23:07:29.936941226Z", datetime(2025, 11, 6, 23, 7, 29, 936941, tzinfo=UTC)),
        ("2025-11-06T23:07:29.9Z", datetime(2025, 11, 6, 23, 7, 29, 900000, tzinfo=UTC)),
        (
            "2025-11-07T01:07:29.123456789+02:00",
            datetime(2025, 11, 6, 23, 7, 29, 123456, tzinfo=UTC),
        ),
        ("2025-11-06T23:07:29", datetime(2025, 11, 6, 23, 7, 29, tzinfo=UTC)),
        ("2025-11-06", datetime(2025, 11, 6, tzinfo=UTC)),
        ("last tuesday", UnreadableTime("last tuesday")),
        # Unreadable after its fraction is cut: the text kept is the one Atlassian sent.
        ("2025-11-06 at 23:07:29.936941226", UnreadableTime("2025-11-06 at 23:07:29.936941226")),
        ("", None),
        (None, None),
    ],
    ids=[
        "nanoseconds", "tenths", "offset", "zoneless", "date", "unreadable",
        "unreadable-fraction", "empty", "null",
    ],
)  # fmt: skip
def test_product_activity_times_read_leniently(
    value: str | None, expected: datetime | UnreadableTime | None
) -> None:
    access = DirectoryProductAccess.model_validate({"key": "jira", "lastActiveTimestamp": value})
    assert access.last_active == expected


def test_a_timestamp_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="lastActiveTimestamp"):
        DirectoryProductAccess.model_validate({"lastActiveTimestamp": 1730934449})


def test_last_active_is_the_newest_product_activity() -> None:
    user = DirectoryUser.model_validate(
        {
            "accountId": "a",
            "productAccess": [
                {"key": "jira", "lastActiveTimestamp": "2025-01-02T00:00:00Z"},
                {"key": "confluence"},
                {"key": "jira", "id": "other-site", "lastActiveTimestamp": "2025-03-04T05:06:07Z"},
                {"key": "bitbucket", "lastActiveTimestamp": "2024-12-31T00:00:00Z"},
            ],
        }
    )
    assert user.last_active == datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    quiet = DirectoryUser.model_validate({"accountId": "b", "productAccess": [{"key": "jira"}]})
    assert quiet.last_active is None


def test_one_unreadable_product_activity_makes_the_newest_unreadable() -> None:
    # The time nobody can read may be the newest: it is not skipped as if absent.
    user = DirectoryUser.model_validate(
        {
            "accountId": "a",
            "productAccess": [
                {"key": "jira", "lastActiveTimestamp": "2020-01-02T00:00:00Z"},
                {"key": "confluence", "lastActiveTimestamp": "today"},
            ],
        }
    )
    assert user.last_active == UnreadableTime("today")


def test_users_are_values_built_by_field_name_too() -> None:
    user = DirectoryUser(account_id="a", management_source="invited", platform_roles=("x",))
    assert user == DirectoryUser.model_validate(
        {"accountId": "a", "managementSource": "invited", "platformRoles": ["x"]}
    )
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        user.status = "active"


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        (None, None),
        ({}, None),
        ({"next": None}, None),
        ({"next": ""}, None),
        ({"next": "  "}, None),
        ({"self": "s", "next": "kloHX1ZQVasDAkx_P48NYQ"}, "kloHX1ZQVasDAkx_P48NYQ"),
    ],
    ids=["no-links", "empty-links", "null", "empty", "blank", "token"],
)
def test_a_page_ends_when_next_is_absent_null_or_empty(
    links: dict[str, Any] | None, expected: str | None
) -> None:
    payload: dict[str, Any] = {"data": []}
    if links is not None:
        payload["links"] = links
    assert DirectoryPage.model_validate(payload).next == expected


def test_a_page_without_data_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="data"):
        DirectoryPage.model_validate({"links": {"next": None}})


# -- v2 choices ---------------------------------------------------------------------------------


def test_the_search_body_resends_the_first_request_with_the_cursor() -> None:
    first = search_request()
    assert first == {"limit": SEARCH_PAGE_LIMIT, "expand": list(SEARCH_EXPAND)}
    assert search_request("c2") == {**first, "cursor": "c2"}


def test_the_unmanaged_search_asks_for_their_activity_and_only_them() -> None:
    first = search_request(unmanaged_only=True)
    assert first == {
        "limit": SEARCH_PAGE_LIMIT,
        "claimStatus": "unmanaged",
        "expand": ["platformRoles", "productAccess"],
    }
    assert search_request("c2", unmanaged_only=True) == {**first, "cursor": "c2"}
    # Every user's search does not carry everyone's product activity: v1 has it for the
    # managed ones, and at 10,000 users it would double what the operator holds.
    assert "productAccess" not in SEARCH_EXPAND


def test_the_expand_values_are_the_specs() -> None:
    assert set(SEARCH_EXPAND) <= {"platformRoles", "counts.resources", "productAccess", "groups"}


@pytest.mark.parametrize(
    ("link", "cursor"),
    [
        ("kloHX1ZQVasDAkx_P48NYQ", "kloHX1ZQVasDAkx_P48NYQ"),
        (" c2 ", "c2"),
        ("https://api.atlassian.com/admin/v2/orgs/o/users/search?cursor=c%2B3&limit=100", "c+3"),
        ("https://elsewhere.example/anything?limit=5&cursor=abc", "abc"),
        ("https://api.atlassian.com/admin/v2/orgs/o/users/search", None),
        ("https://api.atlassian.com/x?cursor=", None),
    ],
    ids=["token", "padded-token", "url", "other-host-url", "url-without-cursor", "empty-cursor"],
)
def test_a_next_link_gives_a_cursor(link: str, cursor: str | None) -> None:
    assert cursor_from_next(link) == cursor


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-06T23:07:29.936941226Z", "2025-11-06T23:07:29.936941Z"),
        ("2025-11-06T23:07:29.936941226+02:00", "2025-11-06T23:07:29.936941+02:00"),
        ("2025-11-06T23:07:29.936Z", "2025-11-06T23:07:29.936Z"),
        ("2025-11-06T23:07:29Z", "2025-11-06T23:07:29Z"),
    ],
)
def test_fractions_are_cut_to_microseconds(text: str, expected: str) -> None:
    assert trim_fraction(text) == expected


def test_the_precheck_asks_for_one_privilege() -> None:
    assert manage_query() == {"privileges": "lifecycle.enablement"}
