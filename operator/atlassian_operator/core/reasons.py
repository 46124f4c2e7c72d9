"""Condition reasons for the client's typed errors, and which failures are worth retrying soon."""

from __future__ import annotations

from atlassian_operator.atlassian import (
    AccountNotFound,
    AtlassianError,
    AtlassianUnavailable,
    AuthenticationFailed,
    Forbidden,
    ListingInconsistent,
    MalformedResponse,
    OrgNotFound,
    OutcomeUnknown,
    RateLimited,
)

_REASONS: tuple[tuple[type[AtlassianError], str], ...] = (
    (AuthenticationFailed, "AuthenticationFailed"),
    (AccountNotFound, "AccountNotFound"),
    (OrgNotFound, "OrgNotFound"),
    (RateLimited, "RateLimited"),
    (AtlassianUnavailable, "AtlassianUnavailable"),
    # Before its base class: the first match wins.
    (ListingInconsistent, "ListingInconsistent"),
    (MalformedResponse, "MalformedResponse"),
    (OutcomeUnknown, "OutcomeUnknown"),
)

#: Another AtlassianOrg, created earlier, names the same `orgId`: that one alone acts for it,
#: so that one Atlassian org never has two budgets, two protected lists or two opinions.
DUPLICATE_ORG = "DuplicateOrg"


def failure_reason(error: AtlassianError) -> str:
    if isinstance(error, Forbidden):
        if (error.reason or "").startswith("externalDirectory"):
            return "ManagedByIdentityProvider"
        return "Forbidden"
    return next((reason for kind, reason in _REASONS if isinstance(error, kind)), "AtlassianError")


def is_transient(error: AtlassianError) -> bool:
    """Worth another try after a backoff; the rest wait for a change of spec, key or org."""
    return isinstance(error, RateLimited | AtlassianUnavailable | MalformedResponse)


def is_configuration_error(error: AtlassianError) -> bool:
    """The org's spec or key is wrong: the org is not Ready until someone fixes it."""
    return isinstance(error, AuthenticationFailed | Forbidden | OrgNotFound)
