"""`kubectl atlassian migrate-storage`: every AtlassianOrg and AtlassianAccount stored again at
the CRDs' storage version, then `status.storedVersions` trimmed to it.

Why: release 0.1.0 stored both kinds as `v1alpha1`. Applying newer CRDs makes `v1beta1` the
storage version, but etcd keeps each object as it was last written, and the CRD's
`status.storedVersions` keeps `v1alpha1` listed; the API server refuses to drop `v1alpha1` from
the CRDs while it is listed there. This is the procedure of the Kubernetes documentation
("Versions in CustomResourceDefinitions", upgrade existing objects to a new stored version):
write every object back unchanged, then remove the old version from `storedVersions`.

The write is a JSON merge patch `{}`, sent without a resourceVersion: the API server applies it
to the object as it is at that moment, so it cannot change anything in spec, status or
metadata. Measured on kube-apiserver 1.34: the server encodes the result at the storage version
and writes it only when the bytes differ from what etcd holds, so an object stored as
`v1alpha1` is written again (its resourceVersion moves) and one already at `v1beta1` is left
alone (kubectl says "patched (no change)"). The moved resourceVersion is how this command
counts what it rewrote. Running it twice is harmless.

`--dry-run` sends the same requests with `dryRun=All`: nothing is stored, but the API server
still checks each one, permissions included. It cannot tell which objects are still stored at
an old version (only etcd knows), so it counts every object as one it would write.

Permissions: list and patch on both kinds (in every namespace, or the one of `-n`), get on
customresourcedefinitions and patch on customresourcedefinitions/status. The operator's own
RBAC has none of the CRD ones and needs none: a person with cluster-admin rights runs this once.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from atlassian_operator.core.resources import (
    ACCOUNT_KIND,
    ACCOUNT_PLURAL,
    GROUP,
    ORG_KIND,
    ORG_PLURAL,
    VERSION,
)
from atlassian_operator.report.cluster import Cluster, ReportError

CRD_GROUP = "apiextensions.k8s.io"
CRD_PLURAL = "customresourcedefinitions"
KINDS = ((ORG_KIND, ORG_PLURAL), (ACCOUNT_KIND, ACCOUNT_PLURAL))
FIELD_MANAGER = "kubectl-atlassian-migrate-storage"
CONFLICT_ATTEMPTS = 5
_PAGE = 500
_TIMEOUT = (10.0, 120.0)


class Outcome(StrEnum):
    """What one object's write did."""

    REWRITTEN = "rewritten"  # the API server stored it again: it was at another version
    CURRENT = "already current"  # no change to store: it was at the storage version already
    GONE = "deleted meanwhile"  # deleted between the list and the write: nothing to migrate
    WOULD_WRITE = "would write"  # --dry-run


@dataclass(frozen=True)
class CrdState:
    """What migrating one CRD starts from, read from the CRD itself."""

    kind: str
    crd_name: str
    storage: str
    storage_index: int  # where the storage version sits in spec.versions (for the JSON patch test)
    stored: tuple[str, ...]  # status.storedVersions

    @property
    def migrated(self) -> bool:
        """Nothing is recorded as stored at another version: no object needs a write."""
        return self.stored == (self.storage,)


@dataclass
class KindResult:
    """One kind's migration, as the summary prints it."""

    state: CrdState
    counts: dict[Outcome, int] = field(default_factory=dict)
    trimmed: bool = False  # storedVersions was set to the storage version alone
    skipped_trim: str | None = None  # why storedVersions was left as it was

    def add(self, outcome: Outcome) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def crd_name(plural: str) -> str:
    return f"{plural}.{GROUP}"


