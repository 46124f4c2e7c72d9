"""Rendering the status of an account and an org, and the minimal patch from one to the other."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from atlassian_operator.atlassian import UnreadableTime
from atlassian_operator.core.conditions import (
    INACTIVITY,
    READY,
    SYNCED,
    Condition,
    render_conditions,
    with_progress,
)
from atlassian_operator.core.decisions import Action, Blocked, Decision
from atlassian_operator.core.directory import IDENTITY_PROVIDER
from atlassian_operator.core.inactivity import POLICY_REQUESTER, Inactivity, newest_activity
from atlassian_operator.core.mapping import (
    ACTIVE,
    DELETED,
    DEPROVISIONED,
    SUSPENDED,
    account_state,
    activity_timestamp,
    deprovisioned,
    product_access,
    timestamp,
)
from atlassian_operator.core.plan import about, spec_identity
from atlassian_operator.core.resources import AccountSpec, DesiredState
from atlassian_operator.core.safety import (
    MANAGED_BY_IDP,
    NOT_PERMITTED,
    ORGANIZATION_ADMIN,
    UNMANAGED_ACCOUNT,
)
from atlassian_operator.core.snapshot import Observation, OrgSnapshot


@dataclass(frozen=True)
class ActionResult:
    """The outcome of one lifecycle call, as recorded in status.lastAction."""

    action: Action
    succeeded: bool
    reason: str
    message: str
    time: str
    #: The field manager that last set spec.desiredState (kubectl, a GitOps controller, ...).
    requested_by: str | None = None
    #: Worth an Event: not for a call a stopped operator never finished, which is planned
    #: again at once (its lastAction says what happened).
    announce: bool = True
    #: The approval past the brake on mass calls it was made under: count, by, at.
    approval: Mapping[str, Any] | None = None

    def render(self, generation: int) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "action": str(self.action),
            "result": "Succeeded" if self.succeeded else "Failed",
            "reason": self.reason,
            "message": self.message,
            "time": self.time,
            "observedGeneration": generation,
        }
        if self.requested_by:
            rendered["requestedBy"] = self.requested_by
        if self.approval:
            rendered["approval"] = dict(self.approval)
        return rendered


IDENTITY_CHANGED = "IdentityChanged"
#: Ready reason of an observe-only account whose last activity Atlassian sent unreadably.
LAST_ACTIVE_UNREADABLE = "LastActiveUnreadable"
INTERNAL_ERROR = "InternalError"
#: Synced=False on an account: its org has not listed completely for two sync intervals.
STALE_LISTING = "StaleListing"
_OBSERVED_KEYS = (
    "accountId",
    "pinnedFrom",
    "email",
    "displayName",
    "atlassianStatus",
    "accountStatus",
    "lastActive",
    "billable",
    "productAccess",
    "managedBy",
    "claimStatus",
    "platformRoles",
    "membershipStatus",
    "firstObserved",
)


def _observed_fields(obs: Observation, previous: Mapping[str, Any]) -> dict[str, Any]:
    user = obs.user
    fields: dict[str, Any]
    if obs.reason == IDENTITY_CHANGED:
        # What was observed of the pinned account stays; the other person's data never shows.
        fields = {k: previous.get(k) for k in _OBSERVED_KEYS}
    elif user is not None:
        fields = {
            "accountId": user.account_id,
            "email": user.email,
            "displayName": user.name,
            "atlassianStatus": user.account_status,
            "accountStatus": account_state(user.account_status),
            "lastActive": activity_timestamp(user.last_active),
            "billable": user.access_billable,
            "productAccess": product_access(
                previous.get("productAccess") or (), user.product_access
            ),
        }
        fields["firstObserved"] = previous.get("firstObserved")
        if obs.facts is not None:
            fields.update(obs.facts.status_fields())
            if obs.facts.unmanaged:
                # v2 tells activity, not entitlement: what an unmanaged user may use is unknown.
                del fields["productAccess"]
    elif was_observed(obs, previous):
        # Missing from a complete listing: the seed's `deleted`, Deprovisioned.
        fields = {
            **{
                k: previous.get(k)
                for k in ("accountId", "email", "displayName", "lastActive", "billable")
            },
            "atlassianStatus": DELETED,
            "accountStatus": DEPROVISIONED,
            "productAccess": deprovisioned(previous.get("productAccess") or ()),
        }
    else:
        fields = {"accountId": obs.account_id}
    return {k: v for k, v in fields.items() if v is not None}


def _inactivity_fields(inactivity: Inactivity) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if inactivity.days is not None:
        fields["inactiveDays"] = inactivity.days
    if inactivity.eligible:
        fields["inactivityEligible"] = True
    if inactivity.refused is not None:
        fields["inactivityRefused"] = inactivity.refused[0]
    if inactivity.kept_by_intent:
        fields["keptByIntent"] = True
    if inactivity.reset_at is not None:
        fields["inactivityResetAt"] = timestamp(inactivity.reset_at)
    if inactivity.warned_at is not None:
        fields["inactivityWarnedAt"] = timestamp(inactivity.warned_at)
    return fields


#: What the inactivity policy waits on before it suspends an account it selected, as the
#: reason of the account's Inactivity condition (the block's own reason, for an explicit
#: offboarding, is its Ready reason): waits are not failures, the account stays Ready.
POLICY_WAITS = {
    "SuspensionBudgetExceeded": "WaitingForBudget",
    "MassSuspensionPaused": "MassSuspensionPaused",
    "DryRun": "DryRun",
    "ListingInconsistent": "WaitingForListing",
}
#: Why Atlassian or the org's rules refuse the policy's suspension (core/safety.py): the
#: Inactivity reason is `Refused` and this reason, the account stays Ready.
POLICY_REFUSALS = frozenset(
    {
        MANAGED_BY_IDP, ORGANIZATION_ADMIN, UNMANAGED_ACCOUNT, NOT_PERMITTED,
        "ManagedByAnotherOrganization", "ExportControlled", "ProtectedAccount",
    }
)  # fmt: skip


def policy_verdict(blocked: Blocked) -> str | None:
    """The Inactivity reason of a block of the policy's own suspension, when it is a wait or
    a refusal; None: a failure (a rejected key, Atlassian failing), which Ready shows."""
    if blocked.reason in POLICY_WAITS:
        return POLICY_WAITS[blocked.reason]
    if blocked.reason in POLICY_REFUSALS:
        return refusal(blocked.reason)
    return None


def refusal(reason: str) -> str:
    """The Inactivity reason of a refused policy suspension: `RefusedOrganizationAdmin`."""
    return f"Refused{reason}"


def suspended_by_policy(status: Mapping[str, Any]) -> bool:
    """Suspended, and the last call was the inactivity policy's suspension."""
    last = status.get("lastAction") or {}
    return (
        status.get("accountStatus") == SUSPENDED
        and last.get("requestedBy") == POLICY_REQUESTER
        and last.get("action") == "Suspend"
        and last.get("result") == "Succeeded"
    )


