"""Issue 7, item 7: secrets stay secret.

The operator runs with --debug (everything kopf, httpx and the operator log) through every error
path it has: a missing Secret, an emptied one, a key Atlassian rejects (listing and lifecycle),
a key rotated in place both ways, an unknown org, a base URL that is not Atlassian, one nobody
listens on, an invalid spec, 5xx / malformed / reset / 429 listings, the user management
pre-check refusing (SCIM), and 404, 5xx and reset answers to disable calls. Then its log, every
Event and every status in the namespace are searched for both keys, raw and base64-encoded (as
Secrets store them): none may appear.

The Atlassian client is built with a short backoff (the only difference from a default run), so
that the dozens of retries on the way take seconds instead of minutes.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from support.e2e import API_KEY, E2E, condition
from support.operator import free_port
from support.reliability import calls, operator_process, wait_until

pytestmark = pytest.mark.e2e

WRONG_KEY = "old-revoked-key-93c1d2e7"
ALICE, SCIM, GONE, FLAKY, DANA = (f"{c}4000000000000000000{c}004" for c in "abcde")
FAST_RETRIES = {"backoff_base": 0.05, "backoff_cap": 0.2}


def forms(secret: str) -> list[str]:
    """How a key could leak: as itself, or base64-encoded as in a Secret's data."""
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(f"Bearer {secret}".encode()).decode(),
    ]


def reason(e2e: E2E, kind: str, name: str, expected: str, timeout: float = 30) -> None:
    """An org's failed listing shows on its Synced condition; an account's problem on Ready."""
    type_ = "Synced" if kind == "aorg" else "Ready"
    e2e.wait_status(
        kind,
        name,
        lambda s: condition(s, type_, "reason") == expected,
        f"{kind}/{name} {type_} reason {expected}",
        timeout,
    )


def suspend(e2e: E2E, name: str) -> None:
    e2e.kube.kubectl(
        "patch", f"aacct/{name}", "--type=merge", "-p", '{"spec":{"desiredState":"Suspended"}}'
    )


def failed_sync(e2e: E2E, expected: str, **fault: Any) -> None:
    e2e.sim.add_fault(endpoint="list_users", times=1000, **fault)
    e2e.request_sync()
    reason(e2e, "aorg", "acme", expected)
    e2e.sim.clear_faults()


