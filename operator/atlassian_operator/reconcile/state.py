"""The state one org's owner holds, in one place: what the owner's two sides share.

`OrgOwner` (owner.py) is one class made of this state, `AccountSide` (what it does about the
AtlassianAccounts: plan, gate, call, render) and, on top of it, `OrgSide` (what it does about
the AtlassianOrg: spec, key, listing, org status; it re-plans the accounts when any of those
change). The account side never calls the org side: what it changes for the org (the counts
after a call) it marks, and the owner's step writes. They run only on the owner's single loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

from atlassian_operator.atlassian import (
    AtlassianClient,
    AtlassianError,
    ClientObserver,
    LifecyclePermission,
)
from atlassian_operator.core.brake import Approval, ApprovalUnreadable, BrakeState, Considered
from atlassian_operator.core.budget import Backlog, SuspensionBudget
from atlassian_operator.core.conditions import READY, find
from atlassian_operator.core.directory import Directory
from atlassian_operator.core.ledger import LEDGER_UNAVAILABLE
from atlassian_operator.core.reasons import failure_reason
from atlassian_operator.core.resources import (
    ORG_KIND,
    InvalidSpec,
    ObjectRef,
    OrgSpec,
)
from atlassian_operator.core.snapshot import OrgSnapshot
from atlassian_operator.reconcile.accounts import AccountBook
from atlassian_operator.reconcile.effects import (
    InternalFailure,
    LedgerFailure,
    Listing,
    ListingObserver,
    SearchAbandoned,
)
from atlassian_operator.reconcile.kube import KubeApi
from atlassian_operator.reconcile.messages import (
    EffectFailed,
    Message,
    RateLimitWait,
)
from atlassian_operator.reconcile.metrics import Metrics
from atlassian_operator.reconcile.writes import LedgerWrites, StatusWrites

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
LISTING_ENDPOINTS = frozenset({"list_users", "search_users"})  # the client's names for them


def backoff(attempts: int, base: float, cap: float) -> float:
    """base * 2^(attempts-1), at most `cap`; the exponent is bounded so it can never overflow."""
    return min(cap, base * 2.0 ** min(max(attempts - 1, 0), 30))


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OrgObserver(ClientObserver, ListingObserver):
    """The client's hooks for one org: metrics, listing counts, and RateLimited to the owner."""

    def __init__(self, owner: OwnerState) -> None:
        self._owner = owner

    def response(self, endpoint: str, status: int) -> None:
        self._owner.metrics.response(self._owner.ref, endpoint, status)
        if endpoint in LISTING_ENDPOINTS and self.listing is not None:
            self.listing.requests += 1
            self.listing.rate_limited += status == 429
            self.listing.search_requests += endpoint == "search_users"

    def waiting(self, endpoint: str, seconds: float, reason: str) -> None:
        self._owner.metrics.waiting(self._owner.ref, endpoint, reason)
        # Short pacing pauses are not worth a status write.
        if reason == "rate_limited" or (reason == "pacing" and seconds >= 1.0):
            self._owner.post(RateLimitWait(seconds))


