"""The operator end to end: real API server and kubectl, operator as a process, simulator."""

from __future__ import annotations

import json

import pytest

from support.e2e import E2E, condition

pytestmark = pytest.mark.e2e

ALICE = "aa0000000000000000000001"
BOB = "bb0000000000000000000002"
CAROL = "cc0000000000000000000003"
SCIM = "dd0000000000000000000004"

JIRA = {
    "key": "jira-software",
    "name": "Jira Software",
    "url": "https://acme.atlassian.net",
    "last_active": "2026-11-20T09:30:00Z",
}
CONFLUENCE_SUPPORT = {
    "key": "confluence",
    "name": "Confluence",
    "url": "https://acme-support.atlassian.net/wiki",
    "last_active": "2026-11-21T10:00:00Z",
}


def add_people(e2e: E2E) -> None:
    e2e.sim.add_user(
        account_id=ALICE,
        name="Alice Adams",
        email="alice@acme.example",
        account_status="active",
        access_billable=True,
        last_active="2026-11-21T10:00:00Z",
        product_access=[JIRA, CONFLUENCE_SUPPORT],
    )
    e2e.sim.add_user(
        account_id=BOB,
        name="Bob Brown",
        email="bob@acme.example",
        account_status="inactive",
        product_access=[JIRA],
    )
    e2e.sim.add_user(
        account_id=CAROL,
        name="Carol Cruz",
        email="carol@acme.example",
        account_status="closed",
        product_access=[],
    )
    e2e.sim.add_user(
        account_id=SCIM,
        name="Sam Scim",
        email="sam@acme.example",
        account_status="active",
        product_access=[JIRA],
        scim=True,
    )


def disables(e2e: E2E, account_id: str | None = None) -> list[dict]:
    calls = e2e.sim.requests("disable")
    return [c for c in calls if account_id is None or account_id in c["path"]]


def ready(s: dict) -> bool:
    return condition(s, "Ready") == "True"


def test_org_status_and_mapped_account_states(e2e: E2E) -> None:
    add_people(e2e)
    e2e.org()
    for name, spec in {
        "alice": {"accountId": ALICE},
        "bob": {"email": "BOB@acme.example"},
        "carol": {"accountId": CAROL},
    }.items():
        e2e.account(name, **spec)

    e2e.kube.kubectl("wait", "--for=condition=Ready", "--timeout=30s", "aorg/acme")
    e2e.kube.kubectl(
        "wait", "--for=condition=Ready", "--timeout=30s", "aacct/alice", "aacct/bob", "aacct/carol"
    )

    org = e2e.status("aorg", "acme")
    assert org["users"]["total"] == 44  # 40 generated + 4 added
    # ceil(44 / 10) v1 pages + one v2 search page (100 a page) + one for the unmanaged users,
    # not one request per user
    assert org["apiRequests"] == 5 + 1 + 1
    assert condition(org, "Synced", "reason") == "ListingComplete"
    products = {p["product"]: p for p in org["products"]}
    assert products["Confluence (acme-support)"]["site"] == "acme-support"
    assert products["Jira Software (acme)"]["activeUsers"] >= 2  # alice and sam at least

    alice = e2e.status("aacct", "alice")
    assert alice["accountStatus"] == "Active"
    assert alice["atlassianStatus"] == "active"
    assert alice["email"] == "alice@acme.example"
    assert alice["lastActive"] == "2026-11-21T10:00:00Z"
    assert alice["billable"] is True
    assert [(p["product"], p["status"], p["lastActive"]) for p in alice["productAccess"]] == [
        ("Confluence (acme-support)", "Active", "2026-11-21T10:00:00Z"),
        ("Jira Software (acme)", "Active", "2026-11-20T09:30:00Z"),
    ]
    bob = e2e.status("aacct", "bob")
    assert (bob["accountId"], bob["accountStatus"]) == (BOB, "Suspended")  # resolved by email
    assert e2e.status("aacct", "carol")["accountStatus"] == "Deprovisioned"

    table = e2e.kube.kubectl("get", "aacct").stdout
    assert "alice@acme.example" in table and "Jira Software (acme)" in table
    header = e2e.kube.kubectl("get", "aorg").stdout.splitlines()[0].split()
    assert header == [
        "NAME", "ORG-ID", "USERS", "ACTIVE", "SUSPENDED", "RECLAIMABLE", "READY", "LAST-SYNC",
        "AGE",
    ]  # fmt: skip
    header = e2e.kube.kubectl("get", "aacct").stdout.splitlines()[0].split()
    assert header == [
        "NAME",
        "EMAIL",
        "DESIRED",
        "STATUS",
        "READY",
        "REASON",
        "LAST-ACTIVE",
        "PRODUCTS",
        "AGE",
    ]
    row = next(line.split() for line in table.splitlines() if line.startswith("alice "))
    # READY and its reason without -o wide (DESIRED is blank: split() drops it)
    assert row[3:5] == ["True", "Observed"], row
    assert not e2e.sim.requests("disable") and not e2e.sim.requests("enable")


