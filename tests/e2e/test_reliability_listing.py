"""Issue 7, item 1: partial truth never acts.

The listing fails on page 3 of 5 (503, timeout, malformed JSON, connection reset). While it
fails, nothing the complete listing would change may change: an account deleted upstream stays
as it was (not Deprovisioned), a product taken away stays Active, and an account re-enabled
upstream while desired Suspended is not re-suspended from the partial data. The org says
Synced=False with the specific reason and the failing page; the next complete listing converges
(and only then does the re-suspension happen, once).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support.e2e import E2E, condition
from support.reliability import calls, operator_process

pytestmark = pytest.mark.e2e

# Generated ids are random hex; these sort first and last, so the drifter is on page 1 (read
# before the failing page) and the leaver on page 5 (after it): 40 generated + 3 = 43 users.
DRIFTER = "000000000000000000000d01"
MOVER = "8000000000000000000000e2"
LEAVER = "ffffffffffffffffffff0f03"

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

# A 1 s client timeout instead of the default 30 s: six attempts of a page that never answers
# in time then fail in ~10 s instead of ~3 minutes. The slow fault answers after 3 s.
SHORT_TIMEOUT = ["--atlassian-timeout", "1"]

FAULTS = {
    "status-503": ({"kind": "status", "status": 503}, "AtlassianUnavailable", "HTTP 503"),
    "malformed-json": ({"kind": "malformed"}, "MalformedResponse", "is not JSON"),
    "connection-reset": ({"kind": "reset"}, "AtlassianUnavailable", "page 3"),
    "timeout": (
        {"kind": "slow", "delay_seconds": 3.0},
        "AtlassianUnavailable",
        "no answer within 1s",
    ),
}


@pytest.fixture(params=list(FAULTS))
def fault(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def world(fault: str, kube: Any, crds: None, simulator: Any) -> Iterator[E2E]:
    extra_args = SHORT_TIMEOUT if fault == "timeout" else []
    with operator_process(kube, allow=[simulator.url], extra_args=extra_args) as op:
        yield E2E(kube, simulator, op)


def test_failing_page_changes_nothing_and_the_next_listing_converges(
    world: E2E, fault: str
) -> None:
    e2e, sim = world, world.sim
    sim.add_user(
        account_id=DRIFTER,
        name="Dana Drift",
        email="dana@acme.example",
        account_status="active",
        product_access=[JIRA],
    )
    sim.add_user(
        account_id=MOVER,
        name="Max Mover",
        email="max@acme.example",
        account_status="active",
        product_access=[JIRA, CONFLUENCE],
    )
    sim.add_user(
        account_id=LEAVER,
        name="Lee Leaver",
        email="lee@acme.example",
        account_status="active",
        product_access=[JIRA],
    )
    e2e.org()
    e2e.account("dana", accountId=DRIFTER, desiredState="Suspended")
    e2e.account("max", email="max@acme.example")
    e2e.account("lee", accountId=LEAVER)
    e2e.wait_status(
        "aacct", "dana", lambda s: s.get("accountStatus") == "Suspended", "dana Suspended"
    )
    for name in ("max", "lee"):
        e2e.wait_status("aacct", name, lambda s: condition(s, "Ready") == "True", f"{name} Ready")
    org_before = e2e.wait_synced()
    before = {name: e2e.status("aacct", name) for name in ("dana", "max", "lee")}
    assert len(calls(sim, "disable", DRIFTER)) == 1

    # Upstream, between two listings: Dana re-enabled, Max loses Confluence, Lee is deleted.
    sim.update_user(DRIFTER, account_status="active")
    sim.update_user(MOVER, product_access=[JIRA])
    sim.remove_user(LEAVER)
    spec, reason, detail = FAULTS[fault]
    sim.add_fault(endpoint="list_users", page=3, times=1000, **spec)
    listings_before = len(sim.requests("list_users"))
    e2e.request_sync()

    org = e2e.wait_status(
        "aorg", "acme", lambda s: condition(s, "Synced") == "False", "org Synced=False", timeout=90
    )
    assert condition(org, "Synced", "reason") == reason
    message = str(condition(org, "Synced", "message"))
    assert "(page 3)" in message and detail in message, message
    # Atlassian failing is no fault of the spec or the key: Ready stays as it was.
    assert condition(org, "Ready") == "True"
    assert {k: org[k] for k in ("users", "products", "lastSyncTime")} == {
        k: org_before[k] for k in ("users", "products", "lastSyncTime")
    }
    # The listing stopped at the failing page: pages 1 and 2 answered, 4 and 5 were never asked.
    pages = sim.requests("list_users")[listings_before:]
    assert {p["fault"] for p in pages if p["fault"]} == {spec["kind"]}
    assert len([p for p in pages if not p["fault"]]) == 2, pages

    for name, status in before.items():
        assert e2e.status("aacct", name) == status, f"{name} changed after a failed listing"
    assert len(calls(sim, "disable", DRIFTER)) == 1, "a suspension decided from partial data"
    assert [ev["reason"] for ev in e2e.events("dana")] == ["Suspended"]
    assert [ev["reason"] for ev in e2e.events("lee")] == []

    sim.clear_faults()
    e2e.request_sync()
    lee = e2e.wait_status(
        "aacct",
        "lee",
        lambda s: s.get("accountStatus") == "Deprovisioned",
        "lee Deprovisioned after a complete listing",
        timeout=60,
    )
    assert lee["atlassianStatus"] == "deleted"
    assert [p["status"] for p in lee["productAccess"]] == ["Deprovisioned"]
    e2e.wait_status(
        "aacct",
        "max",
        lambda s: (
            {p["product"]: p["status"] for p in s.get("productAccess", [])}
            == {"Confluence (acme)": "Deprovisioned", "Jira Software (acme)": "Active"}
        ),
        "max loses Confluence",
    )
    e2e.kube.wait_for(
        lambda: len(calls(sim, "disable", DRIFTER)) == 2,
        30,
        "dana re-suspended by the complete listing",
    )
    e2e.wait_status(
        "aacct",
        "dana",
        lambda s: (
            s.get("accountStatus") == "Suspended"
            and condition(s, "Ready", "reason") == "InDesiredState"
        ),
        "dana Suspended",
    )
    org = e2e.wait_synced()
    assert condition(org, "Synced", "reason") == "ListingComplete"
    assert org["users"]["total"] == 42
    assert sim.user(DRIFTER)["user"]["account_status"] == "inactive"
    assert len(calls(sim, "disable", DRIFTER)) == 2
