"""Reading AtlassianOrgs and AtlassianAccounts from the cluster, as kubectl would find it.

The kubeconfig is resolved like kubectl's: `--kubeconfig`, else `$KUBECONFIG` (a list of files
is merged), else `~/.kube/config`, else the in-cluster service account; `--context` picks the
context, whose namespace is the default one. Every failure a user can fix becomes a
`ReportError` naming what is wrong and what to do; nothing here talks to Atlassian.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlassian_operator.core.resources import ACCOUNT_PLURAL, GROUP, ORG_PLURAL, VERSION

_PAGE = 500  # objects per LIST request: 10,000 accounts are 20 requests
_TIMEOUT = (10.0, 120.0)  # connect, read (seconds)
_SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class ReportError(Exception):
    """A problem the user can fix (no cluster, no CRDs, unknown name); the message says how."""


@dataclass(frozen=True)
class Scope:
    """Which namespaces to read: one, or all of them (`namespace` None)."""

    namespace: str | None

    def __str__(self) -> str:
        return f"namespace {self.namespace}" if self.namespace else "all namespaces"


@dataclass(frozen=True)
class Inventory:
    """Everything the report reads: the orgs and accounts of the scope, as the API returns them."""

    scope: Scope
    orgs: list[dict[str, Any]]
    accounts: list[dict[str, Any]]


class Cluster:
    """A connection to the API server chosen by kubeconfig and context, for LIST calls only."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None) -> None:
        from kubernetes import client, config

        cfg = client.Configuration()
        files = kubeconfig or os.environ.get("KUBECONFIG") or str(Path("~/.kube/config"))
        self.default_namespace = "default"
        in_cluster = bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        if not _any_file(files) and not in_cluster:
            raise ReportError(
                f"no kubeconfig at {files} and not running in a cluster; point KUBECONFIG or "
                "--kubeconfig at the kubeconfig that kubectl uses"
            )
        try:
            if _any_file(files):
                config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=files, context=context, client_configuration=cfg
                )
                self.default_namespace = _context_namespace(config, files, context)
            else:
                config.load_incluster_config(  # type: ignore[no-untyped-call]
                    client_configuration=cfg
                )
                if _SERVICE_ACCOUNT_NAMESPACE.is_file():
                    self.default_namespace = _SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
        except (config.ConfigException, OSError, ValueError, TypeError) as exc:
            raise ReportError(
                f"no usable Kubernetes configuration ({_one_line(exc)}); point KUBECONFIG or "
                "--kubeconfig at a kubeconfig file, or pick a context with --context"
            ) from None
        # A cluster that does not answer should fail in seconds, not after urllib3's default
        # three retries of every request.
        cfg.retries = 1
        self.server = str(cfg.host)
        self._api = client.ApiClient(cfg)
        self._custom = client.CustomObjectsApi(self._api)

    @property
    def api_client(self) -> Any:
        """The configured client, for the commands that do more than LIST (migrate-storage)."""
        return self._api

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]

    def read(self, scope: Scope) -> Inventory:
        return Inventory(
            scope, list(self._list(ORG_PLURAL, scope)), list(self._list(ACCOUNT_PLURAL, scope))
        )

    def _list(self, plural: str, scope: Scope) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            page = self._page(plural, scope, token)
            yield from page.get("items") or ()
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                return

    def _page(self, plural: str, scope: Scope, token: str | None) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        paging: dict[str, Any] = {"limit": _PAGE, "_request_timeout": _TIMEOUT}
        if token:
            paging["_continue"] = token
        try:
            if scope.namespace:
                page = self._custom.list_namespaced_custom_object(
                    GROUP, VERSION, scope.namespace, plural, **paging
                )
            else:
                page = self._custom.list_cluster_custom_object(GROUP, VERSION, plural, **paging)
        except ApiException as exc:
            raise self._api_error(exc, plural, scope) from None
        except HTTPError as exc:
            cause = str(getattr(exc, "reason", None) or exc)
            cause = cause.rsplit("Failed to establish a new connection: ", 1)[-1].rstrip(")\"'")
            raise ReportError(
                f"cannot reach the Kubernetes API server at {self.server} ({_one_line(cause)}); "
                "is the cluster running? `kubectl cluster-info` checks the same kubeconfig"
            ) from None
        if not isinstance(page, dict):
            raise ReportError(f"the API server at {self.server} answered a LIST with no object")
        return page

    def _api_error(self, exc: Any, plural: str, scope: Scope) -> ReportError:
        status = int(getattr(exc, "status", 0) or 0)
        resource = f"{plural}.{GROUP}"
        if status == 404:
            return ReportError(
                f"this cluster does not serve {resource} ({VERSION}): the AtlassianOrg and "
                "AtlassianAccount CRDs are not installed. Install them with "
                "`kubectl apply -k crds/` from the atlassian-operator repository (or the "
                "operator's kustomize base)"
            )
        if status in (401, 403):
            where = f"in {scope}" if scope.namespace else "across all namespaces"
            return ReportError(
                f"the API server at {self.server} refused to list {resource} {where} "
                f"(HTTP {status} {exc.reason}); ask for RBAC get/list on {plural} and "
                f"{ORG_PLURAL}, or try one namespace with -n"
            )
        return ReportError(
            f"listing {resource} in {scope} failed: HTTP {status} {exc.reason}: "
            f"{_one_line(exc.body or '')}"
        )


def _any_file(paths: str) -> bool:
    return any(Path(p).expanduser().is_file() for p in paths.split(os.pathsep) if p)


def _context_namespace(config: Any, files: str, context: str | None) -> str:
    contexts, active = config.list_kube_config_contexts(config_file=files)
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
    return str(((chosen or {}).get("context") or {}).get("namespace") or "default")


def _one_line(exc: object) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."
