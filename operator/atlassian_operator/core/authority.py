"""Who may send the API key where.

The operator holds the right to read Secrets and to suspend anyone in an org; a person who may
only create an AtlassianOrg must not borrow that right. So the cluster admin, not the CR author,
decides where a key may go (`--allow-api-base-url`), and a Secret serves as an API key only
when its owner opted in with a label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from atlassian_operator.core.resources import DEFAULT_API_BASE_URL, GROUP

API_KEY_LABEL = f"{GROUP}/api-key"


def normalise_base_url(url: str) -> str:
    """Scheme and host lower-cased, default port and trailing slash dropped: one spelling."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port
    default = {"https": 443, "http": 80}.get(scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def allowed_base_urls(extra: Iterable[str]) -> frozenset[str]:
    """Atlassian's own API, plus what the operator was started with."""
    return frozenset(normalise_base_url(u) for u in (DEFAULT_API_BASE_URL, *extra))


def base_url_problem(url: str, allowed: frozenset[str]) -> str | None:
    """Why the key may not go to `url`, or None when it may."""
    try:
        if normalise_base_url(url) in allowed:
            return None
    except ValueError:  # e.g. a port that is not a number: not a URL anyone allowed
        pass
    plain = (
        " (plain http is refused unless the allow-list names it)"
        if url.strip().lower().startswith("http://")
        else ""
    )
    return (
        f"spec.apiBaseURL {url} is not one the operator may send API keys to{plain}; "
        f"allowed: {', '.join(sorted(allowed))}. A cluster admin can add it with the operator "
        "flag --allow-api-base-url"
    )


def secret_problem(namespace: str, name: str, labels: Mapping[str, str] | None) -> str | None:
    """Why this Secret may not serve as an API key, or None when its owner opted in."""
    if (labels or {}).get(API_KEY_LABEL) == "true":
        return None
    return (
        f"Secret {namespace}/{name} is not labelled {API_KEY_LABEL}=true, so the operator does "
        f"not use it as an API key; label it if it holds one: kubectl -n {namespace} label "
        f"secret {name} {API_KEY_LABEL}=true"
    )


#: Where the cluster admin lists the namespaces whose Secrets the operator may read: the Helm
#: value, and the kustomize list (one RoleBinding of the ClusterRole below per namespace).
SECRET_NAMESPACES_VALUE = "secretAccess.namespaces"
SECRET_NAMESPACES_FILE = "manifests/base/secret-namespaces.yaml"
SECRET_ROLE = "atlassian-operator-secrets"


def secret_access_problem(namespace: str, name: str) -> str:
    """What a 403 on reading an org's Secret means, and the fix, for the org's condition.

    The install grants Secret `get` namespace by namespace, so a 403 is almost always an org in
    a namespace the cluster admin has not listed: the message names the namespace, the missing
    grant and the two places that list it (Helm, kustomize), so that whoever reads the org's
    status can ask for exactly that, or move the org.
    """
    return (
        f"the operator may not read Secret {namespace}/{name} (403): it has no get on Secrets in "
        f"namespace {namespace}, which the cluster admin grants namespace by namespace. To grant "
        f"it, add {namespace} to the Helm value {SECRET_NAMESPACES_VALUE}, or to the kustomize "
        f"list {SECRET_NAMESPACES_FILE} (a RoleBinding of ClusterRole {SECRET_ROLE} in namespace "
        f"{namespace}); or move this AtlassianOrg and its Secret to a namespace that has the grant"
    )
