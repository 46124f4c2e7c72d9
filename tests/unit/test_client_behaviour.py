"""The client over an in-memory transport: paging, retries, error mapping, and keeping the key."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
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
    MalformedResponse,
    NotSent,
    OrgNotFound,
    RateLimited,
    RequestStats,
)

KEY = "ATATT3xFfGF0-unit-test-secret-key"
BASE = "https://api.atlassian.test"
ORG = "org-1"
USERS_URL = f"{BASE}/admin/v1/orgs/{ORG}/users"

Handler = Callable[[httpx.Request], httpx.Response]


def user(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "account_id": f"acc-{n}",
        "account_type": "atlassian",
        "account_status": "active",
        "name": f"User {n}",
        "picture": "https://avatar.example/p.png",
        **fields,
    }


def page(
    users: list[dict[str, Any]], next_link: str | None = None, *, total: int | None = 99
) -> httpx.Response:
    body: dict[str, Any] = {"data": users, "links": {"self": "s"}}
    if total is not None:
        body["meta"] = {"total": total}
    if next_link is not None:
        body["links"]["next"] = next_link
    return httpx.Response(200, json=body)


class Clock:
    """Fake time: `sleep` advances `clock` instantly and remembers what was asked."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Recorder(ClientObserver):
    def __init__(self) -> None:
        self.responses: list[tuple[str, int]] = []
        self.waits: list[tuple[str, float, str]] = []

    def response(self, endpoint: str, status: int) -> None:
        self.responses.append((endpoint, status))

    def waiting(self, endpoint: str, seconds: float, reason: str) -> None:
        self.waits.append((endpoint, seconds, reason))


class Harness:
    def __init__(self, handler: Handler, **options: Any) -> None:
        self.requests: list[httpx.Request] = []
        self.time = Clock()
        self.observer = Recorder()

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        settings: dict[str, Any] = {
            "base_url": BASE,
            "transport": httpx.MockTransport(record),
            "observer": self.observer,
            "sleep": self.time.sleep,
            "clock": self.time.clock,
            "max_attempts": 4,
            "backoff_base": 0.5,
            "backoff_cap": 4.0,
            "max_wait": 60.0,
        }
        settings.update(options)
        self.client = AtlassianClient(KEY, **settings)


@pytest.fixture
async def harness() -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(handler: Handler, **options: Any) -> Harness:
        made.append(Harness(handler, **options))
        return made[-1]

    yield make
    for h in made:
        await h.client.aclose()


def sequence(*responses: httpx.Response | Exception) -> Handler:
    """Answer with these in order, then fail loudly if asked again."""
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        assert queue, f"unexpected extra request {request.url}"
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler


def assert_key_hidden(*texts: object) -> None:
    for text in texts:
        assert KEY not in str(text)
        assert KEY not in repr(text)


# -- paging -----------------------------------------------------------------------------------


async def test_follows_full_next_urls_and_bare_cursors(harness: Callable[..., Harness]) -> None:
    h = harness(
        sequence(
            page([user(1), user(2)], next_link=f"{USERS_URL}?cursor=c2"),
            page([user(3)], next_link="c3+/="),
            page([user(4)], next_link=""),
        )
    )

    users = await h.client.list_all_users(ORG)

    assert [u.account_id for u in users] == ["acc-1", "acc-2", "acc-3", "acc-4"]
    assert [r.url.params.get("cursor") for r in h.requests] == [None, "c2", "c3+/="]
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in h.requests)
    assert h.client.stats == RequestStats(requests=3, rate_limited=0, retries=0)


async def test_org_ids_are_quoted_into_the_path(harness: Callable[..., Harness]) -> None:
    h = harness(sequence(page([])))
    await h.client.list_all_users("a/b c")
    assert h.requests[0].url.raw_path == b"/admin/v1/orgs/a%2Fb%20c/users"


