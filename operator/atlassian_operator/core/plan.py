"""One account's plan: spec + pinned identity + observation + policy + rivals -> what it needs.

Pure: the org's owner gathers the inputs from the state it alone holds, and then only gates
the action (budget, a call already in flight, a usable key) before it acts and renders status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from atlassian_operator.atlassian import LifecyclePermission
from atlassian_operator.core.decisions import (
    Action,
    Blocked,
    Decision,
    Gate,
    decide_account,
    needed_action,
)
from atlassian_operator.core.resources import AccountSpec, SuspensionPolicy
from atlassian_operator.core.safety import lifecycle_gate
from atlassian_operator.core.snapshot import Observation, OrgSnapshot


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

    @property
    def action(self) -> Action | None:
        return self.decision.action


def pinned_id(spec: AccountSpec, status: Mapping[str, Any]) -> str | None:
    """The Atlassian account an AtlassianAccount is about once resolved (kept in its status)."""
    return spec.account_id or status.get("accountId") or None


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
) -> AccountPlan:
    """What this account needs, with explicit intent winning over observation.

    An account that states a desired state takes precedence over observe-only (and discovered)
    accounts naming the same user; two that both state one are a conflict, and neither acts.
    A listing that contradicts itself (`trusted` False) never leads to an action. `enriched`:
    the observation's directory facts come from the same sync as the listing; `permission`:
    what the user management API answered for this account during this listing.
    """
    rivals = sorted(rivals, key=lambda r: r.name)
    intent = [r.name for r in rivals if r.states_desire]
    if spec.desired_state is None:
        return AccountPlan(observation, Decision(), intent[0] if intent else None)
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
        )
    user = observation.user
    needed = needed_action(spec.desired_state, user) if user is not None else None
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
    return AccountPlan(observation, decision)
