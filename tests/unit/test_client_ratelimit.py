"""Waiting before retries: rate-limit headers, exponential backoff with jitter, and pacing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atlassian_operator.atlassian._ratelimit import (
    Pacer,
    RateLimitHeaders,
    backoff_delay,
    parse_rate_limit_headers,
    parse_reset,
    parse_retry_after,
    server_wait_hint,
)

NOW = datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("1.5", 1.5),
        (" 0 ", 0.0),
        ("Wed, 01 May 2024 10:01:00 GMT", 30.0),
        ("Wed, 01 May 2024 10:00:00 GMT", None),  # in the past: clock skew, not "retry now"
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
    ids=[
        "seconds",
        "fraction",
        "zero",
        "http-date",
        "past-date",
        "negative",
        "garbage",
        "empty",
        "absent",
    ],
)
def test_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2024-05-01T10:01:00Z", datetime(2024, 5, 1, 10, 1, tzinfo=UTC)),
        ("2024-05-01T10:01:00.500Z", datetime(2024, 5, 1, 10, 1, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T12:01:00+02:00", datetime(2024, 5, 1, 10, 1, tzinfo=UTC)),
        ("2024-05-01T10:01Z", datetime(2024, 5, 1, 10, 1, tzinfo=UTC)),  # Jira's documented form
        ("2024-05-01T10:01:00", datetime(2024, 5, 1, 10, 1, tzinfo=UTC)),
        ("1714557660", datetime(2024, 5, 1, 10, 1, tzinfo=UTC)),
        ("60", None),  # a small number is not an absolute time
        ("next tuesday", None),
        ("", None),
        (None, None),
    ],
    ids=[
        "rfc3339",
        "fraction",
        "offset",
        "minute-precision",
        "naive",
        "epoch",
        "small-number",
        "garbage",
        "empty",
        "absent",
    ],
)
def test_reset(header: str | None, expected: datetime | None) -> None:
    assert parse_reset(header) == expected


@pytest.mark.parametrize(
    ("retry_after", "reset", "expected"),
    [
        ("7", "2024-05-01T10:01Z", (7.0, "Retry-After")),
        (None, "2024-05-01T10:01Z", (30.0, "X-RateLimit-Reset")),
        ("garbage", "2024-05-01T10:01Z", (30.0, "X-RateLimit-Reset")),
        (None, "2024-05-01T10:00Z", None),  # a reset in the past falls through to backoff
        (None, "garbage", None),
        (None, None, None),
    ],
    ids=["retry-after-wins", "reset", "bad-retry-after", "past-reset", "bad-reset", "none"],
)
def test_server_wait_hint(
    retry_after: str | None, reset: str | None, expected: tuple[float, str] | None
) -> None:
    assert server_wait_hint(retry_after, reset, now=NOW) == expected


def test_backoff_doubles_from_base_up_to_cap_with_full_jitter() -> None:
    ceilings = [backoff_delay(n, base=0.5, cap=4.0, jitter=1.0) for n in range(1, 7)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff_delay(3, base=0.5, cap=4.0, jitter=0.0) == 0.0
    assert backoff_delay(3, base=0.5, cap=4.0, jitter=0.25) == 0.5


def test_backoff_survives_huge_retry_numbers_and_refuses_zero() -> None:
    assert backoff_delay(10_000, base=0.5, cap=60.0, jitter=0.5) == 30.0
    with pytest.raises(ValueError, match="counts from 1"):
        backoff_delay(0, base=0.5, cap=60.0, jitter=0.5)


def test_rate_limit_headers_tolerate_garbage() -> None:
    assert parse_rate_limit_headers("100", "7", "2024-05-01T10:01Z") == RateLimitHeaders(
        limit=100, remaining=7, reset=datetime(2024, 5, 1, 10, 1, tzinfo=UTC)
    )
    assert parse_rate_limit_headers("lots", "-1", None) == RateLimitHeaders(None, None, None)


def headers(remaining: int, limit: int | None = 100) -> RateLimitHeaders:
    return RateLimitHeaders(limit=limit, remaining=remaining, reset=NOW + timedelta(seconds=10))


def test_pacer_sends_at_once_when_nothing_is_known_or_plenty_remain() -> None:
    pacer = Pacer()
    assert pacer.reserve(now=0.0) == 0.0
    pacer.observe(headers(remaining=50), reset_in=10.0, now=0.0)
    assert [pacer.reserve(now=0.0) for _ in range(5)] == [0.0] * 5


def test_pacer_spreads_the_last_requests_of_a_window_until_its_reset() -> None:
    pacer = Pacer()
    # 4 left of 100 (below the 10 % mark) with 8 s to the reset: one every 2 s, then the reset.
    pacer.observe(headers(remaining=4), reset_in=8.0, now=0.0)

    waits = [pacer.reserve(now=0.0) for _ in range(5)]

    assert waits == [0.0, 2.0, 4.0, 6.0, 8.0]


def test_pacer_waits_for_the_reset_when_the_window_is_spent_and_forgets_it_afterwards() -> None:
    pacer = Pacer()
    pacer.observe(headers(remaining=0, limit=None), reset_in=3.0, now=10.0)

    assert pacer.reserve(now=10.0) == 3.0
    assert pacer.reserve(now=12.0) == 1.0
    assert pacer.reserve(now=13.5) == 0.0  # past the reset: a new window, unknown until told
    assert pacer.reserve(now=13.5) == 0.0


def test_pacer_ignores_responses_without_a_future_reset() -> None:
    pacer = Pacer()
    pacer.observe(headers(remaining=0), reset_in=None, now=0.0)
    pacer.observe(headers(remaining=0), reset_in=-1.0, now=0.0)
    assert pacer.reserve(now=0.0) == 0.0


def test_pacer_holds_everyone_while_blocked() -> None:
    pacer = Pacer()
    pacer.block(until=5.0)
    assert pacer.reserve(now=1.0) == 4.0
    assert pacer.reserve(now=6.0) == 0.0