def inactivity_condition(
    inactivity: Inactivity,
    status: Mapping[str, Any],
    *,
    by_policy: bool,
    blocked: Blocked | None,
    failed: ActionResult | None,
) -> Condition:
    """The inactivity policy's verdict on one account, apart from Ready: True while the policy
    has selected it (warned, eligible, waiting, refused, suspended by it), False otherwise,
    with the reason in one word (docs/tasks/licence-reclaim.md)."""
    mode = "Enforce" if inactivity.enforce else "Report"
    explained = inactivity.explain()
    if suspended_by_policy(status):
        last = status.get("lastAction") or {}
        return Condition(
            INACTIVITY, True, "SuspendedForInactivity",
            f"suspended by the inactivity policy at {last.get('time')}: {last.get('message')}",
        )  # fmt: skip
    if by_policy:
        if failed is not None:
            return Condition(
                INACTIVITY, True, "SuspensionFailed",
                f"{explained}: the policy's suspension failed ({failed.reason}); see Ready",
            )  # fmt: skip
        if blocked is not None:
            verdict = policy_verdict(blocked)
            if verdict is None:
                return Condition(
                    INACTIVITY, True, "SuspensionFailed",
                    f"{explained}: the policy's suspension cannot go ({blocked.reason}); "
                    "see Ready",
                )  # fmt: skip
            return Condition(INACTIVITY, True, verdict, f"{explained}: {blocked.message}")
        return Condition(
            INACTIVITY, True, "Suspending", f"{explained}: the policy suspends it (mode Enforce)"
        )
    if inactivity.refused is not None:
        reason, why = inactivity.refused
        return Condition(
            INACTIVITY, True, refusal(reason),
            f"{explained}, but the operator would refuse to suspend it ({reason}): {why}; "
            "neither warned nor counted as reclaimable",
        )  # fmt: skip
    if inactivity.eligible:
        return Condition(
            INACTIVITY, True, "InactivityEligible",
            f"{explained}: the policy (mode {mode}) would suspend it in mode Enforce",
        )  # fmt: skip
    if inactivity.warned and inactivity.warned_at is not None:
        until = inactivity.suspend_from()
        return Condition(
            INACTIVITY, True, "InactivityWarning",
            f"{inactivity.description}; the org warns after {inactivity.warn_after} days and "
            f"suspends after {inactivity.threshold}: warned since "
            f"{timestamp(inactivity.warned_at)}, "
            + (
                f"suspended no earlier than {timestamp(until)} unless active again"
                if inactivity.enforce and until is not None
                else f"mode {mode}: reported only"
            ),
        )  # fmt: skip
    if inactivity.excluded is not None:
        why = {
            "Exempt": "exempt (spec.inactivity.exempt or exemptSelector of the org)",
            "Protected": "listed in spec.suspension.protectedAccounts of the org",
            "ExplicitIntent": "an AtlassianAccount states its desiredState: explicit intent "
            "wins over the policy",
        }.get(inactivity.excluded, inactivity.excluded)
        if inactivity.kept_by_intent:
            why = (
                f"the org suspends after {inactivity.threshold} days; kept by intent: its "
                "spec.desiredState: Active keeps it from the policy (remove the desiredState "
                "to let the policy decide)"
            )
        return Condition(INACTIVITY, False, inactivity.excluded, f"{inactivity.description}; {why}")
    if inactivity.days is None and inactivity.description.startswith("last activity"):
        return Condition(
            INACTIVITY, False, LAST_ACTIVE_UNREADABLE,
            f"{inactivity.description}: the policy suspends nobody whose last activity it "
            "cannot read",
        )  # fmt: skip
    if status.get("accountStatus") != ACTIVE:
        return Condition(
            INACTIVITY, False, "NotActive",
            f"account is {status.get('accountStatus')}: the policy only suspends Active ones",
        )  # fmt: skip
    warns = (
        f"warns after {inactivity.warn_after} days, " if inactivity.warn_after is not None else ""
    )
    return Condition(
        INACTIVITY, False, "NotInactive",
        f"{inactivity.description}; the org {warns}suspends after {inactivity.threshold} days",
    )  # fmt: skip


