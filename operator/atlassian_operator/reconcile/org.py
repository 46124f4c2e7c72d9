"""One AtlassianOrg at run time: its client, its snapshot, its budget and its sync loop.

The loop lists the whole org once per syncInterval (requests = pages), then brings every
account of the org in line with the snapshot. Between listings it wakes only for what is due:
a spec change, a suspension the budget now allows, or a transient failure's retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from atlassian_operator.atlassian import AtlassianClient, AtlassianError
from atlassian_operator.core.budget import SuspensionBudget
from atlassian_operator.core.conditions import READY, SYNCED, Condition, find, render_conditions
from atlassian_operator.core.mapping import parse_time
from atlassian_operator.core.reasons import failure_reason, is_configuration_error
from atlassian_operator.core.resources import (
    ORG_KIND,
    SYNC_REQUESTED_ANNOTATION,
    AccountClaim,
    InvalidSpec,
    ObjectRef,
    OrgSpec,
)
from atlassian_operator.core.snapshot import OrgSnapshot
from atlassian_operator.core.status import (
    org_status,
    status_patch,
)
from atlassian_operator.reconcile.accounts import AccountReconciler, utcnow
from atlassian_operator.reconcile.discovery import discover
from atlassian_operator.reconcile.kube import KubeApi, SecretProblem
from atlassian_operator.reconcile.metrics import Metrics
from atlassian_operator.reconcile.registry import AccountRegistry

logger = logging.getLogger(__name__)

ClientFactory = Callable[[str, str, "OrgObserver"], AtlassianClient]
FAILED_SYNC_BACKOFF_SECONDS = 5.0


@dataclass
class ListingCount:
    """Requests and 429s of the current listing only (lifecycle calls share the client)."""

    requests: int = 0
    rate_limited: int = 0


class OrgObserver:
    """The client's hooks for one org: metrics, and the RateLimited condition while it waits."""

    def __init__(self, org: OrgRuntime) -> None:
        self._org = org

    def response(self, endpoint: str, status: int) -> None:
        self._org.metrics.response(self._org.ref, endpoint, status)
        if endpoint == "list_users":
            self._org.listing.requests += 1
            self._org.listing.rate_limited += status == 429

    def waiting(self, endpoint: str, seconds: float, reason: str) -> None:
        self._org.metrics.waiting(self._org.ref, endpoint, reason)
        # Refused (429) or holding back before the limit is used up, by any request: the org
        # shares one limit, so a listing under way or about to start waits too. Short pacing
        # pauses are not worth a status write.
        if reason == "rate_limited" or (reason == "pacing" and seconds >= 1.0):
            self._org.rate_limit_waits(seconds)


