"""AtlassianAccount manifests that suspend the accounts a review selected: a pull request's body.

Each document is the account's whole spec as the cluster has it, with `desiredState:
Suspended` and a `suspensionMessage` naming the review: a partial spec under `kubectl apply`
would drop the fields it leaves out (the three-way merge removes what the last applied
configuration had). Accounts the operator must not or would not suspend are skipped, each
with the reason in a comment, so that the file says what the review decided about everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from atlassian_operator.core.mapping import timestamp
from atlassian_operator.core.resources import ACCOUNT_KIND, API_VERSION
from atlassian_operator.report.format_table import cell
from atlassian_operator.report.review import AccessReview, AccountLine

# libyaml's emitter when PyYAML has it: ten times faster than the pure-Python one.
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class Selection:
    """What the review suspends and why: idle for --inactive-days, or the policy's eligible."""

    accounts: list[AccountLine]
    #: "inactive 90+ days", or "eligible under the inactivity policy".
    reason: str
    #: Accounts with no activity within --inactive-days that are not idle that long all the
    #: same (a new hire who has not signed in yet), with why: skipped, and the file says so.
    held_back: list[tuple[AccountLine, str]] = field(default_factory=list)


def select(review: AccessReview) -> Selection:
    if review.inactive_days is not None:
        reason = f"inactive {review.inactive_days}+ days"
        return Selection(review.selected, reason, review.held_back())
    eligible = [a for a in review.accounts if a.inactivity_eligible]
    return Selection(eligible, "eligible under the inactivity policy")


def skip_reason(account: AccountLine) -> str | None:
    """Why this account gets no suspension from a review; None when it gets one."""
    org, flags, state = account.org, account.flags, account.state
    if not org.found:
        return f"its AtlassianOrg {org.name} is not in the cluster"
    if flags.protected:
        return f"protected: listed in spec.suspension.protectedAccounts of AtlassianOrg {org.name}"
    if flags.admin:
        roles = ", ".join(account.status.get("platformRoles") or ())
        return f"an org or site admin ({roles}): a person decides, not a review"
    if flags.identity_provider:
        return "managed by an identity provider: deprovision it there (Atlassian refuses the call)"
    if flags.unmanaged:
        return (
            "an unmanaged account (outside the org's verified domains): no lifecycle call applies"
        )
    if flags.exempt:
        return f"exempt: {' and '.join(flags.exempt_by)} of AtlassianOrg {org.name}"
    if account.desired_state == "Active":
        return "spec.desiredState is Active: someone decided to keep it; change that by hand"
    if account.desired_state == "Suspended":
        return "spec.desiredState is already Suspended"
    if state != "Active":
        seen = state or "not observed yet"
        return f"account status is {seen}: no seat to reclaim"
    return None


def suspension_manifests(review: AccessReview, scope: str) -> str:
    selection = select(review)
    date = review.as_of.date().isoformat()
    message = f"Access review {date}: {selection.reason}"
    chosen: list[AccountLine] = []
    skipped: list[tuple[AccountLine, str]] = []
    for account in selection.accounts:
        reason = skip_reason(account)
        if reason is None:
            chosen.append(account)
        else:
            skipped.append((account, reason))
    # A reason that rules the account out for good comes first (an admin stays one after a
    # month); the one that only needs time comes next.
    skipped += [(a, skip_reason(a) or reason) for a, reason in selection.held_back]
    skipped.sort(key=lambda skip: skip[0].sort_key)
    header = [
        f"# {message}, in {scope} (as of {timestamp(review.as_of)}).",
        "# Commit this file to the Git repository that Argo CD or Flux applies: the operator",
        "# suspends each account within its org's spec.suspension.maxPerSync.",
        f"# {len(chosen)} to suspend, {len(skipped)} skipped.",
    ]
    header += [f"# skipped {_who(a)}: {reason}" for a, reason in skipped]
    documents = [_document(a, message) for a in chosen]
    return "\n".join(header) + "\n" + "".join(documents)


def _who(account: AccountLine) -> str:
    name = f" ({cell(account.display_name)})" if account.display_name else ""
    return f"{account.namespace}/{account.name} {cell(account.who)}{name}"


def _document(account: AccountLine, message: str) -> str:
    newest, since = account.newest_activity, account.idle_from
    if newest is not None:
        idle = f"last active {newest.date().isoformat()} ({account.days_since_active} days ago)"
    elif since is not None:
        idle = f"never active, first observed {since.date().isoformat()}"
    else:  # chosen by the inactivity policy, which the operator decided
        idle = "never active"
    billable = ", billable" if account.billable else ""
    first = ("orgRef", "accountId", "email")
    spec: dict[str, Any] = {k: account.spec[k] for k in first if k in account.spec}
    spec |= {k: v for k, v in account.spec.items() if k not in first}
    spec |= {"desiredState": "Suspended", "suspensionMessage": message}
    body = {
        "apiVersion": API_VERSION,
        "kind": ACCOUNT_KIND,
        "metadata": {"name": account.name, "namespace": account.namespace},
        "spec": spec,
    }
    dumped = yaml.dump(
        body, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return f"---\n# {_who(account)}: {idle}{billable}\n{dumped}"
