"""The per-org budget of lifecycle calls: a rolling window one syncInterval long, oldest
request first; and the record of the day's calls that the brake on mass calls counts."""

from __future__ import annotations

import bisect
import contextlib
import heapq
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from atlassian_operator.core.brake import DAY_SECONDS


class SuspensionBudget:
    """At most `limit` lifecycle calls in any `window` seconds; requests beyond wait in order.

    Every call counts, whatever caused it. Times are plain seconds (monotonic clock), passed
    in so that the decisions stay testable without waiting. Waiting requests sit in a heap
    ordered by (time asked, key), withdrawn lazily, so that asking, withdrawing and taking the
    oldest each cost O(log n) however many calls wait.

    The calls themselves are kept for a day (or the window, if longer), each with whom it was
    for (the key) and whether a person approved it: the brake on mass calls (core/brake.py)
    counts the day's unapproved calls from the same record, by key, so that a refund or a
    restamp moves both counts at once and a call retried five times is one person, not five.
    """

    def __init__(self, limit: int, window: float, share: int | None = None) -> None:
        self.limit = limit
        self.window = window
        #: At most this many calls of tier 1 (the inactivity policy's) in any window; None:
        #: no bound beyond `limit`. Housekeeping never takes a whole window.
        self.share = share
        self._calls: list[tuple[float, bool, str]] = []  # (when, approved, key), oldest first
        self._tier1: list[tuple[float, str]] = []  # the calls of tier 1, oldest first
        self._since: dict[str, tuple[int, float]] = {}  # key -> its rank in line
        self._queue: list[tuple[int, float, str]] = []

    def resize(self, limit: int, window: float, share: int | None = None) -> None:
        self.limit, self.window, self.share = limit, window, share

    def _tier1_in_window(self, now: float) -> list[float]:
        horizon = now - self.window
        return [t for t, _ in self._tier1 if t > horizon]

    def within_share(self, key: str, now: float) -> bool:
        """Whether `key` may take a slot as far as its tier's share goes (tier 0: always)."""
        rank = self._since.get(key)
        if rank is None or rank[0] == 0 or self.share is None:
            return True
        return len(self._tier1_in_window(now)) < self.share

    def share_spent(self, now: float) -> int:
        """Calls of tier 1 in the current window."""
        return len(self._tier1_in_window(now))

    def _expire(self, now: float) -> None:
        horizon = now - max(self.window, DAY_SECONDS)
        if self._calls and self._calls[0][0] <= horizon:
            del self._calls[: bisect.bisect_right(self._calls, (horizon, _AFTER))]

    def _since_index(self, at: float, now: float) -> int:
        """The first call made after `at`."""
        self._expire(now)
        return bisect.bisect_right(self._calls, (at, _AFTER))

    def available(self, now: float) -> int:
        return max(0, self.limit - self.spent(now))

    def spent(self, now: float) -> int:
        return len(self._calls) - self._since_index(now - self.window, now)

    def spent_at(self, now: float) -> list[float]:
        """When the calls of the current window were made, oldest first."""
        return [t for t, _, _ in self._calls[self._since_index(now - self.window, now) :]]

    def kept(self, now: float) -> list[tuple[float, bool, str | None]]:
        """Every call of the last day (or window): when, whether a person approved it, and
        for whom (None: a restored call whose account no record named)."""
        self._expire(now)
        return [(t, approved, _named(key)) for t, approved, key in self._calls]

    def unapproved_today(self, now: float) -> set[str]:
        """Whom the calls of the last day that no approval covered were for: what the brake's
        threshold counts."""
        start = self._since_index(now - DAY_SECONDS, now)
        return {key for _, approved, key in self._calls[start:] if not approved}

    def approved_since(self, at: float, now: float) -> int:
        """For how many calls were made under an approval since `at`: what an approval
        accepted then has used."""
        self._expire(now)
        start = bisect.bisect_left(self._calls, (at,))  # a call made at `at` counts
        return len({key for _, approved, key in self._calls[start:] if approved})

    def waiting_besides(self, keys: set[str]) -> int:
        """How many wait in line that are not among `keys`."""
        return len(self._since) - sum(1 for k in keys if k in self._since)

    def ask(self, key: str, now: float, *, tier: int = 0, order: float | None = None) -> None:
        """`key` wants to make a lifecycle call; it keeps its first place in line until it goes.

        The line is ordered by `tier` (0 goes before 1), then by `order` (the time asked, by
        default), then by key.
        """
        if key not in self._since:
            rank = (tier, now if order is None else order)
            self._since[key] = rank
            heapq.heappush(self._queue, (*rank, key))

    def withdraw(self, key: str) -> None:
        """The request no longer stands (spec changed, account gone, already suspended)."""
        self._since.pop(key, None)  # its heap entry is dropped when it reaches the top
        if len(self._queue) > 2 * len(self._since) + 64:
            # Withdrawn entries stuck behind a head that cannot go: rebuild, amortised O(1).
            self._queue = [(*rank, k) for k, rank in self._since.items()]
            heapq.heapify(self._queue)

    def waiting(self, key: str) -> bool:
        return key in self._since

    def __len__(self) -> int:
        return len(self._since)

    def next_in_line(self) -> str | None:
        """The oldest request still standing, without taking it."""
        while self._queue:
            tier, order, key = self._queue[0]
            if self._since.get(key) == (tier, order):
                return key
            heapq.heappop(self._queue)
        return None

    def spend(self, key: str, now: float, *, approved: bool = False) -> None:
        """A call is made for `key` now: it leaves the line and uses a slot."""
        bisect.insort(self._calls, (now, approved, key))
        rank = self._since.get(key)
        if rank is not None and rank[0] >= 1:
            bisect.insort(self._tier1, (now, key))
            horizon = now - max(self.window, DAY_SECONDS)
            self._tier1 = [c for c in self._tier1 if c[0] > horizon]
        self.withdraw(key)

    def refund(self, key: str, at: float, *, approved: bool = False) -> bool:
        """The slot `key` took at `at` was not used: Atlassian refused before any call.
        Returns whether that call was of tier 1."""
        with contextlib.suppress(ValueError):  # it has left the record already
            self._calls.remove((at, approved, key))
        try:
            self._tier1.remove((at, key))
        except ValueError:
            return False
        return True

    def restamp(self, key: str, at: float, now: float, *, approved: bool = False) -> None:
        """The call that took the slot at `at` is sent now: the window counts it from now, so
        that calls whose record took long to store never crowd into one window."""
        if self.refund(key, at, approved=approved):
            bisect.insort(self._tier1, (now, key))
        bisect.insort(self._calls, (now, approved, key))

    def restore(
        self, spent: Iterable[tuple[float, str | None]], now: float, *, approved: int = 0
    ) -> None:
        """Calls recorded elsewhere (before a restart, or by an object since re-created), so
        that neither refills the window nor the brake's day. The durable record keeps one or
        two calls per account, the memory of this process every call: whichever counts more
        stands. `approved`: how many of them a person approved, taken to be the latest (so
        that an approval restored is used up no later than it was). A call whose account no
        record names counts as another account of its own."""
        self._expire(now)
        horizon = now - max(self.window, DAY_SECONDS)
        # By time only: two calls of one second, one whose account no record names, compare
        # a name with None.
        restored = sorted(((t, key) for t, key in spent if t > horizon), key=lambda c: c[0])
        if len(restored) > len(self._calls):
            cut = len(restored) - min(approved, len(restored))
            self._calls = [
                (t, i >= cut, key or f"{_UNNAMED}{i}") for i, (t, key) in enumerate(restored)
            ]

    def next_slot(self, now: float) -> float | None:
        """When a waiting request can next go, or None when nothing waits."""
        if not self._since or self.limit <= 0:
            return None
        slot = now
        if self.available(now) > 0 and (self.share is None or not self._tier1):
            return now
        if self.available(now) <= 0:
            # After a resize below what the window already spent, several calls must expire
            # first.
            in_window = self.spent_at(now)
            slot = in_window[len(in_window) - self.limit] + self.window
        head = self.next_in_line()
        if head is not None and not self.within_share(head, now):
            # Only tier 1 waits (tier 0 goes first): its share frees up as its calls expire.
            if self.share is not None and self.share <= 0:
                return None
            shared = self._tier1_in_window(now)
            slot = max(slot, shared[len(shared) - (self.share or 0)] + self.window)
        return slot


