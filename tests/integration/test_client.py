"""The Atlassian client against the simulator over loopback: paging, retries, errors, lifecycle."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from atlassian_operator.atlassian import (
    AccountNotFound,
    AtlassianClient,
    AtlassianUnavailable,
    AuthenticationFailed,
    ClientObserver,
    DirectoryUser,
    Forbidden,
    LifecyclePermission,
    MalformedResponse,
    OrgNotFound,
    OutcomeUnknown,
    RequestStats,
    User,
)
from support.simulator import Simulator, start_simulator

USERS = 250
PAGE_SIZE = 20
PAGES = 13  # ceil(250 / 20)


@pytest.fixture(scope="module")
def running_simulator() -> Iterator[Simulator]:
    with start_simulator(users=USERS, page_size=PAGE_SIZE, seed=7, scim_every=25) as sim:
        yield sim


@pytest.fixture
def sim(running_simulator: Simulator) -> Simulator:
    running_simulator.reset()
    return running_simulator


class Recorder(ClientObserver):
    def __init__(self) -> None:
        self.responses: list[tuple[str, int]] = []
        self.waits: list[tuple[str, float, str]] = []

    def response(self, endpoint: str, status: int) -> None:
        self.responses.append((endpoint, status))

    def waiting(self, endpoint: str, seconds: float, reason: str) -> None:
        self.waits.append((endpoint, seconds, reason))


@pytest.fixture
def observer() -> Recorder:
    return Recorder()


def fast_client(sim: Simulator, observer: ClientObserver | None = None, **options: Any) -> Any:
    settings: dict[str, Any] = {
        "base_url": sim.url,
        "timeout": 5.0,
        "max_attempts": 5,
        "backoff_base": 0.05,
        "backoff_cap": 0.5,
        "max_wait": 10.0,
        "observer": observer,
    }
    settings.update(options)
    return AtlassianClient(sim.api_key, **settings)


@pytest.fixture
async def client(sim: Simulator, observer: Recorder) -> AsyncIterator[AtlassianClient]:
    async with fast_client(sim, observer) as client:
        yield client


@pytest.fixture(autouse=True)
def key_never_logged(
    caplog: pytest.LogCaptureFixture, running_simulator: Simulator
) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        assert running_simulator.api_key not in record.getMessage(), record.getMessage()


def simulated(sim: Simulator) -> dict[str, dict[str, Any]]:
    return {entry["user"]["account_id"]: entry for entry in sim.users()}


def pick(sim: Simulator, *, status: str = "active", scim: bool = False) -> str:
    for account_id, entry in simulated(sim).items():
        if (
            entry["user"]["account_status"] == status
            and entry["scim"] is scim
            and entry.get("claimStatus", "managed") == "managed"
        ):
            return account_id
    raise AssertionError(f"the simulator has no {status} user with scim={scim}")


def wait_until(predicate: Callable[[], Any], describe: str, timeout: float = 10.0) -> Any:
    """Poll until `predicate()` is truthy; fail naming what was awaited and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {describe}; last seen: {last!r}")
        time.sleep(0.05)


# -- paging -------------------------------------------------------------------------------------


async def test_lists_every_user_once_across_all_pages(
    sim: Simulator, client: AtlassianClient
) -> None:
    users = await client.list_all_users(sim.org_id)

    expected = simulated(sim)
    assert len(users) == USERS
    assert sorted(u.account_id for u in users) == sorted(expected)
    # Each user reads back as the simulator serves it, dates as aware datetimes.
    for user in users:
        assert user == User.model_validate(expected[user.account_id]["user"])
        assert user.last_active is None or user.last_active.tzinfo is not None
    assert len(sim.requests("list_users")) == PAGES
    assert client.stats == RequestStats(requests=PAGES, rate_limited=0, retries=0)


async def test_streams_users_page_by_page(sim: Simulator, client: AtlassianClient) -> None:
    seen = 0
    async for _ in client.list_users(sim.org_id):
        seen += 1
        if seen == PAGE_SIZE:
            break
    assert len(sim.requests("list_users")) == 1


# -- rate limiting ------------------------------------------------------------------------------


