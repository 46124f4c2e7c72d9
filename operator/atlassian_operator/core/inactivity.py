"""The inactivity policy (license management): who has not used anything for too long.

Pure. Inactivity is measured as of the listing the observation comes from, never as of now: a
listing that fails (or stops coming) can never make anyone eligible, because no time passes
between listings as far as the policy is concerned. For the same reason a last-active time
Atlassian sent in a layout nobody can read makes no one eligible: it is not "never active".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from atlassian_operator.atlassian import UnreadableTime, User, newest_time
from atlassian_operator.core.mapping import parse_time

#: What `status.lastAction.requestedBy` says of a suspension the policy asked for.
POLICY_REQUESTER = "inactivity-policy"
_DAY = 86_400.0


class PolicyMode(StrEnum):
    REPORT = "Report"
    ENFORCE = "Enforce"


class SelectorError(ValueError):
    """A label selector that cannot be evaluated; the message names the part."""


@dataclass(frozen=True)
class LabelSelector:
    """A Kubernetes label selector: matchLabels and matchExpressions, all of which must hold."""

    match_labels: tuple[tuple[str, str], ...] = ()
    #: (key, operator, values): In, NotIn, Exists, DoesNotExist.
    expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_dict(cls, selector: Mapping[str, Any]) -> LabelSelector:
        given = selector.get("matchLabels") or {}
        labels = tuple(sorted((str(k), str(v)) for k, v in given.items()))
        expressions = []
        for i, expr in enumerate(selector.get("matchExpressions") or ()):
            key, op = expr.get("key"), expr.get("operator")
            values = tuple(str(v) for v in expr.get("values") or ())
            if not key or op not in ("In", "NotIn", "Exists", "DoesNotExist"):
                raise SelectorError(
                    f"matchExpressions[{i}] needs a key and an operator In, NotIn, Exists or "
                    f"DoesNotExist (got {op!r})"
                )
            if op in ("In", "NotIn") and not values:
                raise SelectorError(f"matchExpressions[{i}] ({op}) needs values")
            expressions.append((str(key), str(op), values))
        return cls(labels, tuple(expressions))

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels):
            return False
        for key, op, values in self.expressions:
            present = key in labels
            if op == "In" and not (present and labels[key] in values):
                return False
            if op == "NotIn" and present and labels[key] in values:
                return False
            if op == "Exists" and not present:
                return False
            if op == "DoesNotExist" and present:
                return False
        return True


def listed_name(entry: str) -> str:
    """How a listed account ID or email is kept: emails lower-cased, IDs as given."""
    return entry.lower() if "@" in entry else entry


def is_listed(
    names: frozenset[str], account_id: str | None, emails: Iterable[str | None] = ()
) -> bool:
    """Listed by account ID or by any address the account is known by (emails in any case).

    The one matching for every list of accounts in an AtlassianOrg's spec (protectedAccounts,
    inactivity.exempt), so that an entry means the same person in each.
    """
    if account_id and account_id in names:
        return True
    return any(e and e.lower() in names for e in emails)


def account_list(field: str, entries: object) -> frozenset[str]:
    """The names of a spec's list of accounts (`field`), kept as `is_listed` matches them."""
    if entries is None:
        return frozenset()
    if not isinstance(entries, list | tuple):
        raise ValueError(f"{field} must be a list of Atlassian account IDs or emails")
    names = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, str) or not entry.strip():
            raise ValueError(
                f"{field}[{i}] {entry!r} is not an Atlassian account ID or an email address"
            )
        names.add(listed_name(entry))
    return frozenset(names)


