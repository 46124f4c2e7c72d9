"""Atlassian states and product access map onto what `kubectl get` shows, as the seed says."""

from __future__ import annotations

from typing import Any

import pytest

from atlassian_operator.atlassian import Product
from atlassian_operator.core.mapping import (
    account_state,
    deprovisioned,
    product_access,
    product_label,
    site_name,
)


def product(key: str, name: str, url: str | None, last_active: str | None = None) -> Product:
    return Product.model_validate(
        {"key": key, "name": name, "url": url, "last_active": last_active}
    )


CONFLUENCE_ACME = product(
    "confluence", "Confluence", "https://acme.atlassian.net/wiki", "2024-05-01T10:00:00Z"
)
JIRA_ACME = product("jira-software", "Jira", "https://acme.atlassian.net", "2024-05-02T08:30:00Z")
JIRA_BETA = product("jira-software", "Jira", "https://beta.atlassian.net", "2024-04-01T00:00:00Z")


# ----- account_state ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("atlassian_status", "expected"),
    [
        pytest.param("active", "Active", id="active-maps-to-active"),
        pytest.param("inactive", "Suspended", id="inactive-maps-to-suspended"),
        pytest.param("closed", "Deprovisioned", id="closed-maps-to-deprovisioned"),
        pytest.param("deleted", "Deprovisioned", id="deleted-maps-to-deprovisioned"),
        pytest.param("pending", None, id="unknown-status-maps-to-none"),
        pytest.param("Active", None, id="status-is-case-sensitive-as-in-the-spec"),
        pytest.param("", None, id="empty-status-maps-to-none"),
    ],
)
def test_account_state_follows_the_seed_table(atlassian_status: str, expected: str | None) -> None:
    assert account_state(atlassian_status) == expected


# ----- site_name and product_label -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("https://acme.atlassian.net", "acme", id="site-root"),
        pytest.param("https://acme.atlassian.net/wiki", "acme", id="path-ignored"),
        pytest.param("https://acme.atlassian.net:443/wiki?x=1", "acme", id="port-and-query"),
        pytest.param("acme.atlassian.net", "acme", id="host-without-scheme"),
        pytest.param("acme.atlassian.net/wiki", "acme", id="host-and-path-without-scheme"),
        pytest.param("https://ACME.atlassian.net", "acme", id="host-lowercased"),
        pytest.param("https://localhost", "localhost", id="single-label-host"),
        pytest.param(None, None, id="no-url"),
        pytest.param("", None, id="empty-url"),
        pytest.param("https://", None, id="scheme-without-host"),
        pytest.param("::::", None, id="colons-only"),
        pytest.param("http://[not-a-host", None, id="unclosed-bracket-does-not-raise"),
    ],
)
def test_site_name_is_the_first_label_of_the_host(url: str | None, expected: str | None) -> None:
    assert site_name(url) == expected


@pytest.mark.parametrize(
    ("name", "url", "expected"),
    [
        pytest.param(
            "Confluence", "https://acme.atlassian.net/wiki", "Confluence (acme)", id="with-site"
        ),
        pytest.param(
            "Jira Service Management",
            "https://beta.atlassian.net",
            "Jira Service Management (beta)",
            id="multi-word-product",
        ),
        pytest.param("Confluence", None, "Confluence", id="no-url-no-parentheses"),
        pytest.param("Confluence", "https://", "Confluence", id="url-without-host"),
    ],
)
def test_product_label_is_name_and_site(name: str, url: str | None, expected: str) -> None:
    assert product_label(name, url) == expected


# ----- product_access --------------------------------------------------------------------------


def test_current_products_are_active_with_rfc3339_last_active() -> None:
    assert product_access([], [CONFLUENCE_ACME]) == [
        {
            "product": "Confluence (acme)",
            "key": "confluence",
            "name": "Confluence",
            "site": "acme",
            "url": "https://acme.atlassian.net/wiki",
            "status": "Active",
            "lastActive": "2024-05-01T10:00:00Z",
        }
    ]


@pytest.mark.parametrize(
    ("last_active", "expected"),
    [
        pytest.param("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z", id="offset-to-utc"),
        pytest.param("2024-05-01T10:00:00.123456Z", "2024-05-01T10:00:00Z", id="fraction-dropped"),
        pytest.param("2024-05-01", "2024-05-01T00:00:00Z", id="date-only-is-midnight-utc"),
    ],
)
def test_product_last_active_is_rendered_in_utc_with_z(last_active: str, expected: str) -> None:
    entry = product_access([], [product("confluence", "Confluence", None, last_active)])[0]
    assert entry["lastActive"] == expected


def test_product_without_url_or_last_active_has_no_such_fields() -> None:
    assert product_access([], [product("opsgenie", "Opsgenie", None)]) == [
        {"product": "Opsgenie", "key": "opsgenie", "name": "Opsgenie", "status": "Active"}
    ]