async def test_a_next_link_to_another_host_gets_the_cursor_but_never_the_key(
    harness: Callable[..., Harness],
) -> None:
    h = harness(
        sequence(
            page([user(1)], next_link="https://evil.example/admin/v1/orgs/org-1/users?cursor=c2"),
            page([user(2)]),
        )
    )

    users = await h.client.list_all_users(ORG)

    assert len(users) == 2
    assert [r.url.host for r in h.requests] == ["api.atlassian.test"] * 2
    assert h.requests[1].url.params["cursor"] == "c2"


async def test_a_next_link_to_another_host_without_cursor_fails(
    harness: Callable[..., Harness],
) -> None:
    h = harness(sequence(page([user(1)], next_link="https://evil.example/more")))
    with pytest.raises(MalformedResponse, match="another host"):
        await h.client.list_all_users(ORG)
    assert len(h.requests) == 1


async def test_a_pagination_loop_is_detected(harness: Callable[..., Harness]) -> None:
    h = harness(
        sequence(
            page([user(1)], next_link="c1"),
            page([user(2)], next_link="c2"),
            page([user(3)], next_link="c1"),
        )
    )
    with pytest.raises(MalformedResponse, match="already read"):
        await h.client.list_all_users(ORG)


def endless(users_per_page: int, total: int | None) -> Handler:
    """A server whose every page links to a fresh cursor; after 1,000 pages it gives in, so that
    a client that follows it for ever shows as a listing that returned, not as a hung test."""
    served = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal served
        served += 1
        users = [user(1)] * users_per_page
        return page(users, total=total) if served > 1000 else page(users, f"c{served}", total=total)

    return handler


@pytest.mark.parametrize(
    ("users_per_page", "total", "requests", "said"),
    [
        (0, 0, 10, "the last 10 of 10 pages were empty"),
        (0, None, 10, "the last 10 of 10 pages were empty"),
        (0, 35, 10, "meta.total says 35 users"),
        (1, 35, 45, "45 pages were followed (the largest held 1 users)"),
    ],
    ids=["empty-pages-total-0", "empty-pages-no-total", "empty-pages-total-35", "one-user-35"],
)
async def test_a_listing_that_never_ends_is_abandoned_after_its_bound(
    harness: Callable[..., Harness],
    users_per_page: int,
    total: int | None,
    requests: int,
    said: str,
) -> None:
    """Fresh cursors on every page: followed no further than the count allows plus a margin,
    or a run of ten empty pages; then the listing fails as a whole, saying what to do."""
    h = harness(endless(users_per_page, total))

    with pytest.raises(MalformedResponse, match="would not end") as caught:
        await h.client.list_org_users(ORG)

    assert len(h.requests) == requests
    message = str(caught.value)
    assert said in message
    assert f"org '{ORG}'" in message
    assert "report it to Atlassian support" in message


async def test_a_listing_as_long_as_its_count_is_followed_to_its_end(
    harness: Callable[..., Harness],
) -> None:
    # One user a page and a few empty pages on the way: slow, but it ends where meta.total says.
    pages = [page([user(n)] if n % 4 else [], f"c{n}", total=31) for n in range(1, 40)]
    h = harness(sequence(*pages, page([user(40)], total=31)))

    listing = await h.client.list_org_users(ORG)

    assert (len(listing.users), len(h.requests)) == (31, 40)
    assert listing.contradiction() is None


async def test_a_user_listed_twice_is_returned_once(harness: Callable[..., Harness]) -> None:
    h = harness(sequence(page([user(1)], next_link="c"), page([user(1, name="New"), user(2)])))
    users = await h.client.list_all_users(ORG)
    assert [(u.account_id, u.name) for u in users] == [("acc-1", "New"), ("acc-2", "User 2")]


# -- a listing that says what it knows of itself ----------------------------------------------


async def test_a_consistent_listing_contradicts_nothing(harness: Callable[..., Harness]) -> None:
    h = harness(
        sequence(page([user(1), user(2)], next_link="c2", total=3), page([user(3)], total=3))
    )

    listing = await h.client.list_org_users(ORG)

    assert [u.account_id for u in listing.users] == ["acc-1", "acc-2", "acc-3"]
    assert (listing.reported_total, listing.duplicates) == (3, ())
    assert listing.contradiction() is None


