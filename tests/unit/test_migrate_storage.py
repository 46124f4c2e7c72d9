"""The pure decisions of `kubectl atlassian migrate-storage` (its API calls: test_upgrade.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from atlassian_operator.report.cli import build_parser
from atlassian_operator.report.cluster import ReportError
from atlassian_operator.report.migrate_storage import (
    CONFLICT_ATTEMPTS,
    CrdState,
    KindResult,
    Outcome,
    crd_state,
    kind_summary,
    outcome,
    stored_versions_patch,
    with_conflict_retry,
)

ROOT = Path(__file__).resolve().parents[2]


def crd(*versions: tuple[str, bool], stored: list[str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "atlassianaccounts.atlassian.operators.dev"},
        "spec": {"versions": [{"name": n, "served": True, "storage": s} for n, s in versions]},
        "status": {"storedVersions": stored or []},
    }


def test_the_shipped_crds_store_what_the_operator_reads() -> None:
    doc = yaml.safe_load((ROOT / "crds" / "atlassianaccounts.yaml").read_text())
    doc["status"] = {"storedVersions": ["v1alpha1", "v1beta1"]}
    state = crd_state("AtlassianAccount", doc)
    assert (state.storage, state.stored, state.migrated) == (
        "v1beta1",
        ("v1alpha1", "v1beta1"),
        False,
    )
    assert doc["spec"]["versions"][state.storage_index]["name"] == "v1beta1"


def test_only_the_storage_version_recorded_means_nothing_to_migrate() -> None:
    state = crd_state(
        "AtlassianAccount", crd(("v1alpha1", False), ("v1beta1", True), stored=["v1beta1"])
    )
    assert state.migrated


def test_the_old_crds_still_applied_are_refused_with_what_to_do() -> None:
    with pytest.raises(ReportError, match=r"stores v1alpha1.*apply this release's CRDs first"):
        crd_state("AtlassianAccount", crd(("v1alpha1", True), stored=["v1alpha1"]))


def test_a_crd_without_one_storage_version_is_refused() -> None:
    with pytest.raises(ReportError, match="no single storage version"):
        crd_state("AtlassianAccount", crd(("v1alpha1", False), ("v1beta1", False)))


def test_a_moved_resource_version_is_a_rewrite_and_a_missing_object_is_fine() -> None:
    before = {"metadata": {"resourceVersion": "41"}}
    assert outcome(before, {"metadata": {"resourceVersion": "57"}}) is Outcome.REWRITTEN
    assert outcome(before, {"metadata": {"resourceVersion": "41"}}) is Outcome.CURRENT
    assert outcome(before, None) is Outcome.GONE


def test_the_stored_versions_patch_fails_if_the_crd_changed_meanwhile() -> None:
    state = CrdState("AtlassianAccount", "a.b", "v1beta1", 1, ("v1alpha1", "v1beta1"))
    assert stored_versions_patch(state) == [
        {"op": "test", "path": "/spec/versions/1/name", "value": "v1beta1"},
        {"op": "test", "path": "/spec/versions/1/storage", "value": True},
        {"op": "test", "path": "/status/storedVersions", "value": ["v1alpha1", "v1beta1"]},
        {"op": "replace", "path": "/status/storedVersions", "value": ["v1beta1"]},
    ]


class Conflict(Exception):
    status = 409


def test_a_conflict_is_tried_again_and_other_errors_are_not() -> None:
    tries: list[int] = []

    def conflicted_twice() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise Conflict
        return "written"

    def conflict(e: Exception) -> bool:
        return getattr(e, "status", 0) == 409

    assert with_conflict_retry(conflicted_twice, conflict) == "written"
    assert len(tries) == 3

    def always() -> None:
        tries.append(1)
        raise Conflict

    tries.clear()
    with pytest.raises(Conflict):
        with_conflict_retry(always, conflict)
    assert len(tries) == CONFLICT_ATTEMPTS

    tries.clear()

    def forbidden() -> None:
        tries.append(1)
        raise PermissionError

    with pytest.raises(PermissionError):
        with_conflict_retry(forbidden, conflict)
    assert len(tries) == 1


def test_the_summary_counts_what_happened_per_kind() -> None:
    state = CrdState(
        "AtlassianAccount", "atlassianaccounts.x", "v1beta1", 1, ("v1alpha1", "v1beta1")
    )
    result = KindResult(state, trimmed=True)
    for o in (Outcome.REWRITTEN, Outcome.REWRITTEN, Outcome.CURRENT, Outcome.GONE):
        result.add(o)
    assert kind_summary(result, None, dry_run=False) == (
        "AtlassianAccount (atlassianaccounts.x): storage version v1beta1, "
        "storedVersions [v1alpha1, v1beta1]\n"
        "  4 objects in all namespaces: 2 rewritten, 1 already current, 1 deleted meanwhile\n"
        "  storedVersions set to [v1beta1]\n"
    )


def test_one_namespace_never_trims_stored_versions() -> None:
    state = CrdState("AtlassianOrg", "atlassianorgs.x", "v1beta1", 1, ("v1alpha1", "v1beta1"))
    result = KindResult(state, skipped_trim="only namespace team-a was rewritten; ...")
    result.add(Outcome.WOULD_WRITE)
    text = kind_summary(result, "team-a", dry_run=True)
    assert "would write 1 object in namespace team-a" in text
    assert "storedVersions left as it is: only namespace team-a" in text
    assert "would set storedVersions" not in text


def test_the_command_parses_in_the_plugin() -> None:
    args = build_parser().parse_args(["migrate-storage", "--dry-run", "-n", "team-a"])
    assert (args.dry_run, args.namespace, args.kubeconfig) == (True, "team-a", None)