def test_a_product_that_disappears_is_deprovisioned_and_keeps_its_last_active() -> None:
    before = product_access([], [CONFLUENCE_ACME, JIRA_ACME])

    after = product_access(before, [JIRA_ACME])

    confluence = next(e for e in after if e["key"] == "confluence")
    assert confluence["status"] == "Deprovisioned"
    assert confluence["lastActive"] == "2024-05-01T10:00:00Z"
    assert confluence["product"] == "Confluence (acme)"
    jira = next(e for e in after if e["key"] == "jira-software")
    assert jira["status"] == "Active"


def test_a_product_that_comes_back_is_active_again_with_its_new_last_active() -> None:
    gone = product_access(product_access([], [CONFLUENCE_ACME]), [])
    assert gone[0]["status"] == "Deprovisioned"
    back_again = product("confluence", "Confluence", CONFLUENCE_ACME.url, "2024-06-01T09:00:00Z")

    after = product_access(gone, [back_again])

    assert len(after) == 1
    assert after[0]["status"] == "Active"
    assert after[0]["lastActive"] == "2024-06-01T09:00:00Z"


def test_same_product_on_two_sites_is_two_entries() -> None:
    entries = product_access([], [JIRA_ACME, JIRA_BETA])

    assert [(e["product"], e["site"]) for e in entries] == [
        ("Jira (acme)", "acme"),
        ("Jira (beta)", "beta"),
    ]


def test_losing_one_site_deprovisions_only_that_site() -> None:
    before = product_access([], [JIRA_ACME, JIRA_BETA])

    after = product_access(before, [JIRA_BETA])

    assert {e["site"]: e["status"] for e in after} == {"acme": "Deprovisioned", "beta": "Active"}


@pytest.mark.parametrize(
    "order",
    [
        pytest.param([CONFLUENCE_ACME, JIRA_BETA, JIRA_ACME], id="api-order-1"),
        pytest.param([JIRA_ACME, CONFLUENCE_ACME, JIRA_BETA], id="api-order-2"),
        pytest.param([JIRA_BETA, JIRA_ACME, CONFLUENCE_ACME], id="api-order-3"),
    ],
)
def test_order_does_not_depend_on_the_api_order(order: list[Product]) -> None:
    assert [e["product"] for e in product_access([], order)] == [
        "Confluence (acme)",
        "Jira (acme)",
        "Jira (beta)",
    ]


def test_a_rerender_with_the_same_products_is_identical() -> None:
    first = product_access(
        product_access([], [CONFLUENCE_ACME, JIRA_ACME, JIRA_BETA]), [JIRA_BETA, CONFLUENCE_ACME]
    )

    again = product_access(first, [CONFLUENCE_ACME, JIRA_BETA])

    assert again == first


@pytest.mark.parametrize(
    "field", ["product", "key", "name", "status"], ids=lambda f: f"stored-without-{f}"
)
def test_a_stored_entry_missing_a_required_field_is_treated_as_not_there(field: str) -> None:
    """Written by hand, by a restore tool or an older version; the CRD requires these fields."""
    jira = product_access([], [JIRA_ACME])[0]
    odd = {k: v for k, v in product_access([], [CONFLUENCE_ACME])[0].items() if k != field}

    assert product_access([jira, odd], [JIRA_ACME]) == [jira]
    assert deprovisioned([jira, odd]) == [{**jira, "status": "Deprovisioned"}]


def test_deprovisioned_entries_stay_in_order_among_active_ones() -> None:
    before = product_access([], [CONFLUENCE_ACME, JIRA_ACME, JIRA_BETA])

    after = product_access(before, [CONFLUENCE_ACME, JIRA_BETA])

    assert [(e["product"], e["status"]) for e in after] == [
        ("Confluence (acme)", "Active"),
        ("Jira (acme)", "Deprovisioned"),
        ("Jira (beta)", "Active"),
    ]


def test_deprovisioned_marks_every_entry_and_keeps_the_rest() -> None:
    before: list[dict[str, Any]] = product_access([], [CONFLUENCE_ACME, JIRA_ACME])

    after = deprovisioned(before)

    assert [e["status"] for e in after] == ["Deprovisioned", "Deprovisioned"]
    assert [{k: v for k, v in e.items() if k != "status"} for e in after] == [
        {k: v for k, v in e.items() if k != "status"} for e in before
    ]


def test_deprovisioned_of_nothing_is_nothing() -> None:
    assert deprovisioned([]) == []


def test_deprovisioned_does_not_change_the_previous_status() -> None:
    before = product_access([], [CONFLUENCE_ACME])

    deprovisioned(before)

    assert before[0]["status"] == "Active"


def test_a_product_with_a_malformed_url_is_still_listed_without_a_site() -> None:
    broken = product("confluence", "Confluence", "https://[acme.atlassian.net/wiki")

    entries = product_access([], [broken])

    assert [(e["product"], e["status"], "site" in e) for e in entries] == [
        ("Confluence", "Active", False)
    ]