def test_suspension_calls_disable_once_and_reports_it(e2e: E2E) -> None:
    add_people(e2e)
    e2e.org()
    e2e.account("alice", accountId=ALICE)
    e2e.wait_status("aacct", "alice", ready, "alice observed")

    e2e.kube.kubectl(
        "patch",
        "aacct/alice",
        "--type=merge",
        "-p",
        '{"spec":{"desiredState":"Suspended","suspensionMessage":"left the company"}}',
    )
    status = e2e.wait_status(
        "aacct",
        "alice",
        lambda s: s.get("accountStatus") == "Suspended" and s.get("observedGeneration") == 2,
        "alice Suspended",
    )
    assert status["lastAction"]["action"] == "Suspend"
    assert status["lastAction"]["result"] == "Succeeded"
    assert condition(status, "Ready", "reason") == "InDesiredState"
    calls = disables(e2e, ALICE)
    assert len(calls) == 1 and calls[0]["body"] == {"message": "left the company"}
    assert e2e.sim.user(ALICE)["user"]["account_status"] == "inactive"
    events = e2e.events("alice")
    assert [(ev["type"], ev["reason"]) for ev in events] == [("Normal", "Suspended")]

    e2e.request_sync()  # a later listing sees it inactive: no second call
    e2e.kube.wait_for(
        lambda: e2e.sim.requests("list_users")[-1:] and len(e2e.sim.requests("list_users")) >= 10,
        30,
        "a second listing",
    )
    e2e.wait_synced()
    assert len(disables(e2e, ALICE)) == 1


def test_drift_is_resuspended_on_the_next_sync(e2e: E2E) -> None:
    add_people(e2e)
    e2e.org()
    e2e.account("alice", accountId=ALICE, desiredState="Suspended")
    e2e.wait_status(
        "aacct", "alice", lambda s: s.get("accountStatus") == "Suspended", "alice Suspended"
    )
    e2e.sim.update_user(
        ALICE, account_status="active"
    )  # someone re-enabled her in admin.atlassian.com

    e2e.request_sync()
    e2e.kube.wait_for(lambda: len(disables(e2e, ALICE)) == 2, 30, "a second disable call")
    e2e.wait_status(
        "aacct", "alice", lambda s: s.get("accountStatus") == "Suspended", "alice Suspended again"
    )
    assert e2e.sim.user(ALICE)["user"]["account_status"] == "inactive"


def test_protected_account_is_never_suspended(e2e: E2E) -> None:
    add_people(e2e)
    e2e.org(suspension={"protectedAccounts": ["ALICE@acme.example"]})
    e2e.account("alice", accountId=ALICE, desiredState="Suspended")
    status = e2e.wait_status(
        "aacct",
        "alice",
        lambda s: condition(s, "Ready", "reason") == "ProtectedAccount",
        "alice ProtectedAccount",
    )
    assert status["accountStatus"] == "Active"
    assert condition(status, "Stalled", "reason") == "ProtectedAccount"  # Flux fails at once
    assert condition(status, "Synced") == "True"  # the listing is fresh; Ready says why not
    assert disables(e2e) == []
    assert [(ev["type"], ev["reason"]) for ev in e2e.events("alice")] == [
        ("Warning", "ProtectedAccount")
    ]