async def test_a_listing_short_of_its_last_meta_total_says_so(
    harness: Callable[..., Harness],
) -> None:
    # The first page agrees with what came; the last page's meta.total is the one that counts.
    h = harness(
        sequence(page([user(1), user(2)], next_link="c2", total=3), page([user(3)], total=5))
    )

    listing = await h.client.list_org_users(ORG)

    assert len(listing.users) == 3
    assert listing.reported_total == 5
    contradiction = listing.contradiction()
    assert contradiction is not None
    assert "3 users" in contradiction
    assert "meta.total says 5" in contradiction


async def test_a_last_page_without_meta_keeps_the_total_an_earlier_page_said(
    harness: Callable[..., Harness],
) -> None:
    h = harness(sequence(page([user(1)], next_link="c2", total=4), page([user(2)], total=None)))

    listing = await h.client.list_org_users(ORG)

    assert listing.reported_total == 4
    assert listing.contradiction() is not None


async def test_a_listing_without_any_total_is_taken_at_its_word(
    harness: Callable[..., Harness],
) -> None:
    h = harness(sequence(page([user(1)], next_link="c2", total=None), page([user(2)], total=None)))

    listing = await h.client.list_org_users(ORG)

    assert listing.reported_total is None
    assert listing.contradiction() is None


async def test_a_user_repeated_across_pages_is_listed_once_and_reported(
    harness: Callable[..., Harness],
) -> None:
    h = harness(
        sequence(
            page([user(1), user(2)], next_link="c2", total=3),
            page([user(1, name="New"), user(3)], total=3),
        )
    )

    listing = await h.client.list_org_users(ORG)

    assert [(u.account_id, u.name) for u in listing.users] == [
        ("acc-1", "New"),
        ("acc-2", "User 2"),
        ("acc-3", "User 3"),
    ]
    assert listing.duplicates == ("acc-1",)
    contradiction = listing.contradiction()
    assert contradiction is not None
    assert "acc-1" in contradiction
    assert "more than once" in contradiction
    assert "meta.total" not in contradiction  # three distinct users, as the server counted


async def test_a_listing_error_on_a_later_page_raises_instead_of_a_partial_listing(
    harness: Callable[..., Harness],
) -> None:
    h = harness(sequence(page([user(1)], next_link="c2", total=2), httpx.Response(403)))

    with pytest.raises(Forbidden):
        await h.client.list_org_users(ORG)


@pytest.mark.parametrize(
    ("bad_page", "match"),
    [
        (httpx.Response(200, text="<html>maintenance</html>"), r"page 3\) is not JSON"),
        (httpx.Response(200, json={"data": [user(1), {"name": "x"}]}), r"data\[1\]\.account_id"),
        (httpx.Response(200, json={"errors": []}), "data: Field required"),
    ],
    ids=["html", "missing-account-id", "no-data"],
)
async def test_a_bad_page_fails_the_whole_listing(
    harness: Callable[..., Harness], bad_page: httpx.Response, match: str
) -> None:
    h = harness(
        sequence(
            page([user(1)], next_link=f"{USERS_URL}?cursor=secret-cursor-2"),
            page([user(2)], next_link=f"{USERS_URL}?cursor=secret-cursor-3"),
            bad_page,
        )
    )

    with pytest.raises(MalformedResponse, match=match) as caught:
        await h.client.list_all_users(ORG)

    message = str(caught.value)
    assert f"org '{ORG}'" in message and USERS_URL in message
    assert "secret-cursor" not in message  # query values stay out of messages
    assert caught.value.__cause__ is not None
    assert len(h.requests) == 3  # malformed replies are not retried
    assert_key_hidden(caught.value)


# -- retries ----------------------------------------------------------------------------------


