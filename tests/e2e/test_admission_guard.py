"""Issue 27, part 3: the admission guard (manifests/components/admission-guard) on the real API
server. Each refusal is checked twice, as a person meets it: with `kubectl apply`, and with
`kubectl apply --dry-run=server`, a pull request's check; the messages are asserted word for word.

The guard's objects are the component's, as `kubectl kustomize` renders them, with one change
that keeps them inside this test: each binding also matches only the test's namespace (the
control plane is shared with the other tests). The policies take effect a moment after they are
created, so every test first waits for a refusal.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.e2e import E2E, condition
from support.kube import KUBECTL, Kube

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "manifests" / "components" / "admission-guard"
V1BETA1 = "atlassian.operators.dev/v1beta1"
ALICE, BOB = "aa0000000000000000000001", "bb0000000000000000000002"
# A person who may create and edit orgs and accounts in the test namespace, and is in no
# approver group: `kubectl --as=olga` (the admin impersonates her).
OLGA = ("--as=olga", "--as-group=system:authenticated")


def guard_objects(namespace: str) -> list[dict[str, Any]]:
    """The component, held to `namespace` (see the module docstring)."""
    out = subprocess.run(
        [KUBECTL, "kustomize", str(COMPONENT)], capture_output=True, text=True, check=True
    ).stdout
    objs = [d for d in yaml.safe_load_all(out) if d]
    for obj in objs:
        if obj["kind"] == "ValidatingAdmissionPolicyBinding":
            obj["spec"]["matchResources"] = {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
            }
    kinds = sorted(o["kind"] for o in objs)
    assert kinds == 3 * ["ValidatingAdmissionPolicy"] + 3 * ["ValidatingAdmissionPolicyBinding"]
    return objs


@pytest.fixture
def guard(kube: Kube, crds: None) -> Iterator[list[dict[str, Any]]]:
    objs = guard_objects(kube.namespace)
    kube.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objs), namespaced=False)
    kube.kubectl("create", "rolebinding", "olga", "--clusterrole=cluster-admin", "--user=olga")
    try:
        # In effect once the API server has loaded the policies.
        kube.wait_for(
            lambda: "loosens the guard rails" in dry_run_says(kube, org(maxPerSync=11), *OLGA),
            30,
            "the org limits to take effect",
        )
        yield objs
    finally:
        for obj in objs:
            kube.kubectl(
                "delete", obj["kind"], obj["metadata"]["name"], namespaced=False, check=False
            )


def manifest(kind: str, name: str, **spec: Any) -> str:
    return yaml.safe_dump(
        {"apiVersion": V1BETA1, "kind": kind, "metadata": {"name": name}, "spec": spec}
    )


def account(name: str, org: str = "acme", **spec: Any) -> str:
    return manifest("AtlassianAccount", name, orgRef={"name": org}, **spec)


def org(name: str = "acme", **suspension: Any) -> str:
    return manifest(
        "AtlassianOrg",
        name,
        orgId=f"org-{name}",
        apiKeySecretRef={"name": "atlassian-api-key"},
        suspension=suspension,
    )


def apply(kube: Kube, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    return kube.kubectl("apply", "-f", "-", *args, input=text, check=False)


def dry_run_says(kube: Kube, text: str, *args: str) -> str:
    """What `kubectl apply --dry-run=server` writes to stderr ("" when it goes through)."""
    proc = apply(kube, text, "--dry-run=server", *args)
    return proc.stderr if proc.returncode != 0 else ""


def refused(kube: Kube, text: str, *args: str, timeout: float = 30.0) -> str:
    """What `kubectl apply` says when the guard refuses `text`, from a server-side dry run first
    (the pull request's check), then a real apply, which must say the same. A dry run changes
    nothing, so it is retried until the just-created policies take effect."""

    said = kube.wait_for(
        lambda: dry_run_says(kube, text, *args), timeout, f"the guard to refuse:\n{text}"
    )
    proc = apply(kube, text, *args)
    assert proc.returncode != 0, f"applied: {proc.stdout}"
    assert proc.stderr == said, (proc.stderr, said)
    return str(said)


def allowed(kube: Kube, text: str, *args: str) -> None:
    """Both the server-side dry run and the real apply go through."""
    for extra in (("--dry-run=server",), ()):
        proc = apply(kube, text, *extra, *args)
        assert proc.returncode == 0, proc.stderr


def denied_by(policy: str, message: str) -> str:
    return (
        f"ValidatingAdmissionPolicy 'atlassian-operator-{policy}' with binding "
        f"'atlassian-operator-{policy}' denied request: {message}"
    )


def protected_message(name: str, listed: str, org_name: str = "acme") -> str:
    return denied_by(
        "protected-accounts",
        f"AtlassianAccount {name} spec.desiredState: Suspended names {listed}, which "
        f"AtlassianOrg {org_name} lists in spec.suspension.protectedAccounts, so the operator "
        "would never suspend it: remove it from protectedAccounts first if this is intended, "
        "or drop desiredState",
    )


NO_ORG = denied_by(
    "account-needs-an-org",
    "failed to configure binding: no params found for policy binding with `Deny` "
    "parameterNotFoundAction",
)


def test_an_account_in_a_namespace_without_an_org_is_refused(
    kube: Kube, guard: list[dict[str, Any]]
) -> None:
    said = refused(kube, account("alice", email="alice@acme.example"))
    assert NO_ORG in said and said.startswith('The atlassianaccounts "alice" is invalid'), said
    allowed(kube, org())
    allowed(kube, account("alice", email="alice@acme.example"))
    # An orgRef naming a missing org, while another org exists, is the operator's to report
    # (OrgNotFound): the policy is evaluated once per org and no evaluation sees the others.
    allowed(kube, account("bob", org="no-such-org", email="bob@acme.example"))


def test_suspending_a_protected_account_is_refused_saying_what_to_do(
    kube: Kube, guard: list[dict[str, Any]]
) -> None:
    allowed(kube, org(protectedAccounts=["Alice@Acme.example", BOB]))
    allowed(kube, org("beta"))  # another org of the namespace, which protects nobody
    said = refused(kube, account("alice", email="alice@ACME.example", desiredState="Suspended"))
    assert protected_message("alice", "Alice@Acme.example") in said, said
    assert said.startswith("Error from server (Forbidden)"), said
    said = refused(kube, account("bob", accountId=BOB, desiredState="Suspended"))
    assert protected_message("bob", BOB) in said, said
    assert kube.kubectl("get", "aacct", "-o", "name").stdout == ""  # nothing was created

    # Allowed: observing them, keeping them Active, or suspending them in an org that does not
    # protect them (each org is a parameter of its own; only the one orgRef names counts).
    allowed(kube, account("alice", email="alice@acme.example"))
    allowed(kube, account("bob", accountId=BOB, desiredState="Active"))
    allowed(
        kube, account("alice-beta", "beta", email="alice@acme.example", desiredState="Suspended")
    )

    # An account suspended before its org protected it: a new spec is refused, but its labels,
    # annotations and status (the operator's subresource) still change.
    allowed(kube, account("carol", email="carol@acme.example", desiredState="Suspended"))
    allowed(kube, org(protectedAccounts=["Alice@Acme.example", BOB, "carol@acme.example"]))
    said = refused(
        kube,
        account(
            "carol", email="carol@acme.example", desiredState="Suspended", suspensionMessage="bye"
        ),
    )
    assert protected_message("carol", "carol@acme.example") in said, said
    kube.kubectl("label", "aacct/carol", "team=sales")
    kube.kubectl("annotate", "aacct/carol", "note=left")
    kube.kubectl(
        "patch",
        "aacct/carol",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"email":"carol@acme.example"}}',
    )
    carol = kube.get_json("aacct", "carol")
    assert carol["metadata"]["labels"] == {"team": "sales"}
    assert carol["status"]["email"] == "carol@acme.example"


def loosening_message(name: str, *parts: str, groups: str = "system:masters") -> str:
    return denied_by(
        "org-limits",
        f"AtlassianOrg {name} loosens the guard rails on suspensions: {'; '.join(parts)}. "
        f"Only members of the groups {groups} (approverGroups of this policy) may do that: ask "
        "one of them, or keep within the ceilings and leave allowReactivation and allowAdmins "
        "false",
    )


MAX_PER_SYNC_50 = "spec.suspension.maxPerSync 50 is above the ceiling 10"
PAUSE_ABOVE_200 = (
    "spec.suspension.pauseAbove 200 is above the ceiling 10 (unset, it is the default: 1 % of "
    "active users a day, at least 10)"
)
REACTIVATION = "spec.suspension.allowReactivation: true lets suspended accounts be re-enabled"
ADMINS = "spec.suspension.allowAdmins: true lets org and site admins be suspended"


def test_loosening_an_org_needs_a_group_the_cluster_admin_names(
    kube: Kube, guard: list[dict[str, Any]]
) -> None:
    loose = {"maxPerSync": 50, "pauseAbove": 200, "allowReactivation": True, "allowAdmins": True}
    said = refused(kube, org(**loose), *OLGA)
    expected = loosening_message("acme", MAX_PER_SYNC_50, PAUSE_ABOVE_200, REACTIVATION, ADMINS)
    assert expected in said, said
    said = refused(kube, org(maxPerSync=11), *OLGA)
    message = loosening_message("acme", "spec.suspension.maxPerSync 11 is above the ceiling 10")
    assert message in said, said

    # Within the ceilings (pauseAbove unset is the default, which grows with the org): allowed.
    allowed(kube, org(maxPerSync=10, pauseAbove=10), *OLGA)
    allowed(kube, org(maxPerSync=3), *OLGA)
    # The cluster admin (system:masters, the default approver group) may loosen it ...
    allowed(kube, org(**loose))
    # ... and then anyone may lower it, or keep what it has while changing something else.
    allowed(kube, org(**{**loose, "maxPerSync": 20, "dryRun": True}), *OLGA)
    said = refused(kube, org(**{**loose, "maxPerSync": 21}), *OLGA)
    message = loosening_message("acme", "spec.suspension.maxPerSync 21 is above the ceiling 10")
    assert message in said, said

    # The cluster admin names a group, and raises a ceiling, with the patch org-limits.yaml shows.
    patch = [
        {
            "op": "replace",
            "path": "/spec/variables/0/expression",
            "value": "['system:masters', 'platform-admins']",
        },
        {"op": "replace", "path": "/spec/variables/1/expression", "value": "25"},
    ]
    kube.kubectl(
        "patch", "validatingadmissionpolicy", "atlassian-operator-org-limits",
        "--type=json", "-p", json.dumps(patch), namespaced=False,
    )  # fmt: skip
    platform_admin = ("--as=peter", "--as-group=platform-admins")
    kube.kubectl("create", "rolebinding", "peter", "--clusterrole=cluster-admin", "--user=peter")
    beta = org("beta", maxPerSync=40, allowAdmins=True)
    kube.wait_for(
        lambda: apply(kube, beta, "--dry-run=server", *platform_admin).returncode == 0,
        30,
        "the new approver group to take effect",
    )
    allowed(kube, beta, *platform_admin)
    allowed(kube, org("gamma", maxPerSync=25), *OLGA)
    said = refused(kube, org("delta", maxPerSync=26, allowAdmins=True), *OLGA)
    message = loosening_message(
        "delta",
        "spec.suspension.maxPerSync 26 is above the ceiling 25",
        ADMINS,
        groups="system:masters, platform-admins",
    )
    assert message in said, said


def test_the_operator_works_with_the_guard(guard: list[dict[str, Any]], e2e: E2E) -> None:
    """The operator writes status (a subresource the guard does not match) and creates the
    discovered accounts; an offboarding of someone unprotected goes through to Atlassian."""
    for account_id, name in ((ALICE, "alice"), (BOB, "bob")):
        e2e.sim.add_user(
            account_id=account_id,
            name=name.title(),
            email=f"{name}@acme.example",
            account_status="active",
        )
    kube = e2e.kube
    # An account applied before its org is refused: the org goes first.
    assert NO_ORG in refused(kube, account("bob", accountId=BOB, desiredState="Suspended"))
    e2e.org(
        accountDiscovery={"enabled": True},
        suspension={"protectedAccounts": ["alice@acme.example"]},
    )
    said = refused(kube, account("alice", email="alice@acme.example", desiredState="Suspended"))
    assert protected_message("alice", "alice@acme.example") in said, said

    e2e.account("bob", accountId=BOB, desiredState="Suspended")
    status = e2e.wait_status(
        "aacct", "bob", lambda s: s.get("accountStatus") == "Suspended", "bob Suspended"
    )
    assert condition(status, "Ready") == "True"
    assert [BOB in c["path"] for c in e2e.sim.requests("disable")] == [True]
    assert e2e.sim.user(BOB)["user"]["account_status"] == "inactive"

    # Discovery: the operator created an observe-only account for alice, and wrote its status.
    def discovered_alice() -> dict[str, Any] | None:
        listed = kube.kubectl(
            "get", "aacct", "-l", "atlassian.operators.dev/org=acme", "-o", "json"
        )
        found = [
            a
            for a in json.loads(listed.stdout)["items"]
            if (a.get("status") or {}).get("accountId") == ALICE
        ]
        return found[0] if found else None

    alice = kube.wait_for(discovered_alice, 60, "alice's discovered account with its status")
    assert "desiredState" not in alice["spec"]
    assert alice["status"]["accountStatus"] == "Active"
    assert e2e.sim.user(ALICE)["user"]["account_status"] == "active"