def test_budget_limits_suspensions_per_interval(e2e: E2E) -> None:
    ids = [f"ee00000000000000000000{i:02d}" for i in range(5)]
    for i, account_id in enumerate(ids):
        e2e.sim.add_user(
            account_id=account_id,
            name=f"Leaver {i}",
            email=f"leaver{i}@acme.example",
            account_status="active",
        )
    e2e.org(suspension={"maxPerSync": 2}, syncInterval="10m")
    for i, account_id in enumerate(ids):
        e2e.account(f"leaver{i}", accountId=account_id, desiredState="Suspended")

    e2e.kube.wait_for(
        lambda: (
            sum(
                condition(e2e.status("aacct", f"leaver{i}"), "Ready", "reason")
                in ("InDesiredState", "SuspensionBudgetExceeded")
                for i in range(5)
            )
            == 5
        ),
        30,
        "all five accounts decided",
    )
    assert len(disables(e2e)) == 2
    waiting = [
        f"leaver{i}"
        for i in range(5)
        if condition(e2e.status("aacct", f"leaver{i}"), "Ready", "reason")
        == "SuspensionBudgetExceeded"
    ]
    assert len(waiting) == 3
    for name in waiting:
        assert ("Warning", "SuspensionBudgetExceeded") in [
            (ev["type"], ev["reason"]) for ev in e2e.events(name)
        ]
    e2e.request_sync()  # a listing does not refill the budget: the window is 10m long
    e2e.wait_synced()
    assert len(disables(e2e)) == 2


def test_dry_run_records_without_calling(e2e: E2E) -> None:
    add_people(e2e)
    e2e.org(suspension={"dryRun": True})
    e2e.account("alice", accountId=ALICE, desiredState="Suspended")
    status = e2e.wait_status(
        "aacct", "alice", lambda s: condition(s, "Ready", "reason") == "DryRun", "DryRun"
    )
    assert status["lastAction"]["result"] == "DryRun"
    assert "would suspend alice@acme.example" in status["lastAction"]["message"]
    assert status["accountStatus"] == "Active"
    assert disables(e2e) == []

    e2e.kube.kubectl(
        "patch", "aorg/acme", "--type=merge", "-p", '{"spec":{"suspension":{"dryRun":false}}}'
    )
    e2e.wait_status(
        "aacct",
        "alice",
        lambda s: s.get("accountStatus") == "Suspended",
        "alice suspended once dry run is off",
    )
    assert len(disables(e2e, ALICE)) == 1


def test_reactivation_only_when_the_org_allows_it(e2e: E2E) -> None:
    add_people(e2e)
    e2e.org()
    e2e.account("bob", accountId=BOB, desiredState="Active")
    status = e2e.wait_status(
        "aacct",
        "bob",
        lambda s: condition(s, "Ready", "reason") == "ReactivationNotAllowed",
        "ReactivationNotAllowed",
    )
    assert condition(status, "Stalled") == "True"
    assert e2e.sim.requests("enable") == []

    e2e.kube.kubectl(
        "patch",
        "aorg/acme",
        "--type=merge",
        "-p",
        '{"spec":{"suspension":{"allowReactivation":true}}}',
    )
    e2e.wait_status("aacct", "bob", lambda s: s.get("accountStatus") == "Active", "bob Active")
    assert len(e2e.sim.requests("enable")) == 1
    assert ("Normal", "Reactivated") in [(ev["type"], ev["reason"]) for ev in e2e.events("bob")]


def test_identity_provider_managed_account_is_refused_without_a_call(e2e: E2E) -> None:
    add_people(e2e)
    e2e.org()
    e2e.account("sam", accountId=SCIM, desiredState="Suspended")
    status = e2e.wait_status(
        "aacct",
        "sam",
        lambda s: condition(s, "Ready", "reason") == "ManagedByIdentityProvider",
        "ManagedByIdentityProvider",
    )
    assert "deprovision it in the identity provider" in str(condition(status, "Ready", "message"))
    assert status["managedBy"] == "IdentityProvider" and "lastAction" not in status
    e2e.later_sync()
    assert disables(e2e, SCIM) == [] and e2e.sim.requests("manage") == []