class Backlog(StrEnum):
    """Why an org's lifecycle calls wait in line, when some do."""

    BUDGET = "budget"  # maxPerSync is used up: they go in turn as the window moves
    PAUSED = "paused"  # the brake on mass calls holds them until a person approves


def backlog_of(waiting: int, *, paused: bool) -> Backlog | None:
    """The org's backlog now: what its log says once when it starts, changes or clears."""
    if waiting <= 0:
        return None
    return Backlog.PAUSED if paused else Backlog.BUDGET


_UNNAMED = " restored "  # the key of a restored call whose account no record names


def _named(key: str) -> str | None:
    return None if key.startswith(_UNNAMED) else key


_AFTER = 2  # sorts after both flags of calls made at the same time: (t, _AFTER) > (t, True, k)


def recorded_calls(
    org: Iterable[datetime], accounts: Iterable[tuple[datetime, str]]
) -> list[tuple[datetime, str | None]]:
    """The calls two durable records show, each once, with the account each was for where an
    account's record shows it (None: only the org's record has it): the org's `status.budget`
    (when each call was sent) and the accounts' `lastAction` / `pendingAction` (when it was
    answered, or recorded). An account's time is the same call as the latest org time not after
    it that no other account's time has taken; an account's time that matches none is a call
    the org's record lacks (made by an AtlassianOrg object since re-created, or whose org write
    was lost). Whom a call was for matters to the brake, which counts accounts, not calls.
    """
    calls: list[tuple[datetime, str | None]] = [(t, None) for t in sorted(org)]
    extra = []
    for t, key in sorted(accounts, reverse=True):
        match = next(
            (i for i in range(len(calls) - 1, -1, -1) if calls[i][1] is None and calls[i][0] <= t),
            None,
        )
        if match is None:
            extra.append((t, key))
        else:
            calls[match] = (calls[match][0], key)
    return sorted([*calls, *extra], key=lambda call: call[0])
