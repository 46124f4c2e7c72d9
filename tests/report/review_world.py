"""A known cluster state for the access-review tests: orgs and accounts with written statuses.

No operator runs: the statuses are what the operator would have written, put there with the
real `kubectl patch --subresource=status`. Every account is there for a reason (a flag, a
skip reason, a sort position), named in its comment. Times are fixed and the review runs
`--as-of AS_OF`, so every number below is exact.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

GROUP, VERSION = "atlassian.operators.dev", "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
AS_OF = "2026-12-02T09:00:00Z"
XSS_NAME = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
FORMULA_NAME = '=HYPERLINK("http://evil.example","x")'

ORGS: list[dict[str, Any]] = [
    {
        "name": "acme",
        "spec": {
            "orgId": "org-acme",
            "apiKeySecretRef": {"name": "atlassian-api-key"},
            "suspension": {
                "maxPerSync": 1,
                "protectedAccounts": ["Admin@acme.example", "5b10-pete"],
            },
        },
        "status": {
            "lastSyncTime": "2026-12-02T08:55:00Z",
            "users": {
                "total": 40, "active": 30, "suspended": 6, "deprovisioned": 4, "billable": 28,
            },
            "products": [
                {"product": "Confluence (acme)", "key": "confluence", "name": "Confluence",
                 "site": "acme", "url": "https://acme.atlassian.net/wiki", "activeUsers": 25},
                {"product": "Jira Software (acme)", "key": "jira-software",
                 "name": "Jira Software", "site": "acme", "url": "https://acme.atlassian.net",
                 "activeUsers": 20},
            ],
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Synced",
                 "lastTransitionTime": "2026-12-01T00:00:00Z"},
                {"type": "Synced", "status": "True", "reason": "Synced",
                 "lastTransitionTime": "2026-12-01T00:00:00Z"},
            ],
        },
    },
    {
        "name": "globex",  # has an inactivity policy: reclaimable seats come from it
        "spec": {
            "orgId": "org-globex",
            "apiKeySecretRef": {"name": "atlassian-api-key"},
            "syncInterval": "10m",
            "inactivity": {
                "suspendAfterDays": 90,
                "mode": "Report",
                "exemptSelector": {"matchLabels": {"review": "exempt"}},
            },
        },
        "status": {
            "lastSyncTime": "2026-12-02T08:50:00Z",
            "users": {"total": 2, "active": 2, "suspended": 0, "deprovisioned": 0, "billable": 2},
            "inactivity": {"eligible": 1, "eligibleBillable": 1, "suspended": 0},
        },
    },
]  # fmt: skip


def _product(product: str, status: str, last: str | None) -> dict[str, Any]:
    name = product.rsplit(" (", 1)[0]  # the CRD requires product, key, name and status
    entry = {"product": product, "key": name.lower().replace(" ", "-"), "name": name,
             "status": status}  # fmt: skip
    return {**entry, "lastActive": last} if last else entry


CONFLUENCE, JIRA = "Confluence (acme)", "Jira Software (acme)"
READY = {"type": "Ready", "status": "True", "reason": "InDesiredState",
         "lastTransitionTime": "2026-12-01T00:00:00Z"}  # fmt: skip


def _waiting(since: str) -> dict[str, Any]:
    return {
        "type": "Ready",
        "status": "False",
        "reason": "SuspensionBudgetExceeded",
        "lastTransitionTime": since,
        "message": "1 suspensions in the last 300s reached spec.suspension.maxPerSync (1) of "
        "AtlassianOrg acme; this one waits its turn (oldest first; 2 waiting)",
    }


def _active(email: str | None, name: str, last: str | None, **extra: Any) -> dict[str, Any]:
    status: dict[str, Any] = {
        "displayName": name,
        "atlassianStatus": "active",
        "accountStatus": "Active",
        "billable": True,
        "conditions": [READY],
        **extra,
    }
    if email:
        status["email"] = email
    if last:
        status["lastActive"] = last
    return status


# (name, spec, labels, status): the spec's orgRef defaults to acme.
ACCOUNTS: list[tuple[str, dict[str, Any], dict[str, str], dict[str, Any] | None]] = [
    # protected by email (listed in another case); 183 days idle
    ("ada-admin", {"email": "admin@acme.example"}, {},
     _active("admin@acme.example", "Ada Admin", "2026-06-01T10:00:00Z", accountId="5b10-ada",
             productAccess=[_product(JIRA, "Active", "2026-06-01T10:00:00Z")])),
    # recent, two products
    ("jane-doe", {"accountId": "5b10-jane"}, {},
     _active("jane.doe@acme.example", "Jane Doe", "2026-11-27T16:20:00Z", accountId="5b10-jane",
             productAccess=[_product(CONFLUENCE, "Active", "2026-11-26T09:05:00Z"),
                            _product(JIRA, "Active", "2026-11-27T16:20:00Z")])),
    # offboarded, waiting on the budget: second in line
    ("john-smith", {"accountId": "5b10-john", "desiredState": "Suspended"}, {},
     _active("john.smith@acme.example", "John Smith", "2026-11-20T08:00:00Z",
             accountId="5b10-john",
             productAccess=[_product(JIRA, "Active", "2026-11-20T08:00:00Z")],
             conditions=[_waiting("2026-12-02T08:50:00Z")])),
    # offboarded, waiting on the budget since earlier: first in line; a first call failed
    ("walt-wait", {"accountId": "5b10-walt", "desiredState": "Suspended"}, {},
     _active("walt.wait@acme.example", "Walt Wait", "2026-11-25T08:00:00Z",
             accountId="5b10-walt",
             productAccess=[_product(CONFLUENCE, "Active", "2026-11-25T08:00:00Z")],
             conditions=[_waiting("2026-12-02T08:40:00Z")],
             lastAction={"action": "Suspend", "result": "Failed", "reason": "RateLimited",
                         "time": "2026-12-02T08:30:00Z", "requestedBy": "kubectl-patch",
                         "message": "Atlassian answered 429 Too Many Requests"})),
    # 275 days idle, one product removed: suspended by the review
    ("olga-old", {"email": "olga.old@acme.example"}, {},
     _active("olga.old@acme.example", "Olga Old", "2026-03-01T12:00:00Z", accountId="5b10-olga",
             productAccess=[_product(CONFLUENCE, "Active", "2026-02-15T12:00:00Z"),
                            _product("Confluence (beta)", "Deprovisioned",
                                     "2025-12-01T12:00:00Z")])),
    # never active, no email, no product, first observed 62 days ago: suspended by a review
    # of 30 days, skipped by one of 90 (she counts from then); sorts first (by ID)
    ("nora-never", {"accountId": "5b10-nora"}, {},
     _active(None, "Nora Never", None, accountId="5b10-nora",
             firstObserved="2026-10-01T00:00:00Z")),
    # a new hire, never active yet, first observed 5 days ago: skipped by every review
    ("nina-new", {"email": "nina.new@acme.example"}, {},
     _active("nina.new@acme.example", "Nina New", None, accountId="5b10-nina",
             firstObserved="2026-11-27T09:00:00Z")),
    # identity provider: skipped
    ("ivan-idp", {"email": "ivan@acme.example"}, {},
     _active("ivan@acme.example", "Ivan Idp", "2026-01-10T00:00:00Z", accountId="5b10-ivan",
             managedBy="IdentityProvider", claimStatus="managed",
             productAccess=[_product(JIRA, "Active", "2026-01-10T00:00:00Z")])),
    # unmanaged, not billable, never active: skipped
    ("una-unmanaged", {"email": "una@gmail.example"}, {},
     _active("una@gmail.example", "Una Unmanaged", None, accountId="5b10-una",
             billable=False, claimStatus="unmanaged", firstObserved="2026-01-01T00:00:00Z")),
    # site admin: skipped
    ("sam-siteadmin", {"email": "sam@acme.example"}, {},
     _active("sam@acme.example", "Sam Siteadmin", "2026-04-01T00:00:00Z", accountId="5b10-sam",
             platformRoles=["atlassian/site-admin"],
             productAccess=[_product(CONFLUENCE, "Active", "2026-04-01T00:00:00Z")])),
    # a display name that is markup: must stay text everywhere
    ("mallory", {"email": "mallory@acme.example"}, {},
     _active("mallory@acme.example", XSS_NAME, "2026-11-30T10:00:00Z", accountId="5b10-mal",
             productAccess=[_product(CONFLUENCE, "Active", "2026-11-30T10:00:00Z")])),
    # already suspended: skipped
    ("sue-suspended", {"email": "sue@acme.example"}, {},
     _active("sue@acme.example", "Sue Suspended", "2026-01-05T00:00:00Z", accountId="5b10-sue",
             atlassianStatus="inactive", accountStatus="Suspended", billable=False,
             productAccess=[_product(CONFLUENCE, "Active", "2026-01-05T00:00:00Z")])),
    # someone decided to keep her: skipped
    ("kim-keep", {"email": "kim@acme.example", "desiredState": "Active"}, {},
     _active("kim@acme.example", "Kim Keep", "2026-02-02T00:00:00Z", accountId="5b10-kim")),
    # a display name a spreadsheet would run as a formula
    ("eve-formula", {"email": "eve@acme.example"}, {},
     _active("eve@acme.example", FORMULA_NAME, "2026-11-29T00:00:00Z", accountId="5b10-eve")),
    # deprovisioned: skipped
    ("dan-gone", {"email": "dan@acme.example"}, {},
     _active("dan@acme.example", "Dan Gone", "2025-10-01T00:00:00Z", accountId="5b10-dan",
             atlassianStatus="closed", accountStatus="Deprovisioned", billable=False,
             productAccess=[_product(JIRA, "Deprovisioned", "2025-10-01T00:00:00Z")])),
    # protected by account ID: skipped
    ("pete-protected", {"accountId": "5b10-pete"}, {},
     _active("pete@acme.example", "Pete Protected", "2026-05-01T00:00:00Z",
             accountId="5b10-pete")),
    # globex, eligible under its policy: suspended by the review
    ("gary-globex", {"orgRef": {"name": "globex"}, "email": "gary@globex.example"}, {},
     _active("gary@globex.example", "Gary Globex", "2026-08-01T00:00:00Z", accountId="5b10-gary",
             inactiveDays=123, inactivityEligible=True, firstObserved="2026-01-01T00:00:00Z",
             productAccess=[_product("Jira Service Management (globex)", "Active",
                                     "2026-08-01T00:00:00Z")])),
    # globex, exempt by label: skipped
    ("erin-exempt", {"orgRef": {"name": "globex"}, "email": "erin@globex.example"},
     {"review": "exempt"},
     _active("erin@globex.example", "Erin Exempt", "2026-07-01T00:00:00Z", accountId="5b10-erin",
             inactiveDays=154, firstObserved="2026-01-01T00:00:00Z")),
    # its org is not in the cluster, never observed (so never idle by the operator's count):
    # skipped
    ("oscar-orphan", {"orgRef": {"name": "initech"}, "email": "oscar@initech.example"}, {},
     None),
]  # fmt: skip


def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {"apiVersion": API_VERSION, "kind": "AtlassianOrg", "metadata": {"name": o["name"]},
         "spec": o["spec"]}
        for o in ORGS
    ]  # fmt: skip
    for name, spec, labels, _ in ACCOUNTS:
        meta: dict[str, Any] = {"name": name}
        if labels:
            meta["labels"] = labels
        docs.append(
            {
                "apiVersion": API_VERSION,
                "kind": "AtlassianAccount",
                "metadata": meta,
                "spec": {"orgRef": {"name": "acme"}, **spec},
            }
        )
    return docs


def populate(kubectl: Callable[..., Any]) -> None:
    """Creates the orgs and accounts, then writes their statuses as the operator would."""
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(manifests()))
    statuses = [("aorg", o["name"], o["status"]) for o in ORGS]
    statuses += [("aacct", name, status) for name, _, _, status in ACCOUNTS if status]
    for kind, name, status in statuses:
        patch = json.dumps({"status": status})
        kubectl("patch", kind, name, "--subresource=status", "--type=merge", "-p", patch)


# ------------------------------------------------------------------- many accounts, quickly


def bulk_accounts(kubeconfig: Path, namespace: str, count: int, workers: int = 16) -> None:
    """`count` AtlassianAccounts of org acme with realistic statuses, through the Kubernetes
    client on a thread pool (a create and a status patch each), as hack/bench.py does."""
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    cfg.connection_pool_maxsize = workers * 2
    api = client.ApiClient(cfg)
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "atlassianorgs",
        {"apiVersion": API_VERSION, "kind": "AtlassianOrg", "metadata": {"name": "acme"},
         "spec": ORGS[0]["spec"]},
    )  # fmt: skip

    def create(i: int) -> None:
        name = f"u{i:05d}"
        custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "atlassianaccounts",
            {"apiVersion": API_VERSION, "kind": "AtlassianAccount", "metadata": {"name": name},
             "spec": {"orgRef": {"name": "acme"}, "accountId": f"5b10-{i:05d}"}},
        )  # fmt: skip
        custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, "atlassianaccounts", name, {"status": bulk_status(i)}
        )

    try:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(create, range(count)))
    finally:
        api.close()


def bulk_status(i: int) -> dict[str, Any]:
    """User i: mostly active with two products, some idle for months, some suspended."""
    day = 1 + i % 28
    month = 1 + (i * 7) % 11
    last = f"2026-{month:02d}-{day:02d}T10:00:00Z"
    status = _active(
        f"user{i:05d}@acme.example", f"User {i:05d}", last, accountId=f"5b10-{i:05d}",
        productAccess=[_product(CONFLUENCE, "Active", last), _product(JIRA, "Active", last)],
    )  # fmt: skip
    if i % 10 == 9:
        status.update(atlassianStatus="inactive", accountStatus="Suspended", billable=False)
    return status


def names(docs: Iterable[dict[str, Any]]) -> list[str]:
    return sorted(str(d["metadata"]["name"]) for d in docs if d)
