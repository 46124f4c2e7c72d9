"""Each client error becomes a specific condition reason and a retry policy."""

from __future__ import annotations

import pytest

from atlassian_operator.atlassian import (
    AccountNotFound,
    AtlassianError,
    AtlassianUnavailable,
    AuthenticationFailed,
    Forbidden,
    ListingInconsistent,
    MalformedResponse,
    OrgNotFound,
    RateLimited,
)
from atlassian_operator.core.reasons import failure_reason, is_configuration_error, is_transient

# (error, reason, transient, configuration error)
CASES = [
    pytest.param(
        AuthenticationFailed("the API key was rejected"),
        "AuthenticationFailed",
        False,
        True,
        id="authentication-failed",
    ),
    pytest.param(
        Forbidden("no", key="forbidden.action", reason="externalDirectory.scim"),
        "ManagedByIdentityProvider",
        False,
        True,
        id="forbidden-scim-managed",
    ),
    pytest.param(
        Forbidden("no", key="forbidden.action", reason="externalDirectory.ldap"),
        "ManagedByIdentityProvider",
        False,
        True,
        id="forbidden-other-directory",
    ),
    pytest.param(
        Forbidden("no", key="forbidden.action", reason="administrative"),
        "Forbidden",
        False,
        True,
        id="forbidden-administrative",
    ),
    pytest.param(Forbidden("no"), "Forbidden", False, True, id="forbidden-plain"),
    pytest.param(
        Forbidden("no", key="forbidden.insufficientScope"),
        "Forbidden",
        False,
        True,
        id="forbidden-scoped-key",
    ),
    pytest.param(
        AccountNotFound("no such account", account_id="5570:a"),
        "AccountNotFound",
        False,
        False,
        id="account-not-found",
    ),
    pytest.param(
        OrgNotFound("no such org", org_id="org-1"), "OrgNotFound", False, True, id="org-not-found"
    ),
    pytest.param(
        RateLimited("429", retry_after=30.0), "RateLimited", True, False, id="rate-limited"
    ),
    pytest.param(
        AtlassianUnavailable("503", status=503),
        "AtlassianUnavailable",
        True,
        False,
        id="unavailable",
    ),
    pytest.param(
        MalformedResponse("not json", status=200),
        "MalformedResponse",
        True,
        False,
        id="malformed-response",
    ),
    pytest.param(
        ListingInconsistent("a listing that would not end"),
        "ListingInconsistent",
        True,
        False,
        id="listing-would-not-end",
    ),
    pytest.param(
        AtlassianError("409 conflict", status=409),
        "AtlassianError",
        False,
        False,
        id="unexpected-response",
    ),
]


@pytest.mark.parametrize(("error", "reason", "transient", "config"), CASES)
def test_failure_reason(error: AtlassianError, reason: str, transient: bool, config: bool) -> None:
    assert failure_reason(error) == reason


@pytest.mark.parametrize(("error", "reason", "transient", "config"), CASES)
def test_is_transient(error: AtlassianError, reason: str, transient: bool, config: bool) -> None:
    assert is_transient(error) is transient


@pytest.mark.parametrize(("error", "reason", "transient", "config"), CASES)
def test_is_configuration_error(
    error: AtlassianError, reason: str, transient: bool, config: bool
) -> None:
    assert is_configuration_error(error) is config
