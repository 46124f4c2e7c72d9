"""Issue 7, item 6: bad input.

What the schema cannot catch (a syncInterval below the 30 s minimum, a missing Secret, an org ID
or base URL that is not the org's, an account ID or email matching no single user, an account
waiting on a broken org) gets Ready=False with a message a person can act on, while the operator
keeps serving the other resources of the namespace. What the schema can catch is rejected by the
API server, with its message, listed in a table. (An unknown orgRef and an email matching nobody
are in test_operator.py.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.e2e import API_KEY, E2E, condition
from support.reliability import calls

pytestmark = pytest.mark.e2e

ALICE = "a3000000000000000000a003"
BOB = "b3000000000000000000b003"
TWINS = ("c3000000000000000000c031", "c3000000000000000000c032")


def ready(e2e: E2E, kind: str, name: str, reason: str) -> str:
    """Wait for Ready=False with this reason; return its message."""
    status = e2e.wait_status(
        kind,
        name,
        lambda s: condition(s, "Ready", "reason") == reason,
        f"{kind}/{name} Ready reason {reason}",
        timeout=40,
    )
    assert condition(status, "Ready") == "False"
    return str(condition(status, "Ready", "message"))


def test_invalid_specs_get_actionable_conditions_and_the_rest_keeps_working(e2e: E2E) -> None:
    sim = e2e.sim
    sim.add_user(account_id=ALICE, name="Alice", email="alice@acme.example")
    sim.add_user(account_id=BOB, name="Bob", email="bob@acme.example")
    for account_id in TWINS:  # two users, one address: Atlassian allows it across directories
        sim.add_user(account_id=account_id, name="Twin", email="twin@acme.example")
    e2e.secret()
    e2e.apply(
        [
            e2e.org_manifest("acme"),
            # Each broken org names an org of its own: two AtlassianOrgs for one orgId would
            # make the later ones DuplicateOrg, which is not what these show.
            e2e.org_manifest(
                "no-secret", orgId="org-no-secret", apiKeySecretRef={"name": "missing-secret"}
            ),
            e2e.org_manifest("wrong-org", orgId="no-such-org"),
            e2e.org_manifest(
                "wrong-url", orgId="org-wrong-url", apiBaseURL=f"{sim.url}/not-atlassian"
            ),
        ]
    )
    e2e.account("alice", accountId=ALICE)
    e2e.account("unknown-id", accountId="ffff0000000000000000ffff")
    e2e.account("twin", email="twin@acme.example")

    message = ready(e2e, "aorg", "no-secret", "SecretNotUsable")
    assert f"Secret {e2e.kube.namespace}/missing-secret not found" in message
    assert "kubectl create secret generic missing-secret" in message
    message = ready(e2e, "aorg", "wrong-org", "OrgNotFound")
    assert "no organization 'no-such-org'" in message and "check the org ID" in message
    # A base URL the cluster admin did not allow: refused before the key is even read.
    message = ready(e2e, "aorg", "wrong-url", "APIBaseURLNotAllowed")
    assert "/not-atlassian" in message and "--allow-api-base-url" in message
    message = ready(e2e, "aacct", "unknown-id", "AccountNotFound")
    assert "no user with accountId ffff0000000000000000ffff" in message
    message = ready(e2e, "aacct", "twin", "AccountNotFound")
    assert "matches 2 users" in message and "set spec.accountId" in message
    for account_id in TWINS:
        assert account_id in message
    # Accounts of a broken org say which org and what is wrong with it.
    e2e.account("bob-no-secret", org="no-secret", accountId=BOB)
    message = ready(e2e, "aacct", "bob-no-secret", "OrgNotSynced")
    assert "AtlassianOrg no-secret" in message and "missing-secret not found" in message

    # Meanwhile the good org and its accounts are served as usual, and at once.
    e2e.wait_status("aacct", "alice", lambda s: condition(s, "Ready") == "True", "alice seen")
    e2e.kube.kubectl(
        "patch", "aacct/alice", "--type=merge", "-p", '{"spec":{"desiredState":"Suspended"}}'
    )
    e2e.wait_status(
        "aacct",
        "alice",
        lambda s: s.get("accountStatus") == "Suspended",
        "alice suspended next to the broken objects",
        timeout=10,
    )
    assert [c["status"] for c in calls(sim, "disable")] == [204]
    assert condition(e2e.status("aorg", "acme"), "Ready") == "True"

    # Fixing the cause is enough: the org recovers and its account is observed. (It takes
    # over the simulator's org from acme: one orgId has one acting AtlassianOrg.)
    e2e.kube.kubectl("delete", "aorg/acme", "--timeout=20s")
    e2e.secret(name="missing-secret")
    e2e.apply(e2e.org_manifest("no-secret", apiKeySecretRef={"name": "missing-secret"}))
    e2e.wait_status(
        "aorg", "no-secret", lambda s: condition(s, "Ready") == "True", "no-secret fixed"
    )
    e2e.wait_status(
        "aacct",
        "bob-no-secret",
        lambda s: s.get("accountStatus") == "Active",
        "bob observed once his org is fixed",
    )


def test_account_waiting_on_an_org_is_told_the_orgs_current_problem(e2e: E2E) -> None:
    e2e.sim.add_user(account_id=ALICE, name="Alice", email="alice@acme.example")
    e2e.org(secret=False)  # its Secret does not exist yet
    ready(e2e, "aorg", "acme", "SecretNotUsable")
    e2e.account("alice", accountId=ALICE)
    assert "not found" in ready(e2e, "aacct", "alice", "OrgNotSynced")

    e2e.secret(value="not-the-org-key")  # the Secret appears, with a key Atlassian rejects
    ready(e2e, "aorg", "acme", "AuthenticationFailed")
    # Following the account's advice must lead to the real problem, not the one just fixed.
    e2e.wait_status(
        "aacct",
        "alice",
        lambda s: "rejected the API key" in str(condition(s, "Ready", "message")),
        "alice names the org's current problem",
        timeout=20,
    )

    e2e.secret(value=API_KEY)
    e2e.wait_status(
        "aacct", "alice", lambda s: condition(s, "Ready") == "True", "alice observed", timeout=60
    )


ORG = {"orgId": "o", "apiKeySecretRef": {"name": "s"}}
ACCOUNT = {"orgRef": {"name": "acme"}, "accountId": "x"}

# kind, spec, the API server's message (what `kubectl apply` prints).
REJECTED = [
    pytest.param(
        "AtlassianOrg",
        {**ORG, "syncInterval": "10s"},
        "syncInterval '10s' is shorter than the minimum 30s",
        id="org-sync-interval-below-30s",
    ),
    pytest.param(
        "AtlassianOrg",
        {"apiKeySecretRef": {"name": "s"}},
        "spec.orgId: Required value",
        id="org-without-orgId",
    ),
    pytest.param(
        "AtlassianOrg",
        {**ORG, "orgId": ""},
        "spec.orgId in body should be at least 1 chars long",
        id="org-empty-orgId",
    ),
    pytest.param(
        "AtlassianOrg",
        {"orgId": "o"},
        "spec.apiKeySecretRef: Required value",
        id="org-without-secret-ref",
    ),
    pytest.param(
        "AtlassianOrg",
        {**ORG, "apiKeySecretRef": {}},
        "spec.apiKeySecretRef.name: Required value",
        id="org-secret-ref-without-name",
    ),
    pytest.param(
        "AtlassianOrg",
        {**ORG, "syncInterval": "5 minutes"},
        'spec.syncInterval: Invalid value: "5 minutes": spec.syncInterval in body should match',
        id="org-interval-in-words",
    ),
    pytest.param(
        "AtlassianOrg",
        {**ORG, "syncInterval": "-30s"},
        'spec.syncInterval: Invalid value: "-30s"',
        id="org-negative-interval",
    ),
    pytest.param(
        "AtlassianOrg",
        {**ORG, "apiBaseURL": "ftp://example.com"},
        'spec.apiBaseURL: Invalid value: "ftp://example.com": spec.apiBaseURL in body should match',
        id="org-base-url-not-http",
    ),
    pytest.param(
        "AtlassianOrg",
        {**ORG, "suspension": {"maxPerSync": -1}},
        "spec.suspension.maxPerSync in body should be greater than or equal to 0",
        id="org-negative-budget",
    ),
    pytest.param(
        "AtlassianOrg",
        {**ORG, "suspension": {"dryRun": "yes"}},
        "spec.suspension.dryRun in body must be of type boolean",
        id="org-dry-run-text",
    ),
    pytest.param(
        "AtlassianOrg",
        {**ORG, "suspension": {"protectedAccounts": [""]}},
        "spec.suspension.protectedAccounts[0] in body should be at least 1 chars long",
        id="org-empty-protected-entry",
    ),
    pytest.param(
        "AtlassianAccount",
        {**ACCOUNT, "email": "not-an-email"},
        'spec.email: Invalid value: "not-an-email": spec.email in body should match',
        id="account-email-without-at",
    ),
    pytest.param(
        "AtlassianAccount",
        {**ACCOUNT, "accountId": ""},
        "spec.accountId in body should be at least 1 chars long",
        id="account-empty-id",
    ),
    pytest.param(
        "AtlassianAccount",
        {**ACCOUNT, "accountId": "x" * 129},
        "spec.accountId: Too long: may not be more than 128",
        id="account-id-too-long",
    ),
    pytest.param(
        "AtlassianAccount",
        {**ACCOUNT, "orgRef": {"name": ""}},
        "spec.orgRef.name in body should be at least 1 chars long",
        id="account-empty-org-ref",
    ),
    pytest.param(
        "AtlassianAccount",
        {**ACCOUNT, "suspensionMessage": "m" * 1001},
        "spec.suspensionMessage: Too long: may not be more than 1000",
        id="account-message-too-long",
    ),
]


@pytest.mark.parametrize(("kind", "spec", "message"), REJECTED)
def test_schema_rejects(
    kube: Any, crds: None, kind: str, spec: dict[str, Any], message: str
) -> None:
    manifest = {
        "apiVersion": "atlassian.operators.dev/v1beta1",
        "kind": kind,
        "metadata": {"name": "bad"},
        "spec": spec,
    }
    result = kube.kubectl("apply", "-f", "-", input=json.dumps(manifest), check=False)
    print(f"{kind} {json.dumps(spec)[:80]}: {result.stderr.strip()}")
    assert result.returncode != 0
    assert f'The {kind} "bad" is invalid' in result.stderr
    assert message in result.stderr
    assert kube.kubectl("get", kind.lower() + "s", "-o", "name").stdout == ""
