"""The v2 search, the manage pre-check and the lifecycle retry rule, over an in-memory transport."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from atlassian_operator.atlassian import (
    AccountNotFound,
    AtlassianClient,
    AtlassianError,
    AtlassianUnavailable,
    AuthenticationFailed,
    ClientObserver,
    Forbidden,
    LifecyclePermission,
    MalformedResponse,
    OrgNotFound,
    OutcomeUnknown,
    RateLimited,
    RequestStats,
)

KEY = "ATATT3xFfGF0-v2-unit-test-secret-key"
BASE = "https://api.atlassian.test"
ORG = "org-1"
SEARCH_PATH = f"/admin/v2/orgs/{ORG}/directories/-/users/search"
SEARCH_URL = BASE + SEARCH_PATH
FIRST_BODY = {"limit": 100, "expand": ["platformRoles"]}

Reply = httpx.Response | Exception


class Recorder(ClientObserver):
    def __init__(self) -> None:
        self.responses: list[tuple[str, int]] = []
        self.waits: list[tuple[str, float, str]] = []

    def response(self, endpoint: str, status: int) -> None:
        self.responses.append((endpoint, status))

    def waiting(self, endpoint: str, seconds: float, reason: str) -> None:
        self.waits.append((endpoint, seconds, reason))


class Harness:
    """A client whose network answers with `replies` in order (a lone callable answers every
    request), in fake time: `sleep` advances `clock` at once and remembers what was asked."""

    def __init__(self, *replies: Reply | Callable[[httpx.Request], Reply], **options: Any):
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []
        self.observer = Recorder()
        queue = list(replies)

        def answer(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            assert queue, f"unexpected extra request {request.method} {request.url}"
            item = queue[0] if callable(queue[0]) and len(queue) == 1 else queue.pop(0)
            reply = item(request) if callable(item) else item
            if isinstance(reply, Exception):
                raise reply
            return reply

        self.now = 1000.0

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)
            self.now += seconds

        settings: dict[str, Any] = {
            "base_url": BASE,
            "transport": httpx.MockTransport(answer),
            "observer": self.observer,
            "sleep": sleep,
            "clock": lambda: self.now,
            "max_attempts": 3,
            "backoff_base": 0.5,
            "backoff_cap": 4.0,
            "max_wait": 60.0,
        }
        settings.update(options)
        self.client = AtlassianClient(KEY, **settings)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


@pytest.fixture
async def harness() -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(*replies: Reply | Callable[[httpx.Request], Reply], **options: Any) -> Harness:
        made.append(Harness(*replies, **options))
        return made[-1]

    yield make
    for h in made:
        await h.client.aclose()


def dir_user(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "accountId": f"acc-{n}",
        "accountType": "atlassian",
        "status": "active",
        "accountStatus": "active",
        "membershipStatus": "active",
        "claimStatus": "managed",
        "managementSource": "invited",
        "name": f"User {n}",
        "email": f"user{n}@acme.example",
        **fields,
    }


def search_page(users: list[dict[str, Any]], next_link: str | None = None) -> httpx.Response:
    links: dict[str, Any] = {"self": "s"}
    if next_link is not None:
        links["next"] = next_link
    return httpx.Response(200, json={"data": users, "links": links})


def assert_key_hidden(*things: object) -> None:
    for thing in things:
        assert KEY not in str(thing)
        assert KEY not in repr(thing)


# -- the v2 search: paging ----------------------------------------------------------------------


async def test_search_pages_with_token_cursors_and_the_same_body(
    harness: Callable[..., Harness],
) -> None:
    h = harness(
        search_page([dir_user(1), dir_user(2)], next_link="kloHX1ZQVasDAkx_P48NYQ"),
        search_page([dir_user(3)], next_link="c3"),
        search_page([dir_user(4)]),
    )

    listing = await h.client.search_directory_users(ORG)

    assert [u.account_id for u in listing.users] == ["acc-1", "acc-2", "acc-3", "acc-4"]
    assert (listing.pages, listing.duplicates) == (3, ())
    assert {(r.method, r.url.path) for r in h.requests} == {("POST", SEARCH_PATH)}
    assert all(r.headers["Content-Type"] == "application/json" for r in h.requests)
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in h.requests)
    assert h.bodies() == [
        FIRST_BODY,
        {**FIRST_BODY, "cursor": "kloHX1ZQVasDAkx_P48NYQ"},
        {**FIRST_BODY, "cursor": "c3"},
    ]
    assert h.observer.responses == [("search_users", 200)] * 3
    assert h.client.stats == RequestStats(requests=3, rate_limited=0, retries=0)


@pytest.mark.parametrize(
    "next_link",
    [
        f"{SEARCH_URL}?cursor=c%2F2",
        "https://elsewhere.example/v2/search?cursor=c%2F2&limit=5",
    ],
    ids=["own-host", "other-host"],
)
async def test_a_url_as_next_gives_its_cursor_and_is_never_requested(
    harness: Callable[..., Harness], next_link: str
) -> None:
    h = harness(search_page([dir_user(1)], next_link=next_link), search_page([dir_user(2)]))

    listing = await h.client.search_directory_users(ORG)

    assert len(listing.users) == 2
    assert [str(r.url) for r in h.requests] == [SEARCH_URL, SEARCH_URL]
    assert h.bodies()[1] == {**FIRST_BODY, "cursor": "c/2"}


async def test_a_url_as_next_without_a_cursor_fails(harness: Callable[..., Harness]) -> None:
    h = harness(search_page([dir_user(1)], next_link=f"{SEARCH_URL}?limit=100"))
    with pytest.raises(MalformedResponse, match="URL without a cursor"):
        await h.client.search_directory_users(ORG)
    assert len(h.requests) == 1


@pytest.mark.parametrize(
    "cursors",
    [["c1", "c1"], ["c1", "c2", "c1"]],
    ids=["same-as-last", "back-to-earlier"],
)
async def test_a_cursor_that_does_not_advance_fails(
    harness: Callable[..., Harness], cursors: list[str]
) -> None:
    h = harness(*(search_page([dir_user(n)], next_link=c) for n, c in enumerate(cursors)))

    with pytest.raises(MalformedResponse, match="did not advance") as caught:
        await h.client.search_directory_users(ORG)

    assert len(h.requests) == len(cursors)
    assert f"org '{ORG}'" in str(caught.value)


def endless_search(users_per_page: int, listed_total: int) -> Callable[[httpx.Request], Reply]:
    """Search pages that each link to a fresh cursor (after 1,000 the server gives in, so that a
    client that follows it for ever shows as a search that returned, not as a hung test), and a
    v1 listing of one page whose meta.total is `listed_total`."""
    served = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal served
        if request.method == "GET":
            body = {"data": [], "meta": {"total": listed_total}, "links": {}}
            return httpx.Response(200, json=body)
        served += 1
        users = [dir_user(1)] * users_per_page
        return search_page(users) if served > 1000 else search_page(users, f"fresh-{served}")

    return answer


@pytest.mark.parametrize(
    ("users_per_page", "listed_total", "requests", "said"),
    [
        (0, None, 10, "the last 10 of 10 pages were empty"),
        (0, 35, 10, "the v1 listing's meta.total says 35 users"),
        (1, 35, 80, "80 pages were followed (the largest held 1 users)"),
    ],
    ids=["empty-pages-v1-unknown", "empty-pages-v1-35", "one-user-v1-35"],
)
async def test_a_search_that_never_ends_is_abandoned_after_its_bound(
    harness: Callable[..., Harness],
    users_per_page: int,
    listed_total: int | None,
    requests: int,
    said: str,
) -> None:
    """Fresh cursors on every page: followed no further than twice the v1 count (the search
    adds the unmanaged users v1 does not count) plus a margin, or a run of ten empty pages."""
    h = harness(endless_search(users_per_page, listed_total or 0))
    if listed_total is not None:
        await h.client.list_org_users(ORG)

    with pytest.raises(MalformedResponse, match="would not end") as caught:
        await h.client.search_directory_users(ORG)

    assert sum(r.method == "POST" for r in h.requests) == requests
    message = str(caught.value)
    assert said in message
    assert f"org '{ORG}'" in message
    assert "report it to Atlassian support" in message


@pytest.mark.parametrize("empty", [None, ""], ids=["null", "empty"])
async def test_the_search_ends_at_a_null_or_empty_next(
    harness: Callable[..., Harness], empty: str | None
) -> None:
    h = harness(httpx.Response(200, json={"data": [dir_user(1)], "links": {"next": empty}}))
    assert (await h.client.search_directory_users(ORG)).pages == 1


async def test_a_user_repeated_across_pages_is_kept_once_and_reported(
    harness: Callable[..., Harness],
) -> None:
    h = harness(
        search_page([dir_user(1), dir_user(2)], next_link="c2"),
        search_page([dir_user(1, name="Newer")]),
    )

    listing = await h.client.search_directory_users(ORG)

    assert [(u.account_id, u.name) for u in listing.users] == [
        ("acc-1", "Newer"),
        ("acc-2", "User 2"),
    ]
    assert listing.duplicates == ("acc-1",)


@pytest.mark.parametrize(
    ("bad_page", "match"),
    [
        (httpx.Response(200, json={"links": {}}), "data: Field required"),
        (httpx.Response(200, json={"errors": [{"code": "ADMIN-500-1"}]}), "data: Field required"),
        (httpx.Response(200, json={"data": [dir_user(2), {"name": "x"}]}), r"data\[1\]\.accountId"),
        (httpx.Response(200, text="<html>maintenance</html>"), "is not JSON"),
    ],
    ids=["no-data", "error-body", "no-account-id", "html"],
)
async def test_a_bad_page_fails_the_whole_search_without_a_retry(
    harness: Callable[..., Harness], bad_page: httpx.Response, match: str
) -> None:
    h = harness(search_page([dir_user(1)], next_link="c2"), bad_page)

    with pytest.raises(MalformedResponse, match=match) as caught:
        await h.client.search_directory_users(ORG)

    assert "page 2" in str(caught.value) and SEARCH_URL in str(caught.value)
    assert len(h.requests) == 2


async def test_what_the_search_says_of_each_user_reads_through(
    harness: Callable[..., Harness],
) -> None:
    h = harness(
        search_page(
            [
                dir_user(
                    1,
                    managementSource="synced",
                    platformRoles=["atlassian/org-admin", "atlassian/newly-invented"],
                    productAccess=[
                        {
                            "key": "confluence",
                            "id": "ari:cloud:confluence::site/1",
                            "lastActiveTimestamp": "2025-11-06T23:07:29.936941226Z",
                        },
                        {"key": "jira", "id": "ari:cloud:jira::site/1"},
                    ],
                ),
                dir_user(2, managementSource=None, status="for_review", claimStatus="unmanaged"),
                {"accountId": "acc-3"},
            ]
        )
    )

    synced, unknown_source, bare = (await h.client.search_directory_users(ORG)).users

    assert synced.management_source == "synced"
    assert synced.platform_roles == ("atlassian/org-admin", "atlassian/newly-invented")
    assert synced.last_active == datetime(2025, 11, 6, 23, 7, 29, 936941, tzinfo=UTC)
    assert unknown_source.management_source is None
    assert (unknown_source.status, unknown_source.claim_status) == ("for_review", "unmanaged")
    assert bare.platform_roles == () and bare.last_active is None


async def test_search_refuses_an_empty_org_id(harness: Callable[..., Harness]) -> None:
    h = harness()
    with pytest.raises(ValueError, match="org_id"):
        await h.client.search_directory_users("")


async def test_search_quotes_the_org_id(harness: Callable[..., Harness]) -> None:
    h = harness(search_page([]))
    await h.client.search_directory_users("a/b c")
    assert h.requests[0].url.raw_path == b"/admin/v2/orgs/a%2Fb%20c/directories/-/users/search"


# -- the v2 search: errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected", "phrase"),
    [
        (
            httpx.Response(401, json={"errors": [{"status": "401", "title": "Unauthorized"}]}),
            AuthenticationFailed,
            f"(401) for org '{ORG}'",
        ),
        (
            httpx.Response(403, json={"errors": [{"code": "ADMIN-403-3", "title": "Denied"}]}),
            Forbidden,
            "ADMIN-403-3 Denied; the API key must be an unscoped org API key",
        ),
        (
            httpx.Response(
                403,
                text="<html><body>Access denied</body></html>",
                headers={"Content-Type": "text/html"},
            ),
            Forbidden,
            "Access denied",
        ),
        (
            httpx.Response(404, json={"errors": [{"code": "ADMIN-404-2", "title": "Not found"}]}),
            OrgNotFound,
            f"no organization '{ORG}'",
        ),
        (
            httpx.Response(400, json={"errors": [{"code": "ADMIN-400-24", "detail": "bad body"}]}),
            AtlassianError,
            "HTTP 400 to searching users of org 'org-1' (v2, page 1)",
        ),
        (
            httpx.Response(400, json={"code": 400, "message": "limit too large"}),
            AtlassianError,
            "limit too large",
        ),
    ],
    ids=["401", "403-envelope", "403-html", "404", "400-envelope", "400-flat"],
)
async def test_search_errors_are_classified_by_status(
    harness: Callable[..., Harness],
    reply: httpx.Response,
    expected: type[AtlassianError],
    phrase: str,
) -> None:
    h = harness(reply)

    with pytest.raises(expected) as caught:
        await h.client.search_directory_users(ORG)

    assert type(caught.value) is expected
    assert phrase in str(caught.value) and SEARCH_URL in str(caught.value)
    assert len(h.requests) == 1


async def test_search_is_a_read_retried_on_429_and_5xx(harness: Callable[..., Harness]) -> None:
    h = harness(
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(500, json={"errors": [{"code": "ADMIN-500-1"}]}),
        httpx.ReadTimeout("slow"),
        search_page([dir_user(1)]),
        max_attempts=4,
    )

    listing = await h.client.search_directory_users(ORG)

    assert len(listing.users) == 1 and listing.pages == 1
    assert [s for _, s in h.observer.responses] == [429, 500, 0, 200]
    assert [reason for _, _, reason in h.observer.waits] == [
        "rate_limited",
        "server_error",
        "transport",
    ]
    assert h.bodies() == [FIRST_BODY] * 4
    assert h.client.stats == RequestStats(requests=4, rate_limited=1, retries=3)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (httpx.Response(429, json={"code": 429, "message": "slow down"}), RateLimited),
        (httpx.Response(503, json={"errors": [{"code": "ADMIN-500-1"}]}), AtlassianUnavailable),
    ],
    ids=["429", "503"],
)
async def test_search_gives_up_after_its_budget(
    harness: Callable[..., Harness], reply: httpx.Response, expected: type[AtlassianError]
) -> None:
    h = harness(lambda _: reply)
    with pytest.raises(expected, match="3 attempts"):
        await h.client.search_directory_users(ORG)
    assert len(h.requests) == 3


# -- the manage pre-check -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"lifecycle.enablement": {"allowed": True}}, LifecyclePermission(True, None)),
        (
            {
                "lifecycle.enablement": {
                    "allowed": False,
                    "reason": {"key": "externalDirectory.scim"},
                }
            },
            LifecyclePermission(False, "externalDirectory.scim"),
        ),
        (
            {"lifecycle.enablement": {"allowed": False, "reason": {"key": "brandNewReason"}}},
            LifecyclePermission(False, "brandNewReason"),
        ),
        (
            {"lifecycle.enablement": {"allowed": True}, "profile.read": {"allowed": False}},
            LifecyclePermission(True, None),
        ),
    ],
    ids=["allowed", "scim", "unknown-reason", "other-privileges-too"],
)
async def test_the_precheck_reads_the_rule(
    harness: Callable[..., Harness], body: dict[str, Any], expected: LifecyclePermission
) -> None:
    h = harness(httpx.Response(200, json=body))

    assert await h.client.lifecycle_permission("557057:ab/c") == expected

    [request] = h.requests
    assert request.method == "GET"
    assert request.url.raw_path == (
        b"/users/557057%3Aab%2Fc/manage?privileges=lifecycle.enablement"
    )
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert h.observer.responses == [("manage", 200)]


async def test_an_account_the_org_does_not_manage_is_an_answer(
    harness: Callable[..., Harness],
) -> None:
    h = harness(httpx.Response(403, json={"key": "forbidden.targetUnverified"}))
    permission = await h.client.lifecycle_permission("acc-1")
    assert permission == LifecyclePermission(False, "forbidden.targetUnverified")
    assert len(h.requests) == 1


@pytest.mark.parametrize(
    ("status", "body", "expected", "phrase"),
    [
        (
            403,
            {
                "key": "forbidden.insufficientScope",
                "context": {"message": "Insufficient scope for this action"},
            },
            Forbidden,
            "created without scopes",
        ),
        (403, {"key": "forbidden"}, Forbidden, "403 forbidden"),
        (404, {"key": "accountNotFound"}, AccountNotFound, "404 accountNotFound"),
        (401, {"key": "unauthorized"}, AuthenticationFailed, "(401) for account 'acc-1'"),
    ],
    ids=["403-scope", "403-basic", "404", "401"],
)
async def test_precheck_errors_are_mapped(
    harness: Callable[..., Harness],
    status: int,
    body: dict[str, Any],
    expected: type[AtlassianError],
    phrase: str,
) -> None:
    h = harness(httpx.Response(status, json=body))

    with pytest.raises(expected) as caught:
        await h.client.lifecycle_permission("acc-1")

    assert phrase in str(caught.value) and "account 'acc-1'" in str(caught.value)
    assert len(h.requests) == 1


@pytest.mark.parametrize(
    ("reply", "match"),
    [
        (httpx.Response(200, json={}), "no 'lifecycle.enablement' key"),
        (
            httpx.Response(200, json={"profile.read": {"allowed": True}}),
            "no 'lifecycle.enablement'",
        ),
        (httpx.Response(200, json={"lifecycle.enablement": {"allowed": "yes"}}), "boolean"),
        (httpx.Response(200, json={"lifecycle.enablement": True}), "boolean"),
        (httpx.Response(200, json={"lifecycle.enablement": {"allowed": False}}), "reason.key"),
        (
            httpx.Response(200, json={"lifecycle.enablement": {"allowed": False, "reason": "x"}}),
            "reason.key",
        ),
        (httpx.Response(200, json=[{"allowed": True}]), "JSON object"),
        (httpx.Response(200, text="ok"), "not JSON"),
    ],
    ids=[
        "empty",
        "other-key",
        "allowed-not-bool",
        "rule-not-object",
        "no-reason",
        "flat-reason",
        "array",
        "text",
    ],
)
async def test_a_precheck_answer_outside_the_spec_is_malformed(
    harness: Callable[..., Harness], reply: httpx.Response, match: str
) -> None:
    h = harness(reply)
    with pytest.raises(MalformedResponse, match=match) as caught:
        await h.client.lifecycle_permission("acc-1")
    assert "account 'acc-1'" in str(caught.value)


async def test_the_precheck_is_a_read_and_retried(harness: Callable[..., Harness]) -> None:
    h = harness(
        httpx.Response(503),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json={"lifecycle.enablement": {"allowed": True}}),
    )
    assert (await h.client.lifecycle_permission("acc-1")).allowed
    assert [s for _, s in h.observer.responses] == [503, 0, 200]


# -- lifecycle calls are not repeated blindly ---------------------------------------------------

LIFECYCLE: list[tuple[str, Callable[[AtlassianClient], Awaitable[None]]]] = [
    ("disable", lambda client: client.disable("acc-7", message="Left")),
    ("enable", lambda client: client.enable("acc-7")),
]


@pytest.mark.parametrize(("endpoint", "call"), LIFECYCLE, ids=[e for e, _ in LIFECYCLE])
@pytest.mark.parametrize(
    ("reply", "status", "said"),
    [
        (httpx.ReadTimeout("timed out"), None, "no answer within 30s (ReadTimeout)"),
        (httpx.WriteTimeout("timed out"), None, "no answer within 30s (WriteTimeout)"),
        (httpx.RemoteProtocolError("Server disconnected"), None, "Server disconnected"),
        (httpx.ReadError("connection reset"), None, "ReadError: connection reset"),
        (
            httpx.Response(503, json={"code": 503, "message": "upstream"}),
            503,
            "HTTP 503 (upstream)",
        ),
        (httpx.Response(500), 500, "HTTP 500"),
        (httpx.Response(408), 408, "HTTP 408"),
    ],
    ids=["read-timeout", "write-timeout", "disconnect", "reset", "503", "500", "408"],
)
async def test_a_lifecycle_call_whose_answer_was_lost_is_not_repeated(
    harness: Callable[..., Harness],
    endpoint: str,
    call: Callable[[AtlassianClient], Awaitable[None]],
    reply: Reply,
    status: int | None,
    said: str,
) -> None:
    h = harness(reply, timeout=30.0)

    with pytest.raises(OutcomeUnknown) as caught:
        await call(h.client)

    assert len(h.requests) == 1, "a lifecycle call that may have landed was sent again"
    error = caught.value
    assert (error.account_id, error.status) == ("acc-7", status)
    message = str(error)
    assert said in message and "account 'acc-7'" in message
    assert "may or may not have taken effect" in message and "before calling again" in message
    assert f"{BASE}/users/acc-7/manage/lifecycle/{endpoint}" in message
    assert h.sleeps == [] and h.observer.waits == []
    assert_key_hidden(error)


@pytest.mark.parametrize(("endpoint", "call"), LIFECYCLE, ids=[e for e, _ in LIFECYCLE])
@pytest.mark.parametrize(
    ("first", "reason"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "transport"),
        (httpx.ConnectTimeout("connect timed out"), "transport"),
        (httpx.Response(429, headers={"Retry-After": "3"}), "rate_limited"),
    ],
    ids=["connect-error", "connect-timeout", "429"],
)
async def test_a_lifecycle_call_that_never_landed_is_retried(
    harness: Callable[..., Harness],
    endpoint: str,
    call: Callable[[AtlassianClient], Awaitable[None]],
    first: Reply,
    reason: str,
) -> None:
    h = harness(first, httpx.Response(204))

    await call(h.client)

    assert len(h.requests) == 2
    assert [r.url.path for r in h.requests] == [f"/users/acc-7/manage/lifecycle/{endpoint}"] * 2
    assert [(e, r) for e, _, r in h.observer.waits] == [(endpoint, reason)]
    assert h.client.stats.retries == 1


async def test_a_disable_refused_until_the_budget_ends_is_rate_limited(
    harness: Callable[..., Harness],
) -> None:
    h = harness(lambda _: httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(RateLimited, match="3 attempts"):
        await h.client.disable("acc-7")
    assert len(h.requests) == 3


async def test_a_disable_that_never_connects_is_unavailable(
    harness: Callable[..., Harness],
) -> None:
    h = harness(lambda _: httpx.ConnectError("refused"))
    with pytest.raises(AtlassianUnavailable, match=f"cannot reach Atlassian at {BASE}"):
        await h.client.disable("acc-7")
    assert len(h.requests) == 3


# -- the key stays secret -----------------------------------------------------------------------


def echo(status: int, shape: str) -> Callable[[httpx.Request], httpx.Response]:
    """A server that quotes the request's Authorization header back in its error body."""

    def answer(request: httpx.Request) -> httpx.Response:
        said = f"bad {request.headers['Authorization']}"
        bodies: dict[str, Any] = {
            "errors": {"errors": [{"code": "X", "detail": said}]},
            "flat": {"message": said},
            "key": {"key": "forbidden", "context": {"message": said}},
        }
        if shape == "html":
            return httpx.Response(
                status, text=f"<p>{said}</p>", headers={"Content-Type": "text/html"}
            )
        return httpx.Response(status, json=bodies[shape])

    return answer