class OwnerState:
    """Every piece of mutable state of one org, owned by its loop alone."""

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
        self._calls: set[asyncio.Task[Any]] = set()  # lifecycle calls: stop() lets them finish
        self._draining = False  # stopping: nothing new is sent, results are still recorded
        self._drained = asyncio.Event()  # set once draining and nothing is left to record
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
        self._unmatched_protected: list[str] = []  # protectedAccounts entries matching nobody
        self._unanswered_request: str | None = None
        # The earlier AtlassianOrg that acts for this one's orgId (the Fleet says so): while
        # set, this org neither lists nor acts.
        self._duplicate_of: ObjectRef | None = None
        # ---- Atlassian
        self._client: AtlassianClient | None = None
        self._observer = OrgObserver(self)
        self._key_fingerprint: str | None = None
        self._reading_key = False
        self._key_check_at: float | None = None
        self._failure: str | None = None  # why the last sync failed, until one succeeds
        self._config_failure: tuple[str, str, str | None] | None = None  # reason, message, key
        self._key_problem: str | None = None  # why the key cannot be used, as last logged
        self._failures = 0
        self._epoch = 0
        self._listing: Listing | None = None
        self._next_sync = clock()
        self._rate_limited_until = 0.0
        self.snapshot: OrgSnapshot | None = None
        self._journal: dict[str, tuple[float, str]] = {}
        self._listed_at = 0.0  # when the listing behind `snapshot` started (monotonic)
        self._permissions: dict[str, LifecyclePermission] = {}  # asked during this snapshot
        self._unconfirmed: dict[str, float] = {}  # account ID -> when a call's outcome got lost
        self._counts_stale = False  # a call's result changed the org's counts since the listing
        self.budget = SuspensionBudget(10, 300.0)
        self._budget_org: str | None = None  # the Atlassian org whose calls `budget` counts
        # What the last search of that Atlassian org said, kept when the object is re-created:
        # an admin the new object's first search leaves out is still known to be one.
        self._inherited_directory: Directory | None = None
        self._in_flight: set[str] = set()
        # The brake on mass calls (core/brake.py): the approval annotation as the object has it
        # now, what was made of the last one considered, the org's active users at the last
        # listing (the default threshold's base), and what the org's status shows.
        self._approval_set: Approval | ApprovalUnreadable | None = None
        self._considered: Considered | None = None
        self._active_users = 0
        self._brake_shown: BrakeState | None = None
        self._brake_written: BrakeState | None = None
        self._brake_stale = False
        self._backlog: Backlog | None = None  # why calls wait in the budget's line, as logged
        # ---- the AtlassianAccounts naming this org
        self.accounts = AccountBook()
        self._writes = StatusWrites()
        # The Atlassian org's call ledger (core/ledger.py): every call is in it before it is
        # sent. The accounts whose recorded intent waits for it; why it cannot be written, while
        # it cannot (no call is made meanwhile).
        self._ledger = LedgerWrites()
        self._awaiting_ledger: set[str] = set()
        self._ledger_failure: str | None = None
        self._ledger_failures = 0  # in a row, for the backoff of its retries
        self._ledger_retry_at: float | None = None
        self._write_retry_at: float | None = None
        self._write_failures = 0
        self._refused: set[str] = set()  # objects whose last status the API server refused

    # ----- shared by both sides ---------------------------------------------------------------

    def post(self, message: Message) -> None:
        self._queue.put_nowait(message)

    def _spawn(self, what: str, coro: Coroutine[Any, Any, None], *, call: bool = False) -> None:
        """Run an effect; `call`: a lifecycle call at Atlassian, which stop() lets finish."""
        task = asyncio.ensure_future(coro)
        self._effects.add(task)
        if call:
            self._calls.add(task)

        def finished(t: asyncio.Task[Any]) -> None:
            self._effects.discard(t)
            self._calls.discard(t)
            if not t.cancelled() and (error := t.exception()) is not None:
                self.post(EffectFailed(what, error))

        task.add_done_callback(finished)

    def _interval(self) -> float:
        return self.spec.sync_interval_seconds if self.spec else 300.0

    def _config_key(self) -> str:
        """Changes whenever what an Atlassian call depends on changes: the org's spec or key."""
        return f"{self.ref.uid}/{self.generation}/{self._key_fingerprint}"


def reason_of(error: AtlassianError) -> str:
    if isinstance(error, InternalFailure):
        return "InternalError"
    if isinstance(error, SearchAbandoned):
        return "SearchTooSlow"
    if isinstance(error, LedgerFailure):
        return LEDGER_UNAVAILABLE
    return failure_reason(error)


def ready_problem(status: Mapping[str, Any]) -> str | None:
    ready = find(status.get("conditions"), READY)
    return str(ready.get("reason")) if ready and ready.get("status") == "False" else None


def newer_or_equal(new: str, old: str) -> bool:
    # resourceVersions are opaque, but every real API server stores etcd revisions: when both
    # parse as integers, an older event must not overwrite what a patch response already told us.
    if new.isdigit() and old.isdigit():
        return int(new) >= int(old)
    return True