def crd_state(kind: str, crd: Mapping[str, Any]) -> CrdState:
    """The CRD's storage version and storedVersions; refuses a CRD this release does not know.

    A CRD whose storage version is not the one this release reads and writes means the new CRDs
    were not applied yet: migrating then would only record the old version again.
    """
    name = str((crd.get("metadata") or {}).get("name") or crd_name(kind))
    versions = list((crd.get("spec") or {}).get("versions") or ())
    storage = [(i, str(v.get("name"))) for i, v in enumerate(versions) if v.get("storage")]
    if len(storage) != 1:
        raise ReportError(f"CRD {name} has no single storage version in spec.versions")
    index, version = storage[0]
    if version != VERSION:
        raise ReportError(
            f"CRD {name} stores {version}, but this kubectl-atlassian reads and writes {VERSION}: "
            "apply this release's CRDs first (`kubectl apply --server-side -k crds/` from the "
            "atlassian-operator repository, or upgrade the Helm chart)"
        )
    stored = tuple(str(v) for v in ((crd.get("status") or {}).get("storedVersions") or ()))
    return CrdState(kind, name, version, index, stored)


def outcome(before: Mapping[str, Any], after: Mapping[str, Any] | None) -> Outcome:
    """Whether the write stored the object again: its resourceVersion moves only if it did."""
    if after is None:
        return Outcome.GONE
    rv = (before.get("metadata") or {}).get("resourceVersion")
    return (
        Outcome.CURRENT
        if (after.get("metadata") or {}).get("resourceVersion") == rv
        else (Outcome.REWRITTEN)
    )


def stored_versions_patch(state: CrdState) -> list[dict[str, Any]]:
    """A JSON patch that sets storedVersions to the storage version alone, and fails (422)
    instead if the CRD changed since it was read: another storage version, or storedVersions
    grown by someone else's apply."""
    return [
        {
            "op": "test",
            "path": f"/spec/versions/{state.storage_index}/name",
            "value": state.storage,
        },
        {"op": "test", "path": f"/spec/versions/{state.storage_index}/storage", "value": True},
        {"op": "test", "path": "/status/storedVersions", "value": list(state.stored)},
        {"op": "replace", "path": "/status/storedVersions", "value": [state.storage]},
    ]


def with_conflict_retry(write: Callable[[], Any], is_conflict: Callable[[Exception], bool]) -> Any:
    """`write()`, again after a 409 Conflict (someone wrote the object at the same moment; the
    next try applies to their version), at most CONFLICT_ATTEMPTS times."""
    for attempt in range(CONFLICT_ATTEMPTS):
        try:
            return write()
        except Exception as exc:
            if not is_conflict(exc) or attempt == CONFLICT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _versions(versions: Sequence[str]) -> str:
    return "[" + ", ".join(versions) + "]"


def kind_summary(r: KindResult, namespace: str | None, dry_run: bool) -> str:
    """What the command did (or, with --dry-run, would do) for one kind."""
    s = r.state
    where = f"namespace {namespace}" if namespace else "all namespaces"
    lines = [
        f"{s.kind} ({s.crd_name}): storage version {s.storage}, "
        f"storedVersions {_versions(s.stored)}"
    ]
    if s.migrated:
        lines.append(f"  already migrated: every object is stored at {s.storage}; nothing to do")
        return "\n".join(lines) + "\n"
    noun = "object" if r.total == 1 else "objects"
    if dry_run:
        lines.append(
            f"  would write {r.total} {noun} in {where} (a write of no change each; the API "
            f"server stores an object again only if it is held at another version than "
            f"{s.storage})"
        )
    else:
        done = ", ".join(
            f"{r.counts.get(o, 0)} {o}" for o in (Outcome.REWRITTEN, Outcome.CURRENT, Outcome.GONE)
        )
        lines.append(f"  {r.total} {noun} in {where}: {done}")
    if r.skipped_trim:
        lines.append(f"  storedVersions left as it is: {r.skipped_trim}")
    elif dry_run:
        lines.append(f"  would set storedVersions to {_versions([s.storage])}")
    elif r.trimmed:
        lines.append(f"  storedVersions set to {_versions([s.storage])}")
    return "\n".join(lines) + "\n"


DRY_RUN_NOTE = "Dry run: nothing was stored (the API server checked every request).\n"


