"""The operator's few Kubernetes calls (status patches, Secrets, Events, discovery creates,
the call ledger's ConfigMap).

The official client is synchronous; calls run in a bounded thread pool so that thousands of
status patches after a sync do not block the event loop or flood the API server.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Set
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from atlassian_operator import __version__
from atlassian_operator.core.authority import secret_access_problem, secret_problem
from atlassian_operator.core.ledger import LedgerCall, LedgerUnreadable, ledger_name, parse_ledger
from atlassian_operator.core.resources import (
    ACCOUNT_PLURAL,
    GROUP,
    ORG_PLURAL,
    VERSION,
    AccountClaim,
    ObjectRef,
)
from atlassian_operator.logfields import about_object
from atlassian_operator.reconcile.claims import SharedClaimsListing

logger = logging.getLogger(__name__)
_PLURALS = {"AtlassianOrg": ORG_PLURAL, "AtlassianAccount": ACCOUNT_PLURAL}


class SecretProblem(Exception):
    """The org's API key Secret is missing or unusable; the message says how to fix it."""


class KubeError(Exception):
    """The API server refused or failed a call; `status` is its HTTP status (0: no answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ApiKey:
    """An org API key as read from its Secret; its repr never shows the value."""

    __slots__ = ("fingerprint", "value")

    def __init__(self, value: str) -> None:
        self.value = value
        #: Tells two keys apart in memory; never written anywhere.
        self.fingerprint = hashlib.sha256(value.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return "<ApiKey>"


# (connect, read) seconds for every request: a page of 500 accounts is read well within it.
REQUEST_TIMEOUT = (5.0, 30.0)


def new_api_client(concurrency: int = 1) -> client.ApiClient:
    """A client with the Pod's service account, or the current kubeconfig outside a Pod."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    cfg = client.Configuration.get_default_copy()
    cfg.connection_pool_maxsize = concurrency
    api_client = client.ApiClient(cfg)
    # The API server names the field manager of our writes after this (managedFields,
    # `kubectl get --show-managed-fields`); the client's default is "OpenAPI-Generator".
    api_client.user_agent = f"atlassian-operator/{__version__}"
    return api_client


