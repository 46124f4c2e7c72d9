"""`kubectl atlassian explain`, and the errors every command gives instead of a traceback."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
from controlplane import ControlPlane

pytestmark = pytest.mark.e2e


def test_explain_an_account_waiting_on_the_budget(world: Any) -> None:
    out = world.atlassian("explain", "john-smith").stdout
    assert out.splitlines() == [
        f"AtlassianAccount {world.namespace}/john-smith",
        "Who:         john.smith@acme.example (John Smith), account ID 5b10-john",
        "Org:         AtlassianOrg acme (org ID org-acme)",
        "Desired:     Suspended (set by kubectl-client-side-apply)",
        "Observed:    Active (Atlassian: active), billable, last active 2026-11-20T08:00:00Z "
        "(12 days ago)",
        "Verdict:     NOT in its desired state: wants Suspended, is Active; Ready=False reason "
        "SuspensionBudgetExceeded",
        "             place 2 of 2 waiting for the suspension budget of AtlassianOrg acme "
        "(estimated from the cluster: explicit requests first, by when each began to wait; "
        "then the inactivity policy's, longest inactive first)",
        "Conditions:",
        "  Ready   False   SuspensionBudgetExceeded  since 2026-12-02T08:50:00Z",
        "          1 suspensions in the last 300s reached spec.suspension.maxPerSync (1) of "
        "AtlassianOrg acme; this one waits its turn (oldest first; 2 waiting)",
        "Last action: none: the operator has made no call for this account",
        "Flags:       protected no · exempt no · admin no · IdP no · unmanaged no",
        "Products:",
        "  Jira Software (acme)  Active         last active 2026-11-20T08:00:00Z",
        "Suspension:  policy of acme: dryRun false, maxPerSync 1 per 5m, allowReactivation "
        "false, allowAdmins false, 2 protected account(s)",
        "Inactivity:  policy of acme: none (spec.inactivity.suspendAfterDays is not set)",
        "             this account: no inactiveDays in status",
    ]
    walt = world.atlassian("explain", "walt-wait").stdout
    assert "place 1 of 2 waiting for the suspension budget" in walt


def test_explain_by_email_shows_the_inactivity_policy_and_flags(world: Any) -> None:
    out = world.atlassian("explain", "GARY@globex.example").stdout
    assert out.startswith(f"AtlassianAccount {world.namespace}/gary-globex\n")
    assert (
        "Verdict:     nothing to reach: observe only (the operator reports this account and "
        "never changes it)\n"
    ) in out
    assert (
        "             eligible under the inactivity policy of AtlassianOrg globex "
        "(mode Report: reported only)\n"
    ) in out
    assert (
        "Inactivity:  policy of globex: suspend after 90 days, mode Report, exempt: "
        "review=exempt; the operator counts 1 eligible, 1 eligibleBillable, 0 suspended\n"
        "             this account: inactive 123 days (the operator's count), eligible for "
        "suspension, first observed 2026-01-01T00:00:00Z\n"
    ) in out
    erin = world.atlassian("explain", "erin-exempt").stdout
    assert "Flags:       protected no · exempt yes · admin no · IdP no · unmanaged no" in erin
    ada = world.atlassian("explain", "5b10-ada").stdout
    assert "Flags:       protected yes · exempt no · admin no · IdP no · unmanaged no" in ada


def test_explain_an_account_never_observed_with_a_missing_org(world: Any) -> None:
    out = world.atlassian("explain", "oscar-orphan").stdout
    assert (
        f"Org:         AtlassianOrg initech is not in namespace {world.namespace}: nothing acts "
        "on this account until it exists\n"
    ) in out
    assert "Observed:    not yet (no accountStatus in status)\n" in out
    assert "Conditions:\n  none yet: the operator has not written this account's status\n" in out


def fails(result: Any, message: str) -> None:
    assert result.code == 1, result
    assert result.stdout == ""
    assert result.stderr.startswith("error: "), result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_account_org_and_product_are_errors(world: Any) -> None:
    fails(
        world.run("kubectl-atlassian", "explain", "nobody"),
        f"no AtlassianAccount named 'nobody' (nor with that email or account ID) in namespace "
        f"{world.namespace}",
    )
    fails(
        world.run("kubectl-atlassian", "report", "--org", "umbrella"),
        f"no AtlassianOrg named 'umbrella' in namespace {world.namespace} (there: acme, globex)",
    )
    fails(
        world.run("kubectl-atlassian", "who-has", "Bamboo (acme)"),
        "no product-site 'Bamboo (acme)' in namespace",
    )
    # The same code behind atlassian-operator.
    fails(world.run("atlassian-operator", "explain", "nobody"), "no AtlassianAccount named")


def test_no_cluster_is_an_error_that_says_so(world: Any, tmp_path: Path) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        f"clusters: [{{name: gone, cluster: {{server: 'https://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: me, user: {token: x}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: me}}]\n"
    )
    fails(
        world.run("kubectl-atlassian", "report", f"--kubeconfig={kubeconfig}"),
        f"cannot reach the Kubernetes API server at https://127.0.0.1:{port}",
    )
    fails(
        world.run("kubectl-atlassian", "report", f"--kubeconfig={tmp_path / 'none'}"),
        f"no kubeconfig at {tmp_path / 'none'}",
    )
    fails(
        world.run("kubectl-atlassian", "report", f"--kubeconfig={kubeconfig}", "--context=other"),
        "no usable Kubernetes configuration",
    )


def test_a_cluster_without_the_crds_is_an_error_that_says_so(world: Any, tmp_path: Path) -> None:
    if os.environ.get("KUBECONFIG_E2E"):
        pytest.skip("needs a control plane of its own; KUBECONFIG_E2E names an external one")
    bare = ControlPlane.start(tmp_path / "state", kubeconfig=tmp_path / "kubeconfig")
    try:
        fails(
            world.run("kubectl-atlassian", "who-has", "x", f"--kubeconfig={bare.kubeconfig}"),
            "the AtlassianOrg and AtlassianAccount CRDs are not installed. Install them with "
            "`kubectl apply -k crds/`",
        )
    finally:
        bare.stop()
