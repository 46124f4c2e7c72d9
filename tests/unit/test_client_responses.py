"""Responses and give-ups turned into typed errors, with messages a person can act on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from atlassian_operator.atlassian import (
    AccountNotFound,
    AtlassianError,
    AtlassianUnavailable,
    AuthenticationFailed,
    Forbidden,
    OrgNotFound,
    OutcomeUnknown,
    RateLimited,
    restriction_advice,
)
from atlassian_operator.atlassian._responses import (
    Call,
    describe_response,
    error_for_status,
    exhausted_error,
    forbidden_key,
    is_documented_not_found,
    json_object,
    outcome_unknown_error,
    server_detail,
)

BASE = "https://api.atlassian.test"
JSON = {"Content-Type": "application/json"}
LISTING = Call(
    endpoint="list_users",
    action="listing users of org 'org-1' (page 2)",
    subject="org 'org-1'",
    where=f"{BASE}/admin/v1/orgs/org-1/users?cursor=…",
    org_id="org-1",
)
SEARCH = Call(
    endpoint="search_users",
    action="searching users of org 'org-1' (v2, page 1)",
    subject="org 'org-1'",
    where=f"{BASE}/admin/v2/orgs/org-1/directories/-/users/search",
    org_id="org-1",
)
DISABLE = Call(
    endpoint="disable",
    action="disabling account 'acc-9'",
    subject="account 'acc-9'",
    where=f"{BASE}/users/acc-9/manage/lifecycle/disable",
    account_id="acc-9",
)


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def no_key(text: str) -> str:
    """These tests are about the words; tests/unit/test_client_scrub.py is about the key."""
    return text


# -- what the server said -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "content", "detail"),
    [
        (
            JSON,
            body({"errors": [{"code": "ADMIN-400-1", "title": "Invalid page cursor", "id": "x"}]}),
            "ADMIN-400-1 Invalid page cursor",
        ),
        (
            JSON,
            body({"errors": [{"status": 400, "detail": "searchTerm and emails"}]}),
            "searchTerm and emails",
        ),
        (JSON, body({"code": 429, "message": "Rate limit exceeded"}), "Rate limit exceeded"),
        (JSON, body({"detail": "flat detail"}), "flat detail"),
        (
            JSON,
            body(
                {"key": "forbidden.insufficientScope", "context": {"message": "Insufficient scope"}}
            ),
            "Insufficient scope",
        ),
        (JSON, body({"key": "accountNotFound"}), "accountNotFound"),
        (JSON, body({"something": "else"}), ""),
        (JSON, body([1, 2]), ""),
        (
            {"content-type": "text/html"},
            b"<h1>Bad   Gateway</h1>\n<p>nginx</p>",
            "<h1>Bad Gateway</h1> <p>nginx</p>",
        ),
        ({}, b"Not Found", "Not Found"),
        (JSON, b"{not json", ""),
        ({}, b"", ""),
    ],
    ids=[
        "errors-envelope",
        "errors-numeric-status",
        "proxy-error",
        "flat-detail",
        "context-message",
        "key-only",
        "unknown-object",
        "json-array",
        "html",
        "text-without-type",
        "broken-json",
        "empty",
    ],
)
def test_the_server_detail_is_read_from_every_known_body(
    headers: dict[str, str], content: bytes, detail: str
) -> None:
    assert server_detail(headers, content, scrub=no_key) == detail


def test_a_long_detail_is_cut() -> None:
    assert server_detail(JSON, body({"message": "x" * 500}), scrub=no_key) == "x" * 200 + "…"
    assert server_detail({}, b"y" * 500, scrub=no_key) == "y" * 200 + "…"


def test_describe_response_names_the_status_and_the_detail() -> None:
    assert describe_response(
        502, {"Content-Type": "text/html"}, b"<h1>Bad Gateway</h1>", scrub=no_key
    ) == ("HTTP 502 (<h1>Bad Gateway</h1>)")
    assert describe_response(500, {}, b"", scrub=no_key) == "HTTP 500"


def test_json_object_is_none_for_anything_but_an_object() -> None:
    assert json_object(b'{"a": 1}') == {"a": 1}
    assert json_object(b"[1]") is None
    assert json_object(b"\xff") is None


@pytest.mark.parametrize(
    ("parsed", "expected"),
    [
        (None, ("forbidden", None)),
        ({"key": "forbidden"}, ("forbidden", None)),
        (
            {
                "key": "forbidden.action",
                "context": {"allowed": False, "reason": {"key": "administrative"}},
            },
            ("forbidden.action", "administrative"),
        ),
        ({"key": "forbidden.action", "context": {"reason": "flat"}}, ("forbidden.action", None)),
        ({"status": 403, "message": "User has no permission"}, ("forbidden", None)),
        ({"key": ""}, ("forbidden", None)),
    ],
    ids=["no-body", "basic", "action", "odd-reason", "no-perms", "empty-key"],
)
def test_forbidden_key(parsed: dict[str, Any] | None, expected: tuple[str, str | None]) -> None:
    assert forbidden_key(parsed) == expected


@pytest.mark.parametrize(
    ("call", "parsed", "documented"),
    [
        (DISABLE, {"key": "accountNotFound"}, True),
        (DISABLE, {"key": "notFound"}, True),
        (DISABLE, {"errors": [{"code": "ADMIN-404-2"}]}, False),
        (LISTING, {"errors": [{"code": "ADMIN-404-2"}]}, True),
        (LISTING, {"errors": [{"code": "ADMIN-404-1"}]}, False),
        (LISTING, {"errors": [{"code": "ADMIN-404-8"}]}, False),
        (SEARCH, {"errors": [{"code": "ADMIN-404-8"}]}, True),
        (SEARCH, {"errors": [{"code": "ADMIN-404-1"}]}, False),
        (SEARCH, {"message": "Not Found"}, False),
        (LISTING, None, False),
    ],
    ids=[
        "account-not-found",
        "account-not-found-2",
        "account-other",
        "v1-org",
        "v1-unknown-resource",
        "v1-other-code",
        "v2-org",
        "v2-unknown-resource",
        "v2-flat",
        "no-body",
    ],
)
def test_a_404_is_documented_only_in_the_apis_own_words(
    call: Call, parsed: dict[str, Any] | None, documented: bool
) -> None:
    assert is_documented_not_found(call, parsed) is documented


# -- final responses ----------------------------------------------------------------------------


def test_401_names_the_subject_and_the_fix() -> None:
    error = error_for_status(
        LISTING, 401, JSON, body({"code": 401, "message": "Unauthorized"}), BASE, scrub=no_key
    )
    assert type(error) is AuthenticationFailed and error.status == 401
    assert str(error) == (
        f"Atlassian rejected the API key (401) for org 'org-1' ({LISTING.where}); check that the "
        "Secret holds a valid, unexpired, unscoped org API key"
    )


@pytest.mark.parametrize(
    ("parsed", "key", "reason", "message"),
    [
        (
            {
                "key": "forbidden.action",
                "context": {"allowed": False, "reason": {"key": "externalDirectory.scim"}},
            },
            "forbidden.action",
            "externalDirectory.scim",
            "Atlassian refused disabling account 'acc-9' (403 forbidden.action, reason "
            "externalDirectory.scim): the account is managed by an external SCIM directory; change "
            "it in the identity provider",
        ),
        (
            {"key": "forbidden.action", "context": {"reason": {"key": "newReason"}}},
            "forbidden.action",
            "newReason",
            "Atlassian refused disabling account 'acc-9' (403 forbidden.action, reason newReason): "
            "Atlassian does not allow this for the account (newReason)",
        ),
        (
            {"key": "forbidden.targetUnverified"},
            "forbidden.targetUnverified",
            None,
            "Atlassian refused disabling account 'acc-9' (403 forbidden.targetUnverified): the "
            "account is not managed by the organization (its email domain is not verified); verify "
            "or claim the domain at admin.atlassian.com",
        ),
        (
            {"key": "forbidden"},
            "forbidden",
            None,
            "Atlassian refused disabling account 'acc-9' (403 forbidden): forbidden; the API key "
            "must be an unscoped org API key created by an admin of the organization",
        ),
    ],
    ids=["restriction", "unknown-restriction", "target-unverified", "basic"],
)
def test_403_says_why_and_what_to_do(
    parsed: dict[str, Any], key: str, reason: str | None, message: str
) -> None:
    error = error_for_status(DISABLE, 403, JSON, body(parsed), BASE, scrub=no_key)
    assert isinstance(error, Forbidden)
    assert (error.key, error.reason, error.status) == (key, reason, 403)
    assert str(error) == f"{message} ({DISABLE.where})"


def test_403_as_an_html_page_is_still_forbidden() -> None:
    error = error_for_status(
        SEARCH, 403, {"Content-Type": "text/html"}, b"<p>Denied</p>", BASE, scrub=no_key
    )
    assert isinstance(error, Forbidden) and error.key == "forbidden"
    assert "<p>Denied</p>; the API key must be an unscoped org API key" in str(error)


def test_404_of_an_account_names_it_and_the_key_atlassian_gave() -> None:
    error = error_for_status(
        DISABLE, 404, JSON, body({"key": "accountNotFound"}), BASE, scrub=no_key
    )
    assert isinstance(error, AccountNotFound) and error.account_id == "acc-9"
    assert str(error) == (
        f"Atlassian has no account 'acc-9' (404 accountNotFound from {DISABLE.where}); check the "
        "account ID"
    )


def test_404_of_an_account_without_an_atlassian_body_points_at_the_base_url() -> None:
    error = error_for_status(DISABLE, 404, {}, b"Not Found", BASE, scrub=no_key)
    assert isinstance(error, AccountNotFound)
    assert str(error).endswith(
        "(404 from " + DISABLE.where + "); check the account ID; the reply is not an Atlassian "
        f"error body, so check the API base URL {BASE}"
    )


@pytest.mark.parametrize(
    ("call", "parsed", "suffix"),
    [
        (LISTING, {"errors": [{"code": "ADMIN-404-2"}]}, ""),
        (SEARCH, {"errors": [{"code": "ADMIN-404-3"}]}, ""),
        (
            SEARCH,
            {"errors": [{"code": "ADMIN-404-1", "title": "Unknown resource"}]},
            "; the reply is not an Atlassian error body, so check the API base URL " + BASE,
        ),
    ],
    ids=["v1", "v2", "wrong-path"],
)
def test_404_of_an_org(call: Call, parsed: dict[str, Any], suffix: str) -> None:
    error = error_for_status(call, 404, JSON, body(parsed), BASE, scrub=no_key)
    assert isinstance(error, OrgNotFound) and error.org_id == "org-1"
    assert str(error) == (
        f"Atlassian has no organization 'org-1' (404 from {call.where}); check the org ID and "
        f"that the API key belongs to that organization{suffix}"
    )


@pytest.mark.parametrize(
    ("status", "content", "message"),
    [
        (
            400,
            body({"errors": [{"code": "ADMIN-400-24", "title": "Invalid body"}]}),
            ": ADMIN-400-24 Invalid body",
        ),
        (409, b"", ""),
        (302, b"", ""),
    ],
    ids=["400-envelope", "409-empty", "302"],
)
def test_any_other_status_is_the_base_error_with_what_the_server_said(
    status: int, content: bytes, message: str
) -> None:
    error = error_for_status(SEARCH, status, JSON, content, BASE, scrub=no_key)
    assert type(error) is AtlassianError and error.status == status
    assert (
        str(error)
        == f"Atlassian answered HTTP {status} to {SEARCH.action} ({SEARCH.where}){message}"
    )


# -- giving up ----------------------------------------------------------------------------------


def test_exhausted_429_is_rate_limited_with_the_servers_hint() -> None:
    error = exhausted_error(
        LISTING,
        last="HTTP 429",
        status=429,
        unreachable=False,
        attempts=3,
        waited=4.0,
        retry_after=2.0,
        base_url=BASE,
    )
    assert isinstance(error, RateLimited) and error.retry_after == 2.0
    assert str(error) == (
        f"Atlassian kept rate-limiting (429) {LISTING.action} after 3 attempts over 4.0s of "
        f"waiting ({LISTING.where}); Atlassian asks to wait 2s more"
    )
    without = exhausted_error(
        LISTING,
        last="HTTP 429",
        status=429,
        unreachable=False,
        attempts=1,
        waited=0.0,
        retry_after=None,
        base_url=BASE,
    )
    assert isinstance(without, RateLimited) and without.retry_after is None
    assert "after 1 attempt over" in str(without)
    assert str(without).endswith("try again later or make fewer requests")


def test_an_unreachable_base_url_is_named() -> None:
    error = exhausted_error(
        DISABLE,
        last="ConnectError: refused",
        status=None,
        unreachable=True,
        attempts=2,
        waited=1.5,
        retry_after=None,
        base_url=BASE,
    )
    assert type(error) is AtlassianUnavailable and error.status is None
    assert str(error) == (
        f"cannot reach Atlassian at {BASE} while disabling account 'acc-9' after 2 attempts over "
        "1.5s of waiting: ConnectError: refused; check the API base URL and the network path to "
        "it (DNS, proxy, egress policy)"
    )


def test_persistent_server_errors_are_unavailable_with_the_last_failure() -> None:
    error = exhausted_error(
        LISTING,
        last="HTTP 502 (Bad Gateway)",
        status=502,
        unreachable=False,
        attempts=4,
        waited=3.2,
        retry_after=None,
        base_url=BASE,
    )
    assert type(error) is AtlassianUnavailable and error.status == 502
    assert str(error) == (
        f"Atlassian is unavailable: {LISTING.action} failed after 4 attempts over 3.2s of "
        f"waiting ({LISTING.where}); last: HTTP 502 (Bad Gateway)"
    )


def test_an_unknown_outcome_says_to_observe_before_calling_again() -> None:
    error = outcome_unknown_error(DISABLE, last="no answer within 30s (ReadTimeout)", status=None)
    assert isinstance(error, OutcomeUnknown) and isinstance(error, AtlassianError)
    assert (error.account_id, error.status) == ("acc-9", None)
    message = str(error)
    assert message.startswith(
        "the outcome of disabling account 'acc-9' is unknown: no answer within 30s (ReadTimeout)"
    )
    assert "may or may not have taken effect" in message
    assert "observes account 'acc-9'" in message and "before calling again" in message
    assert DISABLE.where in message
    assert outcome_unknown_error(DISABLE, last="HTTP 503", status=503).status == 503


@pytest.mark.parametrize(
    ("reason", "advice"),
    [
        ("externalDirectory.google", "synced from Google Workspace"),
        ("administrative.notMyself", "their own account"),
        ("forbidden.targetUnverified", "not managed by the organization"),
        ("forbidden.insufficientScope", "created without scopes"),
        ("somethingNew", "Atlassian does not allow this for the account (somethingNew)"),
    ],
)
def test_restriction_advice(reason: str, advice: str) -> None:
    assert advice in restriction_advice(reason)
