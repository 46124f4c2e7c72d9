"""Issue 7, item 3: authentication and the API key Secret.

A wrong key, a key removed from its Secret, a deleted Secret and a key rotated in place each give
the org a condition that says what is wrong (AuthenticationFailed / SecretNotUsable) and what to
do; none makes the operator hammer Atlassian (a rejected key is tried once per syncInterval, a
missing one not at all); a suspension asked for while the key is wrong is not lost; and a key
rotated in place is picked up by the running operator, without a restart and without touching
the AtlassianOrg.
"""

from __future__ import annotations

import base64
import itertools
import json
import time

import pytest

from support.e2e import API_KEY, API_KEY_LABEL, E2E, condition
from support.reliability import calls, sim_time

pytestmark = pytest.mark.e2e

ALICE = "a1000000000000000000a001"
WRONG_KEY = "revoked-key-5d1e0b77"


def add_alice(e2e: E2E) -> None:
    e2e.sim.add_user(
        account_id=ALICE, name="Alice Adams", email="alice@acme.example", account_status="active"
    )


def replace_secret(e2e: E2E, data: dict[str, str]) -> None:
    """Replace the whole Secret (apply would merge, keeping keys we mean to remove)."""
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "atlassian-api-key", "labels": {API_KEY_LABEL: "true"}},
        "data": encoded,
    }
    e2e.kube.kubectl("replace", "-f", "-", input=json.dumps(manifest))


def rejected_listings(e2e: E2E) -> list[dict]:
    return [r for r in e2e.sim.requests("list_users") if r["status"] == 401]


def test_wrong_key_is_reported_retried_with_backoff_and_a_fix_in_place_is_picked_up(
    e2e: E2E,
) -> None:
    add_alice(e2e)
    e2e.secret(value=WRONG_KEY)
    e2e.org(secret=False)
    assert e2e.operator.process is not None
    pid = e2e.operator.process.pid

    org = e2e.wait_status(
        "aorg",
        "acme",
        lambda s: condition(s, "Ready", "reason") == "AuthenticationFailed",
        "org AuthenticationFailed",
    )
    message = str(condition(org, "Ready", "message"))
    assert "rejected the API key (401)" in message and "Secret" in message
    assert WRONG_KEY not in message and API_KEY not in message
    assert condition(org, "Synced", "reason") == "AuthenticationFailed"
    e2e.account("alice", accountId=ALICE, desiredState="Suspended")
    alice = e2e.wait_status(
        "aacct",
        "alice",
        lambda s: condition(s, "Ready", "reason") == "OrgNotSynced",
        "alice waits for the org",
    )
    assert "rejected the API key" in str(condition(alice, "Ready", "message"))

    # A rejected key is tried again, but not in a loop: wait for the second try (a positive
    # signal), then fix the key in place (the Secret only; not the org, no restart).
    e2e.kube.wait_for(lambda: len(rejected_listings(e2e)) >= 2, 40, "a second try of the key")
    e2e.secret(value=API_KEY)
    e2e.wait_status(
        "aorg",
        "acme",
        lambda s: condition(s, "Ready") == "True",
        "org Ready with the fixed key",
        timeout=60,
    )
    e2e.wait_status(
        "aacct",
        "alice",
        lambda s: s.get("accountStatus") == "Suspended",
        "the suspension asked for while the key was wrong",
    )
    assert e2e.operator.process.pid == pid and e2e.operator.process.poll() is None

    # No hot loop: each try of the same wrong key waited longer than the one before, the first
    # at least seconds; the fixed key was tried within seconds (the Secret is re-read every 5 s,
    # a Kubernetes GET, and a new key is tried at once).
    listings = e2e.sim.requests("list_users")
    tries = [sim_time(r) for r in listings if r["status"] == 401]
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    assert len(gaps) >= 1 and gaps[0] >= 3.0, gaps
    assert all(b >= a * 0.9 for a, b in itertools.pairwise(gaps)), gaps
    assert [r["status"] for r in calls(e2e.sim, "disable")] == [204]
    # One Warning Event for the wait (not one per retry), then the suspension.
    assert [ev["reason"] for ev in e2e.events("alice")] == ["OrgNotSynced", "Suspended"]