class StorageMigrator:
    """The API calls of the migration, on the cluster kubectl would use."""

    def __init__(self, cluster: Cluster, dry_run: bool) -> None:
        from kubernetes import client

        self._custom = client.CustomObjectsApi(cluster.api_client)
        self._server = cluster.server
        self._dry_run_param = "All" if dry_run else None
        self.dry_run = dry_run

    def migrate(self, kind: str, plural: str, namespace: str | None) -> KindResult:
        state = crd_state(kind, self._read_crd(plural))
        result = KindResult(state)
        if state.migrated:
            return result
        for obj in self._objects(plural, state.storage, namespace):
            result.add(self._rewrite(plural, state.storage, obj))
        if namespace is not None:
            result.skipped_trim = (
                f"only namespace {namespace} was rewritten; run without -n to migrate all "
                "namespaces and trim it"
            )
            return result
        self._trim(state)
        result.trimmed = not self.dry_run
        return result

    def _read_crd(self, plural: str) -> dict[str, Any]:
        name = crd_name(plural)
        try:
            crd = self._custom.get_cluster_custom_object(
                CRD_GROUP, "v1", CRD_PLURAL, name, _request_timeout=_TIMEOUT
            )
        except Exception as exc:
            raise self._error(
                exc,
                f"reading CRD {name}",
                f"get on {CRD_PLURAL}.{CRD_GROUP} (cluster-scoped)",
                missing=f"CRD {name} is not installed: apply the CRDs first "
                "(`kubectl apply --server-side -k crds/`)",
            ) from None
        return _object(crd, f"reading CRD {name}")

    def _objects(
        self, plural: str, version: str, namespace: str | None
    ) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            paging: dict[str, Any] = {"limit": _PAGE, "_request_timeout": _TIMEOUT}
            if token:
                paging["_continue"] = token
            try:
                if namespace:
                    page = self._custom.list_namespaced_custom_object(
                        GROUP, version, namespace, plural, **paging
                    )
                else:
                    page = self._custom.list_cluster_custom_object(GROUP, version, plural, **paging)
            except Exception as exc:
                where = f"in namespace {namespace}" if namespace else "in all namespaces"
                raise self._error(
                    exc,
                    f"listing {crd_name(plural)} {where}",
                    f"list on {crd_name(plural)} {where}",
                ) from None
            listed = _object(page, f"listing {crd_name(plural)}")
            yield from listed.get("items") or ()
            token = (listed.get("metadata") or {}).get("continue") or None
            if not token:
                return

    def _rewrite(self, plural: str, version: str, obj: dict[str, Any]) -> Outcome:
        meta = obj.get("metadata") or {}
        ns, name = str(meta.get("namespace")), str(meta.get("name"))

        def write() -> dict[str, Any]:
            after = self._custom.patch_namespaced_custom_object(
                GROUP,
                version,
                ns,
                plural,
                name,
                {},
                field_manager=FIELD_MANAGER,
                _content_type="application/merge-patch+json",
                _request_timeout=_TIMEOUT,
                dry_run=self._dry_run_param,
            )
            return _object(after, f"writing {plural}/{name}")

        try:
            after = with_conflict_retry(write, lambda e: _status(e) == 409)
        except Exception as exc:
            if _status(exc) == 404:
                return Outcome.GONE
            raise self._error(
                exc,
                f"writing {plural}/{name} in namespace {ns}",
                f"patch on {crd_name(plural)}",
            ) from None
        return Outcome.WOULD_WRITE if self.dry_run else outcome(obj, after)

    def _trim(self, state: CrdState) -> None:
        try:
            self._custom.patch_cluster_custom_object_status(
                CRD_GROUP,
                "v1",
                CRD_PLURAL,
                state.crd_name,
                stored_versions_patch(state),
                field_manager=FIELD_MANAGER,
                _content_type="application/json-patch+json",
                _request_timeout=_TIMEOUT,
                dry_run=self._dry_run_param,
            )
        except Exception as exc:
            if _status(exc) == 422:
                raise ReportError(
                    f"CRD {state.crd_name} changed while its objects were rewritten (storage "
                    f"version or storedVersions no longer as read: {_versions(state.stored)}); "
                    "nothing was lost: run `kubectl atlassian migrate-storage` again"
                ) from None
            raise self._error(
                exc,
                f"setting status.storedVersions of CRD {state.crd_name}",
                f"patch on {CRD_PLURAL}/status ({CRD_GROUP}, cluster-scoped)",
            ) from None

    def _error(
        self, exc: Exception, doing: str, permission: str, missing: str | None = None
    ) -> ReportError:
        from urllib3.exceptions import HTTPError

        if isinstance(exc, HTTPError):
            return ReportError(
                f"cannot reach the Kubernetes API server at {self._server} while {doing} "
                f"({' '.join(str(exc).split())[:200]}); `kubectl cluster-info` checks the same "
                "kubeconfig"
            )
        status = _status(exc)
        if status == 404 and missing:
            return ReportError(missing)
        if status in (401, 403):
            return ReportError(
                f"the API server at {self._server} refused {doing} (HTTP {status}): "
                f"migrate-storage needs RBAC {permission}; it is meant for a cluster admin "
                "(the operator's own service account does not have these rights)"
            )
        if status == 0:
            return ReportError(f"{doing} failed: {' '.join(str(exc).split())[:300]}")
        body = " ".join(str(getattr(exc, "body", "") or "").split())[:300]
        return ReportError(f"{doing} failed: HTTP {status} {getattr(exc, 'reason', '')}: {body}")