async def test_429_waits_as_long_as_retry_after_says(harness: Callable[..., Harness]) -> None:
    h = harness(sequence(httpx.Response(429, headers={"Retry-After": "7"}), page([user(1)])))

    assert len(await h.client.list_all_users(ORG)) == 1

    assert h.time.sleeps == [7.0]
    assert h.observer.waits == [("list_users", 7.0, "rate_limited")]
    assert h.observer.responses == [("list_users", 429), ("list_users", 200)]
    assert h.client.stats == RequestStats(requests=2, rate_limited=1, retries=1)


async def test_429_waits_until_the_rate_limit_reset(harness: Callable[..., Harness]) -> None:
    reset = (datetime.now(UTC) + timedelta(seconds=20)).isoformat()
    h = harness(
        sequence(
            httpx.Response(429, headers={"X-RateLimit-Reset": reset, "X-RateLimit-Remaining": "0"}),
            page([user(1)]),
        )
    )

    await h.client.list_all_users(ORG)

    [wait] = h.time.sleeps
    assert 18.0 < wait <= 20.0


async def test_429_without_a_signal_backs_off_exponentially(
    harness: Callable[..., Harness],
) -> None:
    h = harness(
        sequence(
            httpx.Response(429),
            httpx.Response(429, headers={"X-RateLimit-Reset": "2001-01-01T00:00Z"}),  # past
            httpx.Response(429, headers={"Retry-After": "later"}),
            page([user(1)]),
        )
    )

    await h.client.list_all_users(ORG)

    assert len(h.time.sleeps) == 3
    assert all(0 <= s <= c for s, c in zip(h.time.sleeps, [0.5, 1.0, 2.0], strict=True))


async def test_persistent_429_raises_rate_limited_after_max_attempts(
    harness: Callable[..., Harness],
) -> None:
    h = harness(lambda _: httpx.Response(429, headers={"Retry-After": "2"}), max_attempts=3)

    with pytest.raises(RateLimited) as caught:
        await h.client.list_all_users(ORG)

    assert caught.value.retry_after == 2.0
    assert_key_hidden(caught.value)
    assert "3 attempts" in str(caught.value) and f"org '{ORG}'" in str(caught.value)
    assert h.client.stats == RequestStats(requests=3, rate_limited=3, retries=2)


async def test_a_wait_beyond_the_budget_fails_at_once(harness: Callable[..., Harness]) -> None:
    h = harness(lambda _: httpx.Response(429, headers={"Retry-After": "3600"}), max_wait=300)

    with pytest.raises(RateLimited) as caught:
        await h.client.list_all_users(ORG)

    assert caught.value.retry_after == 3600.0
    assert h.time.sleeps == [] and len(h.requests) == 1


async def test_server_errors_and_timeouts_are_retried(harness: Callable[..., Harness]) -> None:
    h = harness(
        sequence(
            page([user(1)], next_link="c2"),
            httpx.Response(503, json={"code": 503, "message": "upstream"}),
            httpx.ReadTimeout("slow"),
            httpx.RemoteProtocolError("peer closed connection"),
            page([user(2)]),
        ),
        max_attempts=4,
    )

    assert len(await h.client.list_all_users(ORG)) == 2

    assert [reason for _, _, reason in h.observer.waits] == [
        "server_error",
        "transport",
        "transport",
    ]
    assert [status for _, status in h.observer.responses] == [200, 503, 0, 0, 200]
    assert h.client.stats.retries == 3


async def test_persistent_server_errors_raise_unavailable(harness: Callable[..., Harness]) -> None:
    h = harness(lambda _: httpx.Response(502, text="<h1>Bad Gateway</h1>"))

    with pytest.raises(AtlassianUnavailable, match=r"4 attempts.*HTTP 502 \(<h1>Bad Gateway") as e:
        await h.client.list_all_users(ORG)
    assert e.value.status == 502
    assert_key_hidden(e.value)


