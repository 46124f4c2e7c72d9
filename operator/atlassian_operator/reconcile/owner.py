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
import heapq
import logging
import random
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from atlassian_operator.atlassian import (
    AtlassianClient,
    AtlassianError,
    AuthenticationFailed,
    ClientObserver,
)
from atlassian_operator.core.authority import base_url_problem
from atlassian_operator.core.budget import SuspensionBudget
from atlassian_operator.core.conditions import READY, SYNCED, Condition, find, render_conditions
from atlassian_operator.core.decisions import Action, Blocked, Decision
from atlassian_operator.core.discovery import discovered_account, unclaimed_users
from atlassian_operator.core.mapping import parse_time
from atlassian_operator.core.plan import AccountPlan, Rival, observe, plan_account
from atlassian_operator.core.reasons import failure_reason, is_configuration_error, is_transient
from atlassian_operator.core.resources import (
    ACCOUNT_KIND,
    ORG_KIND,
    SYNC_REQUESTED_ANNOTATION,
    AccountClaim,
    AccountResource,
    AccountSpec,
    InvalidSpec,
    ObjectRef,
    OrgSpec,
)
from atlassian_operator.core.snapshot import OrgSnapshot
from atlassian_operator.core.status import (
    IDENTITY_CHANGED,
    ActionResult,
    account_status,
    org_status,
    problem_status,
    status_patch,
)
from atlassian_operator.reconcile.kube import ApiKey, KubeApi, KubeError, SecretProblem
from atlassian_operator.reconcile.messages import (
    AccountGone,
    AccountSeen,
    EffectFailed,
    KeyRead,
    LifecycleDone,
    Listed,
    Message,
    OrgGone,
    OrgSeen,
    RateLimitWait,
    StatusStored,
    Tick,
)
from atlassian_operator.reconcile.metrics import Metrics
from atlassian_operator.reconcile.writes import StatusWrites, Write

logger = logging.getLogger(__name__)

ClientFactory = Callable[[str, str, ClientObserver], AtlassianClient]

HEARTBEAT_SECONDS = 5.0  # the loop wakes at least this often, so a stalled loop is noticed
STALLED_AFTER_SECONDS = 60.0
KEY_RECHECK_SECONDS = 5.0  # a Kubernetes GET, no Atlassian request: cheap to repeat
FIRST_BACKOFF_SECONDS = 5.0
RETRY_BASE_SECONDS = 2.0
ORPHAN_GRACE_SECONDS = 5.0  # at start-up an account's org may just not have arrived yet
WRITE_CONCURRENCY = 8
RETIRED_CLIENT_GRACE_SECONDS = 120.0  # calls still using a replaced client may finish
ORG_KEY = ""  # the org's own entry among the status writes (account names are never empty)


def backoff(attempts: int, base: float, cap: float) -> float:
    """base * 2^(attempts-1), at most `cap`; the exponent is bounded so it can never overflow."""
    return min(cap, base * 2.0 ** min(max(attempts - 1, 0), 30))


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class InternalFailure(AtlassianError):
    """An unexpected exception during a call, carried back as a failed call."""


@dataclass
class AccountState:
    """What the owner keeps about one AtlassianAccount object (one UID)."""

    resource: AccountResource
    resolved: str | None = None  # the Atlassian account it is about, for precedence
    desires: bool = False  # it states a desired state
    attempts: int = 0  # failed lifecycle attempts in a row, for the backoff
    retry_at: float | None = None
    failed: tuple[int, str, Blocked] | None = None  # (generation, org config, why) of a failure
    result: ActionResult | None = None  # a call's outcome not yet rendered into status
    announced: str | None = None  # the Ready=False reason last posted as an Event


@dataclass
class Evaluation:
    name: str
    state: AccountState
    plan: AccountPlan | None = None
    problem: tuple[str, str] | None = None  # (reason, message) when the account cannot be planned
    wants: Action | None = None  # the call it may make now, if the budget allows a suspension
    hold: bool = False  # keep the status as it is (a call in flight, a retry pending)


@dataclass
class ListingCount:
    requests: int = 0
    rate_limited: int = 0


@dataclass
class _Listing:
    epoch: int
    started: float
    answers: str | None  # the sync request this listing answers
    count: ListingCount = field(default_factory=ListingCount)


class OrgObserver(ClientObserver):
    """The client's hooks for one org: metrics, listing counts, and RateLimited to the owner."""

    def __init__(self, owner: OrgOwner) -> None:
        self._owner = owner
        self.listing: ListingCount | None = None

    def response(self, endpoint: str, status: int) -> None:
        self._owner.metrics.response(self._owner.ref, endpoint, status)
        if endpoint == "list_users" and self.listing is not None:
            self.listing.requests += 1
            self.listing.rate_limited += status == 429

    def waiting(self, endpoint: str, seconds: float, reason: str) -> None:
        self._owner.metrics.waiting(self._owner.ref, endpoint, reason)
        # Short pacing pauses are not worth a status write.
        if reason == "rate_limited" or (reason == "pacing" and seconds >= 1.0):
            self._owner.post(RateLimitWait(seconds))