def _object(value: object, doing: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReportError(f"{doing}: the API server answered with no object")
    return value


def _status(exc: Exception) -> int:
    return int(getattr(exc, "status", 0) or 0)


def add_command(
    commands: Any, guarded: Callable[[Callable[[argparse.Namespace], int]], Any]
) -> None:
    """Adds `migrate-storage` to an argparse subparsers object."""
    cmd = commands.add_parser(
        "migrate-storage",
        help="store every AtlassianOrg and AtlassianAccount at the CRDs' storage version "
        f"({VERSION}) and trim the CRDs' status.storedVersions (after an upgrade)",
        description="Writes every AtlassianOrg and AtlassianAccount back unchanged (a JSON "
        "merge patch {}), so that the API server stores each at the CRDs' storage version "
        f"({VERSION}); then sets each CRD's status.storedVersions to [{VERSION}]. Afterwards "
        "an old version (v1alpha1) can be removed from the CRDs. Nothing in spec or status "
        "changes. Needs list and patch on both kinds, get on customresourcedefinitions and "
        "patch on customresourcedefinitions/status: run it as a cluster admin.",
    )
    cmd.add_argument(
        "-n",
        "--namespace",
        help="rewrite only this namespace's objects (storedVersions is then left as it is, "
        "since other namespaces may hold old ones); default: all namespaces",
    )
    cmd.add_argument("--kubeconfig", help="the kubeconfig file (default: $KUBECONFIG)")
    cmd.add_argument("--context", help="the kubeconfig context (default: the current one)")
    cmd.add_argument(
        "--dry-run",
        action="store_true",
        help="report what would be written; the API server checks each request (dryRun=All) "
        "but stores nothing",
    )
    cmd.set_defaults(main=guarded(run))


def run(args: argparse.Namespace) -> int:
    """Each kind's block is printed as soon as it is done, so a failure on the second kind
    still shows what happened to the first (rerunning is safe either way)."""
    import sys

    cluster = Cluster(args.kubeconfig, args.context)
    try:
        migrator = StorageMigrator(cluster, args.dry_run)
        for kind, plural in KINDS:
            result = migrator.migrate(kind, plural, args.namespace)
            sys.stdout.write(kind_summary(result, args.namespace, args.dry_run))
            sys.stdout.flush()
    finally:
        cluster.close()
    if args.dry_run:
        sys.stdout.write(DRY_RUN_NOTE)
    return 0
