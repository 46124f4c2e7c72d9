"""`report --format manifests`: the suspensions an access review ends with, applied for real
with `kubectl apply --dry-run=server`, which names exactly the accounts the review chose."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.e2e

MESSAGE_90 = "Access review 2026-12-02: inactive 90+ days"
SKIPPED_90 = {
    "ada-admin": "protected: listed in spec.suspension.protectedAccounts of AtlassianOrg acme",
    "pete-protected": "protected: listed in spec.suspension.protectedAccounts of AtlassianOrg acme",
    "sam-siteadmin": "an org or site admin (atlassian/site-admin): a person decides, not a review",
    "ivan-idp": "managed by an identity provider: deprovision it there (Atlassian refuses the "
    "call)",
    "una-unmanaged": "an unmanaged account (outside the org's verified domains): no lifecycle "
    "call applies",
    "erin-exempt": "exempt: matches spec.inactivity.exemptSelector of AtlassianOrg globex",
    "kim-keep": "spec.desiredState is Active: someone decided to keep it; change that by hand",
    "sue-suspended": "account status is Suspended: no seat to reclaim",
    "dan-gone": "account status is Deprovisioned: no seat to reclaim",
    "oscar-orphan": "its AtlassianOrg initech is not in the cluster",
    "nora-never": "never active, first observed 62 days ago (2026-10-01T00:00:00Z): not 90+ "
    "days yet (a never-active account counts from its first observation, as the inactivity "
    "policy counts it)",
    "nina-new": "never active, first observed 5 days ago (2026-11-27T09:00:00Z): not 90+ days "
    "yet (a never-active account counts from its first observation, as the inactivity policy "
    "counts it)",
}


def skipped(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        match = re.match(r"# skipped [^/]+/(\S+) \S+(?: \(.*?\))?: (.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def dry_run(world: Any, manifests: str) -> list[dict[str, Any]]:
    """`kubectl apply --dry-run=server`: the API server validates and merges, stores nothing."""
    applied = world.kubectl("apply", "--dry-run=server", "-f", "-", "-o", "json", input=manifests)
    out = json.loads(applied.stdout)
    items: list[dict[str, Any]] = out.get("items", [out]) if out.get("kind") == "List" else [out]
    return items


def test_inactive_accounts_get_suspensions_and_everyone_else_a_reason(world: Any) -> None:
    text = world.atlassian("report", "--format", "manifests", "--inactive-days", "90").stdout
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert [d["metadata"]["name"] for d in docs] == ["olga-old", "gary-globex"]
    assert all(d["metadata"]["namespace"] == world.namespace for d in docs)
    assert skipped(text) == SKIPPED_90
    assert f"# {MESSAGE_90}, in namespace {world.namespace}" in text
    assert "# 2 to suspend, 12 skipped." in text

    result = dry_run(world, text)
    # The API server's answer is each account as it would be stored: the review's change on
    # top of its whole spec, nothing the account named lost.
    assert {r["metadata"]["name"]: r["spec"] for r in result} == {
        "olga-old": {"orgRef": {"name": "acme"}, "email": "olga.old@acme.example",
                     "desiredState": "Suspended", "suspensionMessage": MESSAGE_90},
        "gary-globex": {"orgRef": {"name": "globex"}, "email": "gary@globex.example",
                        "desiredState": "Suspended", "suspensionMessage": MESSAGE_90},
    }  # fmt: skip
    # A dry run: nothing changed in the cluster.
    olga = json.loads(world.kubectl("get", "aacct", "olga-old", "-o", "json").stdout)
    assert "desiredState" not in olga["spec"]


def test_plain_kubectl_apply_names_exactly_the_chosen_accounts(world: Any) -> None:
    text = world.atlassian("report", "-f", "manifests", "--inactive-days", "200").stdout
    out = world.kubectl("apply", "--dry-run=server", "-f", "-", input=text).stdout
    assert out.splitlines() == [
        f"atlassianaccount.atlassian.operators.dev/{name} configured (server dry run)"
        for name in ("olga-old",)
    ]


def test_a_never_active_account_counts_from_when_the_operator_first_observed_it(
    world: Any,
) -> None:
    text = world.atlassian("report", "--format", "manifests", "--inactive-days", "30").stdout
    # Nora, first observed 62 days ago, has been idle 30+ days; Nina, the new hire first
    # observed 5 days ago, has not: she may not have signed in yet.
    assert [r["metadata"]["name"] for r in dry_run(world, text)] == [
        "nora-never", "olga-old", "gary-globex",
    ]  # fmt: skip
    ns = world.namespace
    nora = f"# {ns}/nora-never 5b10-nora (Nora Never): never active, first observed 2026-10-01"
    assert f"{nora}, billable\n" in text
    assert skipped(text)["nina-new"] == (
        "never active, first observed 5 days ago (2026-11-27T09:00:00Z): not 30+ days yet (a "
        "never-active account counts from its first observation, as the inactivity policy "
        "counts it)"
    )
    assert f"# skipped {ns}/nina-new nina.new@acme.example (Nina New): never active" in text
    nina = world.atlassian("explain", "nina-new").stdout
    assert (
        "Observed:    Active (Atlassian: active), billable, never active (idle 5 days, counted "
        "from its first observation)\n"
    ) in nina


def test_without_inactive_days_the_policy_selects_its_eligible_accounts(world: Any) -> None:
    text = world.atlassian("report", "--format", "manifests").stdout
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert [d["metadata"]["name"] for d in docs] == ["gary-globex"]
    message = "Access review 2026-12-02: eligible under the inactivity policy"
    assert docs[0]["spec"]["suspensionMessage"] == message
    assert [r["metadata"]["name"] for r in dry_run(world, text)] == ["gary-globex"]


def test_manifests_without_a_selection_is_an_error(world: Any) -> None:
    result = world.run("kubectl-atlassian", "report", "-f", "manifests", "--org", "acme")
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: --format manifests needs a selection: pass ")