class OrgOwner:
    def __init__(
        self,
        namespace: str,
        name: str,
        kube: KubeApi,
        metrics: Metrics,
        client_factory: ClientFactory,
        allowed_base_urls: frozenset[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ref = ObjectRef(ORG_KIND, namespace, name)
        self.kube, self.metrics = kube, metrics
        self._client_factory = client_factory
        self._allowed = allowed_base_urls
        self._clock = clock
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._effects: set[asyncio.Task[Any]] = set()
        self.beat = clock()
        self._paused_until = 0.0
        self._born = clock()
        self._grace_over = False
        # ---- the AtlassianOrg object
        self.exists = False
        self._org_seen_once = False
        self._resource_version = ""
        self._created: datetime | None = None
        self.generation = 0
        self.spec: OrgSpec | None = None
        self.spec_error: InvalidSpec | None = None
        self._status: dict[str, Any] = {}
        self._sync_request: str | None = None
        self._unanswered_request: str | None = None
        # ---- Atlassian
        self._client: AtlassianClient | None = None
        self._observer = OrgObserver(self)
        self._key_fingerprint: str | None = None
        self._reading_key = False
        self._key_check_at: float | None = None
        self._failure: str | None = None  # why the last sync failed, until one succeeds
        self._config_failure: tuple[str, str, str | None] | None = None  # reason, message, key
        self._failures = 0
        self._epoch = 0
        self._listing: _Listing | None = None
        self._next_sync = clock()
        self._rate_limited_until = 0.0
        self.snapshot: OrgSnapshot | None = None
        self._journal: dict[str, tuple[float, str]] = {}
        self.budget = SuspensionBudget(10, 300.0)
        self._in_flight: set[str] = set()
        # ---- the AtlassianAccounts naming this org
        self._accounts: dict[str, AccountState] = {}
        self._claims: dict[str, set[str]] = {}
        self._retries: list[tuple[float, str]] = []
        self._writes = StatusWrites()
        self._write_retry_at: float | None = None
        self._write_failures = 0
        self._refused: set[str] = set()  # objects whose last status the API server refused

    # ----- running ------------------------------------------------------------------------------

    def post(self, message: Message) -> None:
        self._queue.put_nowait(message)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"owner {self.ref}")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._effects) if t is not None]
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
            and not self._accounts
            and self._queue.empty()
            and not self._effects
            and not self._writes.in_flight
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

    def step(self, batch: Iterable[Message]) -> None:
        """Handle messages, then whatever time made due, then start the writes: never raises."""
        for message in batch:
            self._guarded(self.handle, message)
        self._guarded(self.on_time)
        self._guarded(self._pump_writes)
        self.beat = self._clock()

    def _guarded(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # no exception may end the org's loop
            logger.exception("Internal error in the owner of %s", self.ref)
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

    def _spawn(self, what: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._effects.add(task)

        def finished(t: asyncio.Task[Any]) -> None:
            self._effects.discard(t)
            if not t.cancelled() and (error := t.exception()) is not None:
                self.post(EffectFailed(what, error))

        task.add_done_callback(finished)

    def next_due(self) -> float | None:
        times = [
            self._next_sync if self.exists and not self._busy_syncing() else None,
            self._key_check_at,
            self._retries[0][0] if self._retries else None,
            self.budget.next_slot(self._clock()) if self.snapshot is not None else None,
            self._write_retry_at,
            None if self._grace_over else self._born + ORPHAN_GRACE_SECONDS,
        ]
        due = min((t for t in times if t is not None), default=None)
        return due if due is None else max(due, self._paused_until)

    def _interval(self) -> float:
        return self.spec.sync_interval_seconds if self.spec else 300.0

    def _busy_syncing(self) -> bool:
        return self._listing is not None or self._reading_key

    # ----- messages -----------------------------------------------------------------------------

    def handle(self, message: Message) -> None:
        match message:
            case OrgSeen(body):
                self._on_org_seen(body)
            case OrgGone(uid):
                if self.exists and uid in ("", self.ref.uid):
                    self._on_org_gone()
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
            case RateLimitWait(seconds):
                self._on_rate_limit_wait(seconds)
            case Tick():
                pass
            case EffectFailed(what, error):
                raise RuntimeError(f"{what} failed: {type(error).__name__}") from error

    def on_time(self) -> None:
        now = self._clock()
        if now < self._paused_until:
            return
        names: list[str] = []
        if not self._grace_over and now >= self._born + ORPHAN_GRACE_SECONDS:
            self._grace_over = True
            names += list(self._accounts)
        if self.exists and not self._busy_syncing() and now >= self._next_sync:
            self._start_sync()
        if self._key_check_at is not None and now >= self._key_check_at:
            self._key_check_at = None
            self._read_key(then_sync=False)
        while self._retries and self._retries[0][0] <= now:
            at, name = heapq.heappop(self._retries)
            state = self._accounts.get(name)
            if state is not None and state.retry_at == at:
                state.retry_at = None
                names.append(name)
        if self._write_retry_at is not None and now >= self._write_retry_at:
            self._write_retry_at = None
        slot = self.budget.next_slot(now)
        if names or (slot is not None and slot <= now and self.snapshot is not None):
            self._reconcile(names)

    # ----- the AtlassianOrg ---------------------------------------------------------------------

    def _on_org_seen(self, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            self._on_org_gone()
            return
        uid = str(meta.get("uid") or "")
        if self.exists and uid != self.ref.uid:
            self._on_org_gone()  # a new object of the same name: nothing carries over
        version = str(meta.get("resourceVersion") or "")
        if self.exists and not _newer_or_equal(version, self._resource_version):
            return
        first = not self.exists
        self.exists, self._org_seen_once, self._grace_over = True, True, True
        self.ref = ObjectRef(ORG_KIND, self.ref.namespace, self.ref.name, uid)
        self._created = parse_time(str(meta.get("creationTimestamp") or ""))
        self._resource_version = version
        self._status = dict(body.get("status") or {})
        requested = (meta.get("annotations") or {}).get(SYNC_REQUESTED_ANNOTATION)
        if requested and requested != self._sync_request:
            self._sync_request = self._unanswered_request = requested
            self._next_sync = self._clock()
        generation = int(meta.get("generation") or 0)
        if generation != self.generation or first:
            self.generation = generation
            try:
                self.spec, self.spec_error = OrgSpec.from_dict(body.get("spec") or {}), None
                self.budget.resize(self.spec.suspension.max_per_sync, self._interval())
            except InvalidSpec as exc:
                self.spec, self.spec_error = None, exc
            self._next_sync = self._clock()
            self._reconcile(list(self._accounts))  # a changed spec can unblock accounts

    def _on_org_gone(self) -> None:
        """Deleted (or replaced by a new UID): forget everything learnt under it."""
        self.exists = False
        self._retire_client()
        self._epoch += 1  # a listing in flight answers an object that is gone
        self._listing, self._reading_key = None, False
        self.snapshot, self._journal = None, {}
        self.budget = SuspensionBudget(10, 300.0)
        self._failure, self._config_failure, self._failures = None, None, 0
        self._status, self._resource_version, self.generation = {}, "", 0
        self.spec, self.spec_error = None, None
        self._sync_request = self._unanswered_request = None
        self._writes.drop(ORG_KEY)
        self.metrics.forget(self.ref)
        self._reconcile(list(self._accounts))

    def _start_sync(self) -> None:
        self._next_sync = self._clock() + self._interval()  # replaced when the sync ends
        if self.spec is None:
            message = str(self.spec_error or "the spec cannot be read")
            self._sync_failed(
                "InvalidSpec", message, config_error=True, answers=self._unanswered_request
            )
            return
        problem = base_url_problem(self.spec.api_base_url, self._allowed)
        if problem:
            self._retire_client()  # the key is not even read
            self._sync_failed(
                "APIBaseURLNotAllowed", problem, config_error=True, answers=self._unanswered_request
            )
            return
        self._read_key(then_sync=True)

    def _read_key(self, *, then_sync: bool) -> None:
        if self.spec is None or self._reading_key:
            return
        spec, generation = self.spec, self.generation
        self._reading_key = then_sync

        async def read() -> None:
            try:
                key = await self.kube.read_api_key(
                    self.ref.namespace, spec.secret_name, spec.secret_key
                )
            except SecretProblem as exc:
                self.post(KeyRead(generation, None, str(exc), then_sync))
            except Exception as exc:
                problem = f"reading Secret {spec.secret_name} failed ({type(exc).__name__})"
                self.post(KeyRead(generation, None, problem, then_sync))
            else:
                self.post(KeyRead(generation, key, None, then_sync))

        self._spawn("reading the API key", read())

    def _on_key_read(self, message: KeyRead) -> None:
        if message.then_sync:
            self._reading_key = False
        if not self.exists or self.spec is None or message.generation != self.generation:
            self._next_sync = self._clock()  # the spec changed meanwhile: read it again
            return
        if self._config_failure is not None and not message.then_sync:
            self._key_check_at = self._clock() + KEY_RECHECK_SECONDS
        if message.key is None:
            self._retire_client()  # a deleted or emptied Secret revokes the use of the key
            if message.then_sync:
                self._sync_failed(
                    "SecretNotUsable",
                    str(message.problem),
                    config_error=True,
                    answers=self._unanswered_request,
                )
            return
        changed = message.key.fingerprint != self._key_fingerprint
        if changed or self._client is None:
            try:
                self._install_client(message.key)
            except ValueError as exc:
                self._retire_client()
                self._sync_failed(
                    "SecretNotUsable", str(exc), config_error=True, answers=self._unanswered_request
                )
                return
        if message.then_sync:
            self._start_listing()
        elif self._config_failure is not None and self._config_failure[2] != self._key_fingerprint:
            self._next_sync = self._clock()  # a new key: try it now

    def _install_client(self, key: ApiKey) -> None:
        assert self.spec is not None
        client = self._client_factory(key.value, self.spec.api_base_url, self._observer)
        self._retire_client()
        self._client, self._key_fingerprint = client, key.fingerprint

    def _retire_client(self) -> None:
        client, self._client, self._key_fingerprint = self._client, None, None
        if client is None:
            return

        async def close_later() -> None:
            await asyncio.sleep(RETIRED_CLIENT_GRACE_SECONDS)
            await client.aclose()

        self._spawn("closing a replaced client", close_later())

    def _config_key(self) -> str:
        """Changes whenever what an Atlassian call depends on changes: the org's spec or key."""
        return f"{self.ref.uid}/{self.generation}/{self._key_fingerprint}"

    def _start_listing(self) -> None:
        assert self._client is not None and self.spec is not None
        self._epoch += 1
        listing = _Listing(self._epoch, self._clock(), self._unanswered_request)
        self._listing = listing
        if (wait := self._rate_limited_until - self._clock()) >= 1.0:
            self._report_rate_limited(wait)
        client, org_id = self._client, self.spec.org_id
        need_claims = self.snapshot is None or self.spec.discovery
        observer, namespace, org = self._observer, self.ref.namespace, self.ref.name

        async def run() -> None:
            observer.listing = listing.count
            try:
                users = await client.list_org_users(org_id)
                claims = await self.kube.account_claims(namespace, org) if need_claims else None
            except AtlassianError as exc:
                self.post(Listed(listing.epoch, None, exc, None, *_counts(listing)))
            except Exception as exc:
                logger.exception("Listing %s failed unexpectedly", org)
                error = InternalFailure(f"listing failed: {type(exc).__name__}: {exc}")
                self.post(Listed(listing.epoch, None, error, None, *_counts(listing)))
            else:
                self.post(Listed(listing.epoch, users, None, claims, *_counts(listing)))
            finally:
                observer.listing = None

        self._spawn("listing the org", run())

    def _on_listed(self, message: Listed) -> None:
        listing = self._listing
        if listing is None or message.epoch != listing.epoch or self.spec is None:
            return  # it answers an object or a spec that is gone
        self._listing = None
        now, started = self._clock(), listing.started
        duration = now - started
        if message.error is not None:
            error = message.error
            logger.warning("Listing org %s failed: %s", self.spec.org_id, error)
            self.metrics.sync_done(self.ref, "failed", duration)
            self._sync_failed(
                _reason(error),
                str(error),
                config_error=is_configuration_error(error),
                answers=listing.answers,
            )
            return
        assert message.listing is not None
        users = message.listing
        contradiction = users.contradiction()
        taken = datetime.now(UTC)
        snapshot = (
            OrgSnapshot.untrusted(self.spec.org_id, self.snapshot, users.users, taken)
            if contradiction
            else OrgSnapshot(self.spec.org_id, users.users, taken)
        )
        self._replay_journal(snapshot, since=started)
        if self.snapshot is None and message.claims is not None:
            self._restore_budget(message.claims)
        self.snapshot = snapshot
        self._failure, self._config_failure, self._key_check_at = None, None, None
        fields = org_status(
            snapshot,
            generation=self.generation,
            now=utcnow(),
            duration=duration,
            requests=message.requests,
            rate_limited=message.rate_limited,
        )
        if listing.answers:
            fields["observedSyncRequest"] = listing.answers
            if self._unanswered_request == listing.answers:
                self._unanswered_request = None
        self.metrics.snapshot(self.ref, snapshot.user_counts())
        if contradiction:
            self._failures += 1
            delay = self._sync_delay()
            self.metrics.sync_done(self.ref, "failed", duration)
            message_text = (
                f"the listing of org {self.spec.org_id} contradicted itself: {contradiction}; "
                "nobody missing from it is marked Deprovisioned and no action is taken from "
                f"it; listing again in {delay:.0f}s"
            )
            self._write_org(fields, self._kept_ready("ListingInconsistent", message_text))
            self._schedule_sync(now + delay)
        else:
            self._failures = 0
            self.metrics.sync_done(self.ref, "succeeded", duration)
            self._write_org(
                fields,
                (
                    Condition(
                        READY, True, "Synced", "listed completely with the current spec and API key"
                    ),
                    Condition(
                        SYNCED,
                        True,
                        "ListingComplete",
                        f"listed {len(snapshot)} users of org {self.spec.org_id} "
                        f"in {message.requests} requests",
                    ),
                ),
            )
            self._schedule_sync(now + self._sync_delay())
        self._reconcile(list(self._accounts))
        if self.spec.discovery and message.claims is not None and snapshot.trusted:
            self._discover(snapshot, message.claims)

    def _sync_failed(
        self, reason: str, message: str, *, config_error: bool, answers: str | None
    ) -> None:
        """A failed sync changes nothing but the org's conditions: the snapshot stays as it was.

        `answers`: the sync request this sync began after, if any.
        """
        now = self._clock()
        self._failure = message
        self._failures += 1
        if config_error:
            # Actions wait until the spec or the key changes; the key is re-read every few
            # seconds (no Atlassian request) so that a fix is picked up at once.
            self._config_failure = (reason, message, self._key_fingerprint)
            self._key_check_at = now + KEY_RECHECK_SECONDS
        fields: dict[str, Any] = {"observedGeneration": self.generation}
        if answers:
            fields["observedSyncRequest"] = answers
            if self._unanswered_request == answers:
                self._unanswered_request = None
        self._schedule_sync(now + self._sync_delay())
        self._write_org_problem(reason, message, config_error=config_error, fields=fields)
        self._reconcile(list(self._accounts))

    def _schedule_sync(self, at: float) -> None:
        """The next sync; at once when a request came in while this one was running."""
        self._next_sync = self._clock() if self._unanswered_request else at

    def _sync_delay(self) -> float:
        """The interval after a good sync; after failures, backoff from 5s up to the interval."""
        if not self._failures:
            return self._interval()
        delay = backoff(self._failures, FIRST_BACKOFF_SECONDS, self._interval())
        return delay * random.uniform(0.8, 1.0)

    def _replay_journal(self, snapshot: OrgSnapshot, since: float) -> None:
        # A page read before a call returned shows the old state: the call is the newer truth.
        for account_id, (at, account_status_) in list(self._journal.items()):
            if at >= since:
                snapshot.record_status(account_id, account_status_)
            else:
                del self._journal[account_id]

    def _restore_budget(self, claims: Iterable[AccountClaim]) -> None:
        """Disable calls made before a restart still count against the rolling window.

        Only calls made since this AtlassianOrg object was created: a recreated org inherits
        no budget from the object it replaces.
        """
        wall, mono = datetime.now(UTC), self._clock()
        made = [parse_time(c.last_disable) for c in claims if c.last_disable]
        born = self._created
        self.budget.restore(
            (
                mono - (wall - t).total_seconds()
                for t in made
                if t is not None and (born is None or t >= born)
            ),
            mono,
        )

    def _discover(self, snapshot: OrgSnapshot, claims: Iterable[AccountClaim]) -> None:
        known = [*claims]
        for state in self._accounts.values():
            spec = state.resource.spec
            if isinstance(spec, AccountSpec):
                known.append(AccountClaim.of(_spec_dict(spec), state.resource.status))
        missing = unclaimed_users(snapshot, known)
        if not missing:
            return
        kube, namespace = self.kube, self.ref.namespace
        bodies = [discovered_account(self.ref, user) for user in missing]

        async def create() -> None:
            created = 0
            for body in bodies:
                created += await kube.create_account(namespace, body)
            logger.info("Discovered %d accounts in %s", created, self.ref)

        self._spawn("creating discovered accounts", create())

    def _on_rate_limit_wait(self, seconds: float) -> None:
        self._rate_limited_until = max(self._rate_limited_until, self._clock() + seconds)
        if self._listing is not None:
            self._report_rate_limited(seconds)

    def _report_rate_limited(self, seconds: float) -> None:
        synced = find(self._org_view().get("conditions"), SYNCED)
        if synced is not None and synced.get("reason") == "RateLimited":
            return
        message = (
            f"Atlassian's rate limit is used up; the listing waits {seconds:.0f}s for it to reset "
            "and then continues"
        )
        self._write_org({}, self._kept_ready("RateLimited", message))

    # ----- org status ---------------------------------------------------------------------------

    def _org_view(self) -> Mapping[str, Any]:
        return self._writes.latest(ORG_KEY) or self._status

    def _kept_ready(self, reason: str, message: str) -> tuple[Condition, Condition]:
        """Synced=False for a passing reason; Ready stays what it was for this generation."""
        ready = find(self._org_view().get("conditions"), READY)
        keep = ready is not None and ready.get("observedGeneration") == self.generation
        ready_condition = (
            Condition(
                READY,
                ready.get("status") == "True",
                str(ready.get("reason")),
                str(ready.get("message")),
            )
            if keep and ready is not None
            else Condition(READY, False, reason, message)
        )
        return ready_condition, Condition(SYNCED, False, reason, message)

    def _write_org_problem(
        self,
        reason: str,
        message: str,
        *,
        config_error: bool,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        if not self.exists:
            return
        if config_error:
            conditions = (
                Condition(READY, False, reason, message),
                Condition(SYNCED, False, reason, message),
            )
        else:
            ready = find(self._org_view().get("conditions"), READY)
            healthy = ready is not None and ready.get("status") == "True"
            conditions = (
                self._kept_ready(reason, message)
                if healthy
                else (
                    Condition(READY, False, reason, message),
                    Condition(SYNCED, False, reason, message),
                )
            )
        self._write_org(fields or {}, conditions)

    def _write_org(
        self, fields: Mapping[str, Any], conditions: tuple[Condition, Condition]
    ) -> None:
        if not self.exists:
            return
        view = self._org_view()
        desired = {
            **view,
            **fields,
            "conditions": render_conditions(
                conditions, view.get("conditions"), self.generation, utcnow()
            ),
        }
        self._writes.want(ORG_KEY, self.ref, desired, self._status)

    def _counts_changed(self) -> None:
        """An action's result shows in the org's counts at once, not at the next listing."""
        view = self._org_view()
        if self.snapshot is None or not self.exists or "users" not in view:
            return
        counts = self.snapshot.user_counts()
        self.metrics.snapshot(self.ref, counts)
        self._writes.want(ORG_KEY, self.ref, {**view, "users": counts}, self._status)

    # ----- the AtlassianAccounts ----------------------------------------------------------------

    def _on_account_seen(self, account: AccountResource) -> None:
        name = account.ref.name
        state = self._accounts.get(name)
        if state is not None and state.resource.ref.uid != account.ref.uid:
            self._forget(name)  # a new object of the same name: nothing carries over
            state = None
        if state is None:
            state = AccountState(account, announced=_ready_problem(account.status))
            self._accounts[name] = state
        elif not _newer_or_equal(account.resource_version, state.resource.resource_version):
            return
        else:
            edited = account.generation != state.resource.generation
            state.resource = account
            if not edited:
                # Only status (which only the operator writes) or metadata changed: the echo of
                # our own write. Nothing to decide; at 10,000 accounts this is most events.
                return
            state.attempts, state.retry_at = 0, None  # an edit is worth trying at once
        self._reconcile([name])

    def _on_account_gone(self, name: str, uid: str) -> None:
        state = self._accounts.get(name)
        if state is not None and state.resource.ref.uid == uid:
            rivals = self._claims.get(state.resolved or "", set()) - {name}
            self._forget(name)
            self._reconcile(sorted(rivals))  # a duplicate's rival is re-evaluated at once

    def _forget(self, name: str) -> None:
        state = self._accounts.pop(name, None)
        self.budget.withdraw(name)
        self._writes.drop(name)
        if state is not None and state.resolved:
            self._claims.get(state.resolved, set()).discard(name)
            if not self._claims.get(state.resolved):
                self._claims.pop(state.resolved, None)

    def _view(self, state: AccountState) -> Mapping[str, Any]:
        """The account's status as last decided, or as stored when nothing is pending."""
        return self._writes.latest(state.resource.ref.name) or state.resource.status

    def _claim(self, name: str, state: AccountState, account_id: str | None) -> set[str]:
        """Index who is about which Atlassian account; returns names whose rivals changed."""
        spec = state.resource.spec
        desires = isinstance(spec, AccountSpec) and spec.desired_state is not None
        if account_id == state.resolved and desires == state.desires:
            return set()
        touched = set()
        if state.resolved:
            old = self._claims.get(state.resolved, set())
            old.discard(name)
            touched |= old
            if not old:
                self._claims.pop(state.resolved, None)
        if account_id:
            new = self._claims.setdefault(account_id, set())
            touched |= new
            new.add(name)
        state.resolved, state.desires = account_id, desires
        return touched

    def _reconcile(self, names: Iterable[str]) -> None:
        """Evaluate accounts, grant the budget oldest first, start calls, render the rest."""
        now = self._clock()
        todo = list(dict.fromkeys(names))
        evaluations: dict[str, Evaluation] = {}
        while todo:
            name = todo.pop()
            if name in evaluations:
                continue
            evaluation, touched = self._evaluate(name, now)
            if evaluation is not None:
                evaluations[name] = evaluation
            todo += [n for n in touched if n not in evaluations]
        while self.budget.available(now) > 0 and (head := self.budget.next_in_line()):
            evaluation = evaluations.get(head) or self._evaluate(head, now)[0]
            if evaluation is None or evaluation.wants is not Action.SUSPEND:
                self.budget.withdraw(head)
                continue
            self.budget.spend(head, now)
            self._call(evaluation)
            evaluations[head] = evaluation
        for evaluation in evaluations.values():
            if evaluation.wants is Action.REACTIVATE:
                self._call(evaluation)
            elif evaluation.wants is None or self.budget.waiting(evaluation.name):
                self._render(evaluation)

    def _evaluate(self, name: str, now: float) -> tuple[Evaluation | None, set[str]]:
        state = self._accounts.get(name)
        if state is None:
            self.budget.withdraw(name)
            return None, set()
        evaluation = Evaluation(name, state)
        resource, view = state.resource, self._view(state)
        spec = resource.spec
        if isinstance(spec, InvalidSpec) or not self.exists:
            self.budget.withdraw(name)
            touched = self._claim(name, state, None)
            if isinstance(spec, InvalidSpec):
                evaluation.problem = ("InvalidSpec", str(spec))
            elif not self._org_seen_once and not self._grace_over:
                evaluation.hold = True
            else:
                evaluation.problem = (
                    "OrgNotFound",
                    f"AtlassianOrg {self.ref.name!r} not found in namespace "
                    f"{self.ref.namespace}; create it or fix spec.orgRef.name",
                )
            return evaluation, touched
        snapshot = self.snapshot
        if snapshot is None or self.spec is None:
            self.budget.withdraw(name)
            ready = find(view.get("conditions"), READY)
            waiting = ready is not None and ready.get("reason") == "OrgNotSynced"
            kept = view.get("observedGeneration") == resource.generation and not waiting
            if self._failure is None or kept:
                evaluation.hold = True  # the first listing is under way, or keep what was seen
            else:
                evaluation.problem = (
                    "OrgNotSynced",
                    f"waiting for a complete listing of AtlassianOrg {self.ref.name}: "
                    f"{self._failure}",
                )
            return evaluation, set()
        observation = observe(spec, view, snapshot)
        if (
            not snapshot.trusted
            and observation.user is None
            and observation.reason != IDENTITY_CHANGED
        ):
            self.budget.withdraw(name)
            evaluation.hold = True  # a doubtful listing says nothing about who is missing
            return evaluation, set()
        touched = self._claim(name, state, observation.account_id)
        rivals = [
            Rival(other, self._accounts[other].desires)
            for other in self._claims.get(observation.account_id or "", ())
            if other != name
        ]
        failed = state.failed
        plan = plan_account(
            spec=spec,
            status=view,
            observation=observation,
            policy=self.spec.suspension,
            rivals=rivals,
            trusted=snapshot.trusted,
            failed=failed[2] if failed and failed[:2] == (resource.generation, self._config_key())
            else None,
        )  # fmt: skip
        evaluation.plan = plan
        action, account_id = plan.action, observation.account_id
        if action is None or account_id is None:
            self.budget.withdraw(name)
            return evaluation, touched
        if (
            state.result is not None
            or account_id in self._in_flight
            or (state.retry_at is not None and now < state.retry_at)
        ):
            self.budget.withdraw(name)
            evaluation.hold = state.result is None
            return evaluation, touched
        if self._client is None or self._config_failure is not None:
            self.budget.withdraw(name)
            reason, message, _ = self._config_failure or (
                "SecretNotUsable",
                "no usable API key yet",
                None,
            )
            evaluation.plan = AccountPlan(
                observation,
                Decision(
                    blocked=Blocked(
                        reason,
                        f"AtlassianOrg {self.ref.name} cannot act: {message}",
                    )
                ),
            )
            return evaluation, touched
        if action is Action.SUSPEND:
            self.budget.ask(name, now)
        evaluation.wants = action
        return evaluation, touched

    def _render(self, evaluation: Evaluation) -> None:
        state, now = evaluation.state, utcnow()
        if evaluation.hold:
            return
        resource, view = state.resource, self._view(state)
        result = state.result
        if evaluation.problem is not None:
            reason, message = evaluation.problem
            desired = problem_status(
                reason=reason,
                message=message,
                generation=resource.generation,
                previous=view,
                now=now,
                spec=resource.spec if isinstance(resource.spec, AccountSpec) else None,
            )
        else:
            assert evaluation.plan is not None and isinstance(resource.spec, AccountSpec)
            assert self.spec is not None
            decision = evaluation.plan.decision
            if evaluation.wants is Action.SUSPEND and result is None:
                decision = Decision(blocked=self._over_budget())
            desired = account_status(
                spec=resource.spec,
                generation=resource.generation,
                observation=evaluation.plan.observation,
                decision=decision,
                result=result,
                previous=view,
                org=self.spec.org_id,
                now=now,
                defers_to=evaluation.plan.defers_to,
            )
        state.result = None
        self._writes.want(resource.ref.name, resource.ref, desired, resource.status)
        self._announce(state, desired, result)

    def _over_budget(self) -> Blocked:
        now = self._clock()
        return Blocked(
            "SuspensionBudgetExceeded",
            f"{self.budget.spent(now)} suspensions in the last {self._interval():.0f}s reached "
            f"spec.suspension.maxPerSync ({self.budget.limit}) of AtlassianOrg {self.ref.name}; "
            f"this one waits its turn (oldest first; {len(self.budget)} waiting)",
        )

    def _announce(
        self, state: AccountState, status: Mapping[str, Any], result: ActionResult | None
    ) -> None:
        """One Event per outcome of a call, and one per distinct cause of a block."""
        reason = _ready_problem(status)
        ref = state.resource.ref
        if result is not None:
            if result.succeeded:
                kind = "Suspended" if result.action is Action.SUSPEND else "Reactivated"
                self._event(ref, "Normal", kind, result.message)
            else:
                self._event(
                    ref, "Warning", f"{result.action}Failed", f"{result.reason}: {result.message}"
                )
        elif reason and reason != state.announced:
            ready = find(status.get("conditions"), READY) or {}
            kind = "Normal" if reason == "DryRun" else "Warning"
            self._event(ref, kind, reason, str(ready.get("message", "")))
        state.announced = reason

    def _event(self, ref: ObjectRef, kind: str, reason: str, message: str) -> None:
        kube = self.kube

        async def post() -> None:
            await kube.post_event(ref, kind, reason, message)

        self._spawn("posting an Event", post())

    # ----- lifecycle calls ----------------------------------------------------------------------

    def _call(self, evaluation: Evaluation) -> None:
        assert evaluation.plan is not None and evaluation.wants is not None
        assert self._client is not None
        state, action = evaluation.state, evaluation.wants
        account_id = evaluation.plan.observation.account_id
        assert account_id is not None
        resource = state.resource
        spec = resource.spec
        assert isinstance(spec, AccountSpec)
        self._in_flight.add(account_id)
        client, requested_by = self._client, resource.desired_by
        name, uid = resource.ref.name, resource.ref.uid

        async def call() -> None:
            error: AtlassianError | None = None
            try:
                if action is Action.SUSPEND:
                    await client.disable(account_id, spec.suspension_message)
                else:
                    await client.enable(account_id)
            except AtlassianError as exc:
                error = exc
            except Exception as exc:
                logger.exception("%s of %s failed unexpectedly", action, account_id)
                error = InternalFailure(
                    f"unexpected {type(exc).__name__} during the call; see the operator log"
                )
            self.post(LifecycleDone(name, uid, account_id, action, error, requested_by))

        self._spawn(f"{action} of {account_id}", call())

    def _on_lifecycle_done(self, message: LifecycleDone) -> None:
        account_id, action, error = message.account_id, message.action, message.error
        self._in_flight.discard(account_id)
        now = self._clock()
        user = self.snapshot.users.get(account_id) if self.snapshot else None
        who = (user.email if user else None) or account_id
        by = f" (desiredState set by {message.requested_by})" if message.requested_by else ""
        if error is None:
            new_status = "inactive" if action is Action.SUSPEND else "active"
            self._journal[account_id] = (now, new_status)
            if self.snapshot is not None:
                self.snapshot.record_status(account_id, new_status)
            self.metrics.action(self.ref, action, "Succeeded")
            verb = "disabled" if action is Action.SUSPEND else "enabled"
            logger.info("%s %s for %s/%s%s", verb.capitalize(), who, self.ref.namespace,
                        message.name, by)  # fmt: skip
            result = ActionResult(
                action, True, "Succeeded", f"{verb} {who} in Atlassian{by}", utcnow(),
                message.requested_by,
            )  # fmt: skip
            self._counts_changed()
        else:
            reason = _reason(error)
            self.metrics.action(self.ref, action, reason)
            logger.warning("%s of %s for %s/%s failed: %s", action, account_id,
                           self.ref.namespace, message.name, error)  # fmt: skip
            result = ActionResult(action, False, reason, str(error), utcnow(), message.requested_by)
        state = self._accounts.get(message.name)
        if state is None or state.resource.ref.uid != message.uid:
            self._reconcile(sorted(self._claims.get(account_id, ())))
            return
        if isinstance(error, AuthenticationFailed):
            # The key is rejected for everything: every account waits for the org's next good
            # listing, and the key is re-read every few seconds to pick up a fix.
            self._config_failure = (result.reason, result.message, self._key_fingerprint)
            self._key_check_at = now + KEY_RECHECK_SECONDS
        if error is None:
            state.attempts, state.retry_at, state.failed = 0, None, None
        elif is_transient(error) or isinstance(error, InternalFailure | AuthenticationFailed):
            state.attempts += 1
            state.retry_at = now + backoff(state.attempts, RETRY_BASE_SECONDS, self._interval())
            heapq.heappush(self._retries, (state.retry_at, message.name))
        else:
            # Fails again until the account's spec, or the org's spec or key, changes.
            state.failed = (
                state.resource.generation,
                self._config_key(),
                Blocked(result.reason, result.message, action),
            )
        state.result = result
        self._reconcile([message.name, *sorted(self._claims.get(account_id, ()))])

    # ----- status writes ------------------------------------------------------------------------

    def _pump_writes(self) -> None:
        if self._write_retry_at is not None:
            return
        for write in self._writes.take(WRITE_CONCURRENCY - self._writes.in_flight):
            self._start_write(write)

    def _stored_status(self, key: str) -> Mapping[str, Any] | None:
        if key == ORG_KEY:
            return self._status if self.exists else None
        state = self._accounts.get(key)
        return state.resource.status if state is not None else None

    def _start_write(self, write: Write) -> None:
        stored = self._stored_status(write.key)
        patch = status_patch(stored or {}, write.desired) if stored is not None else {}
        if not patch:
            self._writes.done(write.key)
            return
        if write.ref.kind == ACCOUNT_KIND:
            patch["lastSyncTime"] = utcnow()
        kube = self.kube

        async def patch_status() -> None:
            try:
                body = await kube.patch_status(write.ref, patch)
            except KubeError as exc:
                self.post(StatusStored(write.key, None, exc.status or -1, str(exc)))
            except Exception as exc:
                self.post(StatusStored(write.key, None, -1, f"{type(exc).__name__}: {exc}"))
            else:
                self.post(StatusStored(write.key, body, 0))

        self._spawn(f"writing the status of {write.ref}", patch_status())

    def _on_status_stored(self, message: StatusStored) -> None:
        key = message.key
        if message.status == 0 and message.body is not None:
            self._writes.done(key)
            self._write_failures = 0
            self._refused.discard(key)
            self._stored(key, message.body)
            return
        write = self._writes.take_in_flight(key)
        if message.status == 404 or write is None:
            return  # the object is gone; its watch event says so
        logger.warning("Writing the status of %s failed: %s", write.ref, message.message)
        if message.status in (400, 422):
            if key in self._refused:
                return  # even the condition saying so was refused: the log is all that is left
            # The API server refused this status: say so in a condition it accepts.
            self._refused.add(key)
            text = f"the API server refused the status the operator wrote: {message.message}"
            state = self._accounts.get(key)
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
                if _newer_or_equal(version, self._resource_version):
                    self._resource_version = version
                    self._status = dict(body.get("status") or {})
            return
        state = self._accounts.get(key)
        if state is not None and meta.get("uid") == state.resource.ref.uid:
            account = AccountResource.from_body(body)
            if _newer_or_equal(account.resource_version, state.resource.resource_version):
                state.resource = account


def _reason(error: AtlassianError) -> str:
    return "InternalError" if isinstance(error, InternalFailure) else failure_reason(error)


def _counts(listing: _Listing) -> tuple[int, int]:
    return listing.count.requests, listing.count.rate_limited


def _ready_problem(status: Mapping[str, Any]) -> str | None:
    ready = find(status.get("conditions"), READY)
    return str(ready.get("reason")) if ready and ready.get("status") == "False" else None


def _spec_dict(spec: AccountSpec) -> dict[str, Any]:
    return {"accountId": spec.account_id, "email": spec.email}


def _newer_or_equal(new: str, old: str) -> bool:
    # resourceVersions are opaque, but every real API server stores etcd revisions: when both
    # parse as integers, an older event must not overwrite what a patch response already told us.
    if new.isdigit() and old.isdigit():
        return int(new) >= int(old)
    return True