@dataclass(frozen=True)
class InactivityPolicy:
    suspend_after_days: int
    mode: PolicyMode = PolicyMode.REPORT
    exempt_selector: LabelSelector | None = None
    #: spec.inactivity.exempt: account IDs and emails (lower-cased) the policy never touches.
    #: Unlike a label, it outlives the AtlassianAccount: a discovered account that is deleted
    #: comes back without the labels someone gave it, but is still listed here.
    exempt_accounts: frozenset[str] = frozenset()
    #: spec.inactivity.warnAfterDays: the threshold of a warning before the policy acts; an
    #: account is suspended only after `warning_days` in the warning state. None: no warning.
    warn_after_days: int | None = None
    #: spec.inactivity.maxPerSync: the policy's share of the org's window of lifecycle calls;
    #: None: the default, half of spec.suspension.maxPerSync (see `share`).
    max_per_sync: int | None = None

    @property
    def enforce(self) -> bool:
        return self.mode is PolicyMode.ENFORCE

    @property
    def warning_days(self) -> int:
        """How long an account is warned before the policy may suspend it (0: no warning)."""
        if self.warn_after_days is None:
            return 0
        return self.suspend_after_days - self.warn_after_days

    def share(self, org_max_per_sync: int) -> int:
        """The policy's calls per window: housekeeping never takes a whole window from
        explicit offboardings. By default half the org's maxPerSync, at least 1 when that is."""
        if self.max_per_sync is not None:
            return min(self.max_per_sync, org_max_per_sync)
        return max(1, org_max_per_sync // 2) if org_max_per_sync >= 1 else 0

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> InactivityPolicy | None:
        """`spec.inactivity` of an AtlassianOrg; None when it sets no suspendAfterDays."""
        days = spec.get("suspendAfterDays")
        if days is None:
            return None
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValueError(
                f"spec.inactivity.suspendAfterDays {days!r} must be a whole number >= 1"
            )
        mode = spec.get("mode") or PolicyMode.REPORT
        try:
            parsed_mode = PolicyMode(mode)
        except ValueError:
            raise ValueError(f"spec.inactivity.mode {mode!r} is not Report or Enforce") from None
        selector = spec.get("exemptSelector")
        try:
            exempt = LabelSelector.from_dict(selector) if selector else None
        except SelectorError as exc:
            raise ValueError(f"spec.inactivity.exemptSelector: {exc}") from None
        listed = account_list("spec.inactivity.exempt", spec.get("exempt"))
        warn = spec.get("warnAfterDays")
        if warn is not None and (
            isinstance(warn, bool) or not isinstance(warn, int) or not 1 <= warn < days
        ):
            raise ValueError(
                f"spec.inactivity.warnAfterDays {warn!r} must be a whole number >= 1 and less "
                f"than spec.inactivity.suspendAfterDays ({days}): the warning comes first"
            )
        share = spec.get("maxPerSync")
        if share is not None and (
            isinstance(share, bool) or not isinstance(share, int) or share < 1
        ):
            raise ValueError(
                f"spec.inactivity.maxPerSync {share!r} must be a whole number >= 1 (the "
                "policy's suspensions per syncInterval), or unset for half of "
                "spec.suspension.maxPerSync"
            )
        return cls(days, parsed_mode, exempt, listed, warn, share)

    def lists(self, account_id: str | None, emails: Iterable[str | None] = ()) -> bool:
        """Whether spec.inactivity.exempt names the account (as protectedAccounts would)."""
        return is_listed(self.exempt_accounts, account_id, emails)


@dataclass(frozen=True)
class Inactivity:
    """One account under the policy, as of one listing."""

    #: Whole days since the newest activity (account or any product); None: never active, or
    #: a time that cannot be read.
    days: int | None
    eligible: bool
    #: In words, for messages: "inactive for 120 days" or "never active, observed 95 days".
    description: str
    #: Days the policy's clock has run (from activity, first observation or a re-enable), for
    #: the order in which eligible accounts are suspended: the longest first.
    clock_days: float = 0.0
    #: When a re-enable of a policy-suspended account restarted the clock (kept in status).
    reset_at: datetime | None = None
    #: The policy's threshold, for messages.
    threshold: int = 0
    #: Past warnAfterDays under the same rules as eligibility: the person is being warned.
    warned: bool = False
    #: When the warning began, as of a listing (kept in `status.inactivityWarnedAt`).
    warned_at: datetime | None = None
    #: warnAfterDays, for messages; None: the policy warns nobody.
    warn_after: int | None = None
    #: Why the policy leaves the account alone whatever its idle days, in a word for the
    #: Inactivity condition: Exempt, Protected, ExplicitIntent; None: it does not.
    excluded: str | None = None
    #: The policy's mode is Enforce (for messages: what being eligible leads to).
    enforce: bool = False
    #: Taken up by the policy (past warnAfterDays, else suspendAfterDays), but the operator
    #: would refuse to suspend it: (reason, why), e.g. ("OrganizationAdmin", "... holds
    #: atlassian/org-admin ..."). Neither warned nor eligible; not a seat to reclaim.
    refused: tuple[str, str] | None = None
    #: Taken up by the policy, but its own spec.desiredState: Active keeps it (intent wins);
    #: reported so that a review sees it, never suspended by the policy.
    kept_by_intent: bool = False

    def explain(self) -> str:
        return f"{self.description}; the org suspends after {self.threshold} days"

    def suspend_from(self) -> datetime | None:
        """The first listing time at which a warned account may be suspended."""
        if self.warned_at is None or self.warn_after is None:
            return None
        return self.warned_at + timedelta(days=self.threshold - self.warn_after)


def newest_activity(user: User) -> datetime | UnreadableTime | None:
    """The newest activity of the account or any product; unreadable when any of them is."""
    return newest_time((user.last_active, *(p.last_active for p in user.product_access)))


def idle_since(
    newest: datetime | UnreadableTime | None, first_observed: datetime | None
) -> datetime | None:
    """From when an account counts as idle: its newest activity; for an account never active,
    when the operator first observed it (never at once: a new hire may not have signed in yet).
    None when that is unknown: a time nobody can read, or no first observation. The review
    (`kubectl atlassian report --inactive-days`) counts with this too, so the two agree.
    """
    if isinstance(newest, UnreadableTime):
        return None
    return newest or first_observed


def assess(
    policy: InactivityPolicy,
    user: User,
    *,
    as_of: datetime,
    first_observed: datetime | None,
    reset_at: datetime | None,
    exempt: bool,
    warned_at: datetime | None = None,
) -> Inactivity:
    """How inactive the user is as of `as_of` (the listing's time), and whether the policy may
    suspend them.

    Only an Active account can be eligible. An account never active at all counts from when
    the operator first observed it (`first_observed`), never at once. A policy-suspended
    account someone re-enabled counts again from the re-enable (`reset_at`). Whether the
    account's own spec or protection rules it out is the caller's to add (see `plan`). An
    account with an unreadable last-active time is never eligible: how long it has been idle
    is unknown.

    With warnAfterDays, an account past it under the same rules is warned from `as_of` on
    (or from `warned_at`, the start kept in status while it stays warned), and is eligible
    only once it has been warned for suspendAfterDays - warnAfterDays days as of the listing:
    nobody is suspended who was not warned first, however long they were idle before.
    """
    newest = newest_activity(user)
    threshold, warn = policy.suspend_after_days, policy.warn_after_days
    excluded = "Exempt" if exempt else None
    if isinstance(newest, UnreadableTime):
        described = f"last activity unreadable ({newest})"
        return Inactivity(None, False, described, 0.0, reset_at, threshold, warn_after=warn,
                          excluded=excluded)  # fmt: skip
    days = None if newest is None else max(0, int((as_of - newest).total_seconds() // _DAY))
    starts = [t for t in (idle_since(newest, first_observed), reset_at) if t is not None]
    if not starts or user.account_status != "active" or exempt:
        return Inactivity(days, False, _describe(days, None), 0.0, reset_at, threshold,
                          warn_after=warn, excluded=excluded)  # fmt: skip
    clock = max(0.0, (as_of - max(starts)).total_seconds() / _DAY)
    observed = None if newest else int(clock)
    eligible = clock >= threshold
    warned = warn is not None and clock >= warn
    since = (warned_at or as_of) if warned else None
    if warn is not None:
        eligible = eligible and since is not None and warned_for(since, as_of) >= threshold - warn
    return Inactivity(
        days, eligible, _describe(days, observed), clock, reset_at, threshold, warned, since,
        warn,
    )  # fmt: skip


def warned_for(since: datetime, as_of: datetime) -> float:
    """Days an account has been in the warning state as of the listing (never negative)."""
    return max(0.0, (as_of - since).total_seconds() / _DAY)


def _describe(days: int | None, observed: int | None) -> str:
    if days is not None:
        return f"inactive for {days} days"
    if observed is not None:
        return f"never active; observed for {observed} days"
    return "never active"


def reset_time(previous: Mapping[str, Any], user: User, as_of: datetime) -> datetime | None:
    """When a re-enable restarted the policy's clock, kept in `status.inactivityResetAt`.

    Set when an account the policy suspended is seen active again; kept after that.
    """
    kept = parse_time(str(previous.get("inactivityResetAt") or ""))
    last = previous.get("lastAction") or {}
    suspended_by_policy = (
        last.get("requestedBy") == POLICY_REQUESTER
        and last.get("action") == "Suspend"
        and last.get("result") == "Succeeded"
    )
    reenabled = previous.get("accountStatus") == "Suspended" and user.account_status == "active"
    if suspended_by_policy and reenabled:
        last_time = parse_time(str(last.get("time") or ""))
        if kept is None or last_time is None or kept < last_time:
            return as_of
    return kept
