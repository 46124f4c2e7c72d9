"""The retry policy: what follows each outcome of an attempt, for reads and for lifecycle calls."""

from __future__ import annotations

import pytest

from atlassian_operator.atlassian._retry import (
    DONE,
    Done,
    GiveUp,
    Outcome,
    Retry,
    RetryPolicy,
    TransportFailure,
    WaitHints,
    next_step,
)

POLICY = RetryPolicy(max_attempts=4, backoff_base=0.5, backoff_cap=4.0, max_wait=60.0)
CONNECT, TIMEOUT, OTHER = (
    TransportFailure.CONNECT_FAILED,
    TransportFailure.TIMED_OUT,
    TransportFailure.OTHER,
)


def step(
    outcome: Outcome,
    *,
    attempt: int = 1,
    waited: float = 0.0,
    hints: WaitHints | None = None,
    jitter: float = 0.5,
    repeatable: bool = True,
    policy: RetryPolicy = POLICY,
) -> Retry | GiveUp | Done:
    return next_step(
        policy,
        attempt=attempt,
        outcome=outcome,
        waited=waited,
        hints=hints or WaitHints(),
        jitter=jitter,
        repeatable=repeatable,
    )


# -- what ends a request at once ----------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 204, 299])
@pytest.mark.parametrize("repeatable", [True, False], ids=["read", "lifecycle"])
def test_a_2xx_is_done(status: int, repeatable: bool) -> None:
    assert step(status, repeatable=repeatable) is DONE


@pytest.mark.parametrize("status", [301, 400, 401, 403, 404, 409, 415])
@pytest.mark.parametrize("repeatable", [True, False], ids=["read", "lifecycle"])
def test_a_status_no_retry_changes_is_final(status: int, repeatable: bool) -> None:
    hints = WaitHints(retry_after=5.0)
    assert step(status, hints=hints, repeatable=repeatable) == GiveUp("final")


# -- reads: retried with the server's hint or backoff -------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "hints", "expected"),
    [
        (429, WaitHints(retry_after=7.0), Retry(7.0, "Retry-After", "rate_limited")),
        (429, WaitHints(reset_in=20.0), Retry(20.0, "X-RateLimit-Reset", "rate_limited")),
        (
            429,
            WaitHints(retry_after=3.0, reset_in=20.0),
            Retry(3.0, "Retry-After", "rate_limited"),
        ),
        # A reset in the past (clocks apart) is no signal: backoff, 0.5 * 0.5.
        (429, WaitHints(reset_in=-5.0), Retry(0.25, "backoff", "rate_limited")),
        (429, WaitHints(), Retry(0.25, "backoff", "rate_limited")),
        (503, WaitHints(retry_after=2.0), Retry(2.0, "Retry-After", "server_error")),
        # The rate-limit reset says nothing about a server error.
        (500, WaitHints(reset_in=20.0), Retry(0.25, "backoff", "server_error")),
        (408, WaitHints(), Retry(0.25, "backoff", "server_error")),
        (CONNECT, WaitHints(), Retry(0.25, "backoff", "transport")),
        (TIMEOUT, WaitHints(), Retry(0.25, "backoff", "transport")),
        (OTHER, WaitHints(retry_after=9.0), Retry(0.25, "backoff", "transport")),
    ],
    ids=[
        "429-retry-after",
        "429-reset",
        "429-retry-after-wins",
        "429-reset-past",
        "429-no-signal",
        "503-retry-after",
        "500-ignores-reset",
        "408",
        "connect-failed",
        "timed-out",
        "other-transport",
    ],
)
def test_a_read_is_retried(outcome: Outcome, hints: WaitHints, expected: Retry) -> None:
    assert step(outcome, hints=hints) == expected


@pytest.mark.parametrize(
    ("attempt", "jitter", "delay"),
    [(1, 0.5, 0.25), (2, 0.5, 0.5), (3, 0.5, 1.0), (3, 0.0, 0.0)],
)
def test_backoff_doubles_per_attempt_with_full_jitter(
    attempt: int, jitter: float, delay: float
) -> None:
    assert step(500, attempt=attempt, jitter=jitter) == Retry(delay, "backoff", "server_error")


def test_backoff_stops_at_the_cap() -> None:
    policy = RetryPolicy(max_attempts=20, backoff_base=0.5, backoff_cap=4.0, max_wait=600.0)
    result = step(500, attempt=10, jitter=0.999, policy=policy)
    assert isinstance(result, Retry)
    assert result.delay == pytest.approx(3.996)


# -- the budget ---------------------------------------------------------------------------------


def test_the_last_attempt_gives_up_with_the_servers_hint_on_429() -> None:
    hints = WaitHints(retry_after=2.0)
    assert step(429, attempt=4, hints=hints) == GiveUp("exhausted", retry_after=2.0)
    assert step(429, attempt=4) == GiveUp("exhausted", retry_after=None)


def test_the_last_attempt_gives_up_without_a_hint_on_server_errors() -> None:
    assert step(503, attempt=4, hints=WaitHints(retry_after=2.0)) == GiveUp("exhausted")
    assert step(TIMEOUT, attempt=4) == GiveUp("exhausted")


def test_a_wait_beyond_the_budget_gives_up_at_once() -> None:
    hints = WaitHints(retry_after=3600.0)
    assert step(429, hints=hints) == GiveUp("exhausted", retry_after=3600.0)


def test_the_waiting_budget_counts_what_was_waited_already() -> None:
    hints = WaitHints(retry_after=10.0)
    assert step(429, waited=50.0, hints=hints) == Retry(10.0, "Retry-After", "rate_limited")
    assert step(429, waited=50.1, hints=hints) == GiveUp("exhausted", retry_after=10.0)


def test_one_attempt_means_no_retry() -> None:
    policy = RetryPolicy(max_attempts=1, backoff_base=0.5, backoff_cap=4.0, max_wait=60.0)
    assert step(CONNECT, policy=policy) == GiveUp("exhausted")


# -- lifecycle calls: repeated only when they certainly had no effect ---------------------------


@pytest.mark.parametrize(
    "outcome",
    [500, 502, 503, 504, 408, TIMEOUT, OTHER],
    ids=["500", "502", "503", "504", "408", "timed-out", "other-transport"],
)
def test_a_lifecycle_call_that_may_have_landed_is_not_repeated(outcome: Outcome) -> None:
    hints = WaitHints(retry_after=1.0)
    assert step(outcome, hints=hints, repeatable=False) == GiveUp("not_repeatable")


@pytest.mark.parametrize(
    ("outcome", "hints", "expected"),
    [
        (429, WaitHints(retry_after=7.0), Retry(7.0, "Retry-After", "rate_limited")),
        (429, WaitHints(), Retry(0.25, "backoff", "rate_limited")),
        (CONNECT, WaitHints(), Retry(0.25, "backoff", "transport")),
    ],
    ids=["429-retry-after", "429-backoff", "connect-failed"],
)
def test_a_lifecycle_call_that_certainly_did_not_land_is_repeated(
    outcome: Outcome, hints: WaitHints, expected: Retry
) -> None:
    assert step(outcome, hints=hints, repeatable=False) == expected


def test_a_lifecycle_call_refused_to_the_end_is_rate_limited_not_unknown() -> None:
    hints = WaitHints(retry_after=2.0)
    assert step(429, attempt=4, hints=hints, repeatable=False) == GiveUp(
        "exhausted", retry_after=2.0
    )
    assert step(CONNECT, attempt=4, repeatable=False) == GiveUp("exhausted")