def test_a_refusal_the_search_did_not_foresee_is_reported_not_retried(e2e: E2E) -> None:
    add_people(e2e)
    # The v2 search says "invited" while the lifecycle API refuses (externalDirectory.scim).
    e2e.sim.update_user(SCIM, managementSource="invited")
    e2e.org()
    e2e.account("sam", accountId=SCIM, desiredState="Suspended")
    status = e2e.wait_status(
        "aacct",
        "sam",
        lambda s: condition(s, "Ready", "reason") == "ManagedByIdentityProvider",
        "ManagedByIdentityProvider",
    )
    assert status["lastAction"]["result"] == "Failed"
    e2e.request_sync()
    e2e.wait_synced()
    e2e.kube.wait_for(lambda: len(e2e.sim.requests("list_users")) >= 10, 30, "second listing")
    assert len(disables(e2e, SCIM)) == 1  # a permanent refusal is not retried each sync


def test_deprovisioned_user_and_removed_product(e2e: E2E) -> None:
    add_people(e2e)
    e2e.org()
    e2e.account("alice", accountId=ALICE)
    e2e.account("bob", accountId=BOB)
    e2e.wait_status("aacct", "alice", ready, "alice observed")
    e2e.wait_status("aacct", "bob", ready, "bob observed")

    e2e.sim.update_user(ALICE, product_access=[JIRA])  # Confluence taken away
    e2e.sim.remove_user(BOB)  # deleted upstream
    e2e.request_sync()

    bob = e2e.wait_status(
        "aacct", "bob", lambda s: s.get("accountStatus") == "Deprovisioned", "bob Deprovisioned"
    )
    assert bob["atlassianStatus"] == "deleted"
    assert bob["email"] == "bob@acme.example"  # what was known is kept
    assert [p["status"] for p in bob["productAccess"]] == ["Deprovisioned"]
    alice = e2e.wait_status(
        "aacct",
        "alice",
        lambda s: any(p["status"] == "Deprovisioned" for p in s.get("productAccess", [])),
        "product removed",
    )
    assert {p["product"]: p["status"] for p in alice["productAccess"]} == {
        "Confluence (acme-support)": "Deprovisioned",
        "Jira Software (acme)": "Active",
    }
    assert alice["activeProducts"] == "Jira Software (acme)"


def test_failed_listing_changes_nothing_and_the_next_converges(e2e: E2E) -> None:
    add_people(e2e)
    e2e.org()
    e2e.account("alice", accountId=ALICE)
    e2e.wait_status("aacct", "alice", ready, "alice observed")
    before = e2e.status("aacct", "alice")

    e2e.sim.remove_user(ALICE)
    e2e.sim.add_fault(endpoint="list_users", page=3, kind="status", status=500, times=100)
    e2e.request_sync()
    org = e2e.wait_status(
        "aorg", "acme", lambda s: condition(s, "Synced") == "False", "org Synced=False", timeout=60
    )
    assert condition(org, "Synced", "reason") == "AtlassianUnavailable"
    assert condition(org, "Ready") == "True"  # the spec and key are fine; Atlassian is not
    assert e2e.status("aacct", "alice") == before  # a partial listing is no proof of deletion

    e2e.sim.clear_faults()
    e2e.request_sync()
    e2e.wait_status(
        "aacct",
        "alice",
        lambda s: s.get("accountStatus") == "Deprovisioned",
        "alice Deprovisioned after a complete listing",
    )
    assert condition(e2e.wait_synced(), "Synced", "reason") == "ListingComplete"


def test_account_discovery_creates_observe_only_accounts(e2e: E2E) -> None:
    add_people(e2e)
    e2e.account("alice", accountId=ALICE)
    e2e.org(accountDiscovery={"enabled": True})
    e2e.wait_synced()

    def all_accounts() -> list[dict]:
        items: list[dict] = json.loads(e2e.kube.kubectl("get", "aacct", "-o", "json").stdout)[
            "items"
        ]
        return items if len(items) == 44 else []

    accounts = e2e.kube.wait_for(all_accounts, 30, "an account per org user")
    discovered = [
        a
        for a in accounts
        if a["metadata"].get("labels", {}).get("atlassian.operators.dev/org") == "acme"
    ]
    assert len(discovered) == 43  # everyone but alice, who already had one
    owner = discovered[0]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("AtlassianOrg", "acme")
    assert all("desiredState" not in a["spec"] for a in discovered)
    bob = next(a for a in discovered if a["spec"]["accountId"] == BOB)
    assert bob["metadata"]["name"] == f"acme-{BOB}"

    def managers_once_written() -> set[str]:
        out = e2e.kube.kubectl("get", "aacct", f"acme-{BOB}", "-o", "json", "--show-managed-fields")
        obj = json.loads(out.stdout)
        return (
            {m["manager"] for m in obj["metadata"]["managedFields"]} if "status" in obj else set()
        )

    # `kubectl get --show-managed-fields` names the operator as what created it and wrote status
    assert e2e.kube.wait_for(managers_once_written, 30, "bob's status") == {"atlassian-operator"}


