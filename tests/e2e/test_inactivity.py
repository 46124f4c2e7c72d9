"""Issue 13, part 1: the inactivity policy (license management) on the real API server, with
the real kubectl and the simulator: Report counts and changes nothing, Enforce suspends exactly
the eligible, budgeted, non-exempt accounts, longest inactive first; a re-enabled account is
left alone; a listing that fails makes nobody eligible. Issue 26: the org's exempt list
outlives a discovered account deleted and discovered again without its labels; the policy's
waits leave an account Ready (its verdict is the Inactivity condition); with warnAfterDays,
the policy warns and does not suspend within the warning period.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from support.e2e import API_KEY, E2E, condition
from support.operator import OperatorProcess
from support.simulator import Simulator, start_simulator

pytestmark = pytest.mark.e2e

# (account id, days since last active or None, billable)
PEOPLE = {
    "alpha": ("a1000000000000000000a001", 300, True),
    "beta": ("b2000000000000000000b002", 200, True),
    "gamma": ("c3000000000000000000c003", 150, False),
    "delta": ("d4000000000000000000d004", 10, True),
    "exempt": ("e5000000000000000000e005", 400, True),
    "protected": ("f6000000000000000000f006", 400, True),
    "explicit": ("a7000000000000000000a007", 400, True),
    "never": ("b8000000000000000000b008", None, True),
}


LABELS = {"exempt": {"licence": "keep"}}


def stamp(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    # No generated user has an AtlassianAccount here, so the policy never looks at them.
    with start_simulator(users=0, seed=5, page_size=5, org_id="org-idle", api_key=API_KEY) as sim:
        for name, (account_id, idle, billable) in PEOPLE.items():
            fields: dict[str, Any] = {
                "account_id": account_id,
                "name": name.title(),
                "email": f"{name}@acme.example",
                "account_status": "active",
                "access_billable": billable,
            }
            if idle is not None:
                fields["last_active"] = stamp(idle)
            sim.add_user(**fields)
        yield sim


def accounts(e2e: E2E) -> None:
    for name, (account_id, _, _) in PEOPLE.items():
        spec: dict[str, Any] = {"accountId": account_id}
        if name == "explicit":
            spec["desiredState"] = "Active"
        e2e.apply(
            {
                "apiVersion": "atlassian.operators.dev/v1beta1",
                "kind": "AtlassianAccount",
                "metadata": {
                    "name": name,
                    "labels": {"licence": "keep"} if name == "exempt" else {},
                },
                "spec": {"orgRef": {"name": "acme"}, **spec},
            }
        )


def policy(mode: str) -> dict[str, Any]:
    return {
        "suspendAfterDays": 90,
        "mode": mode,
        "exemptSelector": {"matchLabels": {"licence": "keep"}},
    }


def disabled(sim: Simulator) -> list[str]:
    by_id = {account_id: name for name, (account_id, _, _) in PEOPLE.items()}
    return [by_id[r["path"].split("/")[2]] for r in sim.requests("disable")]


def counted(e2e: E2E, expected: dict[str, int]) -> dict[str, Any]:
    """The org's status once its inactivity counts (all but asOf) are `expected`."""

    def counts(status: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in (status.get("inactivity") or {}).items() if k != "asOf"}

    return e2e.wait_status(
        "aorg", "acme", lambda s: counts(s) == expected, f"inactivity {expected}"
    )


