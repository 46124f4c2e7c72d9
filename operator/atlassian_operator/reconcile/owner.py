"""One AtlassianOrg at run time: a single consumer that alone owns everything about the org.

kopf handlers only post messages here (`post`); the loop handles them one at a time and never
awaits Atlassian or Kubernetes itself. Calls run as effects (tasks) whose results come back as
messages. So the org's spec, key, snapshot, pinned identities, suspension budget, retries,
calls in flight and status writes each have exactly one owner, and every decision is made from
the latest state, not from the event that woke the loop (the workqueue discipline of Go
controllers: one worker per key, coalesced events, per-item backoff).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, cast

from atlassian_operator.core.conditions import READY, SYNCED, Condition, render_conditions
from atlassian_operator.core.resources import (
    ACCOUNT_KIND,
    AccountResource,
)
from atlassian_operator.core.status import status_patch
from atlassian_operator.logfields import about
from atlassian_operator.reconcile import effects
from atlassian_operator.reconcile.messages import (
    AccountGone,
    AccountSeen,
    Duplicate,
    EffectFailed,
    KeyRead,
    LedgerStored,
    LifecycleDone,
    Listed,
    Message,
    OrgGone,
    OrgSeen,
    RateLimitWait,
    StatusStored,
    Tick,
)
from atlassian_operator.reconcile.org_side import OrgSide
from atlassian_operator.reconcile.state import (
    FIRST_BACKOFF_SECONDS,
    HEARTBEAT_SECONDS,
    ORG_KEY,
    ORPHAN_GRACE_SECONDS,
    STALLED_AFTER_SECONDS,
    WRITE_CONCURRENCY,
    ClientFactory,
    backoff,
    newer_or_equal,
    utcnow,
)
from atlassian_operator.reconcile.writes import Write

__all__ = ["ClientFactory", "OrgOwner"]

logger = logging.getLogger(__name__)


class OrgOwner(OrgSide):
    """The owner of one org: its loop, its messages, and the writes of its statuses."""

    # ----- running ------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"owner {self.ref}")

    async def stop(self, drain: float = 0.0) -> None:
        """Stop: nothing new is sent; the lifecycle calls in flight get up to `drain` seconds
        to finish while the loop goes on recording their results and writing statuses, so that
        a call sent to Atlassian has its answer recorded before another operator may look at
        the account (a cancelled call may still take effect: its pendingAction says so)."""
        self._draining = True
        self.post(Tick())  # wake the loop: it sets _drained once nothing is left to record
        if drain > 0 and self._task is not None and not self._task.done():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain):
                    await self._drained.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._client is not None:
            self._client.stop_sending()  # a call still queued in the client is never sent
        tasks = list(self._effects)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def alive(self, now: float) -> str | None:
        """Why this org's loop is not working, or None when it is."""
        if self._task is not None and self._task.done():
            return f"the loop of {self.ref} ended"
        if now - self.beat > STALLED_AFTER_SECONDS:
            return f"the loop of {self.ref} has not run for {now - self.beat:.0f}s"
        return None

    def idle(self) -> bool:
        """Nothing refers to this org: no object, no account, nothing queued or running."""
        return (
            not self.exists
            and not len(self.accounts)
            and self._queue.empty()
            and not self._effects
            and not self._writes.in_flight
            and self._ledger.idle
        )

    async def run(self) -> None:
        while True:
            now = self._clock()
            self.beat = now
            due = self.next_due()
            timeout = HEARTBEAT_SECONDS if due is None else min(HEARTBEAT_SECONDS, due - now)
            batch: list[Message] = []
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # arrives as the queue yields, and the loop would outlive stop().
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, timeout)):
                    batch.append(await self._queue.get())
            while not self._queue.empty() and len(batch) < 1000:
                batch.append(self._queue.get_nowait())
            self.step(batch)
            if self._draining and self._settled():
                self._drained.set()

    def _settled(self) -> bool:
        """No call unanswered, no message unhandled, no status unwritten: a drain may end."""
        return (
            not self._calls
            and self._queue.empty()
            and not len(self._writes)
            and not self._writes.in_flight
        )

    def step(self, batch: Iterable[Message]) -> None:
        """Handle messages, then whatever time made due, then start the writes: never raises."""
        for message in batch:
            self._guarded(self.handle, message)
        self._guarded(self.on_time)
        if self.accounts.readiness_changed:
            self.accounts.readiness_changed = False
            self.metrics.accounts_by_readiness(self.ref, self.accounts.readiness)
        if self._counts_stale:
            self._counts_stale = False
            self._guarded(self._counts_changed)
        if self._brake_stale:
            self._brake_stale = False
            self._guarded(self._brake_changed)
        if self.accounts.inactivity_changed:
            self.accounts.inactivity_changed = False
            self._guarded(self._inactivity_changed)
        # Last: every write decided in this step starts now, not at the next message or
        # heartbeat (the inactivity counts above write the org's status too).
        self._guarded(self._pump_writes)
        self.beat = self._clock()

    def _guarded(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # no exception may end the org's loop
            logger.exception("Internal error in the owner of %s", self.ref, extra=about(self.ref))
            self._failures += 1
            self._paused_until = self._clock() + backoff(
                self._failures, FIRST_BACKOFF_SECONDS, self._interval()
            )
            with contextlib.suppress(Exception):
                self._write_org_problem(
                    "InternalError",
                    f"internal error ({type(exc).__name__}) in the operator, see its log; it "
                    "backs off and tries again",
                    config_error=False,
                )

    def next_due(self) -> float | None:
        times = [
            self._next_sync if self._may_sync() else None,
            self._key_check_at,
            self.accounts.next_retry(),
            self.budget.next_slot(self._clock()) if self.snapshot is not None else None,
            self._write_retry_at,
            self._ledger_retry_at,
            None if self._grace_over else self._born + ORPHAN_GRACE_SECONDS,
        ]
        due = min((t for t in times if t is not None), default=None)
        return due if due is None else max(due, self._paused_until)

    def _busy_syncing(self) -> bool:
        return self._listing is not None or self._reading_key

    def _may_sync(self) -> bool:
        return self.exists and self._duplicate_of is None and not self._busy_syncing()

    # ----- messages -----------------------------------------------------------------------------

    def handle(self, message: Message) -> None:
        match message:
            case OrgSeen(body):
                self._on_org_seen(body)
            case OrgGone(uid):
                if self.exists and uid in ("", self.ref.uid):
                    self._on_org_gone()
            case Duplicate(of):
                self._on_duplicate(of)
            case AccountSeen(account):
                self._on_account_seen(account)
            case AccountGone(name, uid):
                self._on_account_gone(name, uid)
            case KeyRead():
                self._on_key_read(message)
            case Listed():
                self._on_listed(message)
            case LifecycleDone():
                self._on_lifecycle_done(message)
            case StatusStored():
                self._on_status_stored(message)
            case LedgerStored(number, problem):
                self._on_ledger_stored(number, problem)
            case RateLimitWait(seconds):
                self._on_rate_limit_wait(seconds)
            case Tick():
                pass
            case EffectFailed(what, error):
                raise RuntimeError(f"{what} failed: {type(error).__name__}") from error

    def on_time(self) -> None:
        now = self._clock()
        if now < self._paused_until or self._draining:
            return
        names: list[str] = []
        if not self._grace_over and now >= self._born + ORPHAN_GRACE_SECONDS:
            self._grace_over = True
            names += list(self.accounts)
        if self._may_sync() and now >= self._next_sync:
            self._start_sync()
        if self._key_check_at is not None and now >= self._key_check_at:
            self._key_check_at = None
            self._read_key(then_sync=False)
        names += self.accounts.due(now)
        if self._write_retry_at is not None and now >= self._write_retry_at:
            self._write_retry_at = None
        if self._ledger_retry_at is not None and now >= self._ledger_retry_at:
            self._ledger_retry_at = None
        slot = self.budget.next_slot(now)
        if names or (slot is not None and slot <= now and self.snapshot is not None):
            self._reconcile(names)

    # ----- status writes ------------------------------------------------------------------------

    def _pump_writes(self) -> None:
        if self._write_retry_at is None:
            for write in self._writes.take(WRITE_CONCURRENCY - self._writes.in_flight):
                self._start_write(write)
        if self._ledger_retry_at is None and (ledger := self._ledger.take()) is not None:
            number, body = ledger
            self._spawn(
                "writing the call ledger",
                effects.write_ledger(self.kube, self.ref.namespace, number, body, self.post),
            )

    def _stored_status(self, key: str) -> Mapping[str, Any] | None:
        if key == ORG_KEY:
            return self._status if self.exists else None
        state = self.accounts.get(key)
        return state.resource.status if state is not None else None

    def _start_write(self, write: Write) -> None:
        stored = self._stored_status(write.key)
        patch = status_patch(stored or {}, write.desired) if stored is not None else {}
        if not patch:
            self._writes.done(write.key)
            return
        if write.ref.kind == ACCOUNT_KIND:
            patch["lastSyncTime"] = utcnow()
        self._spawn(
            f"writing the status of {write.ref}",
            effects.patch_status(self.kube, write.key, write.ref, patch, self.post),
        )

    def _on_status_stored(self, message: StatusStored) -> None:
        key = message.key
        if message.status == 0 and message.body is not None:
            self._writes.done(key)
            self._write_failures = 0
            self._refused.discard(key)
            self._stored(key, message.body)
            if key != ORG_KEY:
                self._on_recorded(key)  # a call recorded as pending may now be sent
            return
        write = self._writes.take_in_flight(key)
        if message.status == 404 or write is None:
            return  # the object is gone; its watch event says so
        logger.warning(
            "Writing the status of %s failed: %s", write.ref, message.message,
            extra=about(self.ref, account=key or None),
        )  # fmt: skip
        if message.status in (400, 422):
            if (state := self.accounts.get(key)) is not None:
                self._abandon(state)  # its intent could not be recorded: it is never sent
            if key in self._refused:
                return  # even the condition saying so was refused: the log is all that is left
            # The API server refused this status: say so in a condition it accepts.
            self._refused.add(key)
            text = f"the API server refused the status the operator wrote: {message.message}"
            state = self.accounts.get(key)
            conditions = render_conditions(
                (
                    Condition(READY, False, "InternalError", text),
                    Condition(SYNCED, False, "InternalError", text),
                ),
                None,
                state.resource.generation if state is not None else self.generation,
                utcnow(),
            )
            stored = self._stored_status(key) or {}
            self._writes.want(key, write.ref, {**stored, "conditions": conditions}, stored)
            return
        self._write_failures += 1
        self._writes.retry(write)
        self._write_retry_at = self._clock() + backoff(self._write_failures, 1.0, self._interval())

    def _stored(self, key: str, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        if key == ORG_KEY:
            if self.exists and meta.get("uid") == self.ref.uid:
                version = str(meta.get("resourceVersion") or "")
                if newer_or_equal(version, self._resource_version):
                    self._resource_version = version
                    self._status = dict(body.get("status") or {})
            return
        state = self.accounts.get(key)
        if state is not None and meta.get("uid") == state.resource.ref.uid:
            version = str(meta.get("resourceVersion") or "")
            if version != state.resource.resource_version:  # else its watch event came first
                if not newer_or_equal(version, state.resource.resource_version):
                    return
                state.resource = AccountResource.from_body(body)
            account = state.resource
            memo = state.rendered
            if memo is not None and not status_patch(account.status, memo.status):
                # What was rendered is now stored: remember the stored copy only, so that
                # the rendered one and the status it came from can be freed.
                stored = cast(dict[str, Any], account.status)  # from_body makes it a dict
                state.rendered = replace(memo, previous=stored, status=stored)
