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