async def test_an_unreachable_base_url_is_named(harness: Callable[..., Harness]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    h = harness(refuse)

    with pytest.raises(AtlassianUnavailable) as caught:
        await h.client.disable("acc-1")

    assert f"cannot reach Atlassian at {BASE}" in str(caught.value)
    assert "Connection refused" in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_client_errors_are_not_retried(harness: Callable[..., Harness]) -> None:
    body = {"errors": [{"code": "ADMIN-400-1", "title": "Invalid page cursor"}]}
    h = harness(sequence(httpx.Response(400, json=body)))

    with pytest.raises(AtlassianError, match=r"HTTP 400.*ADMIN-400-1 Invalid page cursor") as e:
        await h.client.list_all_users(ORG)

    assert type(e.value) is AtlassianError and e.value.status == 400
    assert h.time.sleeps == []


# -- pacing and concurrency -------------------------------------------------------------------


async def test_few_remaining_requests_are_paced_until_the_reset(
    harness: Callable[..., Harness],
) -> None:
    reset = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    low = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    first = page([user(1)], next_link="c2")
    first.headers.update(low)
    h = harness(sequence(first, page([user(2)])))

    await h.client.list_all_users(ORG)

    [(endpoint, seconds, reason)] = h.observer.waits
    assert (endpoint, reason) == ("list_users", "pacing")
    assert 28 < seconds <= 30
    assert h.client.stats.rate_limited == 0


async def test_concurrency_is_bounded() -> None:
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(204)

    async with AtlassianClient(
        KEY, base_url=BASE, transport=httpx.MockTransport(slow), max_concurrency=3
    ) as client:
        await asyncio.gather(*(client.disable(f"acc-{n}") for n in range(10)))

    assert peak == 3


# -- lifecycle and error mapping ----------------------------------------------------------------


async def test_disable_and_enable_send_what_the_spec_says(harness: Callable[..., Harness]) -> None:
    h = harness(lambda _: httpx.Response(204))

    await h.client.disable("557057:4f9a/x")
    await h.client.disable("acc-2", message="On 6-month suspension")
    await h.client.enable("acc-3")

    disable, disable_msg, enable = h.requests
    assert disable.method == "POST"
    assert disable.url.raw_path == b"/users/557057%3A4f9a%2Fx/manage/lifecycle/disable"
    assert json.loads(disable.content) == {}
    assert json.loads(disable_msg.content) == {"message": "On 6-month suspension"}
    assert enable.url.path == "/users/acc-3/manage/lifecycle/enable" and enable.content == b""
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in h.requests)


async def test_lifecycle_calls_are_retried_only_when_they_had_no_effect(
    harness: Callable[..., Harness],
) -> None:
    # A 429 is a refusal; a failed connect never reached the server. Both are safe to repeat.
    h = harness(sequence(httpx.Response(429), httpx.ConnectError("refused"), httpx.Response(204)))
    await h.client.enable("acc-1")
    assert h.observer.responses == [("enable", 429), ("enable", 0), ("enable", 204)]
    assert [reason for _, _, reason in h.observer.waits] == ["rate_limited", "transport"]


# Error bodies: the spec's own examples (admin_user.json, admin_organization.json), AX-631's
# verbatim insufficient-scope body and the community thread's NoPermsError body (API-NOTES §0).
@pytest.mark.parametrize(
    ("status", "body", "expected_type", "attributes", "phrase"),
    [
        (401, {"key": "unauthorized"}, AuthenticationFailed, {}, "unexpired, unscoped org API key"),
        (
            403,
            {
                "key": "forbidden.action",
                "context": {"allowed": False, "reason": {"key": "externalDirectory.scim"}},
            },
            Forbidden,
            {"key": "forbidden.action", "reason": "externalDirectory.scim"},
            "identity provider",
        ),
        (
            403,
            {"key": "forbidden.targetUnverified"},
            Forbidden,
            {"key": "forbidden.targetUnverified", "reason": None},
            "domain",
        ),
        (
            403,
            {
                "key": "forbidden.insufficientScope",
                "context": {
                    "message": "Insufficient scope for this action",
                    "acceptableScopes": ["manage:org", "manage:me:DUMMYSCOPE"],
                },
                "errorKey": "forbidden.insufficient-scope",
            },
            Forbidden,
            {"key": "forbidden.insufficientScope", "reason": None},
            "without scopes",
        ),
        (403, {"key": "forbidden"}, Forbidden, {"key": "forbidden", "reason": None}, "org API key"),
        (404, {"key": "accountNotFound"}, AccountNotFound, {"account_id": "acc-9"}, "acc-9"),
    ],
    ids=["401", "403-scim", "403-unverified", "403-scoped-key", "403-basic", "404"],
)
async def test_lifecycle_errors_are_mapped(
    harness: Callable[..., Harness],
    status: int,
    body: dict[str, Any],
    expected_type: type[AtlassianError],
    attributes: dict[str, Any],
    phrase: str,
) -> None:
    h = harness(lambda _: httpx.Response(status, json=body))

    with pytest.raises(expected_type) as caught:
        await h.client.disable("acc-9")

    assert phrase in str(caught.value)
    assert "account 'acc-9'" in str(caught.value)
    for name, value in attributes.items():
        assert getattr(caught.value, name) == value
    assert len(h.requests) == 1
    assert_key_hidden(caught.value)