SEARCH = lambda client: client.search_directory_users(ORG)  # noqa: E731
MANAGE = lambda client: client.lifecycle_permission("acc-1")  # noqa: E731
DISABLE = lambda client: client.disable("acc-1")  # noqa: E731


@pytest.mark.parametrize(
    ("call", "status", "shape", "expected"),
    [
        (SEARCH, 400, "errors", AtlassianError),
        (SEARCH, 403, "html", Forbidden),
        (SEARCH, 404, "flat", OrgNotFound),
        (SEARCH, 503, "flat", AtlassianUnavailable),
        (SEARCH, 429, "errors", RateLimited),
        (MANAGE, 403, "key", Forbidden),
        (MANAGE, 401, "flat", AuthenticationFailed),
        (MANAGE, 500, "html", AtlassianUnavailable),
        (DISABLE, 503, "flat", OutcomeUnknown),
        (DISABLE, 409, "errors", AtlassianError),
    ],
    ids=[
        "search-400",
        "search-403",
        "search-404",
        "search-503",
        "search-429",
        "manage-403",
        "manage-401",
        "manage-500",
        "disable-503",
        "disable-409",
    ],
)
async def test_the_key_never_shows_in_errors_or_logs(
    harness: Callable[..., Harness],
    caplog: pytest.LogCaptureFixture,
    call: Callable[[AtlassianClient], Awaitable[Any]],
    status: int,
    shape: str,
    expected: type[AtlassianError],
) -> None:
    caplog.set_level(logging.DEBUG)
    h = harness(echo(status, shape))

    with pytest.raises(expected) as caught:
        await call(h.client)

    assert type(caught.value) is expected
    if status not in (401, 404, 429):  # those messages quote no body
        assert "[redacted]" in str(caught.value)
    assert_key_hidden(caught.value, caught.value.args, h.client, vars(h.client))
    assert_key_hidden(*(record.getMessage() for record in caplog.records))
