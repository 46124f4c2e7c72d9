"""The simulator behaves like a small Atlassian org: paging, lifecycle, limits, faults, its log."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from atlassian_operator.simulator.ratelimit import RateLimiter
from atlassian_operator.simulator.state import OrgState
from support.simulator import Simulator, SimulatorError, start_simulator

SITES = {
    ("jira-software", "https://acme.atlassian.net"),
    ("confluence", "https://acme.atlassian.net/wiki"),
    ("jira-service-desk", "https://acme-support.atlassian.net"),
    ("confluence", "https://acme-support.atlassian.net/wiki"),
}
UNKNOWN_ID = "5b10ac8d82e05b22cc7d4ef5"


def _walk(simulator: Simulator) -> list[dict[str, Any]]:
    """Every page, by following links.next as the full URL it is."""
    pages: list[dict[str, Any]] = []
    url: str | None = simulator.users_url
    while url is not None:
        response = simulator.http.get(url, headers=simulator.auth_headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url = pages[-1]["links"].get("next")
    return pages


def _ids(pages: list[dict[str, Any]]) -> list[str]:
    return [user["account_id"] for page in pages for user in page["data"]]


def _pick(simulator: Simulator, *, scim: bool = False, status: str = "active") -> str:
    for entry in simulator.users():
        if entry["scim"] is scim and entry["user"]["account_status"] == status:
            return str(entry["user"]["account_id"])
    raise AssertionError(f"no user with scim={scim} and status {status}")


def _post(simulator: Simulator, account_id: str, action: str, **kwargs: Any) -> httpx.Response:
    url = simulator.lifecycle_url(account_id, action)
    return simulator.http.post(url, headers=simulator.auth_headers, **kwargs)


# --- data and paging --------------------------------------------------------------------------


def test_the_same_seed_serves_byte_identical_listings_and_another_seed_does_not() -> None:
    with ExitStack() as stack, ThreadPoolExecutor(3) as pool:
        # Started side by side: each start mostly waits for the process's imports.
        starts = [
            pool.submit(start_simulator, users=120, seed=seed, page_size=50)
            for seed in (11, 11, 12)
        ]
        sims = [stack.enter_context(start.result()) for start in starts]
        listings = []
        for sim in sims:
            url: str | None = sim.users_url
            raw = b""
            while url is not None:
                response = sim.http.get(url, headers=sim.auth_headers)
                raw += response.content
                url = response.json()["links"].get("next")
            # Only the port differs between two runs; it is part of every link.
            listings.append(raw.replace(sim.url.encode(), b"BASE"))

    assert listings[0] == listings[1]
    assert listings[0] != listings[2]
    assert b"BASE/admin/v1/orgs/org-test/users?cursor=" in listings[0]


def test_following_full_next_links_lists_every_user_exactly_once(simulator: Simulator) -> None:
    pages = _walk(simulator)

    ids = _ids(pages)
    assert [len(page["data"]) for page in pages] == [50] * 5
    assert {page["meta"]["total"] for page in pages} == {250}
    assert ids == sorted({entry["user"]["account_id"] for entry in simulator.users()})
    for page in pages[:-1]:
        assert page["links"]["next"].startswith(f"{simulator.users_url}?cursor=")


def test_prev_and_self_links_lead_back_to_the_same_pages(simulator: Simulator) -> None:
    pages = _walk(simulator)

    with httpx.Client(headers=simulator.auth_headers) as client:
        previous = client.get(pages[3]["links"]["prev"]).json()
        again = client.get(pages[3]["links"]["self"]).json()

    assert previous["data"] == pages[2]["data"]
    assert again["data"] == pages[3]["data"]


def test_users_added_and_removed_between_pages_are_never_skipped_or_repeated(
    simulator: Simulator,
) -> None:
    before = [entry["user"]["account_id"] for entry in simulator.users()]
    with httpx.Client(headers=simulator.auth_headers) as client:
        first = client.get(simulator.users_url).json()
        # Between page 1 and page 2: the cursor's own user and a later one go, users arrive
        # before the cursor, in the unseen middle and at the end.
        removed_seen, removed_unseen = first["data"][-1]["account_id"], before[120]
        simulator.remove_user(removed_seen)
        simulator.remove_user(removed_unseen)
        for account_id in ("000000000000000000000000", before[130] + "0", "ffffffffffffffffffff"):
            simulator.add_user(account_id=account_id)
        rest = _walk_from(client, first["links"]["next"])

    listed = Counter(_ids([first, *rest]))
    assert max(listed.values()) == 1
    survivors = set(before) - {removed_seen, removed_unseen}
    assert survivors <= set(listed)
    assert removed_unseen not in listed
    assert before[130] + "0" in listed and "ffffffffffffffffffff" in listed
    assert "000000000000000000000000" not in listed  # arrived behind the cursor
    assert rest[-1]["meta"]["total"] == 251


def _walk_from(client: httpx.Client, url: str | None) -> list[dict[str, Any]]:
    pages = []
    while url is not None:
        pages.append(client.get(url).json())
        url = pages[-1]["links"].get("next")
    return pages


def test_generated_users_have_the_documented_mix(simulator: Simulator) -> None:
    entries = simulator.users()
    users = [entry["user"] for entry in entries]
    statuses = Counter(user["account_status"] for user in users)

    assert len(users) == 250
    assert statuses["active"] >= 190 and statuses["inactive"] >= 10 and statuses["closed"] >= 3
    assert 1 <= sum("email" not in user for user in users) <= 40
    for user in users:
        if "email" in user:
            assert re.fullmatch(r"[a-z]+\.[a-z]+\d+@acme\.example", user["email"])
    no_access = [user for user in users if not user.get("product_access")]
    assert 1 <= len(no_access) <= 40
    assert all("last_active" not in user for user in no_access)
    products = [p for user in users for p in user.get("product_access", [])]
    assert {(p["key"], p["url"]) for p in products} == SITES
    assert all(p["last_active"].endswith("Z") for p in products)
    assert {user["access_billable"] for user in users} == {True, False}
    assert all(user["account_type"] == "atlassian" for user in users)
    assert sum(entry["scim"] for entry in entries) == 10  # every 25th user


def test_fifty_thousand_users_page_through_by_cursor_a_page_at_a_time() -> None:
    """Speed is measured in `make bench` (hack/bench_scale.py runs 50,000 users), not here."""
    org = OrgState(org_id="org", users=50_000, seed=3, page_size=100, scim_every=25)
    org.base_url = "http://sim"
    pages = [org.page(None)]
    while pages[-1].next_cursor is not None:
        pages.append(org.page(pages[-1].next_cursor))
    cursor = org.page(None).next_cursor
    for _ in range(200):
        cursor = org.page(cursor).next_cursor
    body = json.loads(org.render_page(org.page(cursor), cursor))

    assert [page.number for page in pages] == list(range(1, 501))
    assert org.page(cursor).number == 202
    assert len(body["data"]) == 100


# --- lifecycle --------------------------------------------------------------------------------


def test_disable_then_enable_changes_the_listing_and_records_the_message(
    simulator: Simulator,
) -> None:
    account_id = _pick(simulator)

    disabled = _post(simulator, account_id, "disable", json={"message": "Left the company"})
    after_disable = simulator.user(account_id)
    listed = {u["account_id"]: u for page in _walk(simulator) for u in page["data"]}[account_id]
    enabled = _post(simulator, account_id, "enable")
    after_enable = simulator.user(account_id)

    assert disabled.status_code == 204 and enabled.status_code == 204
    assert after_disable["user"]["account_status"] == "inactive"
    assert after_disable["user"]["access_billable"] is False
    assert listed == after_disable["user"]
    assert after_enable["user"]["account_status"] == "active"
    assert [(e["action"], e["message"]) for e in after_enable["lifecycle"]] == [
        ("disable", "Left the company"),
        ("enable", None),
    ]


def test_disable_is_idempotent_and_accepts_an_empty_body(simulator: Simulator) -> None:
    account_id = _pick(simulator)

    answers = [
        _post(simulator, account_id, "disable").status_code,
        _post(simulator, account_id, "disable", json={}).status_code,
    ]

    entry = simulator.user(account_id)
    assert answers == [204, 204]
    assert entry["user"]["account_status"] == "inactive"
    assert [(e["action"], e["message"]) for e in entry["lifecycle"]] == [
        ("disable", None),
        ("disable", None),
    ]


def test_a_disable_body_outside_the_spec_is_refused_without_change(simulator: Simulator) -> None:
    account_id = _pick(simulator)

    response = _post(simulator, account_id, "disable", json={"message": 42})

    assert response.status_code == 400
    assert simulator.user(account_id)["user"]["account_status"] == "active"


def test_scim_users_are_refused_until_the_flag_is_cleared(simulator: Simulator) -> None:
    synced = _pick(simulator, scim=True)
    plain = _pick(simulator)

    refused = [_post(simulator, synced, action).status_code for action in ("disable", "enable")]
    unchanged = simulator.user(synced)
    simulator.update_user(synced, scim=False)
    simulator.update_user(plain, scim=True)

    assert refused == [403, 403]
    assert unchanged["user"]["account_status"] == "active" and unchanged["lifecycle"] == []
    assert _post(simulator, synced, "disable").status_code == 204
    response = _post(simulator, plain, "disable")
    assert response.status_code == 403
    assert response.json()["context"]["reason"]["key"] == "externalDirectory.scim"


def test_closed_users_are_refused_and_stay_closed(simulator: Simulator) -> None:
    account_id = _pick(simulator, status="closed")

    answers = [_post(simulator, account_id, action) for action in ("enable", "disable")]

    assert [(a.status_code, a.json()) for a in answers] == [(403, {"key": "forbidden"})] * 2
    assert simulator.user(account_id)["user"]["account_status"] == "closed"


def test_a_removed_user_leaves_the_listing_and_lifecycle_answers_404(simulator: Simulator) -> None:
    account_id = _pick(simulator)

    simulator.remove_user(account_id)

    pages = _walk(simulator)
    assert account_id not in _ids(pages) and pages[0]["meta"]["total"] == 249
    for action in ("disable", "enable"):
        response = _post(simulator, account_id, action)
        assert (response.status_code, response.json()) == (404, {"key": "accountNotFound"})
    with pytest.raises(SimulatorError, match="404"):
        simulator.user(account_id)


def test_admin_changes_to_users_show_in_the_listing(simulator: Simulator) -> None:
    account_id = _pick(simulator, status="inactive")
    added = simulator.add_user(account_id="abc123", name="New Hire", email="new@acme.example")

    simulator.update_user(account_id, account_status="active", email=None, product_access=[])

    listed = {u["account_id"]: u for page in _walk(simulator) for u in page["data"]}
    assert listed[account_id]["account_status"] == "active"
    assert "email" not in listed[account_id] and listed[account_id]["product_access"] == []
    assert added["user"] == listed["abc123"]
    assert added["user"]["account_status"] == "active" and added["scim"] is False
    assert added["user"]["links"]["self"].startswith(simulator.url)


@pytest.mark.parametrize(
    "fields",
    [
        {"account_status": "suspended"},
        {"nickname": "nick"},
        {"product_access": [{"key": "jira", "name": "Jira"}]},
        {"last_active": "yesterday"},
        {"links": {"self": "x"}},
    ],
    ids=["status", "unknown-field", "product-key", "date", "links"],
)
def test_admin_refuses_user_fields_outside_the_spec(
    simulator: Simulator, fields: dict[str, Any]
) -> None:
    with pytest.raises(SimulatorError, match="400"):
        simulator.update_user(_pick(simulator), **fields)
    with pytest.raises(SimulatorError, match="400"):
        simulator.add_user(account_id="new-user", **fields)


# --- rate limit -------------------------------------------------------------------------------


@pytest.mark.parametrize("signal", ["retry-after", "reset", "none"])
def test_over_the_limit_answers_429_with_the_configured_hint(
    simulator: Simulator, signal: str
) -> None:
    # An hour-long window: the three requests cannot straddle a window boundary in practice.
    simulator.set_rate_limit(2, signal=signal, window_seconds=3600)
    account_id = _pick(simulator)

    answers = [
        simulator.http.get(simulator.users_url, headers=simulator.auth_headers),
        _post(simulator, account_id, "enable"),  # lifecycle calls share the budget
        simulator.http.get(simulator.users_url, headers=simulator.auth_headers),
    ]

    assert [a.status_code for a in answers] == [200, 204, 429]
    assert answers[2].json()["code"] == 429
    assert [a.headers["X-RateLimit-Limit"] for a in answers] == ["2"] * 3
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    now = datetime.now(UTC)
    for answer in answers:
        if signal == "none":
            assert "X-RateLimit-Reset" not in answer.headers
        else:
            reset = answer.headers["X-RateLimit-Reset"]
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z", reset)
            # Hour-long windows end on the hour: the next one from now.
            next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            assert datetime.strptime(reset, "%Y-%m-%dT%H:%M%z") == next_hour
    retry_after = answers[2].headers.get("Retry-After")
    if signal == "retry-after":
        assert retry_after is not None and 1 <= int(retry_after) <= 3600
    else:
        assert retry_after is None and all("Retry-After" not in a.headers for a in answers)


def test_a_short_window_admits_again_once_retry_after_has_passed(simulator: Simulator) -> None:
    simulator.set_rate_limit(1, window_seconds=1)
    with httpx.Client(headers=simulator.auth_headers) as client:
        assert client.get(simulator.users_url).status_code == 200
        refused = client.get(simulator.users_url)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        refused_at = time.monotonic()
        # Wait for the condition (admitted again), with a deadline.
        while (answer := client.get(simulator.users_url)).status_code == 429:
            assert time.monotonic() - refused_at < 3, "still refused long after Retry-After"
            time.sleep(0.05)

    assert answer.status_code == 200
    assert time.monotonic() - refused_at <= 1.5


@pytest.mark.parametrize(
    ("now", "window", "reset", "retry_after"),
    [
        pytest.param("10:42:30.5", 60, "10:43", "30", id="minute-window-is-exact"),
        pytest.param("10:42:59.9", 60, "10:43", "1", id="minute-window-last-instant"),
        pytest.param("10:42:30.5", 2, "10:43", "2", id="short-window-rounds-reset-up"),
        pytest.param("10:42:59.5", 2, "10:43", "1", id="short-window-ending-on-the-minute"),
        pytest.param("10:42:30.0", 3600, "11:00", "1050", id="hour-window"),
    ],
)
def test_windows_are_fixed_and_the_reset_is_never_early(
    now: str, window: int, reset: str, retry_after: str
) -> None:
    instant = datetime.fromisoformat(f"2026-11-28T{now}+00:00").timestamp()
    limiter = RateLimiter(1, "retry-after", window, clock=lambda: instant)

    admitted, refused = limiter.admit(), limiter.admit()

    assert admitted.allowed and not refused.allowed
    assert refused.headers["X-RateLimit-Reset"] == f"2026-11-28T{reset}Z"
    assert refused.headers["Retry-After"] == retry_after
    assert "Retry-After" not in admitted.headers


def test_mistyped_admin_calls_are_not_taken_for_api_calls(simulator: Simulator) -> None:
    response = simulator.http.get(f"{simulator.url}/_sim/user")

    assert response.status_code == 404 and "error" in response.json()
    assert simulator.requests() == []


def test_the_command_line_limit_applies_from_the_start() -> None:
    with start_simulator(
        users=5,
        rate_limit_per_minute=1,
        rate_limit_signal="reset",
        extra_args=["--rate-limit-window-seconds", "3600"],
    ) as sim:
        first = sim.http.get(sim.users_url, headers=sim.auth_headers)
        second = sim.http.get(sim.users_url, headers=sim.auth_headers)
        state = sim.state()

    assert (first.status_code, second.status_code) == (200, 429)
    assert "Retry-After" not in second.headers and "X-RateLimit-Reset" in second.headers
    assert state["rate_limit"] == {"per_minute": 1, "signal": "reset", "window_seconds": 3600.0}


def test_without_a_limit_no_rate_limit_headers_are_sent(simulator: Simulator) -> None:
    response = simulator.http.get(simulator.users_url, headers=simulator.auth_headers)

    assert not [name for name in response.headers if name.lower().startswith("x-ratelimit")]


# --- faults -----------------------------------------------------------------------------------


def _page_urls(simulator: Simulator) -> list[str]:
    return [page["links"]["self"] for page in _walk(simulator)]


@pytest.mark.parametrize("kind", ["status", "malformed", "reset", "slow"])
def test_a_fault_hits_only_its_page_exactly_times_times(simulator: Simulator, kind: str) -> None:
    urls = _page_urls(simulator)
    simulator.clear_requests()
    simulator.add_fault(
        endpoint="list_users", page=2, kind=kind, times=2, status=503, delay_seconds=0.2
    )

    outcomes = []
    with httpx.Client(headers=simulator.auth_headers) as client:
        for url in [urls[0], urls[1], urls[1], urls[1], urls[2]]:
            started = time.monotonic()
            try:
                response = client.get(url)
            except httpx.TransportError:
                outcomes.append("dropped")
                continue
            try:
                response.json()
                parsed = "json"
            except ValueError:
                parsed = "not-json"
            slow = time.monotonic() - started >= 0.2
            outcomes.append(f"{response.status_code}/{parsed}{'/slow' if slow else ''}")

    faulty = {
        "status": "503/json",
        "malformed": "200/not-json",
        "reset": "dropped",
        "slow": "200/json/slow",
    }[kind]
    assert outcomes[1:3] == [faulty, faulty]
    assert outcomes[0] == outcomes[3] == outcomes[4] == "200/json"
    assert [entry["fault"] for entry in simulator.requests()] == [None, kind, kind, None, None]
    assert simulator.faults() == []


def test_a_fault_carries_the_headers_it_was_given(simulator: Simulator) -> None:
    simulator.add_fault(
        endpoint="list_users", kind="status", status=429, headers={"Retry-After": "7"}
    )

    response = simulator.http.get(simulator.users_url, headers=simulator.auth_headers)

    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.json() == {"code": 429, "message": "Too Many Requests"}


def test_a_lifecycle_fault_hits_only_its_account(simulator: Simulator) -> None:
    target, other = _pick(simulator), _pick(simulator, status="inactive")
    simulator.add_fault(endpoint="disable", kind="status", status=503, account_id=target)

    answers = [
        _post(simulator, other, "disable").status_code,
        _post(simulator, target, "enable").status_code,
        _post(simulator, target, "disable").status_code,
        _post(simulator, target, "disable").status_code,
    ]

    assert answers == [204, 204, 503, 204]


@pytest.mark.parametrize(
    "spec",
    [
        {"endpoint": "delete", "kind": "status"},
        {"endpoint": "list_users", "kind": "explode"},
        {"endpoint": "disable", "kind": "status", "page": 2},
        {"endpoint": "list_users", "kind": "status", "times": 0},
        {"endpoint": "list_users", "kind": "status", "status": 200},
        {"endpoint": "list_users", "kind": "status", "when": "now"},
    ],
    ids=["endpoint", "kind", "page-on-lifecycle", "times", "status", "unknown-field"],
)
def test_faults_that_cannot_be_honoured_are_refused(
    simulator: Simulator, spec: dict[str, Any]
) -> None:
    with pytest.raises(SimulatorError, match="400"):
        simulator.add_fault(**spec)


# --- request log and secrets ------------------------------------------------------------------


def test_the_request_log_records_what_was_asked_and_answered(simulator: Simulator) -> None:
    account_id = _pick(simulator)
    with httpx.Client(headers=simulator.auth_headers) as client:
        first = client.get(simulator.users_url).json()
        client.get(first["links"]["next"])
        client.post(simulator.lifecycle_url(account_id, "disable"), json={"message": "bye"})
        client.post(simulator.lifecycle_url(account_id, "enable"))
        client.get(f"{simulator.url}/admin/v1/orgs/org-test/nothing")
    simulator.state()  # admin calls are not logged

    log = simulator.requests()

    assert [(e["endpoint"], e["method"], e["status"]) for e in log] == [
        ("list_users", "GET", 200),
        ("list_users", "GET", 200),
        ("disable", "POST", 204),
        ("enable", "POST", 204),
        ("other", "GET", 404),
    ]
    assert [e["seq"] for e in log] == sorted(e["seq"] for e in log)
    assert log[0]["query"] == {} and set(log[1]["query"]) == {"cursor"}
    assert log[2]["path"] == f"/users/{account_id}/manage/lifecycle/disable"
    assert [e["body"] for e in log] == [None, None, {"message": "bye"}, None, None]
    assert all(datetime.fromisoformat(e["time"].replace("Z", "+00:00")) for e in log)
    assert [e["endpoint"] for e in simulator.requests("disable")] == ["disable"]
    simulator.clear_requests()
    assert simulator.requests() == []


def test_a_wrong_key_gets_401_and_no_key_is_ever_echoed_or_logged(simulator: Simulator) -> None:
    wrong = {"Authorization": "Bearer leaked-secret-1234"}

    answers = [
        simulator.http.get(simulator.users_url, headers=wrong),
        simulator.http.post(
            simulator.lifecycle_url(_pick(simulator), "disable"), headers=wrong, json={}
        ),
        simulator.http.get(simulator.users_url, headers=simulator.auth_headers),
    ]

    assert [a.status_code for a in answers] == [401, 401, 200]
    assert answers[0].json() == {"code": 401, "message": "Unauthorized"}
    assert answers[1].json() == {"key": "unauthorized"}
    process_log = simulator.log_text()
    assert process_log.count("-> 401") >= 2  # the log is captured, so its absence means something
    for text in (
        *(a.text + str(a.headers) for a in answers),
        json.dumps(simulator.requests()),
        process_log,
    ):
        assert "leaked-secret-1234" not in text
        assert simulator.api_key not in text


# --- admin and command line -------------------------------------------------------------------


def test_state_describes_the_simulation_and_reset_restores_it(simulator: Simulator) -> None:
    simulator.remove_user(_pick(simulator))
    simulator.set_rate_limit(5)
    simulator.add_fault(endpoint="enable", kind="slow")
    changed = simulator.state()

    restored = simulator.reset()

    assert changed["users"] == 249 and changed["rate_limit"]["per_minute"] == 5
    assert len(changed["faults"]) == 1
    assert restored["org_id"] == "org-test" and restored["users"] == 250
    assert restored["page_size"] == 50 and restored["base_url"] == simulator.url
    assert restored["rate_limit"] == {
        "per_minute": None,
        "signal": "retry-after",
        "window_seconds": 60.0,
    }
    assert restored["faults"] == []


def test_the_command_refuses_to_start_without_a_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ATLASSIAN_SIMULATOR_API_KEY"}

    result = subprocess.run(
        [sys.executable, "-m", "atlassian_operator.cli", "simulate", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )

    assert result.returncode == 2
    assert "--api-key" in result.stderr and result.stdout == ""