def was_observed(obs: Observation, previous: Mapping[str, Any]) -> bool:
    return bool(
        obs.account_id
        and previous.get("accountId") == obs.account_id
        and previous.get("atlassianStatus")
    )


def _last_action(
    decision: Decision,
    result: ActionResult | None,
    previous: Mapping[str, Any],
    generation: int,
    now: str,
) -> Mapping[str, Any] | None:
    last: Mapping[str, Any] | None = previous.get("lastAction")
    if result is not None:
        return result.render(generation)
    blocked = decision.blocked
    if blocked is not None and blocked.reason == "DryRun" and blocked.action is not None:
        dry = {
            "action": str(blocked.action),
            "result": "DryRun",
            "reason": "DryRun",
            "message": blocked.message,
            "observedGeneration": generation,
        }
        if last and all(last.get(k) == v for k, v in dry.items()):
            return last
        return {**dry, "time": now}
    return last


def _ready(
    spec: AccountSpec,
    obs: Observation,
    fields: Mapping[str, Any],
    decision: Decision,
    result: ActionResult | None,
    org: str,
    defers_to: str | None,
    inactivity: Inactivity | None,
    by_policy: bool = False,
) -> Condition:
    """The account's Ready condition: is it observed and in its desired state, and if not, why."""
    if obs.user is None and obs.reason == IDENTITY_CHANGED:
        problem = obs.problem or "the account's email resolves to another Atlassian account"
        return Condition(READY, False, IDENTITY_CHANGED, problem)
    if obs.user is None and "atlassianStatus" not in fields:
        problem = obs.problem or f"account not found in org {org}"
        return Condition(READY, False, "AccountNotFound", problem)
    if result is not None and not result.succeeded:
        return Condition(READY, False, result.reason, result.message)
    state = fields.get("accountStatus")
    desired = spec.desired_state
    blocked = decision.blocked
    if blocked is None and desired is DesiredState.ACTIVE and state == DEPROVISIONED:
        blocked = Blocked(
            "AccountDeprovisioned",
            f"account {fields.get('accountId')} is {fields.get('atlassianStatus')} "
            "in Atlassian and cannot be re-enabled by this operator; restore it "
            "in admin.atlassian.com",
        )
    verdict = policy_verdict(blocked) if blocked is not None and by_policy else None
    if blocked is not None and verdict is not None and desired is None:
        # The inactivity policy waits or is refused: not a failure of this account, whose
        # Inactivity condition says what the policy does about it.
        shown = state or f"{fields.get('atlassianStatus')!r} in Atlassian"
        message = (
            f"observe only; account is {shown}; the inactivity policy would suspend it and "
            f"{'is refused' if verdict.startswith('Refused') else 'waits'} ({blocked.reason}): "
            "see the Inactivity condition"
        )
        return Condition(READY, True, "Observed", message)
    if blocked is not None:
        return Condition(READY, False, blocked.reason, blocked.message)
    if desired is None:
        shown = state or f"{fields.get('atlassianStatus')!r} in Atlassian"
        if defers_to:
            message = (
                f"observe only; account is {shown}; AtlassianAccount {defers_to} states the "
                "desired state of this Atlassian account"
            )
            return Condition(READY, True, "DefersToAccount", message)
        newest = newest_activity(obs.user) if obs.user is not None else None
        if isinstance(newest, UnreadableTime):
            # Said whether or not the org has an inactivity policy: a review of idle accounts
            # (kubectl atlassian report) must not read the missing lastActive as "never".
            message = (
                f"observe only; account is {shown}; last activity unreadable ({newest}): "
                "the inactivity policy suspends nobody whose last activity it cannot read"
            )
            return Condition(READY, True, LAST_ACTIVE_UNREADABLE, message)
        if obs.facts is not None and obs.facts.unmanaged:
            message = (
                f"observe only; account is {shown}; unmanaged account (its email domain is not "
                "verified by the org): lifecycle calls do not apply to it"
            )
            return Condition(READY, True, "Observed", message)
        return Condition(READY, True, "Observed", f"observe only; account is {shown}")
    if state == str(desired):
        message = f"account is {state}"
        if inactivity is not None and inactivity.kept_by_intent:
            message += (
                f"; kept by intent, {inactivity.explain()}: spec.desiredState: Active keeps it "
                "from the inactivity policy (remove the desiredState to let the policy decide)"
            )
        return Condition(READY, True, "InDesiredState", message)
    if desired is DesiredState.SUSPENDED and state == DEPROVISIONED:
        message = "account is deprovisioned: it has no access and is not billed"
        return Condition(READY, True, "Deprovisioned", message)
    return Condition(
        READY,
        False,
        "Unknown",
        f"Atlassian status {fields.get('atlassianStatus')!r} is not one this operator knows",
    )