def test_report_counts_then_enforce_suspends_the_longest_inactive_first(
    e2e: E2E, operator: OperatorProcess
) -> None:
    accounts(e2e)
    e2e.org(
        inactivity=policy("Report"),
        suspension={"protectedAccounts": ["protected@acme.example"], "maxPerSync": 2},
    )
    # protected: idle 400 days, refused; explicit: pinned Active, idle 400 days, kept by intent.
    counted(e2e, {"eligible": 3, "eligibleBillable": 2, "suspended": 0, "warned": 0, "refused": 1,
                  "refusedBillable": 1, "keptByIntent": 1})  # fmt: skip
    alpha = e2e.status("aacct", "alpha")
    assert alpha["inactiveDays"] == 300 and alpha["inactivityEligible"] is True
    assert condition(alpha, "Ready", "reason") == "Observed"
    assert condition(alpha, "Inactivity", "reason") == "InactivityEligible"
    assert condition(e2e.status("aacct", "delta"), "Inactivity", "reason") == "NotInactive"
    assert condition(e2e.status("aacct", "exempt"), "Inactivity", "reason") == "Exempt"
    for name in ("delta", "exempt", "protected", "explicit", "never"):
        assert "inactivityEligible" not in e2e.status("aacct", name), name
    assert "inactiveDays" not in e2e.status("aacct", "never")
    table = e2e.kube.kubectl("get", "aorg", "acme").stdout.splitlines()
    assert "RECLAIMABLE" in table[0] and table[1].split()[5] == "2"
    assert e2e.sim.requests("disable") == []  # Report changes nothing in Atlassian

    e2e.apply(
        e2e.org_manifest(
            inactivity={**policy("Enforce"), "maxPerSync": 2},
            suspension={"protectedAccounts": ["protected@acme.example"], "maxPerSync": 2},
        )
    )
    gamma = e2e.wait_status(
        "aacct", "gamma",
        lambda s: condition(s, "Inactivity", "reason") == "WaitingForBudget", "gamma waits",
    )  # fmt: skip
    # Waiting for the budget is the policy's wait, not a failure: gamma stays Ready.
    assert condition(gamma, "Ready") == "True" and condition(gamma, "Ready", "reason") == "Observed"
    # The budget of two went to the longest inactive (300 and 200 days; both calls leave in
    # one pass, so they may reach Atlassian in either order); 150 days waits. Gamma is shown
    # waiting in the pass that grants the two; each call goes once its intent is stored.
    e2e.kube.wait_for(lambda: len(disabled(e2e.sim)) >= 2, 30, "the two granted calls")
    assert sorted(disabled(e2e.sim)) == ["alpha", "beta"]
    last = e2e.wait_status("aacct", "alpha", lambda s: s.get("lastAction"), "alpha's action")[
        "lastAction"
    ]
    assert last["requestedBy"] == "inactivity-policy"
    assert "inactive for 300 days" in last["message"] and "90 days" in last["message"]
    bodies = [r["body"]["message"] for r in e2e.sim.requests("disable")]
    assert any("inactive for 300 days" in b for b in bodies), bodies
    # The rolling window (syncInterval 30s) lets the third go in its turn; nobody else.
    e2e.wait_status(
        "aacct", "gamma", lambda s: s.get("accountStatus") == "Suspended", "gamma", timeout=60
    )
    counted(e2e, {"eligible": 0, "eligibleBillable": 0, "suspended": 3, "warned": 0, "refused": 1,
                  "refusedBillable": 1, "keptByIntent": 1})  # fmt: skip
    e2e.later_sync()
    assert sorted(disabled(e2e.sim)) == ["alpha", "beta", "gamma"]
    reasons = [ev["reason"] for ev in e2e.events("alpha")]
    assert reasons == ["Suspended"]


def test_a_re_enabled_account_is_left_alone_and_a_failed_listing_makes_nobody_eligible(
    e2e: E2E, operator: OperatorProcess
) -> None:
    accounts(e2e)
    e2e.org(inactivity=policy("Enforce"), suspension={"maxPerSync": 10})
    e2e.wait_status(
        "aacct", "alpha", lambda s: s.get("accountStatus") == "Suspended", "alpha suspended"
    )
    # An admin re-enables alpha in Atlassian; alpha still uses nothing.
    e2e.sim.update_user(PEOPLE["alpha"][0], account_status="active")
    e2e.request_sync()
    alpha = e2e.wait_status(
        "aacct", "alpha",
        lambda s: s.get("accountStatus") == "Active" and s.get("inactivityResetAt"), "re-enabled",
    )  # fmt: skip
    assert "inactivityEligible" not in alpha
    e2e.later_sync()
    assert disabled(e2e.sim).count("alpha") == 1

    # delta goes quiet in Atlassian while every listing fails: nothing changes.
    e2e.sim.add_fault(endpoint="list_users", kind="status", status=500, times=10_000)
    e2e.sim.update_user(PEOPLE["delta"][0], last_active=stamp(400))
    e2e.request_sync()
    e2e.wait_status(
        "aorg", "acme", lambda s: condition(s, "Synced") == "False", "the failed listing"
    )
    e2e.later_sync()
    assert "inactivityEligible" not in e2e.status("aacct", "delta")
    assert "delta" not in disabled(e2e.sim)
    e2e.sim.clear_faults()
    e2e.request_sync()
    e2e.wait_status(
        "aacct", "delta", lambda s: s.get("accountStatus") == "Suspended", "delta, once listed"
    )
    assert disabled(e2e.sim).count("delta") == 1