@pytest.mark.parametrize(
    ("status", "body", "expected_type", "phrase"),
    [
        (
            401,
            {"code": 401, "message": "Unauthorized"},
            AuthenticationFailed,
            f"(401) for org '{ORG}'",
        ),
        (
            403,
            {
                "timestamp": "2025-06-06T06:03:27.122+00:00",
                "path": f"/api/admin/v1/orgs/{ORG}/users",
                "status": 403,
                "error": "Forbidden",
                "message": "User has no permission to access resource.",
                "requestId": "b4fce632-202784",
            },
            Forbidden,
            "User has no permission to access resource.",
        ),
        (
            404,
            {"errors": [{"code": "ADMIN-404-2", "title": "Organization not found"}]},
            OrgNotFound,
            f"no organization '{ORG}'",
        ),
    ],
    ids=["401", "403-no-perms", "404"],
)
async def test_listing_errors_are_mapped(
    harness: Callable[..., Harness],
    status: int,
    body: dict[str, Any],
    expected_type: type[AtlassianError],
    phrase: str,
) -> None:
    h = harness(lambda _: httpx.Response(status, json=body))

    with pytest.raises(expected_type) as caught:
        await h.client.list_all_users(ORG)

    assert phrase in str(caught.value)
    assert USERS_URL in str(caught.value)
    assert_key_hidden(caught.value)


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(404, text="Not Found"),
        httpx.Response(
            404, json={"errors": [{"code": "ADMIN-404-1", "title": "Unknown resource"}]}
        ),
    ],
    ids=["html", "unknown-resource"],
)
async def test_a_404_that_is_not_about_the_org_points_at_the_base_url(
    harness: Callable[..., Harness], reply: httpx.Response
) -> None:
    h = harness(lambda _: reply)
    with pytest.raises(OrgNotFound, match=f"check the API base URL {BASE}"):
        await h.client.list_all_users(ORG)


# -- the key stays secret -----------------------------------------------------------------------


async def test_the_key_never_shows(
    harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    # A server that echoes the request's Authorization header back in its error bodies.
    def echo(request: httpx.Request) -> httpx.Response:
        status = 429 if len(h.requests) == 1 else 400
        return httpx.Response(status, json={"message": f"bad {request.headers['Authorization']}"})

    h = harness(echo)

    with pytest.raises(AtlassianError) as caught:
        await h.client.disable("acc-1")

    assert "[redacted]" in str(caught.value)
    assert repr(h.client) == str(h.client) == f"AtlassianClient(base_url='{BASE}')"
    assert_key_hidden(h.client, caught.value, h.client.stats, vars(h.client))
    logged = [record.getMessage() for record in caplog.records]
    assert any("retrying" in line and "[redacted]" in line for line in logged)
    assert_key_hidden(*logged)


def test_an_unusable_key_or_base_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="empty"):
        AtlassianClient("  \n")
    with pytest.raises(ValueError, match="whitespace") as caught:
        AtlassianClient("two words-secret")
    assert "secret" not in str(caught.value)
    with pytest.raises(ValueError, match="base URL"):
        AtlassianClient(KEY, base_url="ftp://example.com")