def in_seconds(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


@pytest.mark.parametrize(
    ("headers", "min_wait", "max_wait"),
    [
        (lambda: {"Retry-After": "1"}, 1.0, 1.0),
        (lambda: {"X-RateLimit-Reset": in_seconds(1.0), "X-RateLimit-Remaining": "0"}, 0.5, 1.0),
        (lambda: {}, 0.0, 0.05),
    ],
    ids=["retry-after", "rate-limit-reset", "no-signal-backoff"],
)
async def test_429_is_waited_out_by_each_signal(
    sim: Simulator,
    client: AtlassianClient,
    observer: Recorder,
    headers: Any,
    min_wait: float,
    max_wait: float,
) -> None:
    sim.add_fault(endpoint="list_users", page=3, kind="status", status=429, headers=headers())

    started = time.monotonic()
    users = await client.list_all_users(sim.org_id)

    assert len(users) == USERS
    [(endpoint, waited, reason)] = observer.waits
    assert (endpoint, reason) == ("list_users", "rate_limited")
    assert min_wait <= waited <= max_wait
    assert time.monotonic() - started >= min_wait
    assert client.stats == RequestStats(requests=PAGES + 1, rate_limited=1, retries=1)


@pytest.mark.parametrize("signal", ["retry-after", "none"])
async def test_a_listing_completes_under_a_real_rate_limit(
    sim: Simulator, observer: Recorder, signal: str
) -> None:
    # 4 requests per 2 s window: the 13 pages need four windows, at least 6 s, so the client
    # must be held back however slow the machine is (with 8 per 1 s a loaded machine listed
    # across the window changes without ever waiting). The simulator rounds X-RateLimit-Reset
    # of short windows up to the minute, so `max_wait` keeps pacing short.
    sim.set_rate_limit(4, signal=signal, window_seconds=2)

    async with fast_client(sim, observer, max_attempts=30, max_wait=3.0) as client:
        users = await client.list_all_users(sim.org_id)

    assert len(users) == USERS
    refused = [r for r in sim.requests("list_users") if r["status"] == 429]
    assert observer.waits, "the limiter never made the client wait"
    assert client.stats.rate_limited == len(refused)
    assert client.stats.requests == PAGES + len(refused)


# -- transient failures -------------------------------------------------------------------------


async def test_server_errors_on_a_page_are_retried(
    sim: Simulator, client: AtlassianClient, observer: Recorder
) -> None:
    sim.add_fault(endpoint="list_users", page=4, kind="status", status=503, times=2)

    assert len(await client.list_all_users(sim.org_id)) == USERS

    assert [reason for _, _, reason in observer.waits] == ["server_error", "server_error"]
    assert [r["fault"] for r in sim.requests("list_users")].count("status") == 2
    assert client.stats.retries == 2


async def test_a_slow_page_times_out_and_is_retried(sim: Simulator, observer: Recorder) -> None:
    sim.add_fault(endpoint="list_users", page=2, kind="slow", delay_seconds=1.0)

    async with fast_client(sim, observer, timeout=0.3) as client:
        assert len(await client.list_all_users(sim.org_id)) == USERS

    assert ("list_users", 0) in observer.responses
    assert [reason for _, _, reason in observer.waits] == ["transport"]
    # The simulator logs the slow answer when it finishes; wait, or the next test sees it.
    wait_until(
        lambda: [r for r in sim.requests("list_users") if r["fault"] == "slow"],
        "the simulator to finish the slow page",
    )


async def test_a_reset_connection_is_retried(
    sim: Simulator, client: AtlassianClient, observer: Recorder
) -> None:
    sim.add_fault(endpoint="list_users", page=3, kind="reset")

    assert len(await client.list_all_users(sim.org_id)) == USERS

    assert [reason for _, _, reason in observer.waits] == ["transport"]
    assert [r["status"] for r in sim.requests("list_users")].count(None) == 1


async def test_persistent_server_errors_raise_unavailable(sim: Simulator) -> None:
    sim.add_fault(endpoint="list_users", page=2, kind="status", status=500, times=10)

    async with fast_client(sim, max_attempts=3) as client:
        with pytest.raises(AtlassianUnavailable) as caught:
            await client.list_all_users(sim.org_id)

    message = str(caught.value)
    assert "page 2" in message and "3 attempts" in message and "ADMIN-500-1" in message
    assert sim.users_url in message


async def test_an_unreachable_simulator_is_named() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"

    async with AtlassianClient(
        "some-key", base_url=url, max_attempts=2, backoff_base=0.01, backoff_cap=0.01
    ) as client:
        with pytest.raises(AtlassianUnavailable, match=f"cannot reach Atlassian at {url}"):
            await client.list_all_users("org")


# -- failures that are final --------------------------------------------------------------------


async def test_a_malformed_page_fails_the_listing_without_a_partial_result(
    sim: Simulator, client: AtlassianClient
) -> None:
    sim.add_fault(endpoint="list_users", page=5, kind="malformed")

    with pytest.raises(MalformedResponse) as caught:
        await client.list_all_users(sim.org_id)

    assert "page 5" in str(caught.value) and "not JSON" in str(caught.value)
    assert sim.users_url in str(caught.value)
    assert len(sim.requests("list_users")) == 5  # not retried, nothing after it


async def test_a_wrong_key_is_authentication_failed(sim: Simulator) -> None:
    async with AtlassianClient("not-the-key", base_url=sim.url) as client:
        with pytest.raises(AuthenticationFailed, match=f"for org '{sim.org_id}'"):
            await client.list_all_users(sim.org_id)
        with pytest.raises(AuthenticationFailed, match="for account 'x'"):
            await client.disable("x")


async def test_an_unknown_org_is_org_not_found(sim: Simulator, client: AtlassianClient) -> None:
    with pytest.raises(OrgNotFound, match="no organization 'org-elsewhere'") as caught:
        await client.list_all_users("org-elsewhere")
    assert caught.value.org_id == "org-elsewhere"


async def test_an_unknown_account_is_account_not_found(
    sim: Simulator, client: AtlassianClient
) -> None:
    with pytest.raises(AccountNotFound, match="404 accountNotFound") as caught:
        await client.disable("no-such-account")
    assert caught.value.account_id == "no-such-account"


async def test_a_scim_managed_account_is_forbidden_with_its_reason(
    sim: Simulator, client: AtlassianClient
) -> None:
    account_id = pick(sim, scim=True)

    with pytest.raises(Forbidden) as caught:
        await client.disable(account_id)

    assert (caught.value.key, caught.value.reason) == ("forbidden.action", "externalDirectory.scim")
    assert "identity provider" in str(caught.value) and account_id in str(caught.value)
    assert simulated(sim)[account_id]["user"]["account_status"] == "active"


async def test_a_closed_account_cannot_be_enabled(sim: Simulator, client: AtlassianClient) -> None:
    with pytest.raises(Forbidden) as caught:
        await client.enable(pick(sim, status="closed"))
    assert (caught.value.key, caught.value.reason) == ("forbidden", None)


# -- lifecycle ----------------------------------------------------------------------------------


async def test_disable_and_enable_change_the_account(
    sim: Simulator, client: AtlassianClient
) -> None:
    account_id = pick(sim)

    await client.disable(account_id, message="Left the company")
    entry = sim.user(account_id)
    assert entry["user"]["account_status"] == "inactive"
    assert entry["lifecycle"][-1]["message"] == "Left the company"
    listed = {u.account_id: u for u in await client.list_all_users(sim.org_id)}
    assert listed[account_id].account_status == "inactive"

    await client.enable(account_id)
    assert sim.user(account_id)["user"]["account_status"] == "active"
    assert [r["body"] for r in sim.requests("disable")] == [{"message": "Left the company"}]


@pytest.mark.parametrize(
    "fault",
    [{"kind": "reset"}, {"kind": "status", "status": 502}],
    ids=["reset", "502"],
)
async def test_a_lifecycle_call_whose_answer_is_lost_is_not_repeated(
    sim: Simulator, client: AtlassianClient, observer: Recorder, fault: dict[str, Any]
) -> None:
    account_id = pick(sim)
    sim.add_fault(endpoint="disable", account_id=account_id, **fault)

    with pytest.raises(OutcomeUnknown, match="may or may not have taken effect") as caught:
        await client.disable(account_id)

    assert caught.value.account_id == account_id
    assert len(sim.requests("disable")) == 1
    assert client.stats == RequestStats(requests=1, rate_limited=0, retries=0)
    # Observe, then call again: what the operator does after an unknown outcome.
    assert await client.lifecycle_permission(account_id) == LifecyclePermission(True)
    await client.disable(account_id)
    assert sim.user(account_id)["user"]["account_status"] == "inactive"


async def test_a_lifecycle_call_that_timed_out_may_have_landed(sim: Simulator) -> None:
    account_id = pick(sim)
    sim.add_fault(endpoint="disable", account_id=account_id, kind="slow", delay_seconds=0.6)

    async with fast_client(sim, timeout=0.2) as client:
        with pytest.raises(OutcomeUnknown, match=r"no answer within 0\.2s"):
            await client.disable(account_id)

    assert len(sim.faults()) == 0 and client.stats.requests == 1
    # The server carried on without the client: the disable took effect after all.
    wait_until(
        lambda: sim.user(account_id)["user"]["account_status"] == "inactive",
        "the slow disable to land",
    )


async def test_a_lifecycle_call_refused_with_429_is_retried(
    sim: Simulator, client: AtlassianClient, observer: Recorder
) -> None:
    account_id = pick(sim)
    sim.add_fault(endpoint="disable", account_id=account_id, kind="status", status=429, times=2)

    await client.disable(account_id)

    assert sim.user(account_id)["user"]["account_status"] == "inactive"
    assert [status for _, status in observer.responses] == [429, 429, 204]
    assert client.stats == RequestStats(requests=3, rate_limited=2, retries=2)


async def test_concurrent_lifecycle_calls_all_land(sim: Simulator) -> None:
    active = [
        account_id
        for account_id, entry in simulated(sim).items()
        if entry["user"]["account_status"] == "active" and not entry["scim"]
    ][:12]

    async with fast_client(sim, max_concurrency=3) as client:
        await asyncio.gather(*(client.disable(account_id) for account_id in active))

    statuses = {simulated(sim)[a]["user"]["account_status"] for a in active}
    assert statuses == {"inactive"}
    assert len(sim.requests("disable")) == len(active)


# -- the v2 search ------------------------------------------------------------------------------

ADMINS, UNMANAGED = 3, 7
DIRECTORY_USERS = USERS + ADMINS + UNMANAGED  # 260: three pages of 100
SEARCH_PAGES = 3
FIRST_SEARCH = {"limit": 100, "expand": ["platformRoles"]}


@pytest.fixture(scope="module")
def running_directory() -> Iterator[Simulator]:
    with start_simulator(
        users=USERS,
        page_size=PAGE_SIZE,
        seed=7,
        scim_every=25,
        admins=ADMINS,
        unmanaged=UNMANAGED,
    ) as sim:
        yield sim


@pytest.fixture
def directory_sim(running_directory: Simulator) -> Simulator:
    running_directory.reset()
    return running_directory


async def test_the_search_sees_every_user_and_what_the_v1_listing_cannot_tell(
    directory_sim: Simulator, observer: Recorder
) -> None:
    sim = directory_sim
    async with fast_client(sim, observer) as client:
        listing = await client.search_directory_users(sim.org_id)
        managed = {u.account_id for u in await client.list_all_users(sim.org_id)}

    expected = simulated(sim)
    found = {user.account_id: user for user in listing.users}
    assert sorted(found) == sorted(expected) and len(found) == DIRECTORY_USERS
    assert (listing.pages, listing.duplicates) == (SEARCH_PAGES, ())
    # Each page resends the first request with the cursor; the observer counts the pages.
    bodies = [r["body"] for r in sim.requests("search_users")]
    assert bodies[0] == FIRST_SEARCH
    assert [{k: v for k, v in b.items() if k != "cursor"} for b in bodies] == [FIRST_SEARCH] * 3
    assert [isinstance(b.get("cursor"), str) for b in bodies] == [False, True, True]
    assert observer.responses.count(("search_users", 200)) == SEARCH_PAGES

    for account_id, entry in expected.items():
        user: DirectoryUser = found[account_id]
        assert user.claim_status == entry["claimStatus"]
        assert user.platform_roles == tuple(entry["platformRoles"])
        assert user.management_source == entry["managementSource"]
        assert user.account_status == entry["user"]["account_status"]
        assert (user.claim_status == "managed") == (account_id in managed)
        assert all(p.last_active is None or p.last_active.tzinfo for p in user.product_access)
    assert sum(u.claim_status == "unmanaged" for u in listing.users) == UNMANAGED
    assert sum("atlassian/org-admin" in u.platform_roles for u in listing.users) == ADMINS
    synced = [u for u in listing.users if u.management_source == "synced"]
    assert synced and all(expected[u.account_id]["scim"] for u in synced)
    assert all(not u.product_access for u in listing.users)  # not asked for everyone


async def test_the_unmanaged_search_returns_them_alone_with_their_activity(
    directory_sim: Simulator, observer: Recorder
) -> None:
    sim = directory_sim
    async with fast_client(sim, observer) as client:
        listing = await client.search_directory_users(sim.org_id, unmanaged_only=True)
    assert len(listing.users) == UNMANAGED
    assert all(u.claim_status == "unmanaged" for u in listing.users)
    assert all(u.last_active is not None for u in listing.users)
    assert sim.requests("search_users")[0]["body"]["claimStatus"] == "unmanaged"


async def test_a_failing_search_page_is_retried(
    directory_sim: Simulator, observer: Recorder
) -> None:
    sim = directory_sim
    sim.add_fault(endpoint="search_users", page=2, kind="status", status=500)
    sim.add_fault(endpoint="search_users", page=3, kind="reset")

    async with fast_client(sim, observer) as client:
        listing = await client.search_directory_users(sim.org_id)

    assert len(listing.users) == DIRECTORY_USERS and listing.pages == SEARCH_PAGES
    assert [reason for _, _, reason in observer.waits] == ["server_error", "transport"]
    assert [status for _, status in observer.responses] == [200, 500, 200, 0, 200]


async def test_a_malformed_search_page_fails_the_search(directory_sim: Simulator) -> None:
    sim = directory_sim
    sim.add_fault(endpoint="search_users", page=2, kind="malformed")

    async with fast_client(sim) as client:
        with pytest.raises(MalformedResponse, match=r"page 2\) is not JSON"):
            await client.search_directory_users(sim.org_id)

    assert len(sim.requests("search_users")) == 2


async def test_search_errors_are_typed(directory_sim: Simulator) -> None:
    sim = directory_sim
    async with AtlassianClient("not-the-key", base_url=sim.url) as client:
        with pytest.raises(AuthenticationFailed, match=f"for org '{sim.org_id}'"):
            await client.search_directory_users(sim.org_id)
    async with fast_client(sim) as client:
        with pytest.raises(OrgNotFound, match="no organization 'org-elsewhere'") as caught:
            await client.search_directory_users("org-elsewhere")
    assert "check the API base URL" not in str(caught.value)


# -- the manage pre-check -----------------------------------------------------------------------


def first(sim: Simulator, predicate: Callable[[dict[str, Any]], bool]) -> str:
    return next(a for a, entry in simulated(sim).items() if predicate(entry))


async def test_the_precheck_answers_for_each_kind_of_account(directory_sim: Simulator) -> None:
    sim = directory_sim
    managed = first(
        sim,
        lambda e: (
            e["claimStatus"] == "managed"
            and not e["scim"]
            and e["user"]["account_status"] == "active"
        ),
    )
    synced = first(sim, lambda e: e["scim"] and e["user"]["account_status"] != "closed")
    unmanaged = first(sim, lambda e: e["claimStatus"] == "unmanaged")
    closed = first(sim, lambda e: e["user"]["account_status"] == "closed")

    async with fast_client(sim) as client:
        assert await client.lifecycle_permission(managed) == LifecyclePermission(True)
        assert await client.lifecycle_permission(synced) == LifecyclePermission(
            False, "externalDirectory.scim"
        )
        assert await client.lifecycle_permission(unmanaged) == LifecyclePermission(
            False, "forbidden.targetUnverified"
        )
        with pytest.raises(Forbidden):
            await client.lifecycle_permission(closed)
        with pytest.raises(AccountNotFound, match="no-such-account"):
            await client.lifecycle_permission("no-such-account")

    queries = [r["query"] for r in sim.requests("manage")]
    assert queries == [{"privileges": "lifecycle.enablement"}] * 5


async def test_a_failing_precheck_is_retried(directory_sim: Simulator, observer: Recorder) -> None:
    sim = directory_sim
    account_id = pick(sim)
    sim.add_fault(endpoint="manage", account_id=account_id, kind="status", status=503)

    async with fast_client(sim, observer) as client:
        assert (await client.lifecycle_permission(account_id)).allowed

    assert observer.responses == [("manage", 503), ("manage", 200)]