def test_key_rotated_to_a_bad_one_holds_suspensions_until_it_is_fixed(e2e: E2E) -> None:
    add_alice(e2e)
    e2e.org()
    e2e.account("alice", accountId=ALICE)
    e2e.wait_status("aacct", "alice", lambda s: condition(s, "Ready") == "True", "alice observed")

    e2e.secret(value=WRONG_KEY)  # rotated in place, to a key Atlassian does not accept
    e2e.request_sync()
    e2e.wait_status(
        "aorg",
        "acme",
        lambda s: condition(s, "Ready", "reason") == "AuthenticationFailed",
        "org AuthenticationFailed",
    )
    e2e.kube.kubectl(
        "patch", "aacct/alice", "--type=merge", "-p", '{"spec":{"desiredState":"Suspended"}}'
    )
    alice = e2e.wait_status(
        "aacct",
        "alice",
        lambda s: condition(s, "Ready", "reason") == "AuthenticationFailed",
        "alice AuthenticationFailed",
    )
    # The org already knows the key is rejected: no disable call is even tried with it.
    assert alice["accountStatus"] == "Active"
    assert "cannot act" in str(condition(alice, "Ready", "message"))
    assert "lastAction" not in alice
    assert [(ev["type"], ev["reason"]) for ev in e2e.events("alice")] == [
        ("Warning", "AuthenticationFailed")
    ]

    # A later sync happens (positive signal) and still makes no disable with a bad key.
    rejected = len(rejected_listings(e2e))
    e2e.request_sync()
    e2e.kube.wait_for(lambda: len(rejected_listings(e2e)) > rejected, 30, "another listing")
    assert calls(e2e.sim, "disable", ALICE) == []

    e2e.secret(value=API_KEY)
    e2e.request_sync()
    e2e.wait_status(
        "aacct",
        "alice",
        lambda s: (
            s.get("accountStatus") == "Suspended"
            and condition(s, "Ready", "reason") == "InDesiredState"
        ),
        "alice Suspended",
    )
    assert condition(e2e.wait_synced(), "Ready") == "True"
    assert [r["status"] for r in calls(e2e.sim, "disable", ALICE)] == [204]


def test_unusable_secret_says_how_to_fix_it_and_calls_nobody(e2e: E2E) -> None:
    add_alice(e2e)
    e2e.org()
    e2e.account("alice", accountId=ALICE)
    alice = e2e.wait_status(
        "aacct", "alice", lambda s: condition(s, "Ready") == "True", "alice observed"
    )
    listings = len(e2e.sim.requests("list_users"))

    cases = [
        (lambda: replace_secret(e2e, {"token": API_KEY}), "has no key 'api-key' (it has: token)"),
        (lambda: replace_secret(e2e, {"api-key": "  \n"}), "key 'api-key' is empty"),
        (
            lambda: replace_secret(e2e, {"api-key": "pasted with a space"}),
            "contains whitespace or non-ASCII characters",
        ),
        (lambda: e2e.kube.kubectl("delete", "secret", "atlassian-api-key"), "not found; create it"),
    ]
    for change, expected in cases:
        change()
        before = str(e2e.status("aorg", "acme").get("lastSyncTime"))
        token = e2e.request_sync()
        org = e2e.wait_status(
            "aorg",
            "acme",
            lambda s, expected=expected, token=token: (
                s.get("observedSyncRequest") == token
                and expected in str(condition(s, "Ready", "message"))
            ),
            f"the sync after the request says {expected!r}",
        )
        assert condition(org, "Ready", "reason") == "SecretNotUsable"
        assert condition(org, "Synced", "reason") == "SecretNotUsable"
        assert org["lastSyncTime"] == before  # nothing was listed
    assert len(e2e.sim.requests("list_users")) == listings, "listed without a usable key"
    # Not knowing is not forgetting: Alice keeps what the last complete listing said.
    assert e2e.status("aacct", "alice") == alice

    e2e.secret(value=API_KEY)
    started = time.time()
    e2e.request_sync()
    org = e2e.wait_status(
        "aorg",
        "acme",
        lambda s: condition(s, "Ready") == "True" and condition(s, "Synced") == "True",
        "org recovered",
    )
    assert time.time() - started < 20


def test_a_suspension_asked_without_a_secret_lands_once_the_secret_is_back(e2e: E2E) -> None:
    """The old layer's dead loop: 1,023 Events, an overflow, and no recovery (issue 16)."""
    add_alice(e2e)
    e2e.org()
    e2e.account("alice", accountId=ALICE)
    e2e.wait_status("aacct", "alice", lambda s: condition(s, "Ready") == "True", "alice seen")
    e2e.kube.kubectl("delete", "secret", "atlassian-api-key")
    e2e.later_sync()
    e2e.kube.kubectl(
        "patch", "aacct/alice", "--type=merge", "-p", '{"spec":{"desiredState":"Suspended"}}'
    )
    e2e.wait_status(
        "aacct",
        "alice",
        lambda s: condition(s, "Ready", "reason") == "SecretNotUsable",
        "alice waits for a key",
    )
    e2e.later_sync()  # more syncs pass; nothing is called, nothing more is posted
    e2e.later_sync()
    assert calls(e2e.sim, "disable") == []
    e2e.secret()
    restored = time.time()
    status = e2e.wait_status(
        "aacct",
        "alice",
        lambda s: s.get("accountStatus") == "Suspended",
        "the suspension once the Secret is back",
        timeout=20,
    )
    landed = sim_time(calls(e2e.sim, "disable")[0])
    assert landed - restored < 10.0, "the key is re-read every 5 s, not at the next interval"
    assert condition(status, "Ready", "reason") == "InDesiredState"
    reasons = [(ev["type"], ev["reason"]) for ev in e2e.events("alice")]
    assert reasons == [("Warning", "SecretNotUsable"), ("Normal", "Suspended")]
    assert e2e.operator.healthy()
