"""When to send a request again, and after how long: the retry policy as one pure function."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from ._ratelimit import backoff_delay

__all__ = [
    "Done",
    "GiveUp",
    "Retry",
    "RetryPolicy",
    "TransportFailure",
    "WaitHints",
    "next_step",
]


@dataclass(frozen=True)
class RetryPolicy:
    """The retry budget of one request (one page of a listing, one lifecycle call)."""

    max_attempts: int
    backoff_base: float
    backoff_cap: float
    #: Seconds of waiting between attempts, summed, beyond which the request gives up.
    max_wait: float


class TransportFailure(enum.Enum):
    """How an attempt failed without an HTTP answer; what matters is whether it was sent."""

    #: The connection was never made (refused, DNS, connect timeout): the server saw nothing.
    CONNECT_FAILED = "connect-failed"
    #: Sent, but no answer within the timeout: the server may have acted on it.
    TIMED_OUT = "timed-out"
    #: Anything else after connecting (reset, protocol error): the server may have acted on it.
    OTHER = "other"


#: An attempt's outcome: the HTTP status of the response, or how it failed without one.
Outcome = int | TransportFailure


@dataclass(frozen=True)
class WaitHints:
    """What the response said about waiting, already read by `_ratelimit` (seconds from now)."""

    #: `Retry-After`, honoured on 429 and server errors.
    retry_after: float | None = None
    #: Until `X-RateLimit-Reset`, honoured on 429 only: on a 5xx it says nothing about the error.
    reset_in: float | None = None


NO_HINTS = WaitHints()

#: The observer's names for why the client waits (see `ClientObserver.waiting`).
WaitReason = Literal["rate_limited", "server_error", "transport"]


@dataclass(frozen=True)
class Retry:
    """Send again after `delay` seconds."""

    delay: float
    #: What set the delay: "Retry-After", "X-RateLimit-Reset" or "backoff".
    source: str
    reason: WaitReason


@dataclass(frozen=True)
class GiveUp:
    """Stop and raise; `why` says which error the caller raises.

    - "final": a status no retry will change (400, 401, 403, 404, ...): translate the response;
    - "exhausted": retryable, but the attempts or the waiting budget are spent;
    - "not_repeatable": the request may have taken effect and is not safe to send again.
    """

    why: Literal["final", "exhausted", "not_repeatable"]
    #: On "exhausted" after a 429: the server's last wait hint in seconds, if it gave one.
    retry_after: float | None = None


@dataclass(frozen=True)
class Done:
    """A 2xx: the request succeeded."""


DONE = Done()


def _retryable_status(status: int) -> bool:
    return status == 429 or status == 408 or status >= 500


def _certainly_without_effect(outcome: Outcome) -> bool:
    # A 429 is a refusal before any work; a failed connect never reached the server.
    return outcome == 429 or outcome is TransportFailure.CONNECT_FAILED


def _server_hint(outcome: Outcome, hints: WaitHints) -> tuple[float, str] | None:
    if isinstance(outcome, TransportFailure):
        return None
    if hints.retry_after is not None:
        return hints.retry_after, "Retry-After"
    if outcome == 429 and hints.reset_in is not None and hints.reset_in > 0:
        return hints.reset_in, "X-RateLimit-Reset"
    return None


def next_step(
    policy: RetryPolicy,
    *,
    attempt: int,
    outcome: Outcome,
    waited: float,
    hints: WaitHints = NO_HINTS,
    jitter: float,
    repeatable: bool,
) -> Retry | GiveUp | Done:
    """What to do after attempt number `attempt` (from 1) ended with `outcome`.

    `waited` is the seconds already slept between earlier attempts of this request, `jitter` a
    number in [0, 1) from the caller's random source, and `repeatable` whether sending the
    request twice is known to be harmless. Reads are; the lifecycle POSTs are not known to be
    (API-NOTES §6.5), so they are repeated only after an outcome that certainly had no effect.

    A 429 waits as long as `Retry-After` or `X-RateLimit-Reset` says, a server error as long as
    `Retry-After` says; otherwise exponential backoff with full jitter. The request gives up
    when the next attempt would exceed `max_attempts` or the wait would exceed `max_wait`.
    """
    if isinstance(outcome, int):
        if 200 <= outcome < 300:
            return DONE
        if not _retryable_status(outcome):
            return GiveUp("final")
    if not repeatable and not _certainly_without_effect(outcome):
        return GiveUp("not_repeatable")

    hint = _server_hint(outcome, hints)
    if hint is not None:
        delay, source = hint
    else:
        delay = backoff_delay(
            attempt, base=policy.backoff_base, cap=policy.backoff_cap, jitter=jitter
        )
        source = "backoff"
    if attempt >= policy.max_attempts or waited + delay > policy.max_wait:
        return GiveUp("exhausted", retry_after=hint[0] if outcome == 429 and hint else None)

    reason: WaitReason
    if isinstance(outcome, TransportFailure):
        reason = "transport"
    elif outcome == 429:
        reason = "rate_limited"
    else:
        reason = "server_error"
    return Retry(delay, source, reason)