def discovered(name: str) -> str:
    """The object account discovery makes for one of PEOPLE (see core.discovery)."""
    return f"acme-{PEOPLE[name][0]}"


def test_the_orgs_exempt_list_outlives_a_discovered_account(
    e2e: E2E, operator: OperatorProcess
) -> None:
    e2e.org(
        accountDiscovery={"enabled": True},
        inactivity={**policy("Enforce"), "exempt": ["Exempt@ACME.example"]},
        suspension={"protectedAccounts": ["protected@acme.example"], "maxPerSync": 10},
    )
    # Everyone idle past 90 days, neither listed nor protected, is suspended.
    for name in ("alpha", "beta", "gamma", "explicit"):
        e2e.wait_status(
            "aacct", discovered(name), lambda s: s.get("accountStatus") == "Suspended", name
        )
    exempt = e2e.wait_status(
        "aacct", discovered("exempt"), lambda s: s.get("inactiveDays") == 400, "exempt observed"
    )
    assert "inactivityEligible" not in exempt
    assert condition(exempt, "Ready", "reason") == "Observed"

    # A label exemption on a discovered account works, and is warned of once: delta's. The
    # exempt person has the label too, but is listed as well: no warning.
    e2e.kube.kubectl("label", "aacct", discovered("exempt"), "licence=keep")
    e2e.kube.kubectl("label", "aacct", discovered("delta"), "licence=keep")
    e2e.kube.wait_for(
        lambda: [ev["reason"] for ev in e2e.events(discovered("delta"))] == ["ExemptionNotDurable"],
        30,
        "one ExemptionNotDurable Warning on delta's discovered account",
    )
    warning = e2e.events(discovered("delta"))[0]
    assert warning["type"] == "Warning"
    assert "spec.inactivity.exempt of AtlassianOrg acme" in warning["message"]

    # The exempt person's discovered account is deleted: it is discovered again, as a new
    # object with none of the old one's labels, and is still not suspended.
    old_uid = e2e.get("aacct", discovered("exempt"))["metadata"]["uid"]
    e2e.kube.kubectl("delete", "aacct", discovered("exempt"), "--timeout=20s")
    e2e.request_sync()

    def rediscovered() -> dict[str, Any] | None:
        found = e2e.kube.kubectl("get", "aacct", discovered("exempt"), "-o", "json", check=False)
        if found.returncode != 0:
            return None
        body: dict[str, Any] = json.loads(found.stdout)
        again = body["metadata"]["uid"] != old_uid and body.get("status", {}).get("inactiveDays")
        return body if again else None

    body = e2e.kube.wait_for(rediscovered, 60, "the exempt person's account discovered again")
    assert "licence" not in body["metadata"].get("labels", {})
    e2e.later_sync()
    e2e.later_sync()
    again = e2e.status("aacct", discovered("exempt"))
    assert again["accountStatus"] == "Active" and "inactivityEligible" not in again
    assert sorted(disabled(e2e.sim)) == ["alpha", "beta", "explicit", "gamma"]
    assert [ev["reason"] for ev in e2e.events(discovered("delta"))] == ["ExemptionNotDurable"]
    assert e2e.events(discovered("exempt")) == []


# Issue 26, items 5 and 6: numbers you can quote, and Git-first layouts see inactivity.
ADMIN_ID, IDP_ID = "a9000000000000000000a009", "b1000000000000000000b010"


