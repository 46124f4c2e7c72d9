"""What `check` reads in the cluster, as the user's kubeconfig allows: reads only.

The AtlassianOrg and its Secret (the input), the CRDs, the operator's leader-election Lease, and
SubjectAccessReviews that ask the API server what the operator's ServiceAccount may do. A
SubjectAccessReview is a question, not an object: the API server answers it and stores nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from atlassian_operator.core.preflight import CrdState, Permission
from atlassian_operator.core.resources import ACCOUNT_PLURAL, GROUP, ORG_PLURAL, VERSION
from atlassian_operator.report.cluster import Cluster, ReportError

CRD_NAMES = (f"{ORG_PLURAL}.{GROUP}", f"{ACCOUNT_PLURAL}.{GROUP}")
_TIMEOUT = (10.0, 30.0)


class CheckInputError(ReportError):
    """The check cannot start: no such org, no readable key. Exit code 2, like a usage error."""


@dataclass(frozen=True)
class OrgInput:
    """What the check needs from an AtlassianOrg's spec."""

    name: str
    namespace: str
    org_id: str
    base_url: str
    secret_name: str
    secret_key: str
    enrichment: bool
    discovery: bool


def read_org(cluster: Cluster, namespace: str, name: str) -> OrgInput:
    from kubernetes import client

    api = client.CustomObjectsApi(cluster.api_client)
    try:
        org = api.get_namespaced_custom_object(
            GROUP, VERSION, namespace, ORG_PLURAL, name, _request_timeout=_TIMEOUT
        )
    except Exception as exc:
        status = _status(exc)
        if status == 404:
            raise CheckInputError(
                f"no AtlassianOrg {name!r} in namespace {namespace} (or its CRD is not "
                f"installed); `kubectl get aorg -A` lists them, or check a key without one: "
                "--org-id ID --api-key-file PATH"
            ) from None
        raise CheckInputError(_refused(exc, f"read AtlassianOrg {namespace}/{name}")) from None
    spec = (org.get("spec") if isinstance(org, dict) else None) or {}
    ref = spec.get("apiKeySecretRef") or {}
    org_id = spec.get("orgId")
    if not isinstance(org_id, str) or not org_id or not ref.get("name"):
        raise CheckInputError(
            f"AtlassianOrg {namespace}/{name} has no spec.orgId or spec.apiKeySecretRef.name"
        )
    return OrgInput(
        name=name,
        namespace=namespace,
        org_id=org_id,
        base_url=str(spec.get("apiBaseURL") or "https://api.atlassian.com"),
        secret_name=str(ref["name"]),
        secret_key=str(ref.get("key") or "api-key"),
        enrichment=bool((spec.get("enrichment") or {}).get("enabled", True)),
        discovery=bool((spec.get("accountDiscovery") or {}).get("enabled", False)),
    )


def read_secret(cluster: Cluster, org: OrgInput) -> tuple[str, dict[str, str]]:
    """The API key and the Secret's labels; the key's value never enters a message."""
    from kubernetes import client

    where = f"Secret {org.namespace}/{org.secret_name}"
    try:
        secret = client.CoreV1Api(cluster.api_client).read_namespaced_secret(
            org.secret_name, org.namespace, _request_timeout=_TIMEOUT
        )
    except Exception as exc:
        if _status(exc) == 404:
            raise CheckInputError(
                f"{where}, which AtlassianOrg {org.name} names, does not exist; create it with "
                f"the org API key under {org.secret_key!r}"
            ) from None
        raise CheckInputError(
            _refused(exc, f"read {where}") + "; or give the key with --api-key-file PATH"
        ) from None
    data = secret.data or {}
    if org.secret_key not in data:
        raise CheckInputError(
            f"{where} has no key {org.secret_key!r} (it has: {', '.join(sorted(data)) or 'none'})"
        )
    try:
        value = base64.b64decode(data[org.secret_key]).decode()
    except (ValueError, UnicodeDecodeError):
        raise CheckInputError(f"{where}: {org.secret_key!r} is not UTF-8 text") from None
    labels = secret.metadata.labels if secret.metadata is not None else None
    return value, dict(labels or {})


def read_crds(cluster: Cluster) -> list[CrdState] | str:
    from kubernetes import client

    api = client.ApiextensionsV1Api(cluster.api_client)
    states = []
    for name in CRD_NAMES:
        try:
            crd = api.read_custom_resource_definition(name, _request_timeout=_TIMEOUT)
        except Exception as exc:
            if _status(exc) == 404:
                states.append(CrdState(name, None))
                continue
            return _refused(exc, "read CustomResourceDefinitions")
        states.append(CrdState(name, cluster.api_client.sanitize_for_serialization(crd)))
    return states


def review_access(
    cluster: Cluster, user: str, namespace: str, permissions: Sequence[Permission]
) -> list[tuple[Permission, bool]] | str:
    """Ask the API server, for each permission, whether `user` has it in `namespace`."""
    from kubernetes import client

    api = client.AuthorizationV1Api(cluster.api_client)
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{user.split(':')[2]}"]
    answers = []
    for permission in permissions:
        attributes = client.V1ResourceAttributes(
            namespace=namespace,
            verb=permission.verb,
            group=permission.group,
            resource=permission.resource,
            subresource=permission.subresource or None,
            name=permission.name or None,
        )
        body = client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user=user,
                groups=[*groups, "system:authenticated"],
                resource_attributes=attributes,
            )
        )
        try:
            review = api.create_subject_access_review(body, _request_timeout=_TIMEOUT)
        except Exception as exc:
            if _status(exc) == 403:
                return (
                    "you may not create SubjectAccessReviews (authorization.k8s.io), so the "
                    "operator's permissions could not be asked about"
                )
            return _refused(exc, "create a SubjectAccessReview")
        answers.append((permission, bool(review.status and review.status.allowed)))
    return answers


def read_lease(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | str | None:
    from kubernetes import client

    try:
        lease = client.CoordinationV1Api(cluster.api_client).read_namespaced_lease(
            name, namespace, _request_timeout=_TIMEOUT
        )
    except Exception as exc:
        if _status(exc) == 404:
            return None
        return _refused(exc, f"read Lease {namespace}/{name}")
    body: dict[str, Any] = cluster.api_client.sanitize_for_serialization(lease)
    return body


def _status(exc: Exception) -> int:
    return int(getattr(exc, "status", 0) or 0)


def _refused(exc: Exception, what: str) -> str:
    status = _status(exc)
    if status in (401, 403):
        return f"the API server refused to let you {what} (HTTP {status})"
    if status:
        return f"could not {what}: HTTP {status} {getattr(exc, 'reason', '')}".rstrip()
    cause = " ".join(str(getattr(exc, "reason", None) or exc).split())[:200]
    return f"could not {what}: {type(exc).__name__}: {cause}"
