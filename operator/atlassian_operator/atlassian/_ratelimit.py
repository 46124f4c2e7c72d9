"""How long to wait before the next request: rate-limit headers, backoff and pacing, all pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "Pacer",
    "RateLimitHeaders",
    "backoff_delay",
    "parse_rate_limit_headers",
    "parse_reset",
    "parse_retry_after",
    "server_wait_hint",
]

# Below this many epoch seconds a bare number cannot be an absolute reset time (it is 2001).
_EPOCH_FLOOR = 1_000_000_000


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date), or None.

    A date already in the past is treated as absent rather than as "retry now": it most likely
    means our clock and the server's disagree, and the other signals are then better guides.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - now).total_seconds()
    return delta if delta > 0 else None


def parse_reset(value: str | None) -> datetime | None:
    """The absolute time of an `X-RateLimit-Reset` header, aware UTC, or None if unreadable.

    Atlassian documents "ISO 8601 - Date and time in UTC"; the Jira docs show minute precision
    (`yyyy-MM-ddTHH:mmZ`). RFC 3339 and that form are read, a zone-less time is taken as UTC, and
    a large bare number is taken as epoch seconds (other APIs' habit, cheap to accept).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(number) and number >= _EPOCH_FLOOR:
            return datetime.fromtimestamp(number, tz=UTC)
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def server_wait_hint(
    retry_after: str | None, reset: str | None, *, now: datetime
) -> tuple[float, str] | None:
    """The server's own answer to "how long until I may retry", and which header said so.

    `Retry-After` wins; then `X-RateLimit-Reset` if it lies in the future. None means the server
    gave no usable signal and the caller falls back to exponential backoff.
    """
    seconds = parse_retry_after(retry_after, now=now)
    if seconds is not None:
        return seconds, "Retry-After"
    reset_at = parse_reset(reset)
    if reset_at is not None:
        until = (reset_at - now).total_seconds()
        if until > 0:
            return until, "X-RateLimit-Reset"
    return None


def backoff_delay(retry: int, *, base: float, cap: float, jitter: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**(retry - 1))).

    `retry` counts from 1; `jitter` is a number in [0, 1) from the caller's random source, so
    the function stays pure. Full jitter spreads clients that failed together (AWS architecture
    blog, "Exponential Backoff And Jitter").
    """
    if retry < 1:
        raise ValueError(f"retry counts from 1, got {retry}")
    # min() before the power would overflow for large retry numbers.
    ceiling = cap if retry > 64 else min(cap, base * 2 ** (retry - 1))
    return max(0.0, ceiling * min(max(jitter, 0.0), 1.0))


@dataclass(frozen=True)
class RateLimitHeaders:
    """The `X-RateLimit-*` headers of one response; None where a header is missing or bad."""

    limit: int | None
    remaining: int | None
    reset: datetime | None


def _parse_count(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        count = int(value.strip())
    except ValueError:
        return None
    return count if count >= 0 else None


def parse_rate_limit_headers(
    limit: str | None, remaining: str | None, reset: str | None
) -> RateLimitHeaders:
    return RateLimitHeaders(
        limit=_parse_count(limit), remaining=_parse_count(remaining), reset=parse_reset(reset)
    )


class Pacer:
    """Spreads the last few requests of a rate-limit window over the time left in it.

    Atlassian publishes no numbers, only `X-RateLimit-Remaining` and `-Reset` on each response.
    While plenty remain we send at once; when the remaining count is low we space the remaining
    requests evenly until the reset, and with none left we wait for the reset, instead of
    bursting into 429s. Times are monotonic seconds supplied by the caller, so this stays pure.
    """

    def __init__(self, *, low_fraction: float = 0.1) -> None:
        self._low_fraction = low_fraction
        self._remaining: int | None = None
        self._low: int = 1
        self._reset_at: float | None = None
        self._next_slot: float = 0.0
        self._blocked_until: float = 0.0

    def observe(self, headers: RateLimitHeaders, *, reset_in: float | None, now: float) -> None:
        """Take in what a response said; `reset_in` is the seconds from now to its reset."""
        if headers.remaining is None or reset_in is None or reset_in <= 0:
            return
        self._remaining = headers.remaining
        self._reset_at = now + reset_in
        if headers.limit:
            self._low = max(1, math.ceil(headers.limit * self._low_fraction))
        if headers.remaining > self._low:
            # Plenty again (a new window): forget the spacing of the old one.
            self._next_slot = 0.0

    def block(self, *, until: float) -> None:
        """Hold every request until `until`, e.g. because one of them was told to back off."""
        self._blocked_until = max(self._blocked_until, until)

    def reserve(self, *, now: float) -> float:
        """Claim the next send slot; returns how many seconds to wait before sending."""
        start = max(now, self._blocked_until)
        reset_at, remaining = self._reset_at, self._remaining
        if reset_at is None or remaining is None or start >= reset_at:
            # Nothing known about the current window: send (and learn from the answer).
            self._reset_at = self._remaining = None
            return start - now
        if remaining > self._low:
            self._remaining = remaining - 1
            return start - now
        if remaining <= 0:
            # The window is spent; everyone waits for the reset, after which it is unknown.
            return reset_at - now
        start = max(start, self._next_slot)
        self._next_slot = start + (reset_at - start) / remaining
        self._remaining = remaining - 1
        return start - now
