"""One running simulation: its settings, org state, rate limiter, faults and request log."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from atlassian_operator.simulator.faults import FaultBook
from atlassian_operator.simulator.ratelimit import RateLimiter, Signal
from atlassian_operator.simulator.state import OrgState

# Long demos must not grow without bound; tests read far fewer entries than this.
_MAX_LOGGED_REQUESTS = 100_000


@dataclass(frozen=True)
class SimulatorConfig:
    org_id: str
    api_key: str
    users: int = 100
    seed: int = 1
    page_size: int = 100
    scim_every: int = 25
    admins: int = 0
    unmanaged: int = 0
    rate_limit_per_minute: int | None = None
    rate_limit_signal: Signal = "retry-after"
    rate_limit_window_seconds: float = 60.0


class RequestLog:
    """What the API routes were asked and answered; never headers, so never the key."""

    def __init__(self) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=_MAX_LOGGED_REQUESTS)
        self._seq = 0

    def record(self, **fields: Any) -> dict[str, Any]:
        self._seq += 1
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        entry = {"seq": self._seq, "time": now, **fields}
        self._entries.append(entry)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()


class Simulation:
    def __init__(self, config: SimulatorConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self._base_url = ""
        self.reset()

    def reset(self) -> None:
        """Back to the state the command line describes, as if just started."""
        config = self.config
        self.org = OrgState(
            org_id=config.org_id,
            users=config.users,
            seed=config.seed,
            page_size=config.page_size,
            scim_every=config.scim_every,
            admins=config.admins,
            unmanaged=config.unmanaged,
        )
        self.org.base_url = self._base_url
        self.limiter = RateLimiter(
            config.rate_limit_per_minute,
            config.rate_limit_signal,
            config.rate_limit_window_seconds,
            self.clock,
        )
        self.faults = FaultBook()
        self.requests = RequestLog()

    @property
    def base_url(self) -> str:
        return self._base_url

    @base_url.setter
    def base_url(self, url: str) -> None:
        self._base_url = url
        self.org.base_url = url

    def describe(self) -> dict[str, Any]:
        return {
            "org_id": self.config.org_id,
            "directory_id": self.org.directory_id,
            "users": len(self.org),
            "page_size": self.org.page_size,
            "rate_limit": self.limiter.settings(),
            "faults": self.faults.pending(),
            "base_url": self._base_url,
        }
