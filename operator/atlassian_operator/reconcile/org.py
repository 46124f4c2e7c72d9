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
import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from atlassian_operator.atlassian import AtlassianClient, AtlassianError, User
from atlassian_operator.core.budget import SuspensionBudget
from atlassian_operator.core.conditions import READY, SYNCED, Condition, find, render_conditions
from atlassian_operator.core.decisions import (
    Action,
    Blocked,
    Decision,
    decide_account,
    needed_action,
)
from atlassian_operator.core.reasons import failure_reason, is_configuration_error, is_transient
from atlassian_operator.core.resources import (
    ACCOUNT_KIND,
    API_VERSION,
    DISCOVERED_LABEL,
    ORG_KIND,
    ORG_LABEL,
    SYNC_REQUESTED_ANNOTATION,
    AccountResource,
    AccountSpec,
    InvalidSpec,
    ObjectRef,
    OrgSpec,
)
from atlassian_operator.core.snapshot import OrgSnapshot
from atlassian_operator.core.status import (
    ActionResult,
    account_status,
    org_status,
    problem_status,
    status_patch,
)
from atlassian_operator.reconcile.kube import KubeApi, SecretProblem
from atlassian_operator.reconcile.metrics import Metrics
from atlassian_operator.reconcile.registry import AccountRegistry

logger = logging.getLogger(__name__)

ClientFactory = Callable[[str, str, "OrgObserver"], AtlassianClient]
RETRY_CAP_SECONDS = 300.0
FAILED_SYNC_BACKOFF_SECONDS = 5.0


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def discovered_name(org: str, account_id: str) -> str:
    """A stable, valid object name for a discovered account; a hash keeps lossy slugs unique."""
    slug = re.sub(r"[^a-z0-9-]+", "-", account_id.lower()).strip("-")[:40]
    if slug != account_id:
        slug = f"{slug}-{hashlib.sha256(account_id.encode()).hexdigest()[:8]}".strip("-")
    return f"{org}-{slug}"[:253]


async def write_account_status(
    kube: KubeApi, registry: AccountRegistry, account: AccountResource, status: Mapping[str, Any]
) -> None:
    """Patch only what changed; the registry learns the stored object at once."""
    patch = status_patch(account.status, status)
    if not patch:
        return
    patch["lastSyncTime"] = utcnow()
    stored = await kube.patch_status(account.ref, patch)
    registry.upsert(stored)


async def report_account_problem(
    kube: KubeApi, registry: AccountRegistry, account: AccountResource, reason: str, message: str
) -> None:
    """Ready/Synced False with a reason; what was observed before is kept."""
    await write_account_status(
        kube,
        registry,
        account,
        problem_status(
            reason=reason,
            message=message,
            generation=account.generation,
            previous=account.status,
            now=utcnow(),
        ),
    )