def served_kinds(api_client: client.ApiClient) -> list[str] | None:
    """The resources the API server serves in GROUP/VERSION (its discovery document), None
    when it serves none (404: the CRDs are deleted). Discovery is open to every authenticated
    client (system:discovery): no RBAC rule needed. Other failures raise KubeError."""
    try:
        found = client.CustomObjectsApi(api_client).get_api_resources(
            GROUP, VERSION, _request_timeout=REQUEST_TIMEOUT
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise KubeError(exc.status or 0, _api_message(exc)) from None
    except urllib3.exceptions.HTTPError as exc:
        raise KubeError(0, f"no answer from the API server ({type(exc).__name__})") from None
    return [str(resource.name) for resource in found.resources or ()]


class KubeApi:
    def __init__(self, api_client: client.ApiClient | None = None, concurrency: int = 8) -> None:
        if api_client is None:
            api_client = new_api_client(concurrency)
        self._api = api_client
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="kube")
        self._claims = SharedClaimsListing(self._claims_by_org)
        self.writes = 0

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        # Without a timeout, a request on a connection that went silent (a stalled proxy or load
        # balancer) would wait forever, and the write it carries with it.
        kwargs.setdefault("_request_timeout", REQUEST_TIMEOUT)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))
        except urllib3.exceptions.HTTPError as exc:  # timed out, refused, reset: no answer
            # Status 0, as an ApiException: each caller's handling of a failed request applies.
            raise ApiException(
                status=0, reason=f"no answer from the API server ({type(exc).__name__})"
            ) from None

    async def patch_status(self, ref: ObjectRef, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Merge-patch the status subresource; returns the object as stored."""
        self.writes += 1
        try:
            result: dict[str, Any] = await self._call(
                self._custom.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                ref.namespace,
                _PLURALS[ref.kind],
                ref.name,
                {"status": patch},
            )
        except ApiException as exc:
            raise KubeError(exc.status or 0, _api_message(exc)) from None
        return result

    async def create_account(self, namespace: str, body: Mapping[str, Any]) -> bool:
        """Create an AtlassianAccount; False when one of that name already exists."""
        try:
            self.writes += 1
            await self._call(
                self._custom.create_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                ACCOUNT_PLURAL,
                body,
            )
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise KubeError(exc.status or 0, _api_message(exc)) from None
        return True

    async def account_claims(self, namespace: str, org: str) -> list[AccountClaim]:
        """What every AtlassianAccount of an org names, from a paged LIST begun after the call.

        The watch may not have delivered every account yet (at start-up, or while the API
        server's cache warms); decisions that need them all ask the server instead. Orgs of
        one namespace asking at once share a LIST (`SharedClaimsListing`).
        """
        return await self._claims.claims(namespace, org)

    async def _claims_by_org(self, namespace: str, orgs: Set[str]) -> dict[str, list[AccountClaim]]:
        by_org: dict[str, list[AccountClaim]] = {org: [] for org in orgs}
        token: str | None = None
        while True:
            try:
                page = await self._call(
                    self._custom.list_namespaced_custom_object, GROUP, VERSION, namespace,
                    ACCOUNT_PLURAL, limit=500, _continue=token,
                )  # fmt: skip
            except ApiException as exc:
                raise KubeError(exc.status or 0, _api_message(exc)) from None
            for item in page.get("items", ()):
                spec, status = item.get("spec") or {}, item.get("status") or {}
                org = (spec.get("orgRef") or {}).get("name")
                claims = by_org.get(org) if isinstance(org, str) else None
                if claims is not None:
                    name = str((item.get("metadata") or {}).get("name") or "")
                    claims.append(AccountClaim.of(spec, status, name))
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return by_org

    async def read_ledger(self, namespace: str, org_id: str) -> list[LedgerCall] | None:
        """The calls the org's ledger holds (core/ledger.py); None when it does not exist yet.

        KubeError when it cannot be read or is not one the operator wrote: a ledger that might
        hold calls is never taken as empty."""
        name = ledger_name(org_id)
        try:
            found = await self._call(self._core.read_namespaced_config_map, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeError(exc.status or 0, _api_message(exc)) from None
        try:
            return parse_ledger(found.data, org_id)
        except LedgerUnreadable as exc:
            raise KubeError(0, f"it holds what the operator did not write: {exc}") from None

    async def write_ledger(self, namespace: str, body: Mapping[str, Any]) -> None:
        """Create the ledger, or merge-patch it (its data, labels and annotations) if it exists."""
        name = str(body["metadata"]["name"])
        patch = self._core.patch_namespaced_config_map
        self.writes += 1
        try:
            try:
                await self._call(patch, name, namespace, body)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                try:
                    await self._call(self._core.create_namespaced_config_map, namespace, body)
                except ApiException as created:
                    if created.status != 409:  # created meanwhile (another process): patch it
                        raise
                    await self._call(patch, name, namespace, body)
        except ApiException as exc:
            raise KubeError(exc.status or 0, _api_message(exc)) from None

    async def read_api_key(self, namespace: str, name: str, key: str) -> ApiKey:
        """The key in a Secret that opted in with the api-key label; SecretProblem otherwise."""
        try:
            secret = await self._call(self._core.read_namespaced_secret, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise SecretProblem(
                    f"Secret {namespace}/{name} not found; create it with the org API key under "
                    f"key {key!r} (kubectl create secret generic {name} --from-literal={key}=...)"
                ) from None
            if exc.status == 403:
                raise SecretProblem(secret_access_problem(namespace, name)) from None
            raise SecretProblem(
                f"reading Secret {namespace}/{name} failed: {exc.status} {exc.reason}"
            ) from None
        unusable = secret_problem(namespace, name, secret.metadata.labels)
        if unusable:
            raise SecretProblem(unusable)
        data = secret.data or {}
        if key not in data:
            raise SecretProblem(
                f"Secret {namespace}/{name} has no key {key!r} (it has: "
                f"{', '.join(sorted(data)) or 'nothing'}); put the org API key there or set "
                "spec.apiKeySecretRef.key"
            )
        try:
            value = base64.b64decode(data[key], validate=True).decode("utf-8").strip()
        except (binascii.Error, UnicodeDecodeError):
            raise SecretProblem(
                f"Secret {namespace}/{name} key {key!r} is not valid base64 UTF-8 text"
            ) from None
        if not value:
            raise SecretProblem(f"Secret {namespace}/{name} key {key!r} is empty")
        if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
            raise SecretProblem(
                f"Secret {namespace}/{name} key {key!r} contains whitespace or non-ASCII "
                "characters; put the key there exactly as Atlassian showed it"
            )
        return ApiKey(value)

    async def post_event(self, ref: ObjectRef, type_: str, reason: str, message: str) -> None:
        """Best effort: an Event that fails to post is logged, never fatal."""
        now = datetime.datetime.now(datetime.UTC)
        body = {
            "metadata": {"generateName": f"{ref.name}.", "namespace": ref.namespace},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": ref.kind,
                "name": ref.name,
                "namespace": ref.namespace,
                "uid": ref.uid,
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": "atlassian-operator"},
            "reportingComponent": "atlassian-operator",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self.writes += 1
            await self._call(self._core.create_namespaced_event, ref.namespace, body)
        except ApiException as exc:
            logger.warning(
                "Failed to post an event on %s: %s %s", ref, exc.status, exc.reason,
                extra=about_object(ref),
            )  # fmt: skip

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._api.close()  # type: ignore[no-untyped-call]


def _api_message(exc: ApiException) -> str:
    """The API server's own message (from its Status body) when there is one."""
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    return f"{exc.status} {exc.reason}: {message}" if message else f"{exc.status} {exc.reason}"