def test_api_key_appears_nowhere_after_every_error_path(
    kube: Any, crds: None, simulator: Any
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    with operator_process(
        kube,
        # Every URL an org below names is allowed, so that each error path really runs.
        allow=[simulator.url, f"{simulator.url}/not-atlassian", nobody],
        extra_args=["--debug"],
        client_kwargs=FAST_RETRIES,
        secrets=[*forms(API_KEY), *forms(WRONG_KEY)],
    ) as op:
        e2e = E2E(kube, simulator, op)
        run_every_error_path(e2e, nobody)
        log = op.log_text()
        assert "DEBUG" in log and "httpx" in log  # it really logged at debug level
    statuses = json.loads(kube.kubectl("get", "aorg,aacct", "-o", "json").stdout)
    events = json.loads(kube.kubectl("get", "events", "-o", "json").stdout)
    assert len(events["items"]) >= 5
    for secret in [*forms(API_KEY), *forms(WRONG_KEY)]:
        assert secret not in log, "a key in the operator's debug log"
        assert secret not in json.dumps(events), "a key in an Event"
        assert secret not in json.dumps(statuses), "a key in a status"


def run_every_error_path(e2e: E2E, nobody: str) -> None:
    sim = e2e.sim
    for account_id, status, extra in (
        (ALICE, "active", {}),
        # How it is managed is unknown to the v2 search: the user management API is asked.
        (SCIM, "active", {"scim": True, "managementSource": None}),
        (GONE, "active", {}),
        (FLAKY, "active", {}),
        (DANA, "active", {}),
    ):
        sim.add_user(
            account_id=account_id,
            name=f"User {account_id[:1]}",
            email=f"{account_id[:1]}@acme.example",
            account_status=status,
            **extra,
        )

    # Orgs that cannot work: missing Secret, wrong key, unknown org, not-Atlassian, nobody there.
    e2e.secret()
    e2e.secret(name="wrong-key", value=WRONG_KEY)
    e2e.secret(name="empty-key", value=" ")
    e2e.apply(
        [
            # Each names an org of its own (one orgId has one acting AtlassianOrg); the
            # simulator checks the key before the org, so wrong-key still sees a 401.
            e2e.org_manifest("no-secret", orgId="org-1", apiKeySecretRef={"name": "missing"}),
            e2e.org_manifest("empty-secret", orgId="org-2", apiKeySecretRef={"name": "empty-key"}),
            e2e.org_manifest("wrong-key", orgId="org-3", apiKeySecretRef={"name": "wrong-key"}),
            e2e.org_manifest("wrong-org", orgId="no-such-org"),
            e2e.org_manifest("wrong-url", orgId="org-5", apiBaseURL=f"{sim.url}/not-atlassian"),
            e2e.org_manifest("nobody-there", orgId="org-6", apiBaseURL=nobody),
        ]
    )
    for name, expected in (
        ("no-secret", "SecretNotUsable"),
        ("empty-secret", "SecretNotUsable"),
        ("wrong-key", "AuthenticationFailed"),
        ("wrong-org", "OrgNotFound"),
        ("wrong-url", "OrgNotFound"),
        ("nobody-there", "AtlassianUnavailable"),
    ):
        reason(e2e, "aorg", name, expected)
    e2e.account("stray", org="wrong-key", accountId=ALICE, desiredState="Suspended")
    reason(e2e, "aacct", "stray", "OrgNotSynced")

    # The working org, then every listing failure.
    e2e.org()
    for name, account_id in (
        ("alice", ALICE),
        ("scim", SCIM),
        ("gone", GONE),
        ("flaky", FLAKY),
        ("dana", DANA),
    ):
        e2e.account(name, accountId=account_id)
    e2e.wait_synced()
    failed_sync(e2e, "AtlassianUnavailable", page=1, kind="status", status=503)
    failed_sync(e2e, "MalformedResponse", page=1, kind="malformed")
    failed_sync(e2e, "AtlassianUnavailable", page=2, kind="reset")
    sim.add_fault(
        endpoint="list_users",
        page=1,
        kind="status",
        status=429,
        times=2,
        headers={"Retry-After": "1"},
    )
    e2e.request_sync()
    wait_until(lambda: sim.faults() == [], 20, "the 429s used")
    e2e.wait_synced()

    # Every failure of a disable call.
    suspend(e2e, "scim")
    reason(e2e, "aacct", "scim", "ManagedByIdentityProvider")
    sim.remove_user(GONE)
    suspend(e2e, "gone")
    reason(e2e, "aacct", "gone", "AccountNotFound")
    # A 500 or a reset may or may not have disabled: no blind retry, the next listing decides.
    sim.add_fault(endpoint="disable", account_id=FLAKY, kind="status", status=500, times=1000)
    suspend(e2e, "flaky")
    reason(e2e, "aacct", "flaky", "OutcomeUnknown")
    sim.clear_faults()
    sim.add_fault(endpoint="disable", account_id=FLAKY, kind="reset", times=2)
    e2e.wait_status(
        "aacct",
        "flaky",
        lambda s: s.get("accountStatus") == "Suspended",
        "flaky suspended once listings showed it still active",
        timeout=60,
    )

    # A disable refused with 401 (the key revoked between listings), then the key rotated in
    # place to a rejected one (no call is even tried with it), and back.
    sim.add_fault(endpoint="disable", account_id=DANA, kind="status", status=401, times=1)
    suspend(e2e, "dana")
    reason(e2e, "aacct", "dana", "AuthenticationFailed")
    e2e.secret(value=WRONG_KEY)
    e2e.request_sync()
    reason(e2e, "aorg", "acme", "AuthenticationFailed")
    e2e.secret(value=API_KEY)
    e2e.request_sync()
    e2e.wait_status(
        "aacct",
        "dana",
        lambda s: s.get("accountStatus") == "Suspended",
        "dana suspended with the right key",
        timeout=40,
    )
    assert [c["status"] for c in calls(sim, "disable", DANA)] == [401, 204]
    e2e.kube.kubectl("delete", "secret", "atlassian-api-key")
    e2e.request_sync()
    reason(e2e, "aorg", "acme", "SecretNotUsable")