def test_deleting_resources_never_touches_atlassian(e2e: E2E) -> None:
    add_people(e2e)
    e2e.org()
    e2e.account("alice", accountId=ALICE, desiredState="Suspended")
    e2e.wait_status(
        "aacct", "alice", lambda s: s.get("accountStatus") == "Suspended", "alice Suspended"
    )
    e2e.kube.kubectl("delete", "aacct/alice", "--timeout=20s")
    # A second org on the same simulator (an orgId of its own: one orgId has one acting
    # AtlassianOrg, so its listing is answered 404): its sync, asked for after the deletion and
    # answered, shows the operator has handled the deletion events (a late call comes before).
    e2e.apply(e2e.org_manifest("witness", orgId="org-witness"))
    e2e.later_sync("witness")
    e2e.kube.kubectl("delete", "aorg/acme", "--timeout=20s")
    e2e.later_sync("witness")
    e2e.later_sync("witness")
    assert len(disables(e2e)) == 1 and e2e.sim.requests("enable") == []
    assert e2e.sim.user(ALICE)["user"]["account_status"] == "inactive"


def test_email_matching_nobody_and_unknown_org_say_what_to_fix(e2e: E2E) -> None:
    add_people(e2e)
    e2e.org()
    e2e.account("ghost", email="ghost@acme.example")
    e2e.account("stray", org="nope", accountId=ALICE)
    ghost = e2e.wait_status(
        "aacct",
        "ghost",
        lambda s: condition(s, "Ready", "reason") == "AccountNotFound",
        "ghost AccountNotFound",
    )
    assert "no user with email ghost@acme.example" in condition(ghost, "Ready", "message")
    stray = e2e.wait_status(
        "aacct",
        "stray",
        lambda s: condition(s, "Ready", "reason") == "OrgNotFound",
        "stray OrgNotFound",
    )
    assert "AtlassianOrg 'nope' not found" in condition(stray, "Ready", "message")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {"orgRef": {"name": "acme"}},
            "spec must set accountId or email (or both)",
            id="neither-id-nor-email",
        ),
        pytest.param(
            {"orgRef": {"name": "acme"}, "accountId": ALICE, "desiredState": "Deleted"},
            'Unsupported value: "Deleted"',
            id="unknown-desired-state",
        ),
        pytest.param({"accountId": ALICE}, "spec.orgRef: Required value", id="no-org-ref"),
    ],
)
def test_schema_rejects_invalid_accounts(e2e: E2E, spec: dict, message: str) -> None:
    manifest = (
        "apiVersion: atlassian.operators.dev/v1beta1\nkind: AtlassianAccount\n"
        f"metadata: {{name: bad}}\nspec: {json.dumps(spec)}\n"
    )
    result = e2e.kube.kubectl("apply", "-f", "-", input=manifest, check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_accounts_of_a_deleted_org_say_so_and_nothing_is_called(e2e: E2E) -> None:
    add_people(e2e)
    e2e.org()
    e2e.account("alice", accountId=ALICE)
    e2e.wait_status("aacct", "alice", ready, "alice observed")

    e2e.kube.kubectl("delete", "aorg/acme", "--timeout=20s")
    alice = e2e.wait_status(
        "aacct",
        "alice",
        lambda s: condition(s, "Ready", "reason") == "OrgNotFound",
        "alice OrgNotFound",
    )
    assert "AtlassianOrg 'acme' not found" in condition(alice, "Ready", "message")
    assert alice["accountStatus"] == "Active"  # what was observed is kept
    assert disables(e2e) == [] and e2e.sim.requests("enable") == []
