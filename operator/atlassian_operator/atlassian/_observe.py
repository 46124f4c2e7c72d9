"""What the client lets its owner see of its traffic: counters and hooks, no metrics library."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["ClientObserver", "RequestStats"]


@dataclass(frozen=True)
class RequestStats:
    """Cumulative request counters of one client; subtract two snapshots for one sync's share.

    `client.stats` returns a fresh snapshot on every read, so keeping one and reading again later
    gives a before/after pair: `(client.stats - before).requests`.
    """

    #: HTTP attempts made, retries included.
    requests: int = 0
    #: 429 responses seen, whether a retry then succeeded or not.
    rate_limited: int = 0
    #: Attempts that were retries of an earlier one.
    retries: int = 0

    def __sub__(self, other: RequestStats) -> RequestStats:
        return RequestStats(
            requests=self.requests - other.requests,
            rate_limited=self.rate_limited - other.rate_limited,
            retries=self.retries - other.retries,
        )


class ClientObserver(Protocol):
    """Optional hooks for metrics and status; subclass it and override what you need.

    `endpoint` names the call: "list_users" (a v1 listing page), "search_users" (a v2 search
    page), "manage" (the lifecycle pre-check), "disable" or "enable". Counting `response` calls
    per endpoint is how the operator counts the requests of one listing, retries included. The
    hooks run inline on the event loop, so they must be quick and must not raise (an exception
    is logged and swallowed).
    """

    def response(self, endpoint: str, status: int) -> None:
        """One HTTP attempt finished with `status`; 0 means a transport error or timeout."""
        return None

    def waiting(self, endpoint: str, seconds: float, reason: str) -> None:
        """The client is about to wait `seconds` before sending.

        `reason` is "rate_limited" (a 429), "server_error" (5xx), "transport" (timeout,
        connection error) or "pacing" (spreading requests before the rate limit is hit).
        """
        return None


class NullObserver(ClientObserver):
    """The default observer: sees everything, does nothing."""
