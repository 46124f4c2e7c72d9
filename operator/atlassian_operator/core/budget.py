"""The per-org suspension budget: a rolling window one syncInterval long, oldest request first."""

from __future__ import annotations

import contextlib
import heapq
from collections import deque
from collections.abc import Iterable
from datetime import datetime


class SuspensionBudget:
    """At most `limit` disable calls in any `window` seconds; requests beyond wait in order.

    Every disable call counts, whatever caused it. Times are plain seconds (monotonic clock),
    passed in so that the decisions stay testable without waiting. Waiting requests sit in a
    heap ordered by (time asked, key), withdrawn lazily, so that asking, withdrawing and taking
    the oldest each cost O(log n) however many suspensions wait.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._spent: deque[float] = deque()
        self._since: dict[str, tuple[int, float]] = {}  # key -> its rank in line
        self._queue: list[tuple[int, float, str]] = []

    def resize(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window

    def _expire(self, now: float) -> None:
        while self._spent and self._spent[0] <= now - self.window:
            self._spent.popleft()

    def available(self, now: float) -> int:
        self._expire(now)
        return max(0, self.limit - len(self._spent))

    def spent(self, now: float) -> int:
        self._expire(now)
        return len(self._spent)

    def spent_at(self, now: float) -> list[float]:
        """When the calls of the current window were made, oldest first."""
        self._expire(now)
        return list(self._spent)

    def ask(self, key: str, now: float, *, tier: int = 0, order: float | None = None) -> None:
        """`key` wants to make a disable call; it keeps its first place in line until it goes.

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

    def spend(self, key: str, now: float) -> None:
        """A disable call is made for `key` now: it leaves the line and uses a slot."""
        self._spent.append(now)
        self.withdraw(key)

    def refund(self, at: float) -> None:
        """The slot taken at `at` was not used: Atlassian refused before any disable call."""
        with contextlib.suppress(ValueError):  # it has left the window already
            self._spent.remove(at)

    def restamp(self, at: float, now: float) -> None:
        """The call that took the slot at `at` is sent now: the window counts it from now, so
        that calls whose record took long to store never crowd into one window."""
        with contextlib.suppress(ValueError):
            self._spent.remove(at)
        self._spent.append(now)
        if len(self._spent) > 1 and self._spent[-2] > now:
            self._spent = deque(sorted(self._spent))

    def restore(self, spent: Iterable[float], now: float) -> None:
        """Calls recorded elsewhere (before a restart, or by an object since re-created), so
        that neither refills the window. The durable record keeps one or two calls per account,
        the memory of this process every call: whichever counts more in the window stands."""
        restored = deque(sorted(t for t in spent if t > now - self.window))
        self._expire(now)
        if len(restored) > len(self._spent):
            self._spent = restored

    def next_slot(self, now: float) -> float | None:
        """When a waiting request can next go, or None when nothing waits."""
        if not self._since or self.limit <= 0:
            return None
        if self.available(now) > 0:
            return now
        # After a resize below what the window already spent, several calls must expire first.
        return self._spent[len(self._spent) - self.limit] + self.window


def recorded_calls(org: Iterable[datetime], accounts: Iterable[datetime]) -> list[datetime]:
    """The calls two durable records show, each once: the org's `status.budget` (when each call
    was granted) and the accounts' `lastAction` / `pendingAction` (when it was answered, or
    granted). An account's time is the same call as the latest org time not after it that no
    other account's time has taken; an account's time that matches none is a call the org's
    record lacks (made by an AtlassianOrg object since re-created, or whose org write was lost).
    """
    unmatched = sorted(org)
    extra = []
    for t in sorted(accounts, reverse=True):
        match = next((i for i in range(len(unmatched) - 1, -1, -1) if unmatched[i] <= t), None)
        if match is None:
            extra.append(t)
        else:
            del unmatched[match]
    return sorted([*org, *extra])