def wide(e2e: E2E) -> dict[str, str]:
    """`kubectl get aorg acme -o wide` as {column: value}."""
    header, row = e2e.kube.kubectl("get", "aorg", "acme", "-o", "wide").stdout.splitlines()[:2]
    return dict(zip(header.split(), row.split(), strict=False))


def gauge(e2e: E2E, operator: OperatorProcess, name: str, state: str | None = None) -> float:
    labels = f'namespace="{e2e.kube.namespace}",org="acme"'
    if state is not None:
        labels += f',state="{state}"'
    for line in operator.metrics().splitlines():
        if line.startswith(f"{name}{{") and all(p in line for p in labels.split(",")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name}{{{labels}}} in the operator's metrics")


def test_reclaimable_counts_what_would_be_reclaimed_and_keeps_its_value_while_the_key_is_broken(
    e2e: E2E, operator: OperatorProcess
) -> None:
    # Idle 400 days and billable, but never the operator's to suspend: an org admin and an
    # account synced from an identity provider (and, below, a protected one).
    for account_id, extra in ((ADMIN_ID, {"platformRoles": ["atlassian/org-admin"]}),
                              (IDP_ID, {"scim": True})):  # fmt: skip
        e2e.sim.add_user(
            account_id=account_id, email=f"{account_id}@acme.example", account_status="active",
            access_billable=True, last_active=stamp(400), **extra,
        )  # fmt: skip
        e2e.account(account_id[:5], accountId=account_id)
    accounts(e2e)
    # Enforce, with the brake holding every call: the eligible wait and are counted.
    e2e.org(
        inactivity=policy("Enforce"),
        suspension={"protectedAccounts": ["protected@acme.example"], "pauseAbove": 1},
    )
    expected = {
        "eligible": 3, "eligibleBillable": 2, "suspended": 0, "warned": 0,  # alpha, beta, gamma
        "refused": 3, "refusedBillable": 3,  # the admin, the IdP's, the protected one
        "keptByIntent": 1,  # explicit: pinned desiredState Active, idle 400 days
    }  # fmt: skip

    def counts_are(s: dict[str, Any]) -> bool:
        counts = s.get("inactivity") or {}
        return {k: v for k, v in counts.items() if k != "asOf"} == expected and "asOf" in counts

    listed = e2e.wait_status("aorg", "acme", counts_are, f"inactivity {expected}")["inactivity"]
    columns = wide(e2e)
    assert (columns["RECLAIMABLE"], columns["REFUSED"], columns["KEPT-BY-INTENT"]) == (
        "2", "3", "1",
    )  # fmt: skip
    assert columns["COUNTED-AT"] != "<none>"
    for name, reason in (("a9000", "OrganizationAdmin"), ("b1000", "ManagedByIdentityProvider"),
                         ("protected", "ProtectedAccount")):  # fmt: skip
        status = e2e.wait_status(
            "aacct", name, lambda s, r=reason: s.get("inactivityRefused") == r, f"{name} refused"
        )
        assert "inactivityEligible" not in status, name
    explicit = e2e.status("aacct", "explicit")
    assert explicit["keptByIntent"] is True and "inactivityEligible" not in explicit
    message = condition(explicit, "Ready", "message") or ""
    assert "kept by intent, inactive for 400 days" in message
    assert e2e.sim.requests("disable") == []
    as_of = datetime.fromisoformat(listed["asOf"].replace("Z", "+00:00")).timestamp()
    metric = "atlassian_operator_inactivity_as_of_timestamp_seconds"
    assert gauge(e2e, operator, metric) == as_of
    assert gauge(e2e, operator, "atlassian_operator_inactivity_accounts", "kept_by_intent") == 1

    # The key Secret is broken (emptied): syncs fail, nobody can be called. The counts stay
    # those of the last listing, and say when that was.
    e2e.kube.kubectl(
        "patch", "secret", "atlassian-api-key", "--type=merge", "-p",
        '{"stringData":{"api-key":" "}}',
    )  # fmt: skip
    e2e.request_sync()
    e2e.wait_status(
        "aorg", "acme",
        lambda s: condition(s, "Synced", "reason") == "SecretNotUsable", "the broken key",
    )  # fmt: skip
    e2e.wait_status(
        "aacct", "alpha",
        lambda s: condition(s, "Ready", "reason") == "SecretNotUsable", "alpha blocked by the key",
    )  # fmt: skip
    e2e.later_sync()
    assert e2e.status("aorg", "acme")["inactivity"] == listed
    assert wide(e2e)["RECLAIMABLE"] == "2"
    assert e2e.status("aacct", "alpha")["inactivityEligible"] is True
    assert gauge(e2e, operator, metric) == as_of
    assert gauge(e2e, operator, "atlassian_operator_inactivity_accounts", "eligible_billable") == 2
    assert e2e.sim.requests("disable") == []


