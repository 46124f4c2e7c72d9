"""Offboarding through Git, for real: Flux applies commits served on loopback, the operator acts.

The repository is examples/gitops (its accounts folder and its offboarding patch, applied with
`git am`), so the example cannot drift from what works. Objects are captured live along the way
and run through Argo CD's own Lua health runtime with manifests/argocd/health.lua.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from support.e2e import API_KEY, API_KEY_LABEL
from support.gitops import (
    EXAMPLE,
    FluxControllers,
    GitOps,
    GitServer,
    Repository,
    argocd_health,
    condition_of,
)
from support.operator import OperatorProcess
from support.simulator import Simulator

pytestmark = pytest.mark.e2e

OFFBOARDING = EXAMPLE / "offboarding" / "0001-Offboard-John-Smith-HR-1234.patch"
JOHN = "5a0000000000000000000001"
JANE = "5a0000000000000000000002"
RAVI = "5b10ac8d82e05b22cc7d4ef5"  # examples/gitops names Ravi by account ID
ADMIN = "5a0000000000000000000004"
MARY = "5a0000000000000000000005"
PEOPLE = {
    JOHN: ("John Smith", "john.smith@acme.example"),
    JANE: ("Jane Doe", "jane.doe@acme.example"),
    RAVI: ("Ravi Patel", "ravi.patel@acme.example"),
    ADMIN: ("IT Admin", "admin@acme.example"),
    MARY: ("Mary Major", "mary.major@acme.example"),
}
GIT_ACCOUNTS = ("jane-doe", "john-smith", "ravi-patel", "it-admin")
AACCT = "atlassianaccount.atlassian.operators.dev"


@pytest.fixture
def gitops(
    kube: Any,
    simulator: Simulator,
    operator: OperatorProcess,
    repository: Repository,
    git_server: GitServer,
    flux: FluxControllers,
) -> Iterator[GitOps]:
    for account_id, (name, email) in PEOPLE.items():
        simulator.add_user(account_id=account_id, name=name, email=email, account_status="active")
    # The API key is not in Git (examples/gitops/atlassian/org.yaml says how it gets there).
    kube.kubectl(
        "create", "secret", "generic", "atlassian-api-key", f"--from-literal=api-key={API_KEY}"
    )
    kube.kubectl("label", "secret", "atlassian-api-key", f"{API_KEY_LABEL}=true")
    world = GitOps(kube, simulator, operator, repository, git_server, flux)
    yield world
    errors = [e for e in flux.log_entries("kustomize-controller") if e.get("level") == "error"]
    print(f"kustomize-controller logged {len(errors)} errors (health check timeouts are errors)")


def disables(sim: Simulator, account_id: str | None = None) -> list[dict[str, Any]]:
    return [c for c in sim.requests("disable") if account_id is None or account_id in c["path"]]


def account(world: GitOps, name: str) -> dict[str, Any]:
    return world.kube.get_json(AACCT, name)  # type: ignore[no-any-return]


def ready_at_generation(obj: dict[str, Any]) -> bool:
    ready = condition_of(obj, "Ready")
    return ready.get("status") == "True" and ready.get("observedGeneration") == obj["metadata"].get(
        "generation"
    )


def health(*objects: dict[str, Any]) -> list[tuple[str, str]]:
    """(status, reason) per object, as Argo CD shows it with the docs' health script."""
    results = argocd_health(objects)
    for result in results:
        assert "error" not in result, result
    return [(r["status"], r.get("message", "").split(":")[0]) for r in results]


def start(world: GitOps, timeout: str = "30s", **org_spec: Any) -> str:
    """The example repository applied by Flux and Ready; returns the applied revision."""
    commit = world.seed_repository(**org_spec)
    world.install_flux_objects(timeout=timeout)
    revision = world.fetch(commit)
    world.wait_ready(revision)
    return revision


