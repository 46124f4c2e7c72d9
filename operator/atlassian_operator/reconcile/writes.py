"""Status writes of one org's objects: coalesced per object, at most one in flight for each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from atlassian_operator.core.conditions import with_progress
from atlassian_operator.core.mapping import timestamp
from atlassian_operator.core.resources import ObjectRef
from atlassian_operator.core.status import status_patch


@dataclass(frozen=True)
class Write:
    key: str
    ref: ObjectRef
    desired: dict[str, Any]


class StatusWrites:
    """The statuses the owner wants stored, like a controller's workqueue keyed by object.

    A newer desired status replaces one not yet written; an object never has two writes in
    flight, so writes of one object land in the order they were decided.
    """

    def __init__(self) -> None:
        self._pending: dict[str, Write] = {}
        self._in_flight: dict[str, Write] = {}

    def latest(self, key: str) -> dict[str, Any] | None:
        """The newest status decided for `key` and not yet known to be stored."""
        write = self._pending.get(key) or self._in_flight.get(key)
        return write.desired if write else None

    def want(
        self, key: str, ref: ObjectRef, desired: dict[str, Any], stored: Mapping[str, Any]
    ) -> None:
        """Store `desired` (with its Reconciling and Stalled, derived here for every status)."""
        latest = self.latest(key)
        now = timestamp(datetime.now(UTC)) or ""
        desired = with_progress(desired, stored if latest is None else latest, now)
        if latest is not None:
            if latest == desired:
                return
        elif not status_patch(stored, desired):
            return
        self._pending[key] = Write(key, ref, desired)

    def take(self, limit: int) -> list[Write]:
        """Up to `limit` writes to start now; each is in flight until `done`."""
        keys: list[str] = []
        for key in self._pending:  # not a copy: 50,000 may wait after a first sync
            if len(keys) >= limit:
                break
            if key not in self._in_flight:
                keys.append(key)
        taken = [self._pending.pop(key) for key in keys]
        self._in_flight.update((write.key, write) for write in taken)
        return taken

    def done(self, key: str) -> None:
        self._in_flight.pop(key, None)

    def take_in_flight(self, key: str) -> Write | None:
        """The write in flight for `key`, which has ended (and failed)."""
        return self._in_flight.pop(key, None)

    def retry(self, write: Write) -> None:
        """A write that failed goes back, unless something newer was decided meanwhile."""
        self._pending.setdefault(write.key, write)

    def drop(self, key: str) -> None:
        """The object is gone or no longer ours; a write in flight cannot be recalled."""
        self._pending.pop(key, None)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def __len__(self) -> int:
        return len(self._pending)


class LedgerWrites:
    """The org's call ledger as the owner wants it stored (core/ledger.py): the newest body
    replaces one not yet started, one write is in flight at a time, and each is numbered, so
    that an intent knows when a write that holds its call is stored."""

    def __init__(self) -> None:
        self.wanted = 0  # the number of the newest body decided
        self.stored = 0  # the number of the newest body known to be stored
        self._pending: tuple[int, dict[str, Any]] | None = None
        self._in_flight: tuple[int, dict[str, Any]] | None = None

    @property
    def idle(self) -> bool:
        return self._pending is None and self._in_flight is None

    @property
    def writing(self) -> bool:
        return self._in_flight is not None

    def want(self, body: dict[str, Any]) -> int:
        """Store `body`; returns its number."""
        self.wanted += 1
        self._pending = (self.wanted, body)
        return self.wanted

    def take(self) -> tuple[int, dict[str, Any]] | None:
        """The write to start now, if any; it is in flight until `done` or `failed`."""
        if self._in_flight is not None or self._pending is None:
            return None
        self._in_flight, self._pending = self._pending, None
        return self._in_flight

    def done(self, number: int) -> None:
        self._in_flight = None
        self.stored = max(self.stored, number)

    def failed(self, number: int) -> None:
        """It goes again (after the owner's backoff), unless a newer body was decided."""
        if self._in_flight is not None and self._pending is None:
            self._pending = self._in_flight
        self._in_flight = None
