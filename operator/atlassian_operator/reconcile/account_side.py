"""What an org's owner does about its AtlassianAccounts: plan, gate, call, render, announce."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from atlassian_operator.atlassian import (
    AtlassianError,
    AuthenticationFailed,
    LifecyclePermission,
    OutcomeUnknown,
)
from atlassian_operator.core.brake import (
    APPROVE_ANNOTATION,
    DAY_SECONDS,
    DEFAULT_FLOOR,
    DEFAULT_PERCENT,
    Approval,
    ApprovalUnreadable,
    BrakeState,
    Considered,
    Standing,
    Verdict,
    consider,
    default_threshold,
    verdict,
)
from atlassian_operator.core.budget import Backlog, backlog_of
from atlassian_operator.core.conditions import INACTIVITY, READY, find
from atlassian_operator.core.decisions import Action, Blocked, Decision
from atlassian_operator.core.inactivity import POLICY_REQUESTER
from atlassian_operator.core.ledger import LEDGER_UNAVAILABLE, LedgerCall, ledger_body
from atlassian_operator.core.mapping import timestamp
from atlassian_operator.core.plan import (
    EXEMPTION_NOT_DURABLE,
    AccountPlan,
    observe,
    plan_account,
)
from atlassian_operator.core.reasons import DUPLICATE_ORG, is_transient
from atlassian_operator.core.resources import (
    AccountResource,
    AccountSpec,
    InvalidSpec,
    ObjectRef,
)
from atlassian_operator.core.snapshot import OrgSnapshot
from atlassian_operator.core.status import (
    IDENTITY_CHANGED,
    ActionResult,
    account_status,
    internal_error_status,
    problem_status,
)
from atlassian_operator.logfields import about
from atlassian_operator.reconcile import effects
from atlassian_operator.reconcile.accounts import (
    AccountState,
    Intent,
    Rendered,
    inactivity_kinds,
)
from atlassian_operator.reconcile.effects import InternalFailure
from atlassian_operator.reconcile.messages import LifecycleDone
from atlassian_operator.reconcile.state import (
    FIRST_BACKOFF_SECONDS,
    KEY_RECHECK_SECONDS,
    ORG_KEY,
    RETRY_BASE_SECONDS,
    OwnerState,
    backoff,
    newer_or_equal,
    ready_problem,
    reason_of,
    utcnow,
)

logger = logging.getLogger(__name__)


@dataclass
class Evaluation:
    name: str
    state: AccountState
    plan: AccountPlan | None = None
    problem: tuple[str, str] | None = None  # (reason, message) when the account cannot be planned
    wants: Action | None = None  # the call it may make now, if the budget allows a suspension
    hold: bool = False  # keep the status as it is (a call in flight, a retry pending)


def newly_warned(previous: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """A warning period starts with this status: worth one InactivityWarning Event per crossing
    (the start is kept in status, so a restarted operator does not warn again)."""
    started = status.get("inactivityWarnedAt")
    return bool(started) and started != previous.get("inactivityWarnedAt")


class AccountSide(OwnerState):
    # ----- the AtlassianAccounts ----------------------------------------------------------------

    def holds(self, name: str, uid: str, resource_version: str) -> bool:
        """Whether this very version of the account is the one kept: the echo of our own write.

        A read outside the loop (the Fleet asks before parsing an event): a version kept here
        was seen, so skipping it changes nothing; any other version is posted as usual.
        """
        state = self.accounts.get(name)
        return (
            state is not None
            and state.resource.ref.uid == uid
            and state.resource.resource_version == resource_version
        )

    def _on_account_seen(self, account: AccountResource) -> None:
        name = account.ref.name
        state = self.accounts.get(name)
        if state is not None and state.resource.ref.uid != account.ref.uid:
            self._forget(name)  # a new object of the same name: nothing carries over
            state = None
        if state is None:
            state = AccountState(account, announced=ready_problem(account.status))
            self.accounts.add(state)
        elif account.resource_version == state.resource.resource_version or not newer_or_equal(
            account.resource_version, state.resource.resource_version
        ):
            # Older, or the echo of our own write whose response we already keep: the same
            # version twice would be two copies of one status in memory.
            return
        else:
            # A label can make the account exempt from the inactivity policy, or not.
            edited = (
                account.generation != state.resource.generation
                or account.labels != state.resource.labels
            )
            state.resource = account
            if not edited:
                # Only status (which only the operator writes) or metadata changed: the echo of
                # our own write. Nothing to decide; at 10,000 accounts this is most events.
                return
            state.attempts, state.retry_at = 0, None  # an edit is worth trying at once
            self._abandon(state)  # planned again from the edit
        self._reconcile([name])

    def _on_account_gone(self, name: str, uid: str) -> None:
        state = self.accounts.get(name)
        if state is not None and state.resource.ref.uid == uid:
            rivals = self._forget(name)
            self._reconcile(sorted(rivals))  # a duplicate's rival is re-evaluated at once

    def _forget(self, name: str) -> set[str]:
        """Cancel what was queued for the account; returns its rivals."""
        if (state := self.accounts.get(name)) is not None:
            self._abandon(state)
        self.budget.withdraw(name)
        self._writes.drop(name)
        return self.accounts.forget(name)

    def _view(self, state: AccountState) -> Mapping[str, Any]:
        """The account's status as last decided, or as stored when nothing is pending."""
        return self._writes.latest(state.resource.ref.name) or state.resource.status

    def _reconcile(self, names: Iterable[str]) -> None:
        """Plan the accounts, grant the budget oldest first, start calls, render the rest.

        Level-triggered: every account is planned from the claims of all the accounts this
        pass touches (an account whose rivals changed is planned again, even when it already
        was), and every call is planned once more at the moment it is granted, after the calls
        granted before it in this pass. So an evaluation made before another call started, or
        before a rival was seen, never acts.
        """
        now = self._clock()
        todo = list(dict.fromkeys(names))
        evaluations: dict[str, Evaluation] = {}
        while todo:
            name = todo.pop()
            with self._contained(name):
                evaluation, touched = self._evaluate(name, now)
                if evaluation is not None:
                    evaluations[name] = evaluation
                else:
                    evaluations.pop(name, None)
                todo += sorted(touched)  # their rivals changed: plan them again
        self._consider_approval(now)
        while self.budget.available(now) > 0 and (head := self.budget.next_in_line()):
            with self._contained(head):
                evaluation = self._evaluate(head, now)[0]  # as things stand now, not before
                if evaluation is None:
                    evaluations.pop(head, None)
                    continue
                evaluations[head] = evaluation
                if evaluation.wants is None:
                    self.budget.withdraw(head)
                    continue
                if not self.budget.within_share(head, now):
                    break  # the policy's share is used; only the policy's wait behind it
                brake = self._brake(now)
                if not brake.release:
                    break  # paused: nothing waiting goes until a person approves
                self.budget.spend(head, now, approved=brake.approved)
                self._call(evaluation, spent_at=now, approved=brake.approved)
        self._show_brake(now)
        self._note_backlog()
        for evaluation in evaluations.values():
            with self._contained(evaluation.name):
                if evaluation.wants is None or self.budget.waiting(evaluation.name):
                    self._render(evaluation)

    @contextlib.contextmanager
    def _contained(self, name: str) -> Iterator[None]:
        """The per-account boundary: what raises while one account is evaluated, called or
        rendered becomes that account's InternalError, and the pass goes on with the others.

        Past this boundary an exception reaches the owner's `_guarded`, which pauses the whole
        org: one account's odd status (or any bug it triggers) would stall every other account.
        The account leaves the budget's line, so that it cannot act on what was not recorded.
        """
        try:
            yield
        except Exception as exc:
            logger.exception(
                "Internal error on AtlassianAccount %s/%s", self.ref.namespace, name,
                extra=about(self.ref, account=name),
            )  # fmt: skip
            self.budget.withdraw(name)
            state = self.accounts.get(name)
            if state is None:
                return
            resource = state.resource
            desired = internal_error_status(
                message=f"internal error ({type(exc).__name__}) in the operator while deciding "
                "this account, see its log; the org's other accounts are not affected, and "
                "this one is tried again at the next sync (if its status was edited by hand "
                "or restored from a backup, undo that)",
                generation=resource.generation,
                stored=self._view(state),  # a call's outcome queued for writing stays
                now=utcnow(),
            )
            self._writes.want(name, resource.ref, desired, resource.status)
            self._announce(state, desired, None)

    def _evaluate(self, name: str, now: float) -> tuple[Evaluation | None, set[str]]:
        state = self.accounts.get(name)
        if state is None:
            self.budget.withdraw(name)
            return None, set()
        evaluation = Evaluation(name, state)
        resource, view = state.resource, self._view(state)
        spec = resource.spec
        if isinstance(spec, InvalidSpec) or not self.exists or self._duplicate_of is not None:
            self.budget.withdraw(name)
            touched = self.accounts.claim(state, None)
            if isinstance(spec, InvalidSpec):
                evaluation.problem = ("InvalidSpec", str(spec))
            elif self.exists and self._duplicate_of is not None:
                evaluation.problem = (
                    DUPLICATE_ORG,
                    f"AtlassianOrg {self.ref.name} is a duplicate: {self._duplicate_of} names "
                    "the same Atlassian org and alone acts for it; nothing is done for this "
                    "account until one of the two is deleted or names another orgId",
                )
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
        touched = self.accounts.claim(state, observation.account_id)
        if state.result is None:
            state.result = self._settle_stale_intent(state, view, snapshot)
            if state.result is not None and not state.result.succeeded:
                # Not done: planned again at once, once this pass has recorded that.
                self.accounts.retry_at(state, now)
        rivals = self.accounts.rivals(name, observation.account_id)
        failed = state.failed
        directory = snapshot.directory
        plan = plan_account(
            spec=spec,
            status=view,
            observation=observation,
            policy=self.spec.suspension,
            rivals=rivals,
            trusted=snapshot.trusted,
            failed=failed[2] if failed and failed[:2] == (resource.generation, self._config_key())
            else None,
            enriched=directory is not None and directory.fresh_about(observation.account_id),
            permission=self._permissions.get(observation.account_id or ""),
            inactivity_policy=self.spec.inactivity,
            as_of=snapshot.taken_at,
            labels=resource.labels,
        )  # fmt: skip
        evaluation.plan = plan
        action, account_id = plan.action, observation.account_id
        if action is None or account_id is None:
            self.budget.withdraw(name)
            return evaluation, touched
        if (
            state.result is not None
            or account_id in self._in_flight
            or account_id in self._unconfirmed  # a call whose outcome no listing has shown yet
            or (state.retry_at is not None and now < state.retry_at)
        ):
            self.budget.withdraw(name)
            evaluation.hold = state.result is None
            return evaluation, touched
        if self._draining:
            self.budget.withdraw(name)
            evaluation.hold = True  # stopping: the next process decides, from a new listing
            return evaluation, touched
        if self._client is None or self._config_failure or self._ledger_failure:
            self.budget.withdraw(name)
            reason, message, _ = self._config_failure or (
                (LEDGER_UNAVAILABLE, self._ledger_failure, None)
                if self._ledger_failure
                else ("SecretNotUsable", "no usable API key yet", None)
            )
            # Blocked, but where it stands under the inactivity policy is what its last
            # listing showed: kept, so that the org's counts do not fall with the key.
            evaluation.plan = replace(
                plan,
                decision=Decision(
                    blocked=Blocked(
                        reason,
                        f"AtlassianOrg {self.ref.name} cannot act: {message}",
                    )
                ),
            )
            return evaluation, touched
        # Every lifecycle call takes a slot of the org's budget, re-enables too: a bad revert
        # that sets Active on hundreds of leavers is as much a mass action as an offboarding.
        if plan.by_policy and plan.inactivity is not None:
            # After every explicit intent, the longest inactive first.
            self.budget.ask(name, now, tier=1, order=-plan.inactivity.clock_days)
        else:
            self.budget.ask(name, now)
        evaluation.wants = action
        return evaluation, touched

    def _render(self, evaluation: Evaluation) -> None:
        if evaluation.hold:
            return
        state, now = evaluation.state, utcnow()
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
            if result is not None:
                # A call answered after its org went away (or its spec broke): still recorded.
                desired["lastAction"] = result.render(resource.generation)
        else:
            assert evaluation.plan is not None and isinstance(resource.spec, AccountSpec)
            assert self.spec is not None
            decision = evaluation.plan.decision
            if evaluation.wants is not None and result is None:
                decision = Decision(blocked=self._waits(evaluation.wants, evaluation.name))
            observation = evaluation.plan.observation
            stale = self._stale()
            inputs = (
                decision,
                stale,
                evaluation.plan.defers_to,
                evaluation.plan.inactivity,
                evaluation.plan.by_policy,
                resource.generation,
                self.spec.org_id,
                observation.account_id,
                observation.problem,
                observation.reason,
                observation.facts,
            )
            memo = state.rendered
            if (
                result is None
                and memo is not None
                and memo.user is observation.user
                and memo.previous is view
                and memo.spec is resource.spec
                and memo.inputs == inputs
            ):
                # Nothing the status depends on changed (a quiet pass): the same status.
                desired = memo.status
            else:
                desired = account_status(
                    spec=resource.spec,
                    generation=resource.generation,
                    observation=observation,
                    decision=decision,
                    result=result,
                    previous=view,
                    org=self.spec.org_id,
                    now=now,
                    defers_to=evaluation.plan.defers_to,
                    inactivity=evaluation.plan.inactivity,
                    by_policy=evaluation.plan.by_policy,
                    stale=stale,
                )
                state.rendered = Rendered(observation.user, view, resource.spec, inputs, desired)
        desired = self._with_pending(state, view, desired, result)
        state.result = None
        self._writes.want(resource.ref.name, resource.ref, desired, resource.status)
        self._announce(state, desired, result)
        if evaluation.plan is not None and evaluation.plan.exemption_not_durable:
            self._warn_not_durable(state)
        if newly_warned(view, desired):
            self._event(
                resource.ref, "Warning", "InactivityWarning",
                str((find(desired.get("conditions"), INACTIVITY) or {}).get("message", "")),
            )  # fmt: skip

    def _stale(self) -> str | None:
        """Why the accounts' statuses are no longer current (Synced=False): the org's listings
        have failed for more than two sync intervals; None while the last good one is recent.
        Worded without the failure, so that accounts are written once when it turns, not at
        every failed listing (the org's Synced condition says what fails)."""
        snapshot = self.snapshot
        if snapshot is None or self._failure is None or self.spec is None:
            return None
        window = 2 * self._interval()
        if self._clock() - self._listed_at <= window:
            return None
        return (
            f"the last complete listing of org {self.spec.org_id} was at "
            f"{timestamp(snapshot.taken_at)}, more than two sync intervals ({window:.0f}s) ago; "
            f"what this status shows may have changed since (AtlassianOrg {self.ref.name}'s "
            "Synced condition says why its listings fail)"
        )

    @staticmethod
    def _with_pending(
        state: AccountState,
        view: Mapping[str, Any],
        desired: dict[str, Any],
        result: ActionResult | None,
    ) -> dict[str, Any]:
        """`status.pendingAction` stays until the call is settled, whatever else is rendered:
        a listing may show the person changed before the answer comes, and a record left by
        a stopped process waits for a complete listing to settle it."""
        stale = view.get("pendingAction")
        if state.intent is not None:
            return {**desired, "pendingAction": state.intent.record}
        if stale is None or result is not None or stale == state.answered:
            return {k: v for k, v in desired.items() if k != "pendingAction"}  # settled
        return {**desired, "pendingAction": stale}

    def _waits(self, action: Action, name: str) -> Blocked:
        """Why a call that may be made waits: the brake on mass calls, the budget, or the
        inactivity policy's share of it."""
        now = self._clock()
        assert self.spec is not None
        policy = self.spec.inactivity
        if policy is not None and not self.budget.within_share(name, now):
            share = policy.share(self.spec.suspension.max_per_sync)
            return Blocked(
                "SuspensionBudgetExceeded",
                f"the inactivity policy made {self.budget.share_spent(now)} suspensions for org "
                f"{self.spec.org_id} in the last {self._interval():.0f}s, its share of the "
                f"budget ({share}, spec.inactivity.maxPerSync of AtlassianOrg {self.ref.name}); "
                "this one waits its turn, after every explicit offboarding (longest inactive "
                f"first; {len(self.budget)} waiting)",
                action,
            )
        brake = self._brake_shown
        if brake is not None and brake.paused:
            return Blocked(
                "MassSuspensionPaused",
                f"lifecycle calls for org {self.spec.org_id} are paused: more would be made "
                f"within a day than {brake.source} allows without approval; this "
                f"{action.noun} waits until a person approves the number "
                f"waiting with the annotation {APPROVE_ANNOTATION} on AtlassianOrg "
                f"{self.ref.name} (its ActionsPaused condition says how many)",
                action,
            )
        return Blocked(
            "SuspensionBudgetExceeded",
            f"{self.budget.spent(now)} lifecycle calls (suspensions and re-enables) for org "
            f"{self.spec.org_id} in the last {self._interval():.0f}s reached "
            f"spec.suspension.maxPerSync ({self.budget.limit}) of AtlassianOrg {self.ref.name}; "
            f"this {action.noun} waits its turn (oldest first; {len(self.budget)} waiting)",
            action,
        )

    def _announce(
        self, state: AccountState, status: Mapping[str, Any], result: ActionResult | None
    ) -> None:
        """One Event per outcome of a call, and one per distinct cause of a block."""
        reason = ready_problem(status)
        ref = state.resource.ref
        ready = find(status.get("conditions"), READY)
        if ready is not None:
            readiness = (str(ready.get("status")), str(ready.get("reason")))
            self.accounts.set_readiness(state, readiness)
        self.accounts.set_inactivity(state, inactivity_kinds(status))
        if result is not None:
            if result.announce and result.succeeded:
                self._event(ref, "Normal", result.action.terms.event, result.message)
            elif result.announce:
                self._event(
                    ref, "Warning", f"{result.action}Failed", f"{result.reason}: {result.message}"
                )
        elif reason and reason != state.announced:
            kind = "Normal" if reason == "DryRun" else "Warning"
            self._event(ref, kind, reason, str((ready or {}).get("message", "")))
        state.announced = reason

    def _warn_not_durable(self, state: AccountState) -> None:
        """Once per account object: its exemption is a label the operator will not recreate."""
        if state.warned_not_durable:
            return
        state.warned_not_durable = True
        self._event(
            state.resource.ref,
            "Warning",
            EXEMPTION_NOT_DURABLE,
            "exempt from the inactivity policy only by a label matching spec.inactivity."
            f"exemptSelector of AtlassianOrg {self.ref.name}, on an account the operator "
            "discovered: if this AtlassianAccount is deleted, the one discovered in its place "
            "has no such label and is not exempt. List the person in spec.inactivity.exempt "
            f"of AtlassianOrg {self.ref.name} to keep the exemption",
        )

    def _event(self, ref: ObjectRef, kind: str, reason: str, message: str) -> None:
        self._spawn("posting an Event", effects.post_event(self.kube, ref, kind, reason, message))

    # ----- the brake on mass calls --------------------------------------------------------------

    def _threshold(self) -> tuple[int, str]:
        """The brake's threshold, and where it comes from in words."""
        assert self.spec is not None
        set_ = self.spec.suspension.pause_above
        if set_ is not None:
            return set_, f"the {set_} a day of spec.suspension.pauseAbove"
        threshold = default_threshold(self._active_users)
        return threshold, (
            f"the default threshold of {threshold} a day ({DEFAULT_PERCENT} % of the org's "
            f"{self._active_users} active users, at least {DEFAULT_FLOOR}; "
            "spec.suspension.pauseAbove sets another)"
        )

    def _approval_left(self, now: float) -> int:
        """Calls the accepted approval still allows: none once its annotation is changed or
        removed (that withdraws it), a day after it was accepted, or once all are used."""
        taken = self._considered
        if (
            taken is None
            or taken.standing is not Standing.ACCEPTED
            or not taken.holds_for(self._approval_set)
            or now - taken.at_mono >= DAY_SECONDS
        ):
            return 0
        return max(0, taken.approval.count - self.budget.approved_since(taken.at_mono, now))

    def _demand(self, now: float) -> tuple[int, int]:
        """For how many accounts calls were made in the last day without approval, and how
        many others wait now: what the brake weighs against its threshold."""
        made = self.budget.unapproved_today(now)
        return len(made), self.budget.waiting_besides(made)

    def _brake(self, now: float, *, approval: bool = True) -> Verdict:
        made, waiting = self._demand(now)
        return verdict(
            made_today=made,
            waiting=waiting,
            threshold=self._threshold()[0],
            approval_left=self._approval_left(now) if approval else 0,
        )

    def _consider_approval(self, now: float) -> None:
        """A new approval annotation is taken, or refused, once, as things stand now."""
        seen = self._approval_set
        if not isinstance(seen, Approval) or self.snapshot is None or self.spec is None:
            return
        if self._considered is not None and self._considered.holds_for(seen):
            return
        waiting = self._demand(now)[1]
        paused = waiting > 0 and not self._brake(now, approval=False).release
        standing = consider(seen, paused=paused, waiting=waiting)
        self._considered = Considered(seen, standing, utcnow(), now)
        logger.info("Approval of %d lifecycle calls for %s by %s: %s", seen.count, self.ref,
                    seen.by, standing, extra=about(self.ref))  # fmt: skip

    def _show_brake(self, now: float) -> None:
        """What the org's status shows of the brake; the owner's step writes it on a change."""
        if self.snapshot is None or self.spec is None:
            return
        threshold, source = self._threshold()
        taken = self._considered
        made, waiting = self._demand(now)
        shown = BrakeState(
            threshold=threshold,
            source=source,
            made_today=made,
            waiting=waiting,
            paused=waiting > 0 and not self._brake(now).release,
            approval=taken if taken is not None and taken.holds_for(self._approval_set) else None,
            used=self.budget.approved_since(taken.at_mono, now) if taken is not None else 0,
            unreadable=str(self._approval_set)
            if isinstance(self._approval_set, ApprovalUnreadable)
            else None,
        )
        if shown != self._brake_shown:
            self._brake_shown, self._brake_stale = shown, True

    def _note_backlog(self) -> None:
        """One log line when lifecycle calls start to wait (the budget is used up, or the brake
        pauses them), one when the reason changes, and one when none waits any more: not one
        per pass (each waiting account's condition says why it waits)."""
        if self._draining:
            return  # stopping: the calls are left to the next process, not cleared
        brake = self._brake_shown
        backlog = backlog_of(len(self.budget), paused=brake is not None and brake.paused)
        if backlog == self._backlog:
            return
        self._backlog = backlog
        org, waiting = f"AtlassianOrg {self.ref.namespace}/{self.ref.name}", len(self.budget)
        calls = f"{waiting} lifecycle call{'s' if waiting != 1 else ''} of {org}"
        if backlog is Backlog.PAUSED:
            logger.warning(
                "%s wait%s: the brake on mass calls paused them until a person approves them "
                "with the annotation %s (its ActionsPaused condition says how many)", calls,
                "s" if waiting == 1 else "", APPROVE_ANNOTATION, extra=about(self.ref),
            )  # fmt: skip
        elif backlog is Backlog.BUDGET:
            share = (
                " (the inactivity policy's within spec.inactivity.maxPerSync)"
                if self.spec is not None and self.spec.inactivity is not None
                else ""
            )
            logger.info(
                "%s wait%s for its budget: %d per %.0fs (spec.suspension.maxPerSync)%s; they go "
                "in turn, oldest first", calls, "s" if waiting == 1 else "", self.budget.limit,
                self._interval(), share, extra=about(self.ref),
            )  # fmt: skip
        else:
            logger.info("No lifecycle call of %s waits any more", org, extra=about(self.ref))

    # ----- lifecycle calls ----------------------------------------------------------------------

    def _call(self, evaluation: Evaluation, *, spent_at: float, approved: bool) -> None:
        """Record the intent in the account's status; the call is sent once that is stored.

        Nobody else acts on the person from now on (`_in_flight`), and the budget slot is
        spent: a replacement process finds both in the account's `status.pendingAction`.
        """
        assert evaluation.plan is not None and evaluation.wants is not None
        state, action = evaluation.state, evaluation.wants
        account_id = evaluation.plan.observation.account_id
        assert account_id is not None
        resource = state.resource
        spec = resource.spec
        assert isinstance(spec, AccountSpec)
        requested_by, message, policy = resource.desired_by, spec.suspension_message, None
        inactivity = evaluation.plan.inactivity
        if evaluation.plan.by_policy and inactivity is not None:
            requested_by, policy = POLICY_REQUESTER, inactivity.explain()
            message = message or f"Suspended for inactivity: {inactivity.description}"
        record: dict[str, Any] = {"action": str(action), "accountId": account_id, "time": utcnow()}
        if requested_by:
            record["requestedBy"] = requested_by
        approval = None
        if approved and self._considered is not None:
            approval = record["approval"] = self._considered.approval.render()
        self._in_flight.add(account_id)
        state.intent = Intent(
            action, account_id, record, spent_at, requested_by, policy, message,
            evaluation.plan.decision.ask_first, self._listed_at, approval,
        )  # fmt: skip
        view = self._view(state)
        self._writes.want(
            resource.ref.name, resource.ref, {**view, "pendingAction": record}, resource.status
        )
        state.intent.ledger_write = self._record_budget()

    def _on_recorded(self, name: str) -> None:
        """A status write of `name`, or a ledger write, is stored: if both records of the
        account's intent are, send it."""
        state = self.accounts.get(name)
        intent = state.intent if state is not None else None
        if state is None or intent is None or intent.sent:
            return
        if state.resource.status.get("pendingAction") != intent.record:
            return  # an older write; the one carrying the intent is still to come
        if intent.ledger_write > self._ledger.stored:
            self._awaiting_ledger.add(name)  # the ledger write that holds it is to come
            return
        if self._draining or self._client is None:
            return  # stays recorded: the next listing (or the next process) settles it
        intent.sent = True
        now = self._clock()
        # The window counts calls as they are sent.
        self.budget.restamp(name, intent.spent_at, now, approved=intent.approval is not None)
        intent.spent_at = now
        self._record_budget()
        resource = state.resource
        name, uid = resource.ref.name, resource.ref.uid

        def done(
            error: AtlassianError | None, permission: LifecyclePermission | None
        ) -> LifecycleDone:
            return LifecycleDone(
                name, uid, intent.account_id, intent.action, error, intent.requested_by,
                permission, intent.listed_at, intent.spent_at, intent.policy, intent.approval,
            )  # fmt: skip

        self._spawn(
            f"{intent.action} of {intent.account_id}",
            effects.lifecycle(
                self._client, intent.action, intent.account_id, intent.message,
                intent.ask_first, done, self.post,
                about(self.ref, account=name, action=intent.action, account_id=intent.account_id),
            ),
            call=True,
        )  # fmt: skip

    def _record_budget(self) -> int:
        """The day's calls, those a person approved marked, in the Atlassian org's ledger and
        the org's status (`status.budget`): with the accounts' lastAction and pendingAction,
        what a restarted operator rebuilds the window and the brake's day from, so that
        deleting the account that asked, or the org too, gives back neither its slot nor its
        place under the brake's threshold. Returns the number of the ledger write."""
        org_id = self._budget_org
        if org_id is None:
            return self._ledger.wanted
        now, wall = self._clock(), datetime.now(UTC)
        kept = [
            LedgerCall(wall - timedelta(seconds=now - t), key, approved)
            for t, approved, key in self.budget.kept(now)
        ]
        number = self._ledger.want(ledger_body(org_id, kept))
        if self.exists and self.spec is not None and self.spec.org_id == org_id:
            stamps = [(timestamp(c.time) or "", c.approved) for c in kept]
            record: dict[str, Any] = {"orgId": org_id, "calls": [t for t, _ in stamps]}
            if any(approved for _, approved in stamps):
                record["approved"] = [t for t, approved in stamps if approved]
            view = self._writes.latest(ORG_KEY) or self._status
            desired = {**view, "budget": record}
            self._writes.want(ORG_KEY, self.ref, desired, self._status)
        return number

    def _ledger_write_of(self, name: str) -> int:
        state = self.accounts.get(name)
        return state.intent.ledger_write if state is not None and state.intent else 0

    def _on_ledger_stored(self, number: int, problem: str | None) -> None:
        """A ledger write ended. Stored: the intents it holds may go. Not stored: no call is
        made until a write succeeds, and the intents not sent yet are dropped (their accounts
        say why); the write is tried again after the owner's backoff."""
        if problem is None:
            self._ledger.done(number)
            self._ledger_failures = 0
            if self._ledger_failure is not None:
                self._ledger_failure = None
                self._replan_org()
            for name in sorted(self._awaiting_ledger, key=self._ledger_write_of):
                self._awaiting_ledger.discard(name)
                self._on_recorded(name)  # in the order they were decided
            return
        self._ledger.failed(number)
        logger.warning("%s", problem, extra=about(self.ref))
        first = self._ledger_failure is None
        self._ledger_failure = problem
        self._awaiting_ledger.clear()
        self._ledger_failures += 1
        delay = backoff(self._ledger_failures, 1.0, self._interval())
        self._ledger_retry_at = self._clock() + delay
        if first:
            self._replan_org()

    def _abandon(self, state: AccountState) -> None:
        """Drop an intent not sent yet: the person is free again, the slot given back.

        An intent is sent only if nothing its plan depended on changed while it was being
        recorded: an edit of the account or the org, or a new listing, abandons it and the
        account is planned again (which may record the same call anew).
        """
        intent = state.intent
        if intent is None or intent.sent:
            return
        state.intent, state.answered = None, intent.record
        self._in_flight.discard(intent.account_id)
        self.budget.refund(state.name, intent.spent_at, approved=intent.approval is not None)
        self._record_budget()

    def _replan_org(self) -> None:
        """Something every plan depends on changed (the org's spec or object, a listing):
        intents not sent yet are dropped, and every account is planned again."""
        for state in self.accounts.states():
            if state.intent is not None and not state.intent.sent:
                self._abandon(state)
        self._reconcile(list(self.accounts))

    def _settle_stale_intent(
        self, state: AccountState, view: Mapping[str, Any], snapshot: OrgSnapshot
    ) -> ActionResult | None:
        """A `pendingAction` no call of this process answers: the operator stopped between
        recording a call and hearing its answer. A complete listing taken since says what
        happened; the call is recorded as done, or as not known to be done (and planned anew).
        """
        pending = view.get("pendingAction")
        if not pending or state.intent is not None or not snapshot.trusted:
            return None
        if pending == state.answered:
            return None  # settled here already; the status saying so is on its way
        try:
            action = Action(str(pending.get("action")))
        except ValueError:
            action = Action.SUSPEND
        account_id = str(pending.get("accountId") or "")
        user = snapshot.users.get(account_id)
        who = (user.email if user else None) or account_id
        time, by = str(pending.get("time") or utcnow()), pending.get("requestedBy")
        approval = pending.get("approval")
        state.answered = pending
        if user is not None and user.account_status == action.terms.leaves:
            return ActionResult(
                action, True, "Succeeded",
                f"{action.terms.done} {who} in Atlassian (the operator stopped before the "
                "answer; a complete listing since shows it took effect)", time, by,
                approval=approval,
            )  # fmt: skip
        return ActionResult(
            action, False, "OutcomeUnknown",
            f"the operator stopped before Atlassian answered this {action.noun} of {who}; a "
            "complete listing since shows it did not take effect; it is planned again", time, by,
            announce=False, approval=approval,
        )  # fmt: skip

    def _on_lifecycle_done(self, message: LifecycleDone) -> None:
        account_id, action, error = message.account_id, message.action, message.error
        state = self.accounts.get(message.name)
        if state is not None and state.resource.ref.uid == message.uid and state.intent:
            state.answered, state.intent = state.intent.record, None
        self._in_flight.discard(account_id)
        now = self._clock()
        permission = message.permission
        fields = about(self.ref, account=message.name, action=action, account_id=account_id)
        if permission is not None and message.listed_at == self._listed_at:
            self._permissions[account_id] = permission  # asked once per listing
        if permission is not None and not permission.allowed:
            # Atlassian said no before any call: the account's plan now says why, and the
            # budget slot it took is given back.
            logger.info("Atlassian does not allow %s of %s (%s); no call made", action,
                        account_id, permission.reason, extra=fields)  # fmt: skip
            if message.spent_at is not None:
                self.budget.refund(
                    message.name, message.spent_at, approved=message.approval is not None
                )
            self._reconcile([message.name, *self.accounts.about(account_id)])
            return
        user = self.snapshot.users.get(account_id) if self.snapshot else None
        who = (user.email if user else None) or account_id
        by = (
            f" (inactivity policy: {message.policy})"
            if message.policy
            else f" (desiredState set by {message.requested_by})"
            if message.requested_by
            else ""
        )
        if error is None:
            new_status = action.terms.leaves
            self._journal[account_id] = (now, new_status)
            if self.snapshot is not None:
                self.snapshot.record_status(account_id, new_status)
            if self.exists:  # else its series are gone with it; this would bring them back
                self.metrics.action(self.ref, action, "Succeeded")
            verb = action.terms.done
            logger.info("%s %s for %s/%s%s", verb.capitalize(), who, self.ref.namespace,
                        message.name, by, extra=fields)  # fmt: skip
            result = ActionResult(
                action, True, "Succeeded", f"{verb} {who} in Atlassian{by}", utcnow(),
                message.requested_by, approval=message.approval,
            )  # fmt: skip
            self._counts_stale = True  # the owner's step writes the org's counts
        else:
            reason = reason_of(error)
            if self.exists:
                self.metrics.action(self.ref, action, reason)
            logger.warning("%s of %s for %s/%s failed: %s", action, account_id,
                           self.ref.namespace, message.name, error, extra=fields)  # fmt: skip
            result = ActionResult(
                action, False, reason, str(error), utcnow(), message.requested_by,
                approval=message.approval,
            )  # fmt: skip
        if isinstance(error, OutcomeUnknown):
            # Maybe done, maybe not: calling again could act twice. The next listing (asked
            # for soon) shows what happened, and the account is planned again from that.
            self._unconfirmed[account_id] = now
            self._next_sync = min(self._next_sync, now + FIRST_BACKOFF_SECONDS)
        state = self.accounts.get(message.name)
        if state is None or state.resource.ref.uid != message.uid:
            self._reconcile(self.accounts.about(account_id))
            return
        if isinstance(error, AuthenticationFailed):
            # The key is rejected for everything: every account waits for the org's next good
            # listing, and the key is re-read every few seconds to pick up a fix.
            self._config_failure = (result.reason, result.message, self._key_fingerprint)
            self._key_check_at = now + KEY_RECHECK_SECONDS
        if error is None:
            state.attempts, state.retry_at, state.failed = 0, None, None
        elif isinstance(error, OutcomeUnknown):
            pass  # no retry: see above
        elif is_transient(error) or isinstance(error, InternalFailure | AuthenticationFailed):
            state.attempts += 1
            self.accounts.retry_at(
                state, now + backoff(state.attempts, RETRY_BASE_SECONDS, self._interval())
            )
        else:
            # Fails again until the account's spec, or the org's spec or key, changes.
            state.failed = (
                state.resource.generation,
                self._config_key(),
                Blocked(result.reason, result.message, action),
            )
        state.result = result
        self._reconcile([message.name, *self.accounts.about(account_id)])
