"""The per-org suspension budget: a rolling window one syncInterval long, oldest request first."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class SuspensionBudget:
    """At most `limit` disable calls in any `window` seconds; requests beyond wait in order.

    Every disable call counts, whatever caused it. Times are plain seconds (monotonic clock),
    passed in so that the decisions stay testable without waiting.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._spent: deque[float] = deque()
        self._waiting: dict[str, float] = {}

    def resize(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window

    def _expire(self, now: float) -> None:
        while self._spent and self._spent[0] <= now - self.window:
            self._spent.popleft()

    def available(self, now: float) -> int:
        self._expire(now)
        return max(0, self.limit - len(self._spent))

    def request(self, key: str, now: float) -> bool:
        """True when `key` may make its call now; otherwise it keeps its place in the queue."""
        self._waiting.setdefault(key, now)
        free = self.available(now)
        ahead = sorted(self._waiting.items(), key=lambda item: (item[1], item[0]))[:free]
        return any(k == key for k, _ in ahead)

    def restore(self, spent: Iterable[float], now: float) -> None:
        """Calls made before a restart, so that a restart never refills the window."""
        self._spent = deque(sorted(t for t in spent if t > now - self.window))

    def spend(self, key: str, now: float) -> None:
        self._spent.append(now)
        self._waiting.pop(key, None)

    def withdraw(self, key: str) -> None:
        """The request no longer stands (spec changed, account gone, already suspended)."""
        self._waiting.pop(key, None)

    @property
    def waiting(self) -> list[str]:
        return [k for k, _ in sorted(self._waiting.items(), key=lambda item: (item[1], item[0]))]

    def spent(self, now: float) -> int:
        self._expire(now)
        return len(self._spent)

    def next_slot(self, now: float) -> float | None:
        """When a waiting request can next go, or None when nothing waits."""
        if not self._waiting or self.limit <= 0:
            return None
        if self.available(now) > 0:
            return now
        # After a resize below what the window already spent, several calls must expire first.
        return self._spent[len(self._spent) - self.limit] + self.window