class OrgRuntime:
    def __init__(
        self,
        ref: ObjectRef,
        kube: KubeApi,
        registry: AccountRegistry,
        metrics: Metrics,
        client_factory: ClientFactory,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ref = ref
        self.kube, self.registry, self.metrics = kube, registry, metrics
        self._client_factory = client_factory
        self.listing = ListingCount()
        self.last_failure: str | None = None  # why the last sync failed, until one succeeds
        self._listing_now = False
        self._rate_limited_until = 0.0
        self._actions: dict[str, tuple[float, str]] = {}
        self._clock = clock
        self.generation = 0
        self.spec: OrgSpec | None = None
        self.spec_error: InvalidSpec | None = None
        self.status: dict[str, Any] = {}
        self.snapshot: OrgSnapshot | None = None
        self.budget = SuspensionBudget(10, 300.0)
        self._client: AtlassianClient | None = None
        self._client_identity: tuple[str, str] | None = None
        self._wake = asyncio.Event()
        self._sync_now = True
        self._sync_requested: str | None = None
        self._failed_syncs = 0
        self.accounts = AccountReconciler(self)
        self._task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[Any]] = set()

    # ----- lifecycle -------------------------------------------------------------------------

    def update(self, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        self.ref = ObjectRef(ORG_KIND, self.ref.namespace, self.ref.name, meta.get("uid", ""))
        self.status = dict(body.get("status") or {})
        requested = (meta.get("annotations") or {}).get(SYNC_REQUESTED_ANNOTATION)
        if requested != self._sync_requested:
            self._sync_requested = requested
            self._sync_now = True
            self._wake.set()
        generation = int(meta.get("generation") or 0)
        if generation == self.generation:
            return
        self.generation = generation
        try:
            self.spec, self.spec_error = OrgSpec.from_dict(body.get("spec") or {}), None
            policy = self.spec.suspension
            self.budget.resize(policy.max_per_sync, self.spec.sync_interval_seconds)
        except InvalidSpec as exc:
            self.spec, self.spec_error = None, exc
        self._sync_now = True
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"sync {self.ref}")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._side_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.aclose()

    def wake(self) -> None:
        self._wake.set()

    # ----- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        next_sync = self._clock()
        while True:
            if self._sync_now or self._clock() >= next_sync:
                self._sync_now = False
                succeeded = False
                try:
                    succeeded = await self.sync()
                except Exception:  # one bad sync must not end the org's loop
                    logger.exception("Sync of %s failed unexpectedly", self.ref)
                self._failed_syncs = 0 if succeeded else self._failed_syncs + 1
                next_sync = self._clock() + self._next_sync_delay()
            else:
                await self.accounts.reconcile_due()
            self._wake.clear()
            deadline = min(t for t in (next_sync, self._next_due()) if t is not None)
            if not self._sync_now:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, deadline - self._clock()))

    def _interval(self) -> float:
        return self.spec.sync_interval_seconds if self.spec else 300.0

    def _next_sync_delay(self) -> float:
        """The interval after a good sync; after failures, backoff from 5s up to the interval.

        A fixed Secret or a recovered Atlassian is picked up soon, without a hot loop.
        """
        if not self._failed_syncs:
            return self._interval()
        backoff = FAILED_SYNC_BACKOFF_SECONDS * 2.0 ** (self._failed_syncs - 1)
        return min(self._interval(), backoff) * random.uniform(0.8, 1.0)

    def _next_due(self) -> float | None:
        times = [t for t in (self.budget.next_slot(self._clock()), self.accounts.next_retry()) if t]
        return min(times) if times else None

    # ----- the org sync ------------------------------------------------------------------------

    async def sync(self) -> bool:
        """List the org; on success, reconcile its accounts. False when the listing failed."""
        started, now = self._clock(), utcnow()
        client = await self._usable_client(now)
        if client is None or self.spec is None:
            await self._tell_waiting_accounts()
            return False
        spec = self.spec
        self.listing = ListingCount()
        self._listing_now = True
        if (wait := self._rate_limited_until - self._clock()) >= 1.0:
            self.report_rate_limited(wait)  # the client holds every request until then
        try:
            users = await client.list_all_users(spec.org_id)
        except AtlassianError as exc:
            self._listing_now = False
            self.metrics.sync_done(self.ref, "failed", self._clock() - started)
            logger.warning("Listing org %s failed: %s", spec.org_id, exc)
            await self._write_org_problem(
                failure_reason(exc), str(exc), config_error=is_configuration_error(exc), now=now
            )
            await self._tell_waiting_accounts()
            return False
        self._listing_now = False
        snapshot = OrgSnapshot(spec.org_id, users, datetime.now(UTC))
        self._replay_actions(snapshot, since=started)
        claims = None
        if self.snapshot is None or spec.discovery:
            claims = await self.kube.account_claims(self.ref.namespace, self.ref.name)
        if self.snapshot is None and claims is not None:
            self._restore_budget(claims)
        self.snapshot = snapshot
        self.last_failure = None
        duration = self._clock() - started
        self.metrics.sync_done(self.ref, "succeeded", duration)
        self.metrics.snapshot(self.ref, snapshot.user_counts())
        await self._write_org_status(
            org_status(
                snapshot,
                generation=self.generation,
                now=now,
                duration=duration,
                requests=self.listing.requests,
                rate_limited=self.listing.rate_limited,
            ),
            (
                Condition(
                    READY, True, "Synced", "listed completely with the current spec and API key"
                ),
                Condition(
                    SYNCED,
                    True,
                    "ListingComplete",
                    f"listed {len(snapshot)} users of org {spec.org_id} "
                    f"in {self.listing.requests} requests",
                ),
            ),
            now,
        )
        await self.accounts.reconcile_all()
        if spec.discovery and claims is not None:
            listed = set().union(*(claim.names for claim in claims))
            await discover(self.kube, self.registry, snapshot, self.ref, listed)
        return True

    async def _usable_client(self, now: str) -> AtlassianClient | None:
        """The client for the current spec and key; None (and the org says why) otherwise."""
        if self.spec is None:
            message = str(self.spec_error or "the spec cannot be read")
            await self._write_org_problem("InvalidSpec", message, config_error=True, now=now)
            return None
        try:
            api_key = await self.kube.read_api_key(
                self.ref.namespace, self.spec.secret_name, self.spec.secret_key
            )
        except SecretProblem as exc:
            self._drop_client()  # a deleted or emptied Secret revokes the operator's use of the key
            await self._write_org_problem("SecretNotUsable", str(exc), config_error=True, now=now)
            return None
        return self._client_for(self.spec, api_key)

    async def _tell_waiting_accounts(self) -> None:
        """Accounts still waiting for a first listing learn the org's current problem."""
        if self.snapshot is None:
            await self.accounts.reconcile_all()

    def record_action(self, account_id: str, account_status: str) -> None:
        """What a lifecycle call changed; replayed onto a listing that was already running."""
        if self.snapshot is not None:
            self.snapshot.record_status(account_id, account_status)
        self._actions[account_id] = (self._clock(), account_status)

    def _replay_actions(self, snapshot: OrgSnapshot, since: float) -> None:
        # A page read before the call returned shows the old state: the call is the newer truth.
        for account_id, (at, account_status) in list(self._actions.items()):
            if at >= since:
                snapshot.record_status(account_id, account_status)
            else:
                del self._actions[account_id]

    def _restore_budget(self, claims: Iterable[AccountClaim]) -> None:
        """Disable calls made before a restart still count against the rolling window."""
        wall, mono = datetime.now(UTC), self._clock()
        made = [parse_time(c.last_disable) for c in claims if c.last_disable]
        self.budget.restore(
            (mono - (wall - t).total_seconds() for t in made if t is not None), mono
        )

    def _drop_client(self) -> None:
        if self._client is not None:
            self._spawn(self._client.aclose())
        self._client, self._client_identity = None, None

    def _client_for(self, spec: OrgSpec, api_key: str) -> AtlassianClient:
        identity = (spec.api_base_url, hashlib.sha256(api_key.encode()).hexdigest())
        if self._client is None or identity != self._client_identity:
            self._drop_client()
            self._client = self._client_factory(api_key, spec.api_base_url, OrgObserver(self))
            self._client_identity = identity
        return self._client

    async def _write_org_problem(
        self, reason: str, message: str, *, config_error: bool, now: str
    ) -> None:
        """A failed sync changes nothing but the org's conditions: the snapshot stays as it was."""
        self.last_failure = message
        ready = find(self.status.get("conditions"), READY)
        keep_ready = (
            not config_error
            and ready is not None
            and ready.get("status") == "True"
            and ready.get("observedGeneration") == self.generation
        )
        conditions = (
            Condition(READY, True, str(ready.get("reason")), str(ready.get("message")))
            if keep_ready and ready
            else Condition(READY, False, reason, message),
            Condition(SYNCED, False, reason, message),
        )
        await self._write_org_status({"observedGeneration": self.generation}, conditions, now)

    async def _write_org_status(
        self, fields: Mapping[str, Any], conditions: tuple[Condition, Condition], now: str
    ) -> None:
        desired = {
            **self.status,
            **fields,
            "conditions": render_conditions(
                conditions, self.status.get("conditions"), self.generation, now
            ),
        }
        patch = status_patch(self.status, desired)
        if patch:
            stored = await self.kube.patch_status(self.ref, patch)
            self.status = dict(stored.get("status") or {})

    def rate_limit_waits(self, seconds: float) -> None:
        self._rate_limited_until = max(self._rate_limited_until, self._clock() + seconds)
        if self._listing_now:
            self.report_rate_limited(seconds)

    def report_rate_limited(self, seconds: float) -> None:
        synced = find(self.status.get("conditions"), SYNCED)
        if synced is not None and synced.get("reason") == "RateLimited":
            return
        message = (
            f"Atlassian's rate limit is used up; the listing waits {seconds:.0f}s for it to reset "
            "and then continues"
        )
        ready = find(self.status.get("conditions"), READY)
        ready_condition = (
            Condition(
                READY,
                ready.get("status") == "True",
                str(ready.get("reason")),
                str(ready.get("message")),
            )
            if ready
            else Condition(READY, False, "RateLimited", message)
        )
        self._spawn(
            self._write_org_status(
                {}, (ready_condition, Condition(SYNCED, False, "RateLimited", message)), utcnow()
            )
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    @property
    def client(self) -> AtlassianClient | None:
        return self._client

    def clock(self) -> float:
        return self._clock()
