"""One account's plan: spec + pinned identity + observation + policy + rivals -> what it needs.

Pure: the org's owner gathers the inputs from the state it alone holds, and then only gates
the action (budget, a call already in flight, a usable key) before it acts and renders status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from atlassian_operator.atlassian import LifecyclePermission
from atlassian_operator.core.decisions import (
    PROTECTED_ACCOUNT,
    Action,
    Blocked,
    Decision,
    Gate,
    decide_account,
    needed_action,
)
from atlassian_operator.core.inactivity import (
    Inactivity,
    InactivityPolicy,
    assess,
    reset_time,
)
from atlassian_operator.core.mapping import parse_time
from atlassian_operator.core.resources import (
    DISCOVERED_LABEL,
    AccountSpec,
    DesiredState,
    SuspensionPolicy,
)
from atlassian_operator.core.safety import lifecycle_gate
from atlassian_operator.core.snapshot import Observation, OrgSnapshot

#: The Warning on a discovered account that only a label exempts from the inactivity policy.
EXEMPTION_NOT_DURABLE = "ExemptionNotDurable"


@dataclass(frozen=True)
class Rival:
    """Another AtlassianAccount of the same org about the same Atlassian user."""

    name: str
    states_desire: bool


@dataclass(frozen=True)
class AccountPlan:
    observation: Observation
    decision: Decision
    #: The AtlassianAccount whose desired state this observe-only one defers to.
    defers_to: str | None = None
    #: Where the account stands under the org's inactivity policy, if it has one.
    inactivity: Inactivity | None = None
    #: The suspension is the inactivity policy's (Enforce), not the spec's.
    by_policy: bool = False
    #: Only a label keeps this discovered account out of the inactivity policy: re-created
    #: (deleted, then discovered again) it has no label, and is no longer exempt.
    exemption_not_durable: bool = False

    @property
    def action(self) -> Action | None:
        return self.decision.action


def spec_identity(spec: AccountSpec) -> dict[str, str]:
    """Whom the spec names: `spec.accountId`, else `spec.email` (as Atlassian matches it).

    Kept in `status.pinnedFrom` beside the pin, because a pin is valid only for the spec it was
    resolved from: after an edit of the email or the account ID it acts on nobody until it
    resolves again from the new spec.
    """
    if spec.account_id:
        return {"accountId": spec.account_id}
    return {"email": (spec.email or "").lower()}


def pin_holds(spec: AccountSpec, status: Mapping[str, Any]) -> bool:
    """Whether the pin in `status.accountId` was resolved from what the spec names now."""
    source = status.get("pinnedFrom")
    if source is None:
        # Written before pinnedFrom existed: the email the pin was resolved by is the only
        # witness. Without it (Atlassian hides the email) the pin is not trusted: resolving
        # again from the spec acts on nobody rather than on a person the spec no longer names.
        # Only an observed status counts: a problem status copies the spec's own email.
        shown = status.get("email") if status.get("atlassianStatus") else None
        return bool(shown and spec.email and str(shown).lower() == spec.email.lower())
    return bool(source == spec_identity(spec))


def pinned_id(spec: AccountSpec, status: Mapping[str, Any]) -> str | None:
    """The Atlassian account an AtlassianAccount is about once resolved (kept in its status)."""
    if spec.account_id:
        return spec.account_id
    pinned = status.get("accountId")
    return str(pinned) if pinned and pin_holds(spec, status) else None


#: What a status says about one person: it belongs to `status.accountId` and to nobody else.
PERSONAL_FIELDS = frozenset(
    {
        "accountId", "pinnedFrom", "email", "displayName", "atlassianStatus", "accountStatus",
        "lastActive", "billable", "productAccess", "activeProducts", "managedBy",
        "claimStatus", "platformRoles", "membershipStatus", "firstObserved", "inactiveDays",
        "inactivityEligible", "inactivityResetAt", "inactivityWarnedAt", "inactivityRefused",
        "keptByIntent",
    }
)  # fmt: skip


def about(status: Mapping[str, Any], account_id: str | None) -> Mapping[str, Any]:
    """The status as far as it describes `account_id`: another person's facts are dropped.

    So a new hire never inherits a leaver's `firstObserved` (and with it an inactivity clock
    that has run for months), nor the clock reset, products or roles seen for somebody else.
    """
    if account_id is not None and status.get("accountId") == account_id:
        return status
    if not any(k in status for k in PERSONAL_FIELDS):
        return status
    return {k: v for k, v in status.items() if k not in PERSONAL_FIELDS}


def known_emails(spec: AccountSpec, status: Mapping[str, Any]) -> list[str]:
    """Every address the account is known by: what its spec says and what Atlassian showed."""
    return [e for e in (spec.email, status.get("email")) if e]


def observe(spec: AccountSpec, status: Mapping[str, Any], snapshot: OrgSnapshot) -> Observation:
    return snapshot.observe(spec, pinned_id(spec, status))


def plan_account(
    *,
    spec: AccountSpec,
    status: Mapping[str, Any],
    observation: Observation,
    policy: SuspensionPolicy,
    rivals: Iterable[Rival],
    trusted: bool,
    failed: Blocked | None,
    enriched: bool = False,
    permission: LifecyclePermission | None = None,
    inactivity_policy: InactivityPolicy | None = None,
    as_of: datetime | None = None,
    labels: Mapping[str, str] | None = None,
) -> AccountPlan:
    """What this account needs, with explicit intent winning over observation.

    An account that states a desired state takes precedence over observe-only (and discovered)
    accounts naming the same user; two that both state one are a conflict, and neither acts.
    A listing that contradicts itself (`trusted` False) never leads to an action. `enriched`:
    the observation's directory facts come from the same sync as the listing; `permission`:
    what the user management API answered for this account during this listing.

    Under an inactivity policy (`inactivity_policy`, measured `as_of` the listing), an
    observe-only account that is eligible is suspended in Enforce mode; explicit intent (its
    own desiredState, or another account's), protection, `labels` matching the exempt
    selector and the user being in the policy's exempt list keep it out.
    """
    status = about(status, observation.account_id)
    rivals = sorted(rivals, key=lambda r: r.name)
    intent = [r.name for r in rivals if r.states_desire]
    labels = labels or {}
    by_label, listed = exemptions(inactivity_policy, spec, status, observation, labels)
    inactivity = _inactivity(
        spec, status, observation, policy, inactivity_policy, as_of, by_label or listed,
        bool(intent), enriched=enriched, permission=permission,
    )  # fmt: skip
    not_durable = by_label and not listed and DISCOVERED_LABEL in labels
    by_policy = (
        inactivity is not None
        and inactivity.eligible
        and inactivity_policy is not None
        and inactivity_policy.enforce
    )
    if spec.desired_state is None and not by_policy:
        return AccountPlan(
            observation,
            Decision(),
            intent[0] if intent else None,
            inactivity,
            exemption_not_durable=not_durable,
        )
    if intent:
        return AccountPlan(
            observation,
            Decision(
                blocked=Blocked(
                    "DuplicateAccount",
                    f"AtlassianAccount {', '.join(intent)} also states a desired state for "
                    f"Atlassian account {observation.account_id}; neither acts until one of "
                    "them is deleted or made observe-only",
                )
            ),
            exemption_not_durable=not_durable,
        )
    user = observation.user
    desired = DesiredState.SUSPENDED if by_policy else spec.desired_state
    needed = needed_action(desired, user) if user is not None else None
    gate: Gate | None = None
    if needed is not None and user is not None:
        gate = lifecycle_gate(
            needed,
            user.email or user.account_id,
            observation.facts,
            fresh=enriched,
            permission=permission,
            allow_admins=policy.allow_admins,
        )
    decision = decide_account(
        spec,
        user,
        policy,
        known_emails=known_emails(spec, status),
        failed=failed,
        gate=gate,
        desired=desired,
    )
    if decision.action is not None and not trusted:
        decision = Decision(
            blocked=Blocked(
                "ListingInconsistent",
                "the org's last listing contradicted itself (see the AtlassianOrg's Synced "
                "condition); the action waits for a consistent listing",
                decision.action,
            )
        )
    return AccountPlan(observation, decision, None, inactivity, by_policy, not_durable)


def exemptions(
    inactivity_policy: InactivityPolicy | None,
    spec: AccountSpec,
    status: Mapping[str, Any],
    observation: Observation,
    labels: Mapping[str, str],
) -> tuple[bool, bool]:
    """Whether the account is exempt from the inactivity policy by its labels (the policy's
    exemptSelector), and whether by the policy's own list (spec.inactivity.exempt).

    The list names the person, by account ID or any address they are known by, as
    protectedAccounts does: so it holds for whichever AtlassianAccount is about them.
    """
    if inactivity_policy is None:
        return False, False
    selector = inactivity_policy.exempt_selector
    by_label = selector is not None and selector.matches(labels)
    user = observation.user
    account_id = observation.account_id or spec.account_id
    emails = [user.email if user is not None else None, *known_emails(spec, status)]
    return by_label, inactivity_policy.lists(account_id, emails)


def _inactivity(
    spec: AccountSpec,
    status: Mapping[str, Any],
    observation: Observation,
    policy: SuspensionPolicy,
    inactivity_policy: InactivityPolicy | None,
    as_of: datetime | None,
    exempt: bool,
    rival_intent: bool,
    *,
    enriched: bool,
    permission: LifecyclePermission | None,
) -> Inactivity | None:
    """Where the account stands under the policy. Past the point where the policy takes it up
    (warnAfterDays, else suspendAfterDays), what keeps it is said: its own desiredState: Active
    (`kept_by_intent`), or what the operator would refuse before a call (`refused`: protected,
    or the gate's identity provider, admin, unmanaged, Atlassian's answer). Such an account is
    neither warned nor eligible: the org counts only the seats it would actually reclaim."""
    user = observation.user
    if inactivity_policy is None or user is None or as_of is None:
        return None
    found = assess(
        inactivity_policy,
        user,
        as_of=as_of,
        first_observed=first_observed(status, as_of),
        reset_at=reset_time(status, user, as_of),
        exempt=exempt,
        warned_at=parse_time(str(status.get("inactivityWarnedAt") or "")),
    )
    found = replace(found, enforce=inactivity_policy.enforce)
    if found.excluded is not None:
        return found
    # Where the policy takes the account up: at warnAfterDays (to warn it), else at
    # suspendAfterDays. Past it, an account the policy must leave alone says why instead.
    reached = found.warned or found.eligible
    if spec.desired_state is not None or rival_intent:
        kept = reached and spec.desired_state is DesiredState.ACTIVE
        return _left_alone(found, "ExplicitIntent", kept_by_intent=kept)
    if policy.protects(user.account_id, [user.email, *known_emails(spec, status)]):
        why = f"{user.email or user.account_id} is in spec.suspension.protectedAccounts"
        return _left_alone(
            found, "Protected", refused=(PROTECTED_ACCOUNT, why) if reached else None
        )
    if not reached:
        return found
    gate = lifecycle_gate(
        Action.SUSPEND,
        user.email or user.account_id,
        observation.facts,
        fresh=enriched,
        permission=permission,
        allow_admins=policy.allow_admins,
    )
    if gate.blocked is not None:
        return _left_alone(found, None, refused=(gate.blocked.reason, gate.blocked.message))
    return found


def _left_alone(
    found: Inactivity,
    excluded: str | None,
    *,
    refused: tuple[str, str] | None = None,
    kept_by_intent: bool = False,
) -> Inactivity:
    """An account the policy must not suspend: neither warned nor eligible (a warning would
    promise a suspension that cannot come; it starts afresh if what keeps it ends), with why:
    `excluded` (ExplicitIntent, Protected), `refused` (what the operator would refuse before a
    call), `kept_by_intent` (idle, but its own desiredState: Active keeps it)."""
    return replace(
        found, eligible=False, warned=False, warned_at=None, excluded=excluded,
        refused=refused, kept_by_intent=kept_by_intent,
    )  # fmt: skip


def first_observed(status: Mapping[str, Any], as_of: datetime) -> datetime:
    """When the operator first saw the account's user (`status.firstObserved`), else now."""
    return parse_time(str(status.get("firstObserved") or "")) or as_of
