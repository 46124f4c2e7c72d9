"""Issue 12: know before you act. The v2 user search, joined to the v1 listing, says who is
synced from an identity provider, who is an org admin and who is unmanaged; the operator refuses
those suspensions without a lifecycle call, and asks the user management API first whenever the
search is off or failed. Real API server, real kubectl, the simulator serving both listings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from support.e2e import API_KEY, E2E, condition
from support.operator import OperatorProcess
from support.simulator import Simulator, start_simulator

pytestmark = pytest.mark.e2e

PAGE = 10


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    # 30 managed users (every 7th synced by SCIM), one org admin and two unmanaged users.
    with start_simulator(
        users=30, seed=12, page_size=PAGE, org_id="org-enrich", api_key=API_KEY, scim_every=7,
        admins=1, unmanaged=2,
    ) as sim:  # fmt: skip
        yield sim


def sim_users(sim: Simulator) -> list[dict[str, Any]]:
    return sim.users()


def pick(sim: Simulator, **want: Any) -> dict[str, Any]:
    """The first simulated user whose entry has every field in `want` (an active one)."""
    for entry in sim_users(sim):
        user = entry["user"]
        if user["account_status"] != "active":
            continue
        if all(entry.get(k) == v for k, v in want.items()):
            return entry
    raise AssertionError(f"no active simulated user with {want}")


def subjects(sim: Simulator, endpoint: str) -> list[str]:
    """The account IDs of the requests to a per-account endpoint (/users/{id}/manage...)."""
    return [r["path"].split("/")[2] for r in sim.requests(endpoint)]


def suspend(e2e: E2E, name: str, account_id: str) -> None:
    e2e.account(name, accountId=account_id, desiredState="Suspended")


def ready_reason(e2e: E2E, name: str, expected: str) -> dict[str, Any]:
    return e2e.wait_status(
        "aacct",
        name,
        lambda s: condition(s, "Ready", "reason") == expected,
        f"{name} Ready reason {expected}",
    )


def test_refusals_without_a_call_and_what_the_search_says_on_every_account(
    e2e: E2E, operator: OperatorProcess
) -> None:
    sim = e2e.sim
    scim = pick(sim, scim=True)["user"]["account_id"]
    admin = pick(sim, platformRoles=["atlassian/org-admin"])["user"]["account_id"]
    guest = pick(sim, claimStatus="unmanaged")["user"]["account_id"]
    plain = pick(sim, scim=False, claimStatus="managed", platformRoles=[])["user"]["account_id"]
    e2e.org(accountDiscovery={"enabled": True})
    org = e2e.wait_synced()

    # Both listings ran and both count, page for page.
    v1_pages = len(sim.requests("list_users"))
    v2_pages = len(sim.requests("search_users"))
    # 31 managed users by 10; then everyone by 100, and the two unmanaged with their activity
    assert v1_pages == 4 and v2_pages == 1 + 1
    assert org["apiRequests"] == v1_pages + v2_pages
    assert org["users"]["total"] == 33 and org["users"]["unmanaged"] == 2
    assert org["enrichment"]["fresh"] is True and org["enrichment"]["admins"] == 1
    assert condition(org, "Enriched") == "True"

    for name, ident in (("scim", scim), ("admin", admin), ("guest", guest), ("plain", plain)):
        suspend(e2e, name, ident)
    scim_status = ready_reason(e2e, "scim", "ManagedByIdentityProvider")
    assert "identity provider" in condition(scim_status, "Ready", "message")  # type: ignore[operator]
    ready_reason(e2e, "admin", "OrganizationAdmin")
    ready_reason(e2e, "guest", "UnmanagedAccount")
    ready_reason(e2e, "plain", "InDesiredState")
    # Exactly one disable call, for the plain account; no pre-check was needed.
    assert subjects(sim, "disable") == [plain]
    assert sim.requests("manage") == []

    # What the search says shows on the accounts, and in kubectl get -o wide.
    assert e2e.status("aacct", "scim")["managedBy"] == "IdentityProvider"
    assert e2e.status("aacct", "admin")["platformRoles"] == ["atlassian/org-admin"]
    guest_status = e2e.status("aacct", "guest")
    assert guest_status["claimStatus"] == "unmanaged"
    assert guest_status["lastActive"]  # from the unmanaged search's product activity
    wide = e2e.kube.kubectl("get", "aacct", "admin", "-o", "wide").stdout
    header, row = wide.splitlines()[:2]
    assert "MANAGED-BY" in header and "ROLES" in header
    assert "Atlassian" in row and "atlassian/org-admin" in row

    # Discovery created an account for each unmanaged user, which says what it is.
    discovered = json.loads(
        e2e.kube.kubectl("get", "aacct", "-l", "atlassian.operators.dev/discovered=true",
                         "-o", "json").stdout
    )["items"]  # fmt: skip
    unmanaged = {
        a["spec"]["accountId"]: a["status"]
        for a in discovered
        if a.get("status", {}).get("claimStatus") == "unmanaged"
    }
    assert len(unmanaged) == 2 and guest in unmanaged
    # The guest's discovered account defers to "guest", which states the desired state.
    assert condition(unmanaged.pop(guest), "Ready", "reason") == "DefersToAccount"
    (other,) = unmanaged.values()
    assert "lifecycle calls do not apply" in (condition(other, "Ready", "message") or "")

    # Each refusal is one Warning Event on its account.
    reasons = [e["reason"] for e in e2e.events("scim") if e["type"] == "Warning"]
    assert reasons == ["ManagedByIdentityProvider"]


def test_a_failed_search_never_fails_the_sync_and_calls_are_checked_first(
    e2e: E2E, operator: OperatorProcess
) -> None:
    sim = e2e.sim
    scim = pick(sim, scim=True)["user"]["account_id"]
    plain = pick(sim, scim=False, claimStatus="managed", platformRoles=[])["user"]["account_id"]
    sim.add_fault(endpoint="search_users", kind="status", status=500, times=10_000)
    e2e.org(accountDiscovery={"enabled": False})
    org = e2e.wait_status(
        "aorg", "acme", lambda s: condition(s, "Enriched") == "False", "Enriched=False"
    )
    assert condition(org, "Ready") == "True" and condition(org, "Synced") == "True"
    assert "user management API" in (condition(org, "Enriched", "message") or "")
    assert "enrichment" not in org  # no search has ever succeeded: nothing to show
    suspend(e2e, "scim", scim)
    suspend(e2e, "plain", plain)
    ready_reason(e2e, "scim", "ManagedByIdentityProvider")
    ready_reason(e2e, "plain", "InDesiredState")
    # Asked first, each once; only the allowed one was disabled.
    assert sorted(subjects(sim, "manage")) == sorted([scim, plain])
    assert subjects(sim, "disable") == [plain]
    # The search recovers: the org says so, and no check is needed any more.
    sim.clear_faults()
    token = e2e.request_sync()
    org = e2e.wait_synced(after=token)
    assert condition(org, "Enriched") == "True" and org["enrichment"]["fresh"] is True


def test_with_enrichment_off_there_is_no_search_and_every_call_is_checked(
    e2e: E2E, operator: OperatorProcess
) -> None:
    sim = e2e.sim
    plain = pick(sim, scim=False, claimStatus="managed", platformRoles=[])["user"]["account_id"]
    e2e.org(enrichment={"enabled": False})
    org = e2e.wait_synced()
    assert condition(org, "Enriched", "reason") == "EnrichmentDisabled"
    assert org["apiRequests"] == len(sim.requests("list_users"))
    suspend(e2e, "plain", plain)
    ready_reason(e2e, "plain", "InDesiredState")
    log = sim.requests()
    endpoints = [r["endpoint"] for r in log if r["endpoint"] in ("manage", "disable")]
    assert endpoints == ["manage", "disable"]  # asked, then acted
    assert sim.requests("search_users") == []