def synced_condition(org: str, stale: str | None) -> Condition:
    """Synced has one meaning for an account: what its status shows comes from a listing of its
    org that succeeded within two sync intervals (`stale` says otherwise, and why). A waiting,
    refused or failed action is Ready's to say, not Synced's."""
    if stale is not None:
        return Condition(SYNCED, False, STALE_LISTING, stale)
    return Condition(
        SYNCED, True, "Synced", f"from a complete listing of org {org} within two sync intervals"
    )


def account_status(
    *,
    spec: AccountSpec,
    generation: int,
    observation: Observation,
    decision: Decision,
    result: ActionResult | None,
    previous: Mapping[str, Any],
    org: str,
    now: str,
    defers_to: str | None = None,
    inactivity: Inactivity | None = None,
    by_policy: bool = False,
    stale: str | None = None,
) -> dict[str, Any]:
    """The whole status the operator owns for one account (without lastSyncTime).

    `defers_to`: another AtlassianAccount that states the desired state of the same user, when
    this one is observe-only. `inactivity`: where it stands under the org's inactivity policy
    (its Inactivity condition); `by_policy`: the decision is the policy's suspension. `stale`:
    why the org's last complete listing is too old to call this status current (Synced).
    """
    previous = about(previous, observation.account_id)
    fields = {k: v for k, v in _observed_fields(observation, previous).items() if v is not None}
    if "accountId" in fields:
        fields["pinnedFrom"] = spec_identity(spec)
    if observation.user is not None:
        fields.setdefault("firstObserved", now)  # the inactivity policy counts from here
    if inactivity is not None:
        fields.update(_inactivity_fields(inactivity))
    if "atlassianStatus" not in fields and spec.email:
        fields.setdefault("email", spec.email)  # not resolved yet: say whom the row is about
    # PRODUCTS means what the account can use now: nothing while suspended or deprovisioned.
    # .get: an IdentityChanged status keeps the stored entries as they are, complete or not.
    products = [
        e["product"]
        for e in fields.get("productAccess", ())
        if e.get("status") == ACTIVE and e.get("product")
    ]
    if products and fields.get("accountStatus") == ACTIVE:
        fields["activeProducts"] = ", ".join(products)
    ready = _ready(
        spec, observation, fields, decision, result, org, defers_to, inactivity, by_policy
    )
    status: dict[str, Any] = {**fields, "observedGeneration": generation}
    last = _last_action(decision, result, previous, generation, now)
    if last:
        status["lastAction"] = dict(last)
    conditions = [ready, synced_condition(org, stale)]
    if inactivity is not None:
        failed = result if result is not None and not result.succeeded else None
        conditions.append(
            inactivity_condition(
                inactivity, status, by_policy=by_policy, blocked=decision.blocked, failed=failed
            )
        )
    status["conditions"] = render_conditions(
        conditions, previous.get("conditions"), generation, now
    )
    return with_progress(status, previous, now)


