"""Atlassian Cloud admin API client: list an org's users, ask, disable and enable accounts.

Knows nothing of Kubernetes. Everything public is re-exported here; the modules underneath are
private, except `v2_choices`, the one place for the v2 details only third parties settle (the
operator's core reads the admin roles and the identity-provider source from it). The exception
tree is drawn in the docstring of `_errors`.
"""

from ._client import AtlassianClient
from ._directory import DirectoryListing, DirectoryProductAccess, DirectoryUser
from ._errors import (
    AccountNotFound,
    AtlassianError,
    AtlassianUnavailable,
    AuthenticationFailed,
    Forbidden,
    ListingInconsistent,
    MalformedResponse,
    NotSent,
    OrgNotFound,
    OutcomeUnknown,
    RateLimited,
)
from ._manage import LifecyclePermission
from ._models import Product, UnreadableTime, User, UserListing, UserPage, newest_time
from ._observe import ClientObserver, RequestStats
from ._responses import restriction_advice
from ._scrub import scrub_key

__all__ = [
    "AccountNotFound",
    "AtlassianClient",
    "AtlassianError",
    "AtlassianUnavailable",
    "AuthenticationFailed",
    "ClientObserver",
    "DirectoryListing",
    "DirectoryProductAccess",
    "DirectoryUser",
    "Forbidden",
    "LifecyclePermission",
    "ListingInconsistent",
    "MalformedResponse",
    "NotSent",
    "OrgNotFound",
    "OutcomeUnknown",
    "Product",
    "RateLimited",
    "RequestStats",
    "UnreadableTime",
    "User",
    "UserListing",
    "UserPage",
    "newest_time",
    "restriction_advice",
    "scrub_key",
]
