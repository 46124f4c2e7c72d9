"""Issue 14, item 3: Atlassian is down (every request fails, then every request hangs).

For the first half of the outage every request to Atlassian gets a 503; for the second half none
is answered within the operator's request timeout. Meanwhile someone asks for a suspension and,
upstream, a person loses a product. While Atlassian is down:

- no account changes state, at Atlassian or in Kubernetes (nothing is Deprovisioned, nothing is
  re-enabled, the suspension is not reported as done);
- the org says why (Synced=False, AtlassianUnavailable, with the HTTP status or the timeout);
- the requests stay within what the documented backoff allows (each failed sync waits 5 s,
  doubling up to the sync interval; each request is tried at most 6 times), far below one a
  second.

Once Atlassian answers again, within one sync interval (plus one request timeout, for an attempt
that was hanging when it came back): the org is Synced, the suspension has happened exactly
once and the lost product shows.

The outage lasts `ATLASSIAN_OUTAGE_SECONDS` (default 120 s here; `make e2e-outage` runs the
issue's 10 minutes).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from support.e2e import E2E, condition
from support.reliability import calls, operator_process

pytestmark = pytest.mark.e2e

OUTAGE_SECONDS = float(os.environ.get("ATLASSIAN_OUTAGE_SECONDS", "120"))
INTERVAL_SECONDS = 30  # the org's syncInterval (the CRD's minimum)
TIMEOUT_SECONDS = 5  # --atlassian-timeout: how long a request may hang before it counts as failed
# The documented retry policy (docs/concepts/reliability.md): what the bound below is computed from.
FIRST_BACKOFF_SECONDS, MAX_ATTEMPTS, JITTER_FLOOR = 5.0, 6, 0.8
EVERY_ENDPOINT = ("list_users", "search_users", "disable", "enable", "manage")

JIRA = {
    "key": "jira-software",
    "name": "Jira Software",
    "url": "https://acme.atlassian.net",
    "last_active": "2026-11-20T09:30:00Z",
}
CONFLUENCE = {
    "key": "confluence",
    "name": "Confluence",
    "url": "https://acme.atlassian.net/wiki",
    "last_active": "2026-11-21T10:00:00Z",
}
PEOPLE = {
    "alice": "a11ce0000000000000000001",  # stays Active
    "bob": "b0b000000000000000000002",  # suspension requested during the outage
    "carol": "ca201000000000000000003",  # Suspended before the outage
    "dave": "da7e00000000000000000004",  # loses Confluence upstream during the outage
}


@pytest.fixture
def world(kube: Any, crds: None, simulator: Any) -> Iterator[E2E]:
    args = ["--atlassian-timeout", str(TIMEOUT_SECONDS)]
    with operator_process(kube, allow=[simulator.url], extra_args=args) as op:
        yield E2E(kube, simulator, op)


def most_syncs(seconds: float) -> int:
    """How many syncs can start in `seconds` of failures under the documented backoff."""
    syncs, elapsed, failures = 1, 0.0, 0
    while True:
        failures += 1
        delay = min(INTERVAL_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** (failures - 1))
        elapsed += delay * JITTER_FLOOR
        if elapsed > seconds:
            return syncs
        syncs += 1


def outage(sim: Any, **fault: Any) -> None:
    sim.clear_faults()
    for endpoint in EVERY_ENDPOINT:
        sim.add_fault(endpoint=endpoint, times=1_000_000, **fault)


@pytest.mark.timeout(OUTAGE_SECONDS + 300)
def test_ten_minutes_without_atlassian_changes_nothing_and_converges(world: E2E) -> None:
    e2e, sim = world, world.sim
    for name, account_id in PEOPLE.items():
        sim.add_user(
            account_id=account_id,
            name=name.title(),
            email=f"{name}@acme.example",
            account_status="inactive" if name == "carol" else "active",
            product_access=[JIRA, CONFLUENCE],
        )
    e2e.org(syncInterval=f"{INTERVAL_SECONDS}s")
    for name, account_id in PEOPLE.items():
        desired = "Suspended" if name == "carol" else "Active"
        e2e.account(name, accountId=account_id, desiredState=desired)
    for name in PEOPLE:
        e2e.wait_status("aacct", name, lambda s: condition(s, "Ready") == "True", f"{name} Ready")
    e2e.wait_synced()
    before_k8s = {name: e2e.status("aacct", name)["accountStatus"] for name in PEOPLE}
    assert before_k8s == {
        "alice": "Active",
        "bob": "Active",
        "carol": "Suspended",
        "dave": "Active",
    }
    before_sim = account_statuses(sim)
    assert calls(sim, "disable") == [], "carol was suspended before the operator saw her"

    # Atlassian goes down. During the outage: Bob is to be suspended; Dave loses Confluence.
    requests_before = len(sim.requests())
    started = time.monotonic()
    outage(sim, kind="status", status=503)
    e2e.account("bob", accountId=PEOPLE["bob"], desiredState="Suspended")
    sim.update_user(PEOPLE["dave"], product_access=[JIRA])

    org = e2e.wait_status(
        "aorg",
        "acme",
        lambda s: condition(s, "Synced") == "False",
        "org Synced=False while Atlassian answers 503",
        timeout=OUTAGE_SECONDS / 2,
    )
    assert condition(org, "Synced", "reason") == "AtlassianUnavailable"
    assert "HTTP 503" in str(condition(org, "Synced", "message")), org
    wait_out(started + OUTAGE_SECONDS / 2)

    outage(sim, kind="slow", delay_seconds=TIMEOUT_SECONDS + 1)
    org = e2e.wait_status(
        "aorg",
        "acme",
        lambda s: f"no answer within {TIMEOUT_SECONDS}s" in str(condition(s, "Synced", "message")),
        "org says Atlassian does not answer",
        timeout=OUTAGE_SECONDS / 2 + MAX_ATTEMPTS * (TIMEOUT_SECONDS + 3),
    )
    assert condition(org, "Synced") == "False"
    assert condition(org, "Synced", "reason") == "AtlassianUnavailable"
    # Atlassian failing is no fault of the spec or the key: the org stays Ready.
    assert condition(org, "Ready") == "True"
    wait_out(started + OUTAGE_SECONDS)

    # The end of the outage: nothing changed state, anywhere.
    during = {name: e2e.status("aacct", name) for name in PEOPLE}
    assert {name: s["accountStatus"] for name, s in during.items()} == before_k8s
    bob = during["bob"]
    assert condition(bob, "Ready") == "False"
    assert account_statuses(sim) == before_sim
    landed = [c for c in calls(sim, "disable") if c["status"] and c["status"] < 300]
    assert landed == [], "a disable call was answered while Atlassian was down"
    sent = sim.requests()[requests_before:]
    by_endpoint = {e: sum(1 for r in sent if r["endpoint"] == e) for e in EVERY_ENDPOINT}
    # Bob's disable is tried once: after a 503 it may have taken effect, so it waits for a listing.
    assert by_endpoint["disable"] <= 1, by_endpoint
    # Each sync: the v1 listing and the v2 search, each page 1 tried at most MAX_ATTEMPTS times.
    bound = most_syncs(OUTAGE_SECONDS) * MAX_ATTEMPTS * 2 + 1
    assert len(sent) <= bound, f"{len(sent)} requests in {OUTAGE_SECONDS:.0f}s (bound {bound})"
    print(f"outage {OUTAGE_SECONDS:.0f}s: {len(sent)} requests (bound {bound}): {by_endpoint}")
    print(
        f"bob during the outage: {condition(bob, 'Ready', 'reason')}: "
        f"{condition(bob, 'Ready', 'message')}"
    )

    # Atlassian is back.
    sim.clear_faults()
    recovered = time.monotonic()
    deadline = INTERVAL_SECONDS + TIMEOUT_SECONDS + 5
    e2e.wait_status(
        "aacct",
        "bob",
        lambda s: (
            s.get("accountStatus") == "Suspended"
            and condition(s, "Ready", "reason") == "InDesiredState"
        ),
        "bob Suspended once Atlassian is back",
        timeout=deadline,
    )
    e2e.wait_status(
        "aacct",
        "dave",
        lambda s: (
            {p["product"]: p["status"] for p in s.get("productAccess", [])}
            == {"Jira Software (acme)": "Active", "Confluence (acme)": "Deprovisioned"}
        ),
        "dave's lost Confluence shows",
        timeout=max(1.0, deadline - (time.monotonic() - recovered)),
    )
    e2e.wait_synced(timeout=max(1.0, deadline - (time.monotonic() - recovered)))
    converged = time.monotonic() - recovered
    print(f"converged {converged:.1f}s after Atlassian was back")
    landed = [c for c in calls(sim, "disable", PEOPLE["bob"]) if c["status"] == 204]
    assert len(landed) == 1, calls(sim, "disable")
    assert calls(sim, "disable", PEOPLE["carol"]) == []
    assert sim.user(PEOPLE["bob"])["user"]["account_status"] == "inactive"
    assert {name: e2e.status("aacct", name)["accountStatus"] for name in PEOPLE} == {
        **before_k8s,
        "bob": "Suspended",
    }


def account_statuses(sim: Any) -> dict[str, str]:
    return {u["user"]["account_id"]: u["user"]["account_status"] for u in sim.users()}


def wait_out(until: float) -> None:
    """The outage's length is the scenario, not a wait for a state."""
    time.sleep(max(0.0, until - time.monotonic()))