def reconciled_ready(world: GitOps, what: str) -> dict[str, Any]:
    """What `flux reconcile` does, and the Kustomization Ready from that reconciliation."""
    token = world.request_reconcile(
        "kustomization.kustomize.toolkit.fluxcd.io", "atlassian-accounts"
    )
    return world.wait_kustomization(
        lambda k: (
            (k.get("status") or {}).get("lastHandledReconcileAt") == token
            and condition_of(k, "Ready").get("status") == "True"
        ),
        what,
    )


def sim_time(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp()


def test_an_offboarding_commit_suspends_the_account_and_flux_waits_for_it(
    gitops: GitOps,
) -> None:
    start(gitops)
    john = account(gitops, "john-smith")
    assert ready_at_generation(john) and john["status"]["accountStatus"] == "Active"
    assert health(john) == [("Healthy", "InDesiredState")]

    commit = gitops.repo.am(OFFBOARDING)
    committed = time.time()
    revision = gitops.fetch(commit)
    call = gitops.kube.wait_for(lambda: disables(gitops.sim, JOHN), 30, "John's disable call")[0]
    assert call["body"] == {"message": "Offboarded: left the company (ticket HR-1234)"}

    # Ready only with the account Ready at the generation the commit made.
    kustomization = gitops.wait_ready(revision)
    john = account(gitops, "john-smith")
    assert john["metadata"]["generation"] == 2
    assert ready_at_generation(john) and john["status"]["accountStatus"] == "Suspended"
    assert health(john) == [("Healthy", "InDesiredState")]
    assert condition_of(kustomization, "Healthy").get("status") == "True"
    assert len(disables(gitops.sim)) == 1
    assert gitops.sim.user(JOHN)["user"]["account_status"] == "inactive"

    # Where the time goes, from each component's own clock (all on this machine).
    stored = first_log_time(
        gitops.flux, "source-controller", "stored artifact for commit 'Offboard"
    )
    applied = first_log_time(gitops.flux, "kustomize-controller", 'john-smith": "configured')
    ready = first_log_time(gitops.flux, "kustomize-controller", "Reconciliation finished", applied)
    print(
        f"GITOPS TIMING: commit -> artifact {stored - committed:.2f}s, -> applied "
        f"{applied - committed:.2f}s, -> disable call {sim_time(call) - committed:.2f}s, "
        f"-> Kustomization Ready {ready - committed:.2f}s"
    )


def first_log_time(
    flux: FluxControllers, controller: str, needle: str, after: float = 0.0
) -> float:
    for entry in flux.log_entries(controller):
        when = datetime.fromisoformat(str(entry["ts"]).replace("Z", "+00:00")).timestamp()
        if when >= after and needle in json.dumps(entry):
            return when
    raise AssertionError(f"{controller} never logged {needle!r}")


def test_the_kustomization_is_not_ready_until_the_operator_has_acted(
    gitops: GitOps, tmp_path: Path
) -> None:
    start(gitops, timeout="30s")
    gitops.operator.stop()
    gitops.repo.am(OFFBOARDING)
    gitops.repo.write(
        "atlassian/accounts/mary-major.yaml",
        (EXAMPLE / "atlassian" / "accounts" / "john-smith.yaml")
        .read_text()
        .replace("john-smith", "mary-major")
        .replace("john.smith", "mary.major")
        .replace("desiredState: Active", "desiredState: Suspended"),
    )
    revision = gitops.fetch(gitops.repo.commit("Offboard Mary Major, who was never onboarded here"))

    failed = gitops.wait_kustomization(
        lambda k: (
            (k.get("status") or {}).get("lastAttemptedRevision") == revision
            and condition_of(k, "Ready").get("reason") == "HealthCheckFailed"
        ),
        "the health check to time out while the operator is down",
    )
    message = condition_of(failed, "Ready")["message"]
    assert "timeout waiting for" in message
    for name in ("john-smith", "mary-major"):
        assert f"AtlassianAccount/{gitops.kube.namespace}/{name} status: 'InProgress'" in message
    assert disables(gitops.sim) == []
    stale, new = account(gitops, "john-smith"), account(gitops, "mary-major")
    assert stale["status"]["observedGeneration"] == 1 and stale["metadata"]["generation"] == 2
    assert health(stale, new) == [
        ("Progressing", "waiting for the operator"),
        ("Progressing", "waiting for the operator"),
    ]

    gitops.operator.start()
    gitops.request_reconcile("kustomization.kustomize.toolkit.fluxcd.io", "atlassian-accounts")
    gitops.wait_ready(revision)
    assert {c["path"].split("/")[2] for c in disables(gitops.sim)} == {JOHN, MARY}
    for name in ("john-smith", "mary-major"):
        assert account(gitops, name)["status"]["accountStatus"] == "Suspended"


def test_a_waiting_offboarding_keeps_flux_waiting_and_a_stalled_one_fails_it_at_once(
    gitops: GitOps,
) -> None:
    """kstatus's conditions: Reconciling (the budget's turn) is InProgress, so the Kustomization
    waits until its timeout; Stalled (a protected account: only a person can change that) is
    Failed, so it fails within one health poll, naming the account."""
    start(
        gitops,
        timeout="30s",
        suspension={"maxPerSync": 1, "protectedAccounts": ["admin@acme.example"]},
    )
    for name in ("john-smith", "ravi-patel"):
        gitops.edit_yaml(
            f"atlassian/accounts/{name}.yaml",
            lambda doc: doc["spec"].update(desiredState="Suspended"),
        )
    revision = gitops.fetch(gitops.repo.commit("Offboard John and Ravi"))

    failed = gitops.wait_kustomization(
        lambda k: (
            (k.get("status") or {}).get("lastAttemptedRevision") == revision
            and condition_of(k, "Ready").get("reason") == "HealthCheckFailed"
        ),
        "the health check to time out on the account waiting for the budget",
    )
    assert len(disables(gitops.sim)) == 1  # the budget: one per sync window
    suspended = "john-smith" if disables(gitops.sim, JOHN) else "ravi-patel"
    [waiting] = {"john-smith", "ravi-patel"} - {suspended}
    message = condition_of(failed, "Ready")["message"]
    ns = gitops.kube.namespace
    assert "timeout waiting for" in message and "stalled" not in message, message
    assert f"AtlassianAccount/{ns}/{waiting} status: 'InProgress'" in message, message
    assert f"AtlassianAccount/{ns}/{suspended}" not in message
    # Applied (Flux records lastAppliedRevision only once healthy), waiting on the operator.
    assert failed["status"]["lastAppliedRevision"] != revision
    blocked, done = account(gitops, waiting), account(gitops, suspended)
    assert [condition_of(blocked, t).get("status") for t in ("Reconciling", "Stalled")] == [
        "True",
        "False",
    ]
    assert condition_of(blocked, "Reconciling")["reason"] == "SuspensionBudgetExceeded"
    assert condition_of(blocked, "Synced")["status"] == "True"  # fresh data; Ready says why

    gitops.edit_yaml(
        "atlassian/accounts/it-admin.yaml",
        lambda doc: doc["spec"].update(desiredState="Suspended"),
    )
    committed = time.monotonic()
    revision = gitops.fetch(gitops.repo.commit("Offboard the IT admin"))
    stalled = gitops.wait_kustomization(
        lambda k: (
            (k.get("status") or {}).get("lastAttemptedRevision") == revision
            and condition_of(k, "Ready").get("reason") == "HealthCheckFailed"
        ),
        "the health check to fail on the protected account",
    )
    failed_after = time.monotonic() - committed
    message = condition_of(stalled, "Ready")["message"]
    assert "failed early due to stalled resources" in message, message
    assert f"AtlassianAccount/{ns}/it-admin status: 'Failed'" in message, message
    admin = account(gitops, "it-admin")
    assert condition_of(admin, "Stalled")["status"] == "True"
    assert condition_of(admin, "Stalled")["reason"] == "ProtectedAccount"
    assert health(admin, account(gitops, waiting), account(gitops, suspended)) == [
        ("Degraded", "ProtectedAccount"),
        ("Progressing", "SuspensionBudgetExceeded"),
        ("Healthy", "InDesiredState"),
    ]
    print(f"stalled: the Kustomization failed {failed_after:.1f}s after the commit")
    assert (
        len(disables(gitops.sim)) == 1
        and gitops.sim.user(ADMIN)["user"]["account_status"] == "active"
    )
    assert done["status"]["accountStatus"] == "Suspended"


def test_an_offboarding_past_the_brake_waits_for_an_approval_flux_leaves_alone(
    gitops: GitOps,
) -> None:
    start(gitops, timeout="30s", suspension={"pauseAbove": 0})  # every call needs an approval
    revision = gitops.fetch(gitops.repo.am(OFFBOARDING))
    gitops.wait_kustomization(
        lambda k: (
            (k.get("status") or {}).get("lastAttemptedRevision") == revision
            and condition_of(k, "Ready").get("reason") == "HealthCheckFailed"
        ),
        "the health check to fail on the paused offboarding",
    )
    john = account(gitops, "john-smith")
    assert condition_of(john, "Ready")["reason"] == "MassSuspensionPaused"
    assert health(john) == [("Suspended", "MassSuspensionPaused")]
    assert disables(gitops.sim) == []

    # Approved under a field manager of one's own: Flux takes over fields written by `kubectl`
    # managers, and would remove a plain `kubectl annotate` at its next reconciliation.
    gitops.kube.kubectl(
        "annotate", "--overwrite", "--field-manager=oncall", "aorg/acme",
        "atlassian.operators.dev/approve-suspensions=1",
    )  # fmt: skip
    reconciled_ready(gitops, "the Kustomization Ready once the approval let the call out")
    assert len(disables(gitops.sim, JOHN)) == 1
    last = account(gitops, "john-smith")["status"]["lastAction"]
    assert last["approval"]["by"] == "oncall" and last["approval"]["count"] == 1
    org = gitops.kube.get_json("aorg", "acme")
    assert org["metadata"]["annotations"]["atlassian.operators.dev/approve-suspensions"] == "1"


def applied_changes(flux: FluxControllers) -> list[dict[str, str]]:
    """What each kustomize-controller apply did to each object (its changeset log lines)."""
    out = []
    for entry in flux.log_entries("kustomize-controller"):
        output = entry.get("output")
        if isinstance(output, dict):
            out.append({k: str(v) for k, v in output.items()})
    return out


def test_flux_and_the_operator_never_fight(gitops: GitOps) -> None:
    start(gitops, accountDiscovery={"enabled": True})
    revision = gitops.fetch(gitops.repo.am(OFFBOARDING))
    gitops.wait_ready(revision)
    discovered = gitops.kube.wait_for(
        lambda: [
            a["metadata"]["name"]
            for a in json.loads(gitops.kube.kubectl("get", AACCT, "-o", "json").stdout)["items"]
            if a["metadata"]["name"] not in GIT_ACCOUNTS
        ],
        30,
        "a discovered account (Mary is in the org, not in Git)",
    )
    before = {name: account(gitops, name)["metadata"] for name in GIT_ACCOUNTS}
    inventory = {e["id"] for e in gitops.kustomization()["status"]["inventory"]["entries"]}

    # Several of Flux's own intervals (10s), each a full apply with drift detection and pruning.
    seen = len(applied_changes(gitops.flux))
    gitops.kube.wait_for(
        lambda: len(applied_changes(gitops.flux)) >= seen + 3, 60, "three more Flux applies"
    )
    late = applied_changes(gitops.flux)[seen:]
    assert all(set(c.values()) == {"unchanged"} for c in late), late
    for name, meta in before.items():
        now = account(gitops, name)["metadata"]
        assert now["generation"] == meta["generation"], name
        assert now.get("labels") == meta.get("labels"), name
        assert now.get("annotations") == meta.get("annotations"), name
    for name in discovered:
        account(gitops, name)  # still there: not in Flux's inventory, never pruned
        assert not any(name in entry for entry in inventory)
    assert len(disables(gitops.sim)) == 1

    # Drift correction: a person sets John back to Active by hand; Flux puts Git's value back.
    gitops.kube.kubectl(
        "patch", f"{AACCT}/john-smith", "--type=merge", "-p", '{"spec":{"desiredState":"Active"}}'
    )
    reconciled_ready(gitops, "Flux to correct the drift")
    assert account(gitops, "john-smith")["spec"]["desiredState"] == "Suspended"
    assert gitops.sim.requests("enable") == []

    # Removing an account from Git deletes the object, and nothing is called in Atlassian.
    gitops.repo.git("rm", "--quiet", "atlassian/accounts/john-smith.yaml")
    revision = gitops.fetch(gitops.repo.commit("John's offboarding is complete"))
    gitops.wait_ready(revision)
    gitops.kube.wait_for(
        lambda: gitops.kube.kubectl("get", f"{AACCT}/john-smith", check=False).returncode != 0,
        30,
        "john-smith pruned",
    )
    gitops.operator_sync()  # a sync asked for after the deletion, and answered
    assert len(disables(gitops.sim)) == 1 and gitops.sim.requests("enable") == []
    assert gitops.sim.user(JOHN)["user"]["account_status"] == "inactive"
    for name in discovered:
        account(gitops, name)
    # A person's sync request on a Git-managed org (the docs' annotation). Flux takes over
    # fields written by any `kubectl...` field manager and drops the annotation at its next apply;
    # written under a field manager of the person's own, it stays. Either way nothing loops.
    seen = len(applied_changes(gitops.flux))
    gitops.kube.wait_for(lambda: len(applied_changes(gitops.flux)) > seen, 30, "a Flux apply")
    assert "atlassian.operators.dev/sync-requested" not in org_annotations(gitops)
    token = gitops.operator_sync(field_manager="oncall")
    seen = len(applied_changes(gitops.flux))
    gitops.kube.wait_for(lambda: len(applied_changes(gitops.flux)) > seen + 1, 40, "Flux applies")
    assert org_annotations(gitops)["atlassian.operators.dev/sync-requested"] == token
    assert all(set(c.values()) == {"unchanged"} for c in applied_changes(gitops.flux)[seen:])


def org_annotations(world: GitOps) -> dict[str, str]:
    org = world.kube.get_json("atlassianorg.atlassian.operators.dev", "acme")
    return org["metadata"].get("annotations") or {}


def test_a_revert_commit_follows_the_orgs_reactivation_policy(gitops: GitOps) -> None:
    start(gitops, timeout="30s")
    revision = gitops.fetch(gitops.repo.am(OFFBOARDING))
    gitops.wait_ready(revision)

    gitops.repo.git("revert", "--no-edit", "HEAD")
    revision = gitops.fetch(gitops.repo.head())
    failed = gitops.wait_kustomization(
        lambda k: (
            (k.get("status") or {}).get("lastAttemptedRevision") == revision
            and condition_of(k, "Ready").get("reason") == "HealthCheckFailed"
        ),
        "the revert to be refused (allowReactivation: false)",
    )
    john = account(gitops, "john-smith")
    assert condition_of(john, "Ready")["reason"] == "ReactivationNotAllowed"
    assert (
        f"AtlassianAccount/{gitops.kube.namespace}/john-smith"
        in condition_of(failed, "Ready")["message"]
    )
    assert health(john) == [("Degraded", "ReactivationNotAllowed")]
    assert gitops.sim.requests("enable") == []

    gitops.edit_yaml(
        "atlassian/org.yaml", lambda org: org["spec"]["suspension"].update(allowReactivation=True)
    )
    revision = gitops.fetch(gitops.repo.commit("Allow reactivation: John is back"))
    gitops.wait_ready(revision)
    assert len(gitops.sim.requests("enable")) == 1
    assert account(gitops, "john-smith")["status"]["accountStatus"] == "Active"
    assert gitops.sim.user(JOHN)["user"]["account_status"] == "active"