def org_status(
    snapshot: OrgSnapshot,
    *,
    generation: int,
    now: str,
    duration: float,
    requests: int,
    rate_limited: int,
) -> dict[str, Any]:
    """The org's status fields after a complete listing (conditions are added by the caller).

    `requests` counts both listings of the sync: v1 pages and v2 search pages.
    """
    fields: dict[str, Any] = {
        "observedGeneration": generation,
        "lastSyncTime": now,
        "lastSyncDurationSeconds": round(duration, 3),
        "users": snapshot.user_counts(),
        "products": snapshot.products(),
        "apiRequests": requests,
        "rateLimitedResponses": rate_limited,
    }
    directory = snapshot.directory
    if directory is not None:
        fields["enrichment"] = {
            "fresh": directory.fresh,
            "users": len(directory),
            "unmanaged": len(directory.unmanaged),
            "admins": sum(1 for f in directory.facts.values() if f.admin_roles),
            "managedByIdentityProvider": sum(
                1 for f in directory.facts.values() if f.managed_by == IDENTITY_PROVIDER
            ),
            "apiRequests": directory.requests,
        }
    return fields


def problem_status(
    *,
    reason: str,
    message: str,
    generation: int,
    previous: Mapping[str, Any],
    now: str,
    spec: AccountSpec | None = None,
) -> dict[str, Any]:
    """Status of an account the operator cannot observe (no org, no snapshot yet, bad spec).

    What was observed before is kept: not knowing is not a reason to forget. Until something
    was observed, the spec's account ID and email say whom the row is about.
    """
    conditions = (
        Condition(READY, False, reason, message),
        Condition(SYNCED, False, reason, message),
    )
    named: dict[str, Any] = {}
    if spec is not None:
        named = {"accountId": spec.account_id, "email": spec.email}
        if spec.account_id and "accountId" not in previous:
            named["pinnedFrom"] = spec_identity(spec)  # the ID is the spec's own
    status = {
        **{k: v for k, v in named.items() if v},
        **previous,
        "observedGeneration": generation,
        "conditions": render_conditions(conditions, previous.get("conditions"), generation, now),
    }
    return with_progress(status, previous, now)


def internal_error_status(
    *, message: str, generation: int, stored: Mapping[str, Any], now: str
) -> dict[str, Any]:
    """Status of an account whose evaluation or rendering raised: the stored fields as they are,
    and conditions that say so.

    It must not fail as the work did, so it reads nothing of `stored`: the fields are copied,
    not interpreted, and the conditions start afresh (the stored ones may be what was broken).
    """
    conditions = (
        Condition(READY, False, INTERNAL_ERROR, message),
        Condition(SYNCED, False, INTERNAL_ERROR, message),
    )
    status = {
        **stored,
        "observedGeneration": generation,
        "conditions": render_conditions(conditions, None, generation, now),
    }
    return with_progress(status, {}, now)


def status_patch(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch turning `current` into `desired` for the keys of either; {} if equal."""
    patch: dict[str, Any] = {k: v for k, v in desired.items() if current.get(k) != v}
    patch.update({k: None for k in current if k not in desired and k != "lastSyncTime"})
    return patch
