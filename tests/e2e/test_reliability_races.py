"""Issue 7, item 5: drift and races (re-enabled upstream is in test_operator.py).

- an account deleted in Atlassian while its disable call is in flight;
- two AtlassianAccounts naming one Atlassian user, one after the other and both at once;
- desiredState flipped Suspended -> Active -> Suspended faster than a call takes.
"""

from __future__ import annotations

import json

import pytest

from support.e2e import E2E, condition
from support.reliability import calls, wait_until

pytestmark = pytest.mark.e2e

ALICE = "a2000000000000000000a002"


def add_alice(e2e: E2E) -> None:
    e2e.sim.add_user(
        account_id=ALICE, name="Alice Adams", email="alice@acme.example", account_status="active"
    )


def later_sync(e2e: E2E) -> None:
    """A positive signal that the operator looked again: a listing requested and answered."""
    e2e.wait_synced(after=e2e.request_sync())


def test_account_deleted_upstream_while_its_suspension_is_in_flight(e2e: E2E) -> None:
    add_alice(e2e)
    e2e.org()
    e2e.account("alice", accountId=ALICE)
    e2e.wait_status("aacct", "alice", lambda s: condition(s, "Ready") == "True", "alice seen")
    e2e.sim.add_fault(endpoint="disable", account_id=ALICE, kind="slow", delay_seconds=3.0)

    e2e.kube.kubectl(
        "patch", "aacct/alice", "--type=merge", "-p", '{"spec":{"desiredState":"Suspended"}}'
    )
    wait_until(lambda: e2e.sim.faults() == [], 10, "the disable call in flight")
    e2e.sim.remove_user(ALICE)  # deleted in admin.atlassian.com meanwhile

    alice = e2e.wait_status(
        "aacct",
        "alice",
        lambda s: (s.get("lastAction") or {}).get("result") == "Failed",
        "the disable answered 404",
    )
    assert alice["lastAction"]["reason"] == "AccountNotFound"
    assert condition(alice, "Ready", "reason") == "AccountNotFound"
    assert alice["accountStatus"] == "Active"  # nothing is concluded without a listing
    later_sync(e2e)
    alice = e2e.wait_status(
        "aacct",
        "alice",
        lambda s: s.get("accountStatus") == "Deprovisioned",
        "alice Deprovisioned by the complete listing",
    )
    assert alice["atlassianStatus"] == "deleted"
    # Deprovisioned is as suspended as it gets: the desired state holds, nothing to retry.
    assert condition(alice, "Ready") == "True", alice["conditions"]
    later_sync(e2e)
    assert [c["status"] for c in calls(e2e.sim, "disable")] == [404]
    assert e2e.sim.requests("enable") == []
    assert [(ev["type"], ev["reason"]) for ev in e2e.events("alice")] == [
        ("Warning", "SuspendFailed")
    ]


def test_second_account_naming_the_same_user_is_told_and_neither_acts(e2e: E2E) -> None:
    """Two accounts that both state a desired state for one user are a conflict: neither acts,
    both say so, and deleting one lets the other act at once (no wait for a listing)."""
    add_alice(e2e)
    e2e.org()
    e2e.account("alice", accountId=ALICE, desiredState="Suspended")
    e2e.wait_status(
        "aacct", "alice", lambda s: s.get("accountStatus") == "Suspended", "alice Suspended"
    )
    e2e.sim.update_user(ALICE, account_status="active")  # re-enabled upstream: both would act
    e2e.account("alice-again", email="ALICE@acme.example", desiredState="Suspended")

    for name, other in (("alice-again", "alice"), ("alice", "alice-again")):
        dup = e2e.wait_status(
            "aacct",
            name,
            lambda s: condition(s, "Ready", "reason") == "DuplicateAccount",
            f"{name} DuplicateAccount",
        )
        message = str(condition(dup, "Ready", "message"))
        assert other in message and ALICE in message and "neither acts" in message
        assert condition(dup, "Stalled") == "True"  # until a person deletes one of them
    later_sync(e2e)  # the drift is seen, and still nobody acts
    later_sync(e2e)
    assert len(calls(e2e.sim, "disable", ALICE)) == 1  # only the first suspension

    e2e.kube.kubectl("delete", "aacct/alice")
    again = e2e.wait_status(
        "aacct",
        "alice-again",
        lambda s: condition(s, "Ready", "reason") == "InDesiredState",
        "alice-again acts once alice is gone",
        timeout=10,  # well within a sync interval (30 s): re-evaluated at once
    )
    assert again["accountStatus"] == "Suspended" and again["accountId"] == ALICE
    assert len(calls(e2e.sim, "disable", ALICE)) == 2


def test_two_accounts_created_at_once_for_one_user_conflict_and_call_at_most_once(e2e: E2E) -> None:
    add_alice(e2e)
    e2e.org()
    e2e.wait_synced()
    e2e.apply(
        [
            {
                "apiVersion": "atlassian.operators.dev/v1beta1",
                "kind": "AtlassianAccount",
                "metadata": {"name": name},
                "spec": {"orgRef": {"name": "acme"}, **spec, "desiredState": "Suspended"},
            }
            for name, spec in (
                ("a-by-id", {"accountId": ALICE}),
                ("b-by-email", {"email": "alice@acme.example"}),
            )
        ]
    )
    for name in ("a-by-id", "b-by-email"):
        e2e.wait_status(
            "aacct",
            name,
            lambda s: condition(s, "Ready", "reason") == "DuplicateAccount",
            f"{name} DuplicateAccount",
        )
    later_sync(e2e)
    later_sync(e2e)
    # The first one may have acted before the second existed; never both, never twice.
    assert len(calls(e2e.sim, "disable", ALICE)) <= 1


