"""What to do about one account: spec + observed user + org policy -> an action, or why not."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from atlassian_operator.atlassian import User
from atlassian_operator.core.mapping import ACTIVE, DEPROVISIONED, SUSPENDED, account_state
from atlassian_operator.core.resources import AccountSpec, DesiredState, SuspensionPolicy


@dataclass(frozen=True, slots=True)
class Terms:
    """What one kind of action is, declared once; the acting path is generic over it."""

    call: str  # the lifecycle endpoint: disable or enable
    done: str  # the past tense, for logs, lastAction and Events
    noun: str  # what one such call is called in messages
    leaves: str  # the Atlassian account status a successful call leaves
    event: str  # the reason of the Normal Event that announces it


class Action(StrEnum):
    """A lifecycle call. Both kinds take a slot of the org's budget, are recorded in status
    (`pendingAction`) before the request is sent and in `lastAction` after, and are announced
    by one Event; what differs between them is in `Terms`, and in the gate (decide_account)."""

    SUSPEND = "Suspend"
    REACTIVATE = "Reactivate"

    @property
    def terms(self) -> Terms:
        return _TERMS[self]

    @property
    def noun(self) -> str:
        return self.terms.noun


_TERMS = {
    Action.SUSPEND: Terms("disable", "disabled", "suspension", "inactive", "Suspended"),
    Action.REACTIVATE: Terms("enable", "enabled", "re-enable", "active", "Reactivated"),
}


@dataclass(frozen=True, slots=True)
class Blocked:
    """An action the account needs but will not get now; `reason` becomes the condition reason."""

    reason: str
    message: str
    action: Action | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action | None = None
    blocked: Blocked | None = None
    #: Ask the user management API whether the call is allowed before making it.
    ask_first: bool = False


NOTHING = Decision()
#: The reason of a suspension refused because the org protects the account.
PROTECTED_ACCOUNT = "ProtectedAccount"


@dataclass(frozen=True)
class Gate:
    """Whether the needed call may go (`blocked` None), after asking Atlassian when `ask_first`."""

    blocked: Blocked | None = None
    ask_first: bool = False


def needed_action(desired: DesiredState | None, user: User) -> Action | None:
    state = account_state(user.account_status)
    if desired is DesiredState.SUSPENDED and state == ACTIVE:
        return Action.SUSPEND
    if desired is DesiredState.ACTIVE and state == SUSPENDED:
        return Action.REACTIVATE
    return None


def decide_account(
    spec: AccountSpec,
    user: User | None,
    policy: SuspensionPolicy,
    *,
    known_emails: Iterable[str] = (),
    failed: Blocked | None = None,
    gate: Gate | None = None,
    desired: DesiredState | None = None,
) -> Decision:
    """The action the account needs now, or why it does not get it.

    `known_emails`: every address this account is known by (its spec, what Atlassian showed for
    it before), so that protection holds when Atlassian hides the email. `failed`: the
    permanent failure of this same action under the current account and org configuration.
    `gate`: whether Atlassian lets the operator make the needed call (core/safety.py).
    `desired`: the state wanted when the spec states none (the inactivity policy's).
    """
    if user is None:
        return NOTHING
    desired = desired or spec.desired_state
    action = needed_action(desired, user)
    who = f"{user.email or user.account_id}"
    if action is None:
        if desired is DesiredState.ACTIVE and account_state(user.account_status) == DEPROVISIONED:
            return Decision(
                blocked=Blocked(
                    "AccountDeprovisioned",
                    f"{who} is {user.account_status} in Atlassian and cannot be re-enabled by this "
                    "operator; restore it in admin.atlassian.com",
                )
            )
        return NOTHING
    if action is Action.SUSPEND and policy.protects(user.account_id, [user.email, *known_emails]):
        return Decision(
            blocked=Blocked(
                PROTECTED_ACCOUNT,
                f"{who} is listed in spec.suspension.protectedAccounts of the org; "
                "it is never suspended",
            )
        )
    if action is Action.REACTIVATE and not policy.allow_reactivation:
        return Decision(
            blocked=Blocked(
                "ReactivationNotAllowed",
                f"{who} is suspended and desiredState is Active, but the org does not allow "
                "re-activation; set spec.suspension.allowReactivation: true on the AtlassianOrg",
            )
        )
    if failed is not None and failed.action is action:
        return Decision(blocked=failed)
    if gate is not None and gate.blocked is not None:
        return Decision(blocked=gate.blocked)
    if policy.dry_run:
        verb = "suspend" if action is Action.SUSPEND else "re-enable"
        return Decision(
            blocked=Blocked(
                "DryRun",
                f"dry run: would {verb} {who}; set spec.suspension.dryRun: false on the org to act",
                action,
            )
        )
    return Decision(action=action, ask_first=gate is not None and gate.ask_first)