class OrgObserver:
    """The client's hooks for one org: metrics, and the RateLimited condition while it waits."""

    def __init__(self, org: OrgRuntime) -> None:
        self._org = org

    def response(self, endpoint: str, status: int) -> None:
        self._org.metrics.response(self._org.ref, endpoint, status)

    def waiting(self, endpoint: str, seconds: float, reason: str) -> None:
        self._org.metrics.waiting(self._org.ref, endpoint, reason)
        if reason == "rate_limited" and endpoint == "list_users":
            self._org.report_rate_limited(seconds)


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
        self._retry_at: dict[str, float] = {}
        self._attempts: dict[str, int] = defaultdict(int)
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
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
                await self._reconcile_due()
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
        times = [t for t in (self.budget.next_slot(self._clock()), *self._retry_at.values()) if t]
        return min(times) if times else None

    async def _reconcile_due(self) -> None:
        now = self._clock()
        due = [name for name, at in self._retry_at.items() if at <= now]
        due += self.budget.waiting[: self.budget.available(now)]
        for name in dict.fromkeys(due):
            self._retry_at.pop(name, None)
            account = self.registry.get(self.ref.namespace, name)
            if account is None:
                self.budget.withdraw(name)
            else:
                await self.reconcile(account)

    # ----- the org sync ------------------------------------------------------------------------

    async def sync(self) -> bool:
        """List the org; on success, reconcile its accounts. False when the listing failed."""
        started, now = self._clock(), utcnow()
        spec = self.spec
        if spec is None:
            message = str(self.spec_error or "the spec cannot be read")
            await self._write_org_problem("InvalidSpec", message, config_error=True, now=now)
            return False
        try:
            api_key = await self.kube.read_api_key(
                self.ref.namespace, spec.secret_name, spec.secret_key
            )
        except SecretProblem as exc:
            await self._write_org_problem("SecretNotUsable", str(exc), config_error=True, now=now)
            return False
        client = self._client_for(spec, api_key)
        requests_before, limited_before = client.stats.requests, client.stats.rate_limited
        try:
            users = await client.list_all_users(spec.org_id)
        except AtlassianError as exc:
            self.metrics.sync_done(self.ref, "failed", self._clock() - started)
            logger.warning("Listing org %s failed: %s", spec.org_id, exc)
            await self._write_org_problem(
                failure_reason(exc), str(exc), config_error=is_configuration_error(exc), now=now
            )
            return False
        self.snapshot = OrgSnapshot(spec.org_id, users, datetime.now(UTC))
        duration = self._clock() - started
        self.metrics.sync_done(self.ref, "succeeded", duration)
        self.metrics.snapshot(self.ref, self.snapshot.user_counts())
        pages = client.stats.requests - requests_before
        await self._write_org_status(
            org_status(
                self.snapshot,
                generation=self.generation,
                now=now,
                duration=duration,
                requests=pages,
                rate_limited=client.stats.rate_limited - limited_before,
            ),
            (
                Condition(
                    READY, True, "Synced", "listed completely with the current spec and API key"
                ),
                Condition(
                    SYNCED,
                    True,
                    "ListingComplete",
                    f"listed {len(self.snapshot)} users of org {spec.org_id} in {pages} requests",
                ),
            ),
            now,
        )
        await self.reconcile_all()
        if spec.discovery:
            await self.discover(spec)
        return True

    def _client_for(self, spec: OrgSpec, api_key: str) -> AtlassianClient:
        identity = (spec.api_base_url, hashlib.sha256(api_key.encode()).hexdigest())
        if self._client is None or identity != self._client_identity:
            if self._client is not None:
                self._spawn(self._client.aclose())
            self._client = self._client_factory(api_key, spec.api_base_url, OrgObserver(self))
            self._client_identity = identity
        return self._client

    async def _write_org_problem(
        self, reason: str, message: str, *, config_error: bool, now: str
    ) -> None:
        """A failed sync changes nothing but the org's conditions: the snapshot stays as it was."""
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

    def report_rate_limited(self, seconds: float) -> None:
        synced = find(self.status.get("conditions"), SYNCED)
        if synced is not None and synced.get("reason") == "RateLimited":
            return
        message = f"Atlassian answered 429; the listing waits {seconds:.0f}s and continues"
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

    # ----- accounts ----------------------------------------------------------------------------

    async def reconcile_all(self) -> None:
        accounts = self.registry.of_org(self.ref.namespace, self.ref.name)
        limit = asyncio.Semaphore(16)

        async def one(account: AccountResource) -> None:
            async with limit:
                await self.reconcile(account)

        await asyncio.gather(*(one(a) for a in accounts))

    async def reconcile(self, account: AccountResource) -> None:
        """Bring one account's status (and, if asked, its Atlassian state) in line."""
        async with self._locks[account.ref.name]:
            latest = self.registry.get(account.ref.namespace, account.ref.name)
            if latest is not None and latest.ref.uid == account.ref.uid:
                try:
                    await self._reconcile(latest)
                except Exception:
                    # Kubernetes refused a write, most likely: try again later, not in a loop.
                    logger.exception("Reconciling %s failed; retrying later", latest.ref)
                    self.budget.withdraw(latest.ref.name)
                    self._schedule_retry(latest.ref.name)

    async def _reconcile(self, account: AccountResource) -> None:
        now = utcnow()
        spec = account.spec
        if isinstance(spec, InvalidSpec):
            await self.write_problem(account, "InvalidSpec", str(spec))
            return
        if self.snapshot is None or self.spec is None:
            if account.status.get("observedGeneration") == account.generation:
                return  # already reported on this spec; the first listing will bring it up to date
            synced = find(self.status.get("conditions"), SYNCED)
            detail = (
                f": {synced.get('message')}" if synced and synced.get("status") == "False" else ""
            )
            await self.write_problem(
                account,
                "OrgNotSynced",
                f"waiting for a complete listing of AtlassianOrg {self.ref.name}{detail}",
            )
            return
        observation = self.snapshot.observe(spec, account.status.get("accountId"))
        if observation.account_id and (owner := self._owner(account, observation.account_id)):
            self.budget.withdraw(account.ref.name)
            await self.write_problem(
                account,
                "DuplicateAccount",
                f"AtlassianAccount {owner} already manages Atlassian account "
                f"{observation.account_id}; delete one of the two",
            )
            return
        policy = self.spec.suspension
        decision = decide_account(
            spec, observation.user, policy, account.status.get("lastAction"), account.generation
        )
        result: ActionResult | None = None
        name = account.ref.name
        action = decision.action
        if action is None or observation.user is None:
            self.budget.withdraw(name)
        elif action is Action.SUSPEND and not self.budget.request(name, self._clock()):
            decision = Decision(
                blocked=Blocked(
                    "SuspensionBudgetExceeded",
                    f"{self.budget.spent(self._clock())} suspensions in the last "
                    f"{self.spec.sync_interval_seconds:.0f}s reached spec.suspension.maxPerSync "
                    f"({policy.max_per_sync}) of AtlassianOrg {self.ref.name}; this one waits its "
                    "turn (oldest first)",
                )
            )
        else:
            result = await self._act(action, observation.user, spec, account)
            if result is None:
                self.budget.withdraw(name)
            observation = self.snapshot.observe(spec, observation.account_id)
        status = account_status(
            spec=spec,
            generation=account.generation,
            observation=observation,
            decision=decision,
            result=result,
            previous=account.status,
            org=self.spec.org_id,
            now=now,
        )
        await self._write_account(account, status)
        await self._announce(account, decision, result, status)

    def _owner(self, account: AccountResource, account_id: str) -> str | None:
        """The older AtlassianAccount naming the same user, if this one is the younger."""
        claimants = self.registry.claimants(account.ref.namespace, self.ref.name, account_id)
        everyone = sorted(
            {*[(c.created, c.ref.name) for c in claimants], (account.created, account.ref.name)}
        )
        return None if everyone[0][1] == account.ref.name else everyone[0][1]

    async def _act(
        self, action: Action, user: User, spec: AccountSpec, account: AccountResource
    ) -> ActionResult | None:
        assert self._client is not None and self.snapshot is not None
        async with self._locks[f"id:{user.account_id}"]:
            current = self.snapshot.users.get(user.account_id)
            if current is None or needed_action(spec.desired_state, current) is not action:
                return None  # another reconcile got there first
            name = account.ref.name
            try:
                if action is Action.SUSPEND:
                    self.budget.spend(name, self._clock())
                    await self._client.disable(user.account_id, spec.suspension_message)
                else:
                    await self._client.enable(user.account_id)
            except AtlassianError as exc:
                reason = failure_reason(exc)
                self.metrics.action(self.ref, action, reason)
                if is_transient(exc):
                    self._schedule_retry(name)
                return ActionResult(action, False, reason, str(exc), utcnow())
            self._attempts.pop(name, None)
            self.metrics.action(self.ref, action, "Succeeded")
            verb = "disabled" if action is Action.SUSPEND else "enabled"
            self.snapshot.record_status(
                user.account_id, "inactive" if action is Action.SUSPEND else "active"
            )
            return ActionResult(
                action,
                True,
                "Succeeded",
                f"{verb} {user.email or user.account_id} in Atlassian",
                utcnow(),
            )

    def _schedule_retry(self, name: str) -> None:
        self._attempts[name] += 1
        delay = min(RETRY_CAP_SECONDS, 2.0 ** self._attempts[name])
        self._retry_at[name] = self._clock() + delay * random.uniform(0.5, 1.0)
        self._wake.set()

    async def _announce(
        self,
        account: AccountResource,
        decision: Decision,
        result: ActionResult | None,
        status: Mapping[str, Any],
    ) -> None:
        """Events for what happened; a block is announced once, when it starts."""
        if result is not None:
            if result.succeeded:
                reason = "Suspended" if result.action is Action.SUSPEND else "Reactivated"
                await self.kube.post_event(account.ref, "Normal", reason, result.message)
            else:
                reason = f"{result.action}Failed"
                await self.kube.post_event(
                    account.ref, "Warning", reason, f"{result.reason}: {result.message}"
                )
            return
        blocked = decision.blocked
        before = find(account.status.get("conditions"), READY)
        if blocked is not None and (before is None or before.get("reason") != blocked.reason):
            kind = "Normal" if blocked.reason == "DryRun" else "Warning"
            await self.kube.post_event(account.ref, kind, blocked.reason, blocked.message)

    async def write_problem(self, account: AccountResource, reason: str, message: str) -> None:
        await report_account_problem(self.kube, self.registry, account, reason, message)

    async def _write_account(self, account: AccountResource, status: Mapping[str, Any]) -> None:
        await write_account_status(self.kube, self.registry, account, status)

    # ----- discovery ---------------------------------------------------------------------------

    async def discover(self, spec: OrgSpec) -> None:
        """An observe-only AtlassianAccount for every user no AtlassianAccount names yet."""
        assert self.snapshot is not None
        claimed: set[str] = set()
        for account in self.registry.of_org(self.ref.namespace, self.ref.name):
            if isinstance(account.spec, AccountSpec):
                claimed.update(
                    filter(
                        None,
                        (
                            account.spec.account_id,
                            (account.spec.email or "").lower(),
                            account.status.get("accountId"),
                        ),
                    )
                )
        missing = [
            u
            for u in self.snapshot.users.values()
            if u.account_id not in claimed and (u.email or "").lower() not in claimed
        ]
        created = await asyncio.gather(*(self._create_discovered(u) for u in missing))
        if any(created):
            logger.info("Discovered %d accounts in org %s", sum(created), spec.org_id)

    async def _create_discovered(self, user: User) -> bool:
        body = {
            "apiVersion": API_VERSION,
            "kind": ACCOUNT_KIND,
            "metadata": {
                "name": discovered_name(self.ref.name, user.account_id),
                "namespace": self.ref.namespace,
                "labels": {ORG_LABEL: self.ref.name, DISCOVERED_LABEL: "true"},
                "ownerReferences": [
                    {
                        "apiVersion": API_VERSION,
                        "kind": ORG_KIND,
                        "name": self.ref.name,
                        "uid": self.ref.uid,
                    }
                ],
            },
            "spec": {"orgRef": {"name": self.ref.name}, "accountId": user.account_id},
        }
        return await self.kube.create_account(self.ref.namespace, body)