def test_an_offboarding_in_git_wins_over_the_discovered_account(e2e: E2E) -> None:
    """Discovery gives alice an observe-only account; an offboarding for her still acts."""
    add_alice(e2e)
    e2e.org(accountDiscovery={"enabled": True})
    e2e.wait_synced()
    discovered = e2e.kube.wait_for(
        lambda: [
            a["metadata"]["name"]
            for a in json.loads(e2e.kube.kubectl("get", "aacct", "-o", "json").stdout)["items"]
            if a["spec"].get("accountId") == ALICE
        ],
        30,
        "alice's discovered account",
    )[0]
    e2e.account("offboard-alice", email="alice@acme.example", desiredState="Suspended")
    e2e.wait_status(
        "aacct",
        "offboard-alice",
        lambda s: condition(s, "Ready", "reason") == "InDesiredState",
        "the offboarding done",
    )
    assert len(calls(e2e.sim, "disable", ALICE)) == 1
    defers = e2e.wait_status(
        "aacct",
        discovered,
        lambda s: condition(s, "Ready", "reason") == "DefersToAccount",
        "the discovered account defers",
    )
    assert "offboard-alice" in str(condition(defers, "Ready", "message"))
    assert condition(defers, "Ready") == "True"


@pytest.mark.parametrize(
    "allow_reactivation", [False, True], ids=["no-reactivation", "reactivation"]
)
def test_desired_state_flipped_back_and_forth_quickly(e2e: E2E, allow_reactivation: bool) -> None:
    add_alice(e2e)
    e2e.org(suspension={"allowReactivation": allow_reactivation})
    e2e.account("alice", accountId=ALICE)
    e2e.wait_status("aacct", "alice", lambda s: condition(s, "Ready") == "True", "alice seen")
    e2e.sim.add_fault(endpoint="disable", account_id=ALICE, kind="slow", delay_seconds=1.0)

    for desired in ("Suspended", "Active", "Suspended"):
        e2e.kube.kubectl(
            "patch",
            "aacct/alice",
            "--type=merge",
            "-p",
            f'{{"spec":{{"desiredState":"{desired}"}}}}',
        )
    generation = e2e.get("aacct", "alice")["metadata"]["generation"]
    status = e2e.wait_status(
        "aacct",
        "alice",
        lambda s: (
            s.get("observedGeneration") == generation
            and condition(s, "Ready", "reason") == "InDesiredState"
        ),
        "alice Suspended, settled",
    )
    assert status["accountStatus"] == "Suspended"
    later_sync(e2e)
    assert e2e.sim.user(ALICE)["user"]["account_status"] == "inactive"
    disables, enables = calls(e2e.sim, "disable", ALICE), calls(e2e.sim, "enable", ALICE)
    if allow_reactivation:
        # Each call that went out was asked for; they alternate and end in a disable.
        assert len(disables) == len(enables) + 1 and len(disables) <= 2
    else:
        assert (len(disables), enables) == (1, [])
    assert condition(e2e.status("aacct", "alice"), "Ready", "reason") == "InDesiredState"


def test_listing_in_flight_during_a_suspension_does_not_repeat_it(e2e: E2E) -> None:
    early = "000000000000000000000a05"  # sorts first: on page 1 of the listing
    e2e.sim.add_user(account_id=early, name="Early Bird", email="early@acme.example")
    e2e.org()
    e2e.account("early", accountId=early)
    e2e.wait_status("aacct", "early", lambda s: condition(s, "Ready") == "True", "early seen")
    listed = len(e2e.sim.requests("list_users"))

    # A listing reads page 1 (early still active), then waits 3 s for page 2 ...
    e2e.sim.add_fault(endpoint="list_users", page=2, kind="slow", delay_seconds=3.0)
    e2e.request_sync()
    wait_until(lambda: e2e.sim.faults() == [], 10, "page 2 in flight")
    assert len(e2e.sim.requests("list_users")) == listed + 1
    # ... while early is suspended from the previous snapshot.
    e2e.kube.kubectl(
        "patch", "aacct/early", "--type=merge", "-p", '{"spec":{"desiredState":"Suspended"}}'
    )
    wait_until(lambda: calls(e2e.sim, "disable", early), 10, "the disable")
    assert len(e2e.sim.requests("list_users")) == listed + 1, "the listing ended too soon"

    # That listing ends showing early active as of before the disable: old news, not drift.
    later_sync(e2e)
    later_sync(e2e)
    assert [c["status"] for c in calls(e2e.sim, "disable", early)] == [204]
    assert [ev["reason"] for ev in e2e.events("early")] == ["Suspended"]
    status = e2e.status("aacct", "early")
    assert status["accountStatus"] == "Suspended"
    assert condition(status, "Ready", "reason") == "InDesiredState"
