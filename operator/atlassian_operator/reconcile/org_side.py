"""What an org's owner does about the AtlassianOrg: spec, key, listing, and the org's status."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from atlassian_operator.atlassian import AtlassianError, UnreadableTime, User
from atlassian_operator.core.authority import base_url_problem
from atlassian_operator.core.brake import (
    DAY_SECONDS,
    Approval,
    ApprovalUnreadable,
    Standing,
    approval_of,
    restored_approval,
)
from atlassian_operator.core.budget import SuspensionBudget, recorded_calls
from atlassian_operator.core.conditions import (
    ACTIONS_PAUSED,
    ENRICHED,
    READY,
    SYNCED,
    Condition,
    find,
    render_conditions,
)
from atlassian_operator.core.directory import Directory
from atlassian_operator.core.discovery import discovered_account, unclaimed_users
from atlassian_operator.core.ledger import LedgerCall
from atlassian_operator.core.mapping import parse_time, timestamp
from atlassian_operator.core.reasons import DUPLICATE_ORG, is_configuration_error
from atlassian_operator.core.resources import (
    ORG_KIND,
    SYNC_REQUESTED_ANNOTATION,
    AccountClaim,
    AccountSpec,
    InvalidSpec,
    ObjectRef,
    OrgSpec,
)
from atlassian_operator.core.snapshot import OrgSnapshot
from atlassian_operator.core.status import org_status
from atlassian_operator.logfields import about
from atlassian_operator.reconcile import effects
from atlassian_operator.reconcile.account_side import AccountSide
from atlassian_operator.reconcile.accounts import INACTIVITY_COUNTS
from atlassian_operator.reconcile.effects import Listing
from atlassian_operator.reconcile.kube import ApiKey
from atlassian_operator.reconcile.messages import (
    KeyRead,
    Listed,
)
from atlassian_operator.reconcile.state import (
    FIRST_BACKOFF_SECONDS,
    KEY_RECHECK_SECONDS,
    ORG_KEY,
    RETIRED_CLIENT_GRACE_SECONDS,
    backoff,
    newer_or_equal,
    reason_of,
    utcnow,
)

logger = logging.getLogger(__name__)


class OrgSide(AccountSide):
    # ----- the AtlassianOrg ---------------------------------------------------------------------

    def _on_org_seen(self, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            self._on_org_gone()
            return
        uid = str(meta.get("uid") or "")
        if self.exists and uid != self.ref.uid:
            self._on_org_gone(replaced=True)  # a new object of the same name: nothing carries over
        version = str(meta.get("resourceVersion") or "")
        if self.exists and not newer_or_equal(version, self._resource_version):
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
        approval_changed = self._read_approval(meta, first=first)
        generation = int(meta.get("generation") or 0)
        if generation != self.generation or first:
            self.generation = generation
            try:
                self.spec, self.spec_error = OrgSpec.from_dict(body.get("spec") or {}), None
                if self._budget_org not in (None, self.spec.org_id):
                    self.budget = SuspensionBudget(10, 300.0)  # another Atlassian org's window
                    self._inherited_directory = None  # and another org's people
                    self._considered = None  # an approval of another org's calls
                self._budget_org = self.spec.org_id
                limit, policy = self.spec.suspension.max_per_sync, self.spec.inactivity
                share = policy.share(limit) if policy is not None else None
                self.budget.resize(limit, self._interval(), share)
            except InvalidSpec as exc:
                self.spec, self.spec_error = None, exc
            self._next_sync = self._clock()
            self._replan_org()  # a changed spec can unblock accounts, or block a call
        elif approval_changed:
            self._reconcile([])  # taken or refused as things stand now; it may release calls
        if first and self.budget.spent(self._clock()):
            # A re-created object inherits the orgId's window: its status is now the durable
            # record of calls whose accounts (and the old object) may be gone.
            self._record_budget()
        if self._duplicate_of is not None:
            self._write_duplicate(self._duplicate_of)

    def _read_approval(self, meta: Mapping[str, Any], *, first: bool) -> bool:
        """The approval annotation as the object has it now; whether it changed. A restarted
        operator takes back what its status says it made of the same approval."""
        try:
            approval: Approval | ApprovalUnreadable | None = approval_of(meta)
        except ApprovalUnreadable as exc:
            approval = exc
        if approval is None:
            self._considered = None  # removed: the next one is new, even of the same number
        elif first and isinstance(approval, Approval) and self._considered is None:
            self._considered = restored_approval(
                approval, self._status.get("suspensionBrake"), self._clock(), datetime.now(UTC)
            )
        changed = _value(approval) != _value(self._approval_set)
        self._approval_set = approval
        return changed

    def _on_duplicate(self, of: ObjectRef | None) -> None:
        """Another AtlassianOrg acts for this one's orgId (`of`), or none does any more."""
        if of == self._duplicate_of:
            return
        self._duplicate_of = of
        if of is None:
            self._next_sync = self._clock()  # take over at once, from a listing of its own
        else:
            # Whatever this org learnt or was about to learn is dropped: a snapshot kept
            # until a take-over would be acted on before any listing of its own.
            self._epoch += 1  # a listing in flight answers an org that no longer lists
            self._listing = None
            self.snapshot, self._journal, self._key_check_at = None, {}, None
            self._retire_client()
            self._write_duplicate(of)
        self._replan_org()

    def _write_duplicate(self, of: ObjectRef) -> None:
        org_id = self.spec.org_id if self.spec is not None else "its orgId"
        self._write_org_problem(
            DUPLICATE_ORG,
            f"{of} names the same Atlassian org ({org_id}) and was created first (in the same "
            "second: first by namespace, then name): it alone acts for it, so this one lists "
            "nothing and changes nobody, and its accounts wait; delete this AtlassianOrg, or "
            f"{of}, or give one of them another orgId",
            config_error=True,
            fields={"observedGeneration": self.generation},
        )

    def _on_org_gone(self, *, replaced: bool = False) -> None:
        """Deleted (or replaced by a new UID): forget everything learnt under it."""
        if self.exists:  # once: the deletion is seen as a deletionTimestamp, then as DELETED
            logger.info(
                "AtlassianOrg %s/%s %s: nothing more is listed or changed in Atlassian for it%s",
                self.ref.namespace, self.ref.name,
                "was replaced by a new object of the same name" if replaced else "was deleted",
                "; the new one starts from a listing of its own" if replaced
                else f", and the AtlassianAccounts naming it ({len(self.accounts)}) show "
                "OrgNotFound until it is created again",
                extra=about(self.ref),
            )  # fmt: skip
        self.exists = False
        self._key_problem = None  # a new object's key is a new story
        self._retire_client()
        self._epoch += 1  # a listing in flight answers an object that is gone
        self._listing, self._reading_key = None, False
        if self.snapshot is not None and self.snapshot.directory is not None:
            self._inherited_directory = self.snapshot.directory
        self.snapshot, self._journal = None, {}
        # The budget's window and the last search's facts stay: they belong to the Atlassian
        # org, and a new object naming the same orgId goes on from them (see _on_org_seen).
        self._failure, self._config_failure, self._failures = None, None, 0
        self._status, self._resource_version, self.generation = {}, "", 0
        self.spec, self.spec_error = None, None
        self._sync_request = self._unanswered_request = None
        # An approval is the object's annotation: it goes with the object. The calls made
        # under it stay in the budget's record of the orgId.
        self._approval_set, self._considered = None, None
        self._brake_shown = self._brake_written = None
        self._writes.drop(ORG_KEY)
        self.metrics.forget(self.ref)
        self._replan_org()

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
        self._reading_key = then_sync
        self._spawn(
            "reading the API key",
            effects.read_key(
                self.kube, self.ref.namespace, self.spec, self.generation, then_sync, self.post
            ),
        )

    def _on_key_read(self, message: KeyRead) -> None:
        if message.then_sync:
            self._reading_key = False
        if self._duplicate_of is not None:
            return  # read before the Fleet said so: a duplicate uses no key
        if not self.exists or self.spec is None or message.generation != self.generation:
            self._next_sync = self._clock()  # the spec changed meanwhile: read it again
            return
        if self._config_failure is not None and not message.then_sync:
            self._key_check_at = self._clock() + KEY_RECHECK_SECONDS
        if message.key is None:
            self._retire_client()  # a deleted or emptied Secret revokes the use of the key
            self._note_key_problem(str(message.problem))
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
                self._note_key_problem(str(exc))
                self._sync_failed(
                    "SecretNotUsable", str(exc), config_error=True, answers=self._unanswered_request
                )
                return
        self._note_key_problem(None)
        if message.then_sync:
            self._start_listing()
        elif self._config_failure is not None and self._config_failure[2] != self._key_fingerprint:
            self._next_sync = self._clock()  # a new key: try it now

    def _note_key_problem(self, problem: str | None) -> None:
        """One log line when the org's key becomes unusable (or unusable for another reason),
        and one when it is usable again; not one at every re-read (every few seconds)."""
        if problem == self._key_problem:
            return
        if problem is not None:
            logger.warning(
                "The API key of AtlassianOrg %s/%s cannot be used: %s; nothing is listed or "
                "changed in Atlassian for it until it can", self.ref.namespace, self.ref.name,
                problem, extra=about(self.ref),
            )  # fmt: skip
        else:
            logger.info(
                "The API key of AtlassianOrg %s/%s can be used again", self.ref.namespace,
                self.ref.name, extra=about(self.ref),
            )  # fmt: skip
        self._key_problem = problem

    def _install_client(self, key: ApiKey) -> None:
        assert self.spec is not None
        client = self._client_factory(key.value, self.spec.api_base_url, self._observer)
        self._retire_client()
        self._client, self._key_fingerprint = client, key.fingerprint

    def _retire_client(self) -> None:
        client, self._client, self._key_fingerprint = self._client, None, None
        if client is None:
            return

        self._spawn(
            "closing a replaced client",
            effects.close_later(client, RETIRED_CLIENT_GRACE_SECONDS),
        )

    def _start_listing(self) -> None:
        assert self._client is not None and self.spec is not None
        self._epoch += 1
        listing = Listing(self._epoch, self._clock(), self._unanswered_request)
        self._listing = listing
        if (wait := self._rate_limited_until - self._clock()) >= 1.0:
            self._report_rate_limited(wait)
        need_claims = self.snapshot is None or self.spec.discovery
        self._spawn(
            "listing the org",
            effects.list_org(
                self._client, self.kube, self._observer, listing, self.spec.org_id, self.ref,
                need_claims, self.spec.enrichment, self.post,
            ),
        )  # fmt: skip

    def _on_listed(self, message: Listed) -> None:
        listing = self._listing
        if listing is None or message.epoch != listing.epoch or self.spec is None:
            return  # it answers an object or a spec that is gone
        self._listing = None
        now, started = self._clock(), listing.started
        duration = now - started
        if message.error is not None:
            error = message.error
            logger.warning(
                "Listing org %s failed: %s", self.spec.org_id, error, extra=about(self.ref)
            )
            self._sync_failed(
                reason_of(error),
                str(error),
                config_error=is_configuration_error(error),
                answers=listing.answers,
                seconds=duration,
            )
            return
        assert message.listing is not None
        users, count = message.listing, message.count
        contradiction = users.contradiction()
        taken = datetime.now(UTC)
        directory = self._directory(message, users.users, complete=not contradiction)
        snapshot = (
            OrgSnapshot.untrusted(self.spec.org_id, self.snapshot, users.users, taken, directory)
            if contradiction
            else OrgSnapshot(self.spec.org_id, users.users, taken, directory=directory)
        )
        self._replay_journal(snapshot, since=started)
        if self.snapshot is None and message.claims is not None:
            self._restore_budget(message.claims, message.ledger)
        self.snapshot, self._listed_at, self._permissions = snapshot, started, {}
        # A call whose outcome was lost shows in a listing that started after it returned.
        self._unconfirmed = {a: t for a, t in self._unconfirmed.items() if t >= started}
        self._failure, self._config_failure, self._key_check_at = None, None, None
        fields = org_status(
            snapshot,
            generation=self.generation,
            now=utcnow(),
            duration=duration,
            requests=count.requests,
            rate_limited=count.rate_limited,
        )
        fields.setdefault("enrichment", None)  # none this sync: drop the last one's block
        fields["inactivity"] = self._inactivity_summary()
        self.metrics.inactivity(self.ref, fields["inactivity"])
        enriched = self._enriched_condition(directory, message.directory_error)
        if message.directory_error is not None:
            self.metrics.enrichment_failed(self.ref, reason_of(message.directory_error))
        if listing.answers:
            fields["observedSyncRequest"] = listing.answers
            if self._unanswered_request == listing.answers:
                self._unanswered_request = None
        counts = snapshot.user_counts()
        self.metrics.snapshot(self.ref, counts)
        self._active_users = counts["active"]  # the brake's default threshold counts from it
        unreadable = snapshot.unreadable_times()
        self.metrics.unreadable_times(self.ref, len(unreadable))
        if contradiction:
            self._failures += 1
            delay = self._sync_delay()
            self.metrics.sync_failed(self.ref, "ListingInconsistent", duration)
            message_text = (
                f"the listing of org {self.spec.org_id} contradicted itself: {contradiction}; "
                "nobody missing from it is marked Deprovisioned and no action is taken from "
                f"it; listing again in {delay:.0f}s"
            )
            self._write_org(
                fields, (*self._kept_ready("ListingInconsistent", message_text), enriched)
            )
            self._schedule_sync(now + delay)
        else:
            self._failures = 0
            self.metrics.sync_done(self.ref, duration)
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
                        f"in {count.requests} requests{unreadable_note(unreadable)}",
                    ),
                    enriched,
                ),
            )
            self._schedule_sync(now + self._sync_delay())
        self._replan_org()
        if self.spec.discovery and message.claims is not None and snapshot.trusted:
            self._discover(snapshot, message.claims)
        if snapshot.trusted:
            self._check_protected(snapshot)

    def _directory(
        self, message: Listed, users: Iterable[User], *, complete: bool
    ) -> Directory | None:
        """The v2 search joined to this listing, with what earlier searches said that still
        blocks a call for users it did not return; after a failed search, what the last one knew.
        """
        known = self.snapshot.directory if self.snapshot is not None else self._inherited_directory
        if message.directory is not None:
            self._inherited_directory = None  # carried into this one, where still protective
            return Directory.join(
                message.directory,
                (u.account_id for u in users),
                message.count.search_requests,
                earlier=known,
                complete=complete,
            )
        if message.directory_error is not None and known is not None:
            return known.stale()
        return None

    def _enriched_condition(
        self, directory: Directory | None, error: AtlassianError | None
    ) -> Condition:
        """What the sync's v2 search gave: `directory` is None when this sync ran none."""
        if error is None and directory is None:
            return Condition(
                ENRICHED,
                False,
                "EnrichmentDisabled",
                "spec.enrichment.enabled is false: every lifecycle call is first checked with "
                "Atlassian's user management API, and org admins are protected only by "
                "spec.suspension.protectedAccounts",
            )
        if error is not None:
            kept = "; what the last search said still blocks calls" if directory is not None else ""
            return Condition(
                ENRICHED,
                False,
                reason_of(error),
                f"the v2 user search failed: {error}; lifecycle calls are first checked with "
                f"Atlassian's user management API{kept}",
            )
        assert directory is not None
        unmanaged = len(directory.unmanaged)
        missed = len(directory.carried)
        carried = (
            f"; for {missed} user{'s' if missed != 1 else ''} of the org it did not return, what "
            "an earlier search said still blocks calls (admin, identity provider, unmanaged)"
            if missed
            else ""
        )
        return Condition(
            ENRICHED,
            True,
            "Enriched",
            f"the v2 user search returned {len(directory)} users ({unmanaged} unmanaged) in "
            f"{directory.requests} requests{carried}",
        )

    def _check_protected(self, snapshot: OrgSnapshot) -> None:
        """A protectedAccounts entry that matches nobody protects nobody: say so, once."""
        assert self.spec is not None
        unmatched = snapshot.unmatched(self.spec.suspension.protected_accounts)
        if unmatched and unmatched != self._unmatched_protected:
            self._spawn(
                "posting an Event",
                effects.post_event(
                    self.kube, self.ref, "Warning", "ProtectedAccountNotFound",
                    f"spec.suspension.protectedAccounts entries {', '.join(unmatched)} match no "
                    f"user of org {self.spec.org_id}: they protect nobody; check each is an "
                    "account ID or the email Atlassian shows",
                ),
            )  # fmt: skip
        self._unmatched_protected = unmatched

    def _sync_failed(
        self,
        reason: str,
        message: str,
        *,
        config_error: bool,
        answers: str | None,
        seconds: float | None = None,
    ) -> None:
        """A failed sync changes nothing but the org's conditions: the snapshot stays as it was.

        `answers`: the sync request this sync began after, if any.
        """
        now = self._clock()
        self.metrics.sync_failed(self.ref, reason, seconds)
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
        self._replan_org()

    def _schedule_sync(self, at: float) -> None:
        """The next sync; at once when a request came in while this one was running, and soon
        when a call's lost outcome waits to be seen, unless listings fail: then the backoff
        holds (Atlassian down would otherwise get a listing every few seconds)."""
        now = self._clock()
        if self._unconfirmed and not self._failures:
            at = min(at, now + FIRST_BACKOFF_SECONDS)
        self._next_sync = now if self._unanswered_request else at

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

    def _restore_budget(
        self, claims: Iterable[AccountClaim], ledger: Sequence[LedgerCall] | None
    ) -> None:
        """Calls recorded in the org's ledger, or else in the objects' statuses, still count
        against the rolling window and the brake's day.

        The window belongs to the Atlassian org, not to the AtlassianOrg object: calls made
        before a restart, or before the object was deleted and created again (a Flux
        prune-and-create, an Argo CD Replace), count, whichever object made them. Once the
        ledger exists it is the record: it holds every call since, written before each was
        sent, and every call the operator knew of when it was first written, even when the
        objects are gone. The statuses are the record only before it exists (an operator from
        before the ledger made the calls): they time a call twice (an account's pendingAction
        when it was recorded, the org's status.budget when it was sent), so that more than
        a second apart they count it twice, and would hold calls back that may go.
        """
        wall, mono = datetime.now(UTC), self._clock()
        day = wall - timedelta(seconds=DAY_SECONDS)
        if ledger is not None:
            kept = [call for call in ledger if call.time > day]
            self.budget.restore(
                ((mono - (wall - c.time).total_seconds(), c.account) for c in kept),
                mono,
                approved=sum(1 for c in kept if c.approved),
            )
            return
        claims = list(claims)
        by_accounts = [
            (t, c.account) for c in claims for t in map(parse_time, c.calls) if t is not None
        ]
        recorded = self._status.get("budget") or {}
        by_org: list[datetime] = []
        if self.spec is not None and recorded.get("orgId") == self.spec.org_id:
            # The org's own record: also the calls whose account has been deleted since.
            times = (parse_time(str(t)) for t in recorded.get("calls") or ())
            by_org = [t for t in times if t is not None]
        made = recorded_calls(by_org, by_accounts)
        # How many of the day's calls a person approved: the org's record, or as many as the
        # accounts show, whichever is more (each misses some; neither shows one not made).
        org_approved = recorded.get("approved") or () if by_org else ()
        approved = max(
            sum(1 for t in map(parse_time, map(str, org_approved)) if t and t > day),
            sum(1 for c in claims for t in map(parse_time, c.approved) if t and t > day),
        )
        self.budget.restore(
            ((mono - (wall - t).total_seconds(), key) for t, key in made), mono, approved=approved
        )

    def _discover(self, snapshot: OrgSnapshot, claims: Iterable[AccountClaim]) -> None:
        known = [*claims]
        for state in self.accounts.states():
            spec = state.resource.spec
            if isinstance(spec, AccountSpec):
                known.append(AccountClaim.of_account(spec, state.resource.status))
        missing = unclaimed_users(snapshot, known)
        if not missing:
            return
        org = self.ref
        bodies = (discovered_account(org, user) for user in missing)  # each when its turn comes
        self._spawn(
            "creating discovered accounts", effects.create_accounts(self.kube, self.ref, bodies)
        )

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

    def _write_org(self, fields: Mapping[str, Any], conditions: tuple[Condition, ...]) -> None:
        """Write these fields (None removes one) and conditions; a condition of another type
        stays as it was (`Enriched` changes only with a listing)."""
        if not self.exists:
            return
        view = self._org_view()
        previous = view.get("conditions") or []
        written = {c.type for c in conditions}
        desired = {
            **{k: v for k, v in {**view, **fields}.items() if v is not None},  # None: remove
            "conditions": [
                *render_conditions(conditions, previous, self.generation, utcnow()),
                *(c for c in previous if c.get("type") not in written),
            ],
        }
        self._writes.want(ORG_KEY, self.ref, desired, self._status)

    def _inactivity_changed(self) -> None:
        """The inactivity policy's counts, in the org's status (RECLAIMABLE) and metrics."""
        view = self._org_view()
        if self.spec is None or not self.exists or "users" not in view:
            return
        summary = self._inactivity_summary()
        self.metrics.inactivity(self.ref, summary)
        desired = {k: v for k, v in view.items() if k != "inactivity"}
        if summary is not None:
            desired["inactivity"] = summary
        self._writes.want(ORG_KEY, self.ref, desired, self._status)

    def _inactivity_summary(self) -> dict[str, Any] | None:
        """status.inactivity: the counts, and `asOf`, the time of the listing they come from.

        A failed sync or an unusable key changes no account's standing (each keeps what its
        last listing showed), so the counts keep their last good values; asOf says how old.
        """
        if self.spec is None or self.spec.inactivity is None:
            return None
        counts = self.accounts.inactivity
        summary: dict[str, Any] = {k: counts[k] for k in INACTIVITY_COUNTS}
        if self.snapshot is not None:
            summary["asOf"] = timestamp(self.snapshot.taken_at)
        return summary

    def _brake_changed(self) -> None:
        """The brake as the account side last saw it: the org's status, condition, metric, and
        an Event when it pauses or an approval is taken or refused."""
        shown, before = self._brake_shown, self._brake_written
        if shown is None or not self.exists or self.spec is None:
            return
        self._brake_written = shown
        self.metrics.paused(self.ref, shown.waiting if shown.paused else 0)
        status, reason, message = shown.condition(self.ref.name)
        condition = Condition(ACTIONS_PAUSED, status, reason, message)
        self._write_org({"suspensionBrake": shown.render()}, (condition,))
        if shown.paused and (before is None or not before.paused):
            self._org_event("Warning", "MassSuspensionPaused", message)
        taken = shown.approval
        if taken is not None and (before is None or before.approval != taken):
            if taken.standing is Standing.ACCEPTED:
                self._org_event(
                    "Normal", "SuspensionsApproved",
                    f"{taken.approval.by} approved {taken.approval.count} lifecycle calls at "
                    f"{taken.approval.at}; they go out within spec.suspension.maxPerSync",
                )  # fmt: skip
            else:
                self._org_event("Warning", "ApprovalNotUsed", message)
        if shown.unreadable and (before is None or before.unreadable != shown.unreadable):
            self._org_event("Warning", "ApprovalNotUsed", shown.unreadable)

    def _org_event(self, kind: str, reason: str, message: str) -> None:
        self._spawn(
            "posting an Event", effects.post_event(self.kube, self.ref, kind, reason, message)
        )

    def _counts_changed(self) -> None:
        """An action's result shows in the org's counts at once, not at the next listing."""
        view = self._org_view()
        if self.snapshot is None or not self.exists or "users" not in view:
            return
        counts = self.snapshot.user_counts()
        self.metrics.snapshot(self.ref, counts)
        self._writes.want(ORG_KEY, self.ref, {**view, "users": counts}, self._status)


def _value(approval: Approval | ApprovalUnreadable | None) -> int | str | None:
    """What identifies the approval annotation's state: its number, or why it is unreadable."""
    if isinstance(approval, Approval):
        return approval.count
    return None if approval is None else str(approval)


def unreadable_note(unreadable: Mapping[str, UnreadableTime]) -> str:
    """What the Synced condition adds when some last-active times cannot be read."""
    if not unreadable:
        return ""
    shown = ", ".join(f"{i} {t}" for i, t in sorted(unreadable.items())[:3])
    more = f" and {len(unreadable) - 3} more" if len(unreadable) > 3 else ""
    who = "1 user has" if len(unreadable) == 1 else f"{len(unreadable)} users have"
    return (
        f"; {who} a last-active time that cannot be read ({shown}{more}): the inactivity policy "
        "suspends none of them"
    )
