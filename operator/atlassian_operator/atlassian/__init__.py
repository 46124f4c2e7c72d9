"""Atlassian Cloud admin API client: list an org's users, disable and enable accounts.

Knows nothing of Kubernetes. Everything public is re-exported here; the modules underneath are
private. The exception tree is drawn in the docstring of `_errors`.
"""

from ._client import AtlassianClient
from ._errors import (
    AccountNotFound,
    AtlassianError,
    AtlassianUnavailable,
    AuthenticationFailed,
    Forbidden,
    MalformedResponse,
    OrgNotFound,
    RateLimited,
)
from ._models import Product, User, UserListing
from ._observe import ClientObserver, RequestStats

__all__ = [
    "AccountNotFound",
    "AtlassianClient",
    "AtlassianError",
    "AtlassianUnavailable",
    "AuthenticationFailed",
    "ClientObserver",
    "Forbidden",
    "MalformedResponse",
    "OrgNotFound",
    "Product",
    "RateLimited",
    "RequestStats",
    "User",
    "UserListing",
]