async def test_a_trailing_newline_in_the_key_is_tolerated(
    harness: Callable[..., Harness],
) -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(204)

    async with AtlassianClient(
        KEY + "\n", base_url=BASE, transport=httpx.MockTransport(handler)
    ) as client:
        await client.enable("acc-1")
    assert requests[0].headers["Authorization"] == f"Bearer {KEY}"


async def test_a_failing_observer_does_not_break_requests(
    harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(ClientObserver):
        def response(self, endpoint: str, status: int) -> None:
            raise RuntimeError("metrics down")

    h = harness(lambda _: httpx.Response(204), observer=Broken())
    await h.client.enable("acc-1")
    assert "observer failed" in caplog.text


async def test_stats_snapshots_subtract() -> None:
    async with AtlassianClient(
        KEY, base_url=BASE, transport=httpx.MockTransport(lambda _: httpx.Response(204))
    ) as client:
        before = client.stats
        await client.enable("a")
        await client.enable("b")
        assert (client.stats - before).requests == 2
        assert before.requests == 0


async def test_format_of_retry_after_http_date(harness: Callable[..., Harness]) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=12), usegmt=True)
    h = harness(sequence(httpx.Response(429, headers={"Retry-After": when}), httpx.Response(204)))
    await h.client.enable("acc-1")
    [wait] = h.time.sleeps
    assert 10 < wait <= 12


def test_the_public_surface_is_pinned() -> None:
    import atlassian_operator.atlassian as package

    assert sorted(package.__all__) == [
        "AccountNotFound",
        "AtlassianClient",
        "AtlassianError",
        "AtlassianUnavailable",
        "AuthenticationFailed",
        "ClientObserver",
        "DirectoryListing",
        "DirectoryProductAccess",
        "DirectoryUser",
        "Forbidden",
        "LifecyclePermission",
        "ListingInconsistent",
        "MalformedResponse",
        "NotSent",
        "OrgNotFound",
        "OutcomeUnknown",
        "Product",
        "RateLimited",
        "RequestStats",
        "UnreadableTime",
        "User",
        "UserListing",
        "UserPage",  # the preflight check reads the first page and its meta.total
        "newest_time",
        "restriction_advice",
        "scrub_key",  # the preflight check scrubs its whole output once more
    ]
    for name in package.__all__:
        if name.endswith(
            (
                "Error",
                "Failed",
                "Found",
                "Limited",
                "Unavailable",
                "Response",
                "Forbidden",
                "Unknown",
                "Inconsistent",
            )
        ):
            assert issubclass(getattr(package, name), AtlassianError)


def test_the_package_imports_no_kubernetes_code() -> None:
    script = (
        "import sys, atlassian_operator.atlassian\n"
        "own = 'atlassian_operator.atlassian'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kopf', 'kubernetes')\n"
        "    or (m.startswith('atlassian_operator.') and not m.startswith(own))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


async def test_after_stop_sending_only_requests_on_the_wire_finish() -> None:
    """On shutdown the operator waits for the calls it sent; one still queued behind the
    concurrency limit must not go out meanwhile (a successor would not know of it)."""
    sent: list[str] = []
    on_the_wire, release = asyncio.Event(), asyncio.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        on_the_wire.set()
        await release.wait()
        return httpx.Response(204)

    async with AtlassianClient(
        KEY, base_url=BASE, transport=httpx.MockTransport(held), max_concurrency=1
    ) as client:
        first = asyncio.create_task(client.disable("acc-1"))
        queued = asyncio.create_task(client.disable("acc-2"))
        await on_the_wire.wait()
        client.stop_sending()
        release.set()
        await first  # answered
        with pytest.raises(NotSent):
            await queued
    assert sent == ["/users/acc-1/manage/lifecycle/disable"]