def test_with_warn_after_days_the_policy_warns_and_does_not_suspend_within_the_period(
    e2e: E2E, operator: OperatorProcess
) -> None:
    """The first half of the warning end to end (a person idle 300 days is warned, not
    suspended, however long the policy runs within the warning period); that the suspension
    comes once the period is over needs days to pass: tests/unit/test_owner_inactivity.py
    shows it on the real owner with a clock that moves."""
    accounts(e2e)
    e2e.org(
        inactivity={**policy("Enforce"), "suspendAfterDays": 250, "warnAfterDays": 120},
        suspension={"protectedAccounts": ["protected@acme.example"], "maxPerSync": 10},
    )
    # Past warnAfterDays (120): alpha 300 days (past suspendAfterDays 250 too, but never
    # warned), beta 200, gamma 150 days; delta (10 days) is not.
    # protected (refused) and explicit (kept by intent) are past it too, but never warned.
    counted(e2e, {"eligible": 0, "eligibleBillable": 0, "suspended": 0, "warned": 3, "refused": 1,
                  "refusedBillable": 1, "keptByIntent": 1})  # fmt: skip
    alpha = e2e.status("aacct", "alpha")
    assert condition(alpha, "Inactivity", "reason") == "InactivityWarning"
    assert condition(alpha, "Ready") == "True"
    assert alpha["inactivityWarnedAt"] and "inactivityEligible" not in alpha
    assert "suspended no earlier than" in str(condition(alpha, "Inactivity", "message"))
    assert condition(e2e.status("aacct", "delta"), "Inactivity", "reason") == "NotInactive"
    # What a team watches: the INACTIVITY column, and one Warning Event per person warned.
    table = e2e.kube.kubectl("get", "aacct", "-o", "wide").stdout.splitlines()
    assert table[0].split()[-1] == "INACTIVITY"
    shown = {line.split()[0]: line.split()[-1] for line in table[1:]}
    assert shown["alpha"] == "InactivityWarning" and shown["delta"] == "NotInactive", table
    e2e.kube.wait_for(
        lambda: [ev["reason"] for ev in e2e.events("alpha")] == ["InactivityWarning"],
        30,
        "one InactivityWarning Event on alpha",
    )
    # More listings in mode Enforce: nobody is suspended, and nobody is warned twice.
    e2e.later_sync()
    e2e.later_sync()
    assert disabled(e2e.sim) == []
    assert [ev["reason"] for ev in e2e.events("alpha")] == ["InactivityWarning"]
    assert e2e.status("aacct", "alpha")["inactivityWarnedAt"] == alpha["inactivityWarnedAt"]
    # alpha uses Jira again: the warning ends.
    e2e.sim.update_user(PEOPLE["alpha"][0], last_active=stamp(0))
    e2e.request_sync()
    back = e2e.wait_status(
        "aacct", "alpha", lambda s: "inactivityWarnedAt" not in s, "alpha's warning cleared"
    )
    assert condition(back, "Inactivity", "reason") == "NotInactive"
    counted(e2e, {"eligible": 0, "eligibleBillable": 0, "suspended": 0, "warned": 2, "refused": 1,
                  "refusedBillable": 1, "keptByIntent": 1})  # fmt: skip
