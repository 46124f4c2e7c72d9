"""`explain ACCOUNT`: why an account is or is not in its desired state, in words.

Everything comes from the cluster: the account's spec and status (conditions, lastAction),
its org's policies, and, for an account waiting on the suspension budget, the other accounts
of the org that wait too, to estimate its place in line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atlassian_operator.core.resources import DISCOVERED_LABEL
from atlassian_operator.report.cluster import ReportError
from atlassian_operator.report.review import (
    BY_SELECTOR,
    AccessReview,
    AccountLine,
    LastAction,
    days_between,
    parse_time,
)

BUDGET_REASON = "SuspensionBudgetExceeded"
#: The Inactivity reason of an account the policy selected that waits for the budget.
POLICY_BUDGET_REASON = "WaitingForBudget"
_HINTS = {
    "ProtectedAccount": "the org protects it: remove it from spec.suspension.protectedAccounts "
    "of the AtlassianOrg to allow a suspension",
    "DryRun": "the org is in dry run: set spec.suspension.dryRun: false on the AtlassianOrg",
    "OrganizationAdmin": "an org or site admin: the org must set spec.suspension.allowAdmins",
    "ManagedByIdentityProvider": "deprovision it in the identity provider that syncs it",
    "UnmanagedAccount": "outside the org's verified domains: Atlassian allows no lifecycle call",
    "ReactivationNotAllowed": "the org must set spec.suspension.allowReactivation: true",
    "InactivityEligible": "the org's inactivity policy finds it eligible; in mode Report "
    "that is all, in mode Enforce it is suspended within the budget",
    "InactivityWarning": "the org's inactivity policy warns this person (spec.inactivity."
    "warnAfterDays): using any product ends the warning; else it becomes eligible once the "
    "warning period is over",
    "LastActiveUnreadable": "Atlassian sent a last-active time the operator cannot read: the "
    "inactivity policy leaves the account alone until a listing brings a readable one",
}


def find_account(review: AccessReview, wanted: str, scope: str) -> AccountLine:
    """The account named `wanted`: its resource name, else its email or account ID."""
    by_name = [a for a in review.accounts if a.name == wanted]
    matches = by_name or [
        a
        for a in review.accounts
        if wanted.lower() in (a.email.lower(), a.account_id.lower()) and wanted
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ReportError(
            f"no AtlassianAccount named {wanted!r} (nor with that email or account ID) in "
            f"{scope}; `kubectl get aacct` lists them, -n NAMESPACE or -A widens the search"
        )
    names = ", ".join(f"{a.namespace}/{a.name}" for a in matches)
    raise ReportError(f"{wanted!r} names several AtlassianAccounts ({names}); pass one name")


def explain(review: AccessReview, account: AccountLine) -> str:
    out: list[str] = [f"AtlassianAccount {account.namespace}/{account.name}"]
    field = _Fields(out)
    who = account.who + (f" ({account.display_name})" if account.display_name else "")
    if account.account_id and account.account_id != account.who:
        who += f", account ID {account.account_id}"
    field("Who", who)
    org = account.org
    field(
        "Org",
        f"AtlassianOrg {org.name}" + (f" (org ID {org.org_id})" if org.org_id else "")
        if org.found
        else f"AtlassianOrg {org.name} is not in namespace {org.namespace}: nothing acts on "
        "this account until it exists",
    )
    desired = account.desired_state
    requested = account.desired_by
    field(
        "Desired",
        (desired + (f" (set by {requested})" if requested else ""))
        if desired
        else f"none: {_observe_only(account)}",
    )
    field("Observed", _observed(review, account))
    for line in _verdict(review, account):
        field("Verdict", line)
    out.append("Conditions:")
    conditions = account.status.get("conditions") or ()
    if not conditions:
        out.append("  none yet: the operator has not written this account's status")
    for c in conditions:
        out.append(
            f"  {c.get('type', '?'):<7} {c.get('status', '?'):<7} {c.get('reason') or '-'}"
            + (f"  since {c['lastTransitionTime']}" if c.get("lastTransitionTime") else "")
        )
        if c.get("message"):
            out.append(f"          {c['message']}")
    field("Last action", _last_action(account.status.get("lastAction")))
    flags = account.flags
    field(
        "Flags",
        " · ".join(
            f"{word} {'yes' if on else 'no'}"
            for word, on in (
                ("protected", flags.protected),
                ("exempt", flags.exempt),
                ("admin", flags.admin),
                ("IdP", flags.identity_provider),
                ("unmanaged", flags.unmanaged),
            )
        ),
    )
    out.append("Products:")
    if not account.products:
        out.append("  none")
    width = max((len(p.product) for p in account.products), default=0)
    for p in account.products:
        last = f"last active {p.last_active}" if p.last_active else "never active there"
        out.append(f"  {p.product:<{width}}  {p.status or '-':<13}  {last}")
    field("Suspension", f"policy of {org.name}: {org.suspension_text()}")
    field("Inactivity", f"policy of {org.name}: {org.inactivity_text()}")
    if org.selector_error:
        field("", f"exemptSelector cannot be used: {org.selector_error}")
    if org.exempt_error:
        field("", f"exempt list cannot be used: {org.exempt_error}")
    field("", _inactivity_of(account))
    return "\n".join(out) + "\n"


class _Fields:
    """`Label:  value` lines with the values aligned, a repeated label left blank."""

    def __init__(self, out: list[str]) -> None:
        self.out, self.last = out, ""

    def __call__(self, label: str, value: str) -> None:
        shown = "" if label == self.last else f"{label}:" if label else ""
        self.last = label or self.last
        self.out.append(f"{shown:<13}{value}")


def _observed(review: AccessReview, account: AccountLine) -> str:
    state = account.state
    if not state:
        return "not yet (no accountStatus in status)"
    parts = [f"{state} (Atlassian: {account.status.get('atlassianStatus', '?')})"]
    if account.billable is not None:
        parts.append("billable" if account.billable else "not billable")
    last = account.last_active
    when = parse_time(last)
    if last and when is not None:
        parts.append(f"last active {last} ({days_between(when, review.as_of)} days ago)")
    elif account.activity_unreadable:
        parts.append("last activity unreadable (see the Ready condition)")
    elif (first := account.idle_from) is not None:
        days = days_between(first, review.as_of)
        parts.append(f"never active (idle {days} days, counted from its first observation)")
    else:
        parts.append("never active (no firstObserved: its idle days cannot be counted)")
    return ", ".join(parts)


def _observe_only(account: AccountLine) -> str:
    policy = account.org.inactivity_policy
    if policy is not None and policy.get("mode") == "Enforce":
        return "observe only, but the org's inactivity policy (mode Enforce) may suspend it"
    return "observe only (the operator reports this account and never changes it)"


def _ready(account: AccountLine) -> Mapping[str, Any]:
    return next((c for c in account.status.get("conditions") or () if c.get("type") == "Ready"), {})


def _verdict(review: AccessReview, account: AccountLine) -> list[str]:
    ready = _ready(account)
    reason = str(ready.get("reason") or "")
    seen = ready.get("observedGeneration")
    lines: list[str] = []
    if not account.state:
        lines.append("not observed yet" + (f": Ready reason {reason}" if reason else ""))
    elif not account.desired_state:
        lines.append(f"nothing to reach: {_observe_only(account)}")
    elif account.desired_state == account.state:
        lines.append(f"in its desired state ({account.state})")
    else:
        lines.append(
            f"NOT in its desired state: wants {account.desired_state}, is {account.state}"
            + (f"; Ready={ready.get('status')} reason {reason}" if reason else "")
        )
    if reason in _HINTS:
        lines.append(_HINTS[reason])
    verdict = account.inactivity_verdict
    if verdict is not None:
        lines.append(f"inactivity policy: {verdict} (the Inactivity condition)")
        # A refusal (RefusedOrganizationAdmin) has the hint of what refuses it.
        hint = _HINTS.get(verdict) or _HINTS.get(verdict.removeprefix("Refused"))
        if hint is not None and verdict != reason:
            lines.append(hint)
    if reason == BUDGET_REASON or verdict == POLICY_BUDGET_REASON:
        lines.append(_place_in_line(review, account))
    if account.inactivity_eligible and reason != "InactivityEligible":
        mode = (account.org.inactivity_policy or {}).get("mode", "Report")
        lines.append(
            f"eligible under the inactivity policy of AtlassianOrg {account.org.name} "
            f"(mode {mode}: "
            + ("suspended within the budget)" if mode == "Enforce" else "reported only)")
        )
    if isinstance(seen, int) and account.generation and seen < account.generation:
        lines.append(
            f"the Ready condition is for generation {seen}, the spec is at generation "
            f"{account.generation}: the operator has not handled the latest change yet"
        )
    return lines


def _place_in_line(review: AccessReview, account: AccountLine) -> str:
    waiting = [
        a
        for a in review.accounts
        if a.org.key == account.org.key
        and (
            _ready(a).get("reason") == BUDGET_REASON or a.inactivity_verdict == POLICY_BUDGET_REASON
        )
    ]
    # The operator's order: explicit suspensions first, oldest request first (the Ready
    # condition turned to this reason when the request began to wait); then the policy's,
    # longest inactive first.
    explicit = sorted(
        (a for a in waiting if a.desired_state == "Suspended"),
        key=lambda a: (str(_ready(a).get("lastTransitionTime") or ""), a.name),
    )
    by_policy = sorted(
        (a for a in waiting if a.desired_state != "Suspended"),
        key=lambda a: (-(a.inactive_days or 0), a.name),
    )
    line = [*explicit, *by_policy]
    place = next(i for i, a in enumerate(line, 1) if a is account)
    return (
        f"place {place} of {len(line)} waiting for the suspension budget of AtlassianOrg "
        f"{account.org.name} (estimated from the cluster: explicit requests first, by when each "
        "began to wait; then the inactivity policy's, longest inactive first)"
    )


def _last_action(action: Mapping[str, Any] | None) -> str:
    if not action:
        return "none: the operator has made no call for this account"
    text = f"{action.get('action', '?')} {action.get('result', '?')}"
    if action.get("time"):
        text += f" at {action['time']}"
    if action.get("requestedBy"):
        text += f", requested by {action['requestedBy']}"
    last = LastAction.of(action)
    if last is not None and last.approved:
        text += f", {last.approval_text()} (past the org's brake on mass calls)"
    if action.get("message"):
        text += f": {action['message']}"
    return text


def _inactivity_of(account: AccountLine) -> str:
    parts = []
    days = account.inactive_days
    parts.append(
        f"this account: inactive {days} days (the operator's count)"
        if days is not None
        else "this account: no inactiveDays in status"
    )
    eligible = account.inactivity_eligible
    if eligible is not None:
        parts.append("eligible for suspension" if eligible else "not eligible")
    if account.kept_by_intent:
        parts.append(
            "kept by intent: its spec pins desiredState Active, which keeps it from the policy"
        )
    if account.inactivity_refused:
        parts.append(f"refused by the operator ({account.inactivity_refused}): not reclaimable")
    if account.first_observed:
        parts.append(f"first observed {account.first_observed}")
    if account.flags.exempt:
        parts.append(f"exempt: {' and '.join(account.flags.exempt_by)}")
    if account.flags.exempt_by == (BY_SELECTOR,) and DISCOVERED_LABEL in account.labels:
        # What the operator warns of (ExemptionNotDurable): the label dies with the object.
        parts.append(
            "a label on a discovered account, lost if it is re-created: list it in "
            "spec.inactivity.exempt to keep the exemption"
        )
    return ", ".join(parts)
