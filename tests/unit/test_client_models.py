"""The user-listing models read what the spec promises, and say exactly what is wrong otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pydantic
import pytest

from atlassian_operator.atlassian import Product, UnreadableTime, User, UserListing
from atlassian_operator.atlassian._models import UserPage, format_validation_error

# Verbatim from developer.atlassian.com (Organizations REST API, "Get users in an
# organization"), as quoted in API-NOTES §1.1: Atlassian's own placeholders included.
SPEC_EXAMPLE: dict[str, Any] = {
    "data": [
        {
            "account_id": "<string>",
            "account_type": "atlassian",
            "account_status": "active",
            "name": "<string>",
            "picture": "<string>",
            "email": "<string>",
            "access_billable": True,
            "last_active": "<string>",
            "product_access": [
                {
                    "key": "jira-software",
                    "name": "<string>",
                    "url": "<string>",
                    "last_active": "<string>",
                }
            ],
            "links": {"self": "<string>"},
        }
    ],
    "meta": {"total": 35},
    "links": {"self": "<string>", "prev": "<string>", "next": "<string>"},
}


def realistic_user(**overrides: Any) -> dict[str, Any]:
    user: dict[str, Any] = {
        "account_id": "557057:4f9acfd2-6155-419b-8de5-5b5cf27a59a0",
        "account_type": "atlassian",
        "account_status": "active",
        "name": "Ada Lovelace",
        "picture": "https://avatar.example/ada.png",
        "email": "ada@acme.example",
        "access_billable": True,
        "last_active": "2024-05-01T10:15:30.250Z",
        "product_access": [
            {
                "key": "confluence",
                "name": "Confluence",
                "url": "https://acme.atlassian.net/wiki",
                "last_active": "2024-04-30",
            }
        ],
        "links": {"self": "https://api.atlassian.com/users/557057"},
    }
    user.update(overrides)
    return user


def test_the_spec_example_parses_with_placeholder_dates_as_unreadable() -> None:
    page = UserPage.model_validate(SPEC_EXAMPLE)

    [user] = page.data
    assert user.account_id == "<string>"
    assert user.account_status == "active"
    assert user.email == "<string>"
    assert user.access_billable is True
    # "<string>" is not a date: kept as unreadable (not as "never active"), and the page reads.
    assert user.last_active == UnreadableTime("<string>")
    [product] = user.product_access
    assert product == Product(
        key="jira-software", name="<string>", url="<string>", last_active="<string>"
    )
    assert product.last_active == UnreadableTime("<string>")
    assert page.next == "<string>"


def test_a_realistic_user_keeps_every_field_and_unknown_ones() -> None:
    user = User.model_validate(realistic_user(nickname="ada", account_status="suspended"))

    assert user.account_status == "suspended"  # unknown enum values are kept, not refused
    assert user.last_active == datetime(2024, 5, 1, 10, 15, 30, 250000, tzinfo=UTC)
    assert user.product_access[0].url == "https://acme.atlassian.net/wiki"
    assert user.model_extra == {
        "links": {"self": "https://api.atlassian.com/users/557057"},
        "nickname": "ada",
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01T10:15:30Z", datetime(2024, 5, 1, 10, 15, 30, tzinfo=UTC)),
        ("2024-05-01T12:15:30+02:00", datetime(2024, 5, 1, 10, 15, 30, tzinfo=UTC)),
        ("2024-05-01T10:15Z", datetime(2024, 5, 1, 10, 15, tzinfo=UTC)),
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T10:15:30", datetime(2024, 5, 1, 10, 15, 30, tzinfo=UTC)),
        ("<string>", UnreadableTime("<string>")),
        ("yesterday at 10:00", UnreadableTime("yesterday at 10:00")),
        ("01/05/2024 10:15", UnreadableTime("01/05/2024 10:15")),
        ("", None),
        (None, None),
    ],
    ids=[
        "rfc3339-z",
        "offset",
        "minute-precision",
        "date-only",
        "naive",
        "placeholder",
        "words",
        "day-first",
        "empty",
        "null",
    ],
)
def test_last_active_is_aware_utc_unreadable_or_none(
    raw: str | None, expected: datetime | UnreadableTime | None
) -> None:
    user = User.model_validate(realistic_user(last_active=raw))
    product = Product.model_validate({"key": "trello", "name": "Trello", "last_active": raw})

    assert user.last_active == expected
    assert product.last_active == expected
    if isinstance(expected, datetime):
        assert isinstance(user.last_active, datetime) and user.last_active.utcoffset() is not None


def test_unknown_product_keys_and_missing_optional_fields_are_fine() -> None:
    user = User.model_validate(
        {
            "account_id": "a1",
            "account_type": "app",
            "account_status": "closed",
            "name": "bot",
            "picture": "p",
            "product_access": [{"key": "loom", "name": "Loom"}],
        }
    )
    assert user.email is None and user.access_billable is None and user.last_active is None
    assert user.product_access == [Product(key="loom", name="Loom")]


def test_null_product_access_means_none() -> None:
    assert User.model_validate(realistic_user(product_access=None)).product_access == []


def test_models_are_frozen() -> None:
    user = User.model_validate(realistic_user())
    with pytest.raises(pydantic.ValidationError):
        user.account_status = "inactive"  # type: ignore[misc]


def page_error(body: Any) -> str:
    with pytest.raises(pydantic.ValidationError) as caught:
        UserPage.model_validate(body)
    return format_validation_error(caught.value)


def test_a_missing_account_id_is_named_with_its_position() -> None:
    users = [realistic_user(account_id=f"u{i}") for i in range(5)]
    del users[3]["account_id"]

    assert page_error({"data": users}) == "data[3].account_id: Field required"


def test_a_bad_product_is_named_with_its_path() -> None:
    user = realistic_user()
    del user["product_access"][0]["key"]

    assert page_error({"data": [user]}) == "data[0].product_access[0].key: Field required"


def test_wrong_types_are_refused() -> None:
    message = page_error({"data": [realistic_user(access_billable="maybe", last_active=12)]})

    assert "data[0].access_billable:" in message
    assert "data[0].last_active:" in message


def test_a_page_without_data_is_not_an_empty_page() -> None:
    # An error body or a proxy's reply must never read as "the org has no users".
    assert page_error({"links": {}}) == "data: Field required"
    assert page_error([]).startswith("(body): ")


def test_an_empty_account_id_is_refused() -> None:
    assert page_error({"data": [realistic_user(account_id="")]}).startswith("data[0].account_id:")


def test_many_errors_are_summarised() -> None:
    users = [{"account_type": "atlassian"} for _ in range(3)]
    assert page_error({"data": users}).endswith("and 7 more")


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        (None, None),
        ({}, None),
        ({"next": None}, None),
        ({"next": ""}, None),
        (
            {"self": "s", "next": "https://api.atlassian.com/admin/v1/orgs/o/users?cursor=c"},
            "https://api.atlassian.com/admin/v1/orgs/o/users?cursor=c",
        ),
        ({"next": "kloHX1ZQVasDAkx_P48NYQ"}, "kloHX1ZQVasDAkx_P48NYQ"),
    ],
    ids=["no-links", "empty-links", "null-next", "empty-next", "url", "bare-cursor"],
)
def test_next_link(links: dict[str, Any] | None, expected: str | None) -> None:
    body: dict[str, Any] = {"data": []}
    if links is not None:
        body["links"] = links
    assert UserPage.model_validate(body).next == expected


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        pytest.param(None, None, id="no-meta"),
        pytest.param({}, None, id="meta-without-total"),
        pytest.param({"total": 35}, 35, id="a-count"),
        pytest.param({"total": 0}, 0, id="zero-is-a-count"),
        pytest.param({"total": "35"}, None, id="a-string-is-not-a-count"),
        pytest.param({"total": True}, None, id="a-bool-is-not-a-count"),
        pytest.param({"total": 3.5}, None, id="a-fraction-is-not-a-count"),
    ],
)
def test_page_total_is_meta_total_when_it_is_a_count(
    meta: dict[str, Any] | None, expected: int | None
) -> None:
    body: dict[str, Any] = {"data": []}
    if meta is not None:
        body["meta"] = meta
    assert UserPage.model_validate(body).total == expected


# ----- UserListing.contradiction ---------------------------------------------------------------


def listed(*ids: str) -> list[User]:
    return [User.model_validate(realistic_user(account_id=i)) for i in ids]


@pytest.mark.parametrize(
    "listing",
    [
        pytest.param(UserListing(listed("a", "b"), 2), id="as-many-as-meta-total"),
        pytest.param(UserListing(listed("a", "b"), None), id="no-total-reported"),
        pytest.param(UserListing([], 0), id="an-empty-org"),
        pytest.param(UserListing([]), id="defaults"),
    ],
)
def test_a_consistent_listing_has_no_contradiction(listing: UserListing) -> None:
    assert listing.contradiction() is None


@pytest.mark.parametrize(
    ("listing", "says"),
    [
        pytest.param(
            UserListing(listed("a", "b"), 3),
            ["it returned 2 users while its meta.total says 3"],
            id="fewer-than-meta-total",
        ),
        pytest.param(
            UserListing(listed("a", "b", "c"), 2),
            ["it returned 3 users while its meta.total says 2"],
            id="more-than-meta-total",
        ),
        pytest.param(
            UserListing(listed("a", "b"), 2, ("a",)),
            ["it returned 1 users more than once (a)"],
            id="a-duplicate",
        ),
        pytest.param(
            UserListing(listed("a", "b"), None, ("b", "a")),
            ["2 users more than once (a, b)"],
            id="duplicates-without-a-total",
        ),
        pytest.param(
            UserListing(listed("a", "b", "c", "d", "e"), 5, ("e", "d", "c", "b", "a")),
            ["5 users more than once (a, b, c)"],
            id="at-most-three-named",
        ),
        pytest.param(
            UserListing(listed("a"), 2, ("a",)),
            ["returned 1 users while its meta.total says 2", "more than once (a)"],
            id="both-problems",
        ),
    ],
)
def test_a_contradicting_listing_says_why(listing: UserListing, says: list[str]) -> None:
    contradiction = listing.contradiction()

    assert contradiction is not None
    for text in says:
        assert text in contradiction


def test_both_contradictions_are_named_in_one_sentence() -> None:
    contradiction = UserListing(listed("a"), 2, ("a",)).contradiction()

    assert contradiction == (
        "it returned 1 users while its meta.total says 2; it returned 1 users more than once (a)"
    )
