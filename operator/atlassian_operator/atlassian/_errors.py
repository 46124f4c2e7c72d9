"""The client's own exceptions, so callers never need to know httpx, pydantic or json.

Every failure of the client is one of these, each with a message a person can act on: it names
the org, account or URL involved (never the API key), and the lower-level error, when there is
one, is chained as ``__cause__`` for debugging only.

    AtlassianError                 base class; also raised as-is for an unexpected response
    │                              (e.g. 400 invalid page cursor, 409), with ``status`` set
    ├── AuthenticationFailed       401: the API key is invalid, expired or revoked
    ├── Forbidden                  403: the key may not do this; ``key`` is Atlassian's error key
    │                              ("forbidden", "forbidden.action", "forbidden.targetUnverified",
    │                              "forbidden.insufficientScope", ...) and ``reason`` the
    │                              restriction reason of a forbidden.action
    │                              ("externalDirectory.scim", "administrative", ...) or None
    ├── AccountNotFound            404 from a lifecycle call: no such account
    ├── OrgNotFound                404 from the user listing: no such organization
    ├── RateLimited                429 persisted past the retry budget; ``retry_after`` is the
    │                              server's last hint in seconds, or None
    ├── AtlassianUnavailable       5xx, timeouts or transport errors past the retry budget, or
    │                              the base URL cannot be reached at all
    ├── OutcomeUnknown             a disable or enable was sent but its answer was lost (a
    │                              timeout, a dropped connection, a 5xx): it may or may not have
    │                              taken effect, so it is not repeated blindly; ``account_id``
    │                              names the account, ``status`` the 5xx if there was one
    └── MalformedResponse          a 2xx body that is not JSON or does not match the spec; a
        │                          listing that meets one fails as a whole
        └── ListingInconsistent    a listing that would not end: more pages than its count of
                                   users allows, or a run of empty pages that still link on
"""

from __future__ import annotations

__all__ = [
    "AccountNotFound",
    "AtlassianError",
    "AtlassianUnavailable",
    "AuthenticationFailed",
    "Forbidden",
    "ListingInconsistent",
    "MalformedResponse",
    "OrgNotFound",
    "OutcomeUnknown",
    "RateLimited",
]


class AtlassianError(Exception):
    """Base class of every error the Atlassian client raises."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: The HTTP status of the response that caused the error; None for transport errors.
        self.status = status

    def __str__(self) -> str:
        return self.message


class AuthenticationFailed(AtlassianError):
    """Atlassian rejected the API key (401)."""

    def __init__(self, message: str, *, status: int | None = 401) -> None:
        super().__init__(message, status=status)


class Forbidden(AtlassianError):
    """The key is valid but may not do this (403)."""

    def __init__(
        self,
        message: str,
        *,
        key: str = "forbidden",
        reason: str | None = None,
        status: int | None = 403,
    ) -> None:
        super().__init__(message, status=status)
        #: Atlassian's error key, e.g. "forbidden.action".
        self.key = key
        #: The restriction reason of a "forbidden.action", e.g. "externalDirectory.scim".
        self.reason = reason


class AccountNotFound(AtlassianError):
    """A lifecycle call named an account Atlassian does not know (404)."""

    def __init__(
        self, message: str, *, account_id: str | None = None, status: int | None = 404
    ) -> None:
        super().__init__(message, status=status)
        self.account_id = account_id


class OrgNotFound(AtlassianError):
    """The user listing named an organization Atlassian does not know (404)."""

    def __init__(
        self, message: str, *, org_id: str | None = None, status: int | None = 404
    ) -> None:
        super().__init__(message, status=status)
        self.org_id = org_id


class RateLimited(AtlassianError):
    """Atlassian kept answering 429 until the retry budget was spent."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = 429
    ) -> None:
        super().__init__(message, status=status)
        #: Seconds the server last asked us to wait, if it said; a hint for requeueing.
        self.retry_after = retry_after


class AtlassianUnavailable(AtlassianError):
    """Server errors, timeouts or transport errors outlasted the retries."""


class OutcomeUnknown(AtlassianError):
    """A lifecycle call may or may not have taken effect; observe the account before calling again.

    Disable and enable are not known to be idempotent (API-NOTES §6.5), so the client repeats
    them only when the request certainly did not take effect: it never reached Atlassian
    (connection refused, connect timeout) or was refused with 429.
    """

    def __init__(
        self, message: str, *, account_id: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.account_id = account_id


class NotSent(AtlassianError):
    """The client stopped sending (the operator is shutting down) before this request went out:
    it certainly did not take effect."""


class MalformedResponse(AtlassianError):
    """A successful response whose body is not what the spec promises."""


class ListingInconsistent(MalformedResponse):
    """A cursor-paged listing that would not end: abandoned as a whole, nothing of it is used."""
