"""The operator's Prometheus endpoint, scraped while the simulator is exercised: every metric a
dashboard or an alert would use moves by exactly what happened."""

from __future__ import annotations

import time
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.e2e import E2E

pytestmark = pytest.mark.e2e

ALICE = "aa00000000000000000000m1"
SAM = "dd00000000000000000000m2"  # managed by an identity provider: Atlassian refuses disable
PAGES = 5  # 40 generated users + 2 added, 10 per page


class Scrape:
    """One scrape of /metrics, read by metric sample name and labels (absent = 0)."""

    def __init__(self, e2e: E2E) -> None:
        self.ns = e2e.kube.namespace
        self.samples: list[tuple[str, dict[str, str], float]] = [
            (s.name, s.labels, s.value)
            for family in text_string_to_metric_families(e2e.operator.metrics())
            for s in family.samples
        ]

    def __call__(self, name: str, **labels: str) -> float:
        want = {"namespace": self.ns, "org": "acme", **labels}
        return sum(
            value
            for sample, have, value in self.samples
            if sample == f"atlassian_operator_{name}"
            and all(have.get(k) == v for k, v in want.items())
        )


def scrape_when(e2e: E2E, predicate: Any, describe: str) -> Scrape:
    return e2e.kube.wait_for(lambda: (m := Scrape(e2e)) and predicate(m) and m, 30, describe)  # type: ignore[no-any-return]


def synced(m: Scrape) -> float:
    return m("syncs_total", result="succeeded")


def test_sync_request_and_user_metrics_move_with_each_sync(e2e: E2E) -> None:
    e2e.sim.add_user(
        account_id=ALICE, name="Alice Adams", email="alice@acme.example", account_status="active"
    )
    e2e.sim.add_user(
        account_id=SAM,
        name="Sam Scim",
        email="sam@acme.example",
        account_status="active",
        scim=True,
    )
    e2e.org()
    e2e.wait_synced()
    first = scrape_when(e2e, lambda m: synced(m) == 1, "the first sync counted")
    assert first("syncs_total", result="failed") == 0
    assert first("sync_duration_seconds_count") == 1
    assert 0 < first("sync_duration_seconds_sum") < 30
    assert first("atlassian_requests_total", endpoint="list_users", code="200") == PAGES
    assert abs(first("last_successful_sync_timestamp_seconds") - time.time()) < 60
    users = e2e.sim.users()
    for state, atlassian in (
        ("active", "active"),
        ("suspended", "inactive"),
        ("deprovisioned", "closed"),
    ):
        expected = sum(u["user"]["account_status"] == atlassian for u in users)
        assert first("org_users", state=state) == expected, state
    assert first("org_users", state="active") > 0

    e2e.request_sync()
    second = scrape_when(e2e, lambda m: synced(m) == 2, "the second sync counted")
    assert second("sync_duration_seconds_count") == 2
    assert second("sync_duration_seconds_sum") > first("sync_duration_seconds_sum")
    assert second("atlassian_requests_total", endpoint="list_users", code="200") == 2 * PAGES
    assert second("last_successful_sync_timestamp_seconds") > first(
        "last_successful_sync_timestamp_seconds"
    )

    # One suspension that goes through, one refused before any call (the v2 search says Sam is
    # synced from an identity provider): the call is counted by result, the refusal by reason.
    e2e.account("alice", accountId=ALICE, desiredState="Suspended")
    e2e.account("sam", accountId=SAM, desiredState="Suspended")
    acted = scrape_when(
        e2e,
        lambda m: (
            m("lifecycle_actions_total", action="Suspend") == 1
            and m("accounts", ready="False", reason="ManagedByIdentityProvider") == 1
        ),
        "the suspension and the refusal counted",
    )
    assert acted("lifecycle_actions_total", action="Suspend", result="Succeeded") == 1
    assert acted("atlassian_requests_total", endpoint="disable", code="204") == 1
    assert acted("atlassian_requests_total", endpoint="disable") == 1
    # two syncs, each with its search and its search for unmanaged users
    assert acted("atlassian_requests_total", endpoint="search_users", code="200") == 2 * 2
    assert acted("lifecycle_actions_total", action="Reactivate") == 0

    e2e.request_sync()  # the next listing sees alice inactive
    third = scrape_when(e2e, lambda m: synced(m) == 3, "the third sync counted")
    assert third("org_users", state="suspended") == second("org_users", state="suspended") + 1
    assert third("org_users", state="active") == second("org_users", state="active") - 1


def test_rate_limited_listing_counts_429s_and_retries(e2e: E2E) -> None:
    e2e.org()
    e2e.wait_synced()
    before = scrape_when(e2e, lambda m: synced(m) == 1, "the first sync counted")
    assert before("atlassian_rate_limited_total") == 0
    assert before("atlassian_requests_total", code="429") == 0

    # Two requests per second, no pacing headers: the 4-page listing runs into 429s.
    e2e.sim.set_rate_limit(2, signal="none", window_seconds=1)
    e2e.sim.clear_requests()
    e2e.request_sync()
    after = scrape_when(e2e, lambda m: synced(m) == 2, "the rate-limited sync counted")
    refused = len([r for r in e2e.sim.requests("list_users") if r["status"] == 429])
    assert refused > 0, "the simulator did not rate-limit the listing"
    assert after("atlassian_rate_limited_total", endpoint="list_users") == refused
    assert after("atlassian_requests_total", endpoint="list_users", code="429") == refused
    assert after("atlassian_retries_total", endpoint="list_users", reason="rate_limited") == refused
    # The listing still completed: every page answered 200 once.
    assert after("atlassian_requests_total", endpoint="list_users", code="200") == 2 * 4
