"""A fixed-window request budget with the X-RateLimit-* headers the admin APIs document."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

Signal = Literal["retry-after", "reset", "none"]
SIGNALS: tuple[str, ...] = get_args(Signal)

# Windows are fixed and aligned to multiples of their length since the Unix epoch, so the
# default 60 s windows are wall-clock minutes and X-RateLimit-Reset, whose documented format
# (yyyy-MM-ddTHH:mmZ) has minute precision, names the reset exactly. Shorter windows (for fast
# tests) cannot be expressed in that format: the header is then rounded UP to the next minute,
# so it is never earlier than the real reset (a client that waits for it is safe, only slow).
# Retry-After, in whole seconds rounded up, is exact for every window length.


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    headers: dict[str, str]


class RateLimiter:
    def __init__(
        self,
        per_window: int | None,
        signal: Signal,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if per_window is not None and per_window < 1:
            raise ValueError("the limit must be at least 1 request per window")
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        self.per_window = per_window
        self.signal = signal
        self.window_seconds = window_seconds
        self._clock = clock
        self._window = -1
        self._used = 0

    def settings(self) -> dict[str, Any]:
        return {
            "per_minute": self.per_window,
            "signal": self.signal,
            "window_seconds": self.window_seconds,
        }

    def admit(self) -> RateDecision:
        """Counts one API request; requests refused with 429 do not use up the budget."""
        if self.per_window is None:
            return RateDecision(True, {})
        now = self._clock()
        window = math.floor(now / self.window_seconds)
        if window != self._window:
            self._window, self._used = window, 0
        allowed = self._used < self.per_window
        if allowed:
            self._used += 1
        reset_at = (window + 1) * self.window_seconds
        headers = {
            "X-RateLimit-Limit": str(self.per_window),
            "X-RateLimit-Remaining": str(self.per_window - self._used),
        }
        if self.signal != "none":
            headers["X-RateLimit-Reset"] = _minute_ceiling(reset_at)
        if not allowed and self.signal == "retry-after":
            headers["Retry-After"] = str(max(1, math.ceil(reset_at - now)))
        return RateDecision(allowed, headers)


def _minute_ceiling(epoch_seconds: float) -> str:
    minute = math.ceil(epoch_seconds / 60) * 60
    return datetime.fromtimestamp(minute, UTC).strftime("%Y-%m-%dT%H:%MZ")
