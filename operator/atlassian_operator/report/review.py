"""The access review: each account with its flags, one row per account and product-site.

Pure: built from the dicts the API server returns, as of one instant (`as_of`), so that the
same cluster state always gives the same rows. Protection and exemption are decided the way
the operator decides them (its `SuspensionPolicy`, the org's `exemptSelector` and its
`spec.inactivity.exempt` list), so the report never calls an account protected or exempt that
the operator would suspend, or the reverse.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from atlassian_operator.atlassian import UnreadableTime
from atlassian_operator.atlassian.v2_choices import ADMIN_ROLES
from atlassian_operator.core.brake import approve_command
from atlassian_operator.core.conditions import INACTIVITY, READY, SYNCED
from atlassian_operator.core.inactivity import (
    LabelSelector,
    SelectorError,
    account_list,
    idle_since,
    is_listed,
)
from atlassian_operator.core.resources import SuspensionPolicy, desired_state_manager
from atlassian_operator.core.status import LAST_ACTIVE_UNREADABLE

STATES = ("Active", "Suspended", "Deprovisioned")
#: What can exempt an account from the org's inactivity policy, in `Flags.exempt_by`.
BY_SELECTOR = "matches spec.inactivity.exemptSelector"
BY_LIST = "listed in spec.inactivity.exempt"
_DAY = 86_400


def parse_time(text: object) -> datetime | None:
    """An RFC 3339 time as Kubernetes stores it (with or without fractions); None otherwise."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def days_between(earlier: datetime, later: datetime) -> int:
    """Whole days from `earlier` to `later`, 0 when `earlier` is in the future."""
    return max(0, int((later - earlier).total_seconds() // _DAY))


@dataclass(frozen=True)
class OrgView:
    """One AtlassianOrg as the review needs it: its policies, parsed leniently.

    An org the accounts name but the cluster lacks is an OrgView with `found` False: its
    accounts are still reviewed, with no protection known.
    """

    namespace: str
    name: str
    found: bool = True
    spec: Mapping[str, Any] = field(default_factory=dict)
    status: Mapping[str, Any] = field(default_factory=dict)
    suspension: SuspensionPolicy = field(default_factory=SuspensionPolicy)
    exempt_selector: LabelSelector | None = None
    #: Why spec.inactivity.exemptSelector could not be used (the operator refuses it too).
    selector_error: str | None = None
    #: spec.inactivity.exempt, as the operator keeps it (matched by `is_listed`).
    exempt_accounts: frozenset[str] = frozenset()
    #: Why spec.inactivity.exempt could not be used (the operator refuses it too).
    exempt_error: str | None = None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> OrgView:
        meta = body.get("metadata") or {}
        spec = body.get("spec") or {}
        selector, error = None, None
        inactivity = spec.get("inactivity") or {}
        raw_selector = inactivity.get("exemptSelector")
        if raw_selector:
            try:
                selector = LabelSelector.from_dict(raw_selector)
            except SelectorError as exc:
                error = str(exc)
        listed, list_error = frozenset[str](), None
        try:
            listed = account_list("spec.inactivity.exempt", inactivity.get("exempt"))
        except ValueError as exc:
            list_error = str(exc)
        return cls(
            namespace=str(meta.get("namespace") or ""),
            name=str(meta.get("name") or ""),
            spec=spec,
            status=body.get("status") or {},
            suspension=SuspensionPolicy.from_dict(spec.get("suspension") or {}),
            exempt_selector=selector,
            selector_error=error,
            exempt_accounts=listed,
            exempt_error=list_error,
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def org_id(self) -> str:
        return str(self.spec.get("orgId") or "")

    def condition(self, kind: str) -> Mapping[str, Any] | None:
        """The org's condition of this type (Ready, Synced), as the operator wrote it."""
        return _condition(self.status, kind)

    @property
    def discovers_accounts(self) -> bool:
        """spec.accountDiscovery.enabled (default false): without it, only the accounts
        someone created exist, and a review of them says nothing of the org's other users."""
        return bool((self.spec.get("accountDiscovery") or {}).get("enabled"))

    @property
    def users_total(self) -> int | None:
        """How many users the org's last complete listing found (status.users.total)."""
        value = (self.status.get("users") or {}).get("total")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def inactivity_as_of(self) -> str | None:
        """status.inactivity.asOf: the listing the inactivity counts are measured against,
        when the operator writes it (absent from older operators)."""
        counts = self.status.get("inactivity")
        return (counts.get("asOf") or None) if isinstance(counts, Mapping) else None

    @property
    def paused_calls(self) -> int | None:
        """How many lifecycle calls the brake holds for an approval (status.suspensionBrake
        waiting), or None while it is not paused."""
        brake = self.status.get("suspensionBrake") or {}
        if brake.get("paused") is not True:
            return None
        waiting = brake.get("waiting")
        return waiting if isinstance(waiting, int) else 0

    def approve_command(self) -> str | None:
        """The command that releases the paused calls, the namespace spelled out; None when
        nothing is paused."""
        waiting = self.paused_calls
        return None if waiting is None else approve_command(self.name, waiting, self.namespace)

    @property
    def inactivity_policy(self) -> Mapping[str, Any] | None:
        """spec.inactivity when it sets suspendAfterDays (a policy in force), else None."""
        policy = self.spec.get("inactivity") or {}
        return policy if policy.get("suspendAfterDays") is not None else None

    def suspension_text(self) -> str:
        """spec.suspension in words, defaults included (the CRD's defaults)."""
        s = self.spec.get("suspension") or {}
        return (
            f"dryRun {_bool(s.get('dryRun', False))}, "
            f"maxPerSync {s.get('maxPerSync', 10)} per {self.spec.get('syncInterval', '5m')}, "
            f"allowReactivation {_bool(s.get('allowReactivation', False))}, "
            f"allowAdmins {_bool(s.get('allowAdmins', False))}, "
            f"{len(s.get('protectedAccounts') or ())} protected account(s)"
        )

    def inactivity_text(self) -> str:
        """spec.inactivity in words, with the operator's counts (status.inactivity) if any."""
        policy = self.inactivity_policy
        if policy is None:
            return "none (spec.inactivity.suspendAfterDays is not set)"
        text = (
            f"suspend after {policy['suspendAfterDays']} days, mode {policy.get('mode', 'Report')}"
        )
        if policy.get("exemptSelector"):
            text += f", exempt: {_selector_text(policy['exemptSelector'])}"
        if self.exempt_accounts:
            text += f", {len(self.exempt_accounts)} exempt account(s) in spec.inactivity.exempt"
        counts = self.status.get("inactivity")
        if isinstance(counts, Mapping):
            text += "; the operator counts " + ", ".join(
                f"{v} {k}" for k, v in counts.items() if k != "asOf"
            )
            if self.inactivity_as_of:
                text += f" (as of {self.inactivity_as_of})"
        if (caveat := self.stale()) is not None:
            text += f" ({caveat})"
        return text

    @property
    def counted_at(self) -> str | None:
        """When the listing the operator's counts come from was taken: status.inactivity.asOf,
        else (no policy, or an operator that did not say) the last complete sync."""
        return self.inactivity_as_of or str(self.status.get("lastSyncTime") or "") or None

    def stale(self) -> str | None:
        """Why what the operator shows of this org may be out of date: its last sync failed
        (Synced or Ready False), so counts and statuses are those of the last complete listing.
        None when the org is synced, or not in the cluster."""
        if not self.found:
            return None
        for kind in (READY, SYNCED):
            condition = self.condition(kind)
            if condition is not None and condition.get("status") == "False":
                when = self.counted_at
                return (
                    f"not current: the org's {kind} condition is False "
                    f"({condition.get('reason') or 'no reason'}), so these are the counts of "
                    + (f"the listing at {when}" if when else "its last complete listing")
                    + f"; see kubectl describe aorg {self.name}"
                )
        return None


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    return next((c for c in status.get("conditions") or () if c.get("type") == kind), None)


def condition_text(kind: str, condition: Mapping[str, Any] | None) -> str:
    """`Ready True (Synced)`, or that the operator has not written the condition yet."""
    if condition is None:
        return f"{kind} unknown (no condition yet)"
    reason = condition.get("reason")
    return f"{kind} {condition.get('status', '?')}" + (f" ({reason})" if reason else "")


def _bool(value: object) -> str:
    return "true" if value else "false"


def _selector_text(selector: Mapping[str, Any]) -> str:
    terms = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or ():
        values = ",".join(str(v) for v in expr.get("values") or ())
        op = f"{expr.get('key')} {expr.get('operator')}"
        terms.append(f"{op} ({values})" if values else op)
    return " and ".join(terms) or "every account"


@dataclass(frozen=True)
class ProductAccess:
    """One product on one site of one account: `Confluence (acme)`."""

    product: str
    status: str
    last_active: str | None
    key: str = ""
    url: str = ""

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> ProductAccess:
        return cls(
            product=str(entry.get("product") or entry.get("name") or entry.get("key") or "?"),
            status=str(entry.get("status") or ""),
            last_active=entry.get("lastActive") or None,
            key=str(entry.get("key") or ""),
            url=str(entry.get("url") or ""),
        )


@dataclass(frozen=True)
class LastAction:
    """status.lastAction: the last lifecycle call the operator made for the account (or would
    have made, in a dry run), who asked for it, and the approval past the brake it went out
    under, if the brake had paused it."""

    action: str
    result: str
    reason: str = ""
    time: str | None = None
    requested_by: str | None = None
    message: str = ""
    #: lastAction.approval {count, by, at}, when the call needed one.
    approval_count: int | None = None
    approval_by: str | None = None
    approval_at: str | None = None

    @classmethod
    def of(cls, raw: object) -> LastAction | None:
        if not isinstance(raw, Mapping) or not raw:
            return None
        approval = raw.get("approval") or {}
        count = approval.get("count")
        return cls(
            action=str(raw.get("action") or "?"),
            result=str(raw.get("result") or "?"),
            reason=str(raw.get("reason") or ""),
            time=raw.get("time") or None,
            requested_by=raw.get("requestedBy") or None,
            message=str(raw.get("message") or ""),
            approval_count=count if isinstance(count, int) else None,
            approval_by=approval.get("by") or None,
            approval_at=approval.get("at") or None,
        )

    @property
    def approved(self) -> bool:
        return self.approval_count is not None

    def approval_text(self) -> str:
        """`approved 40 by kubectl-annotate at 2026-12-02T08:00:00Z`, or "" without approval."""
        if not self.approved:
            return ""
        text = f"approved {self.approval_count}"
        if self.approval_by:
            text += f" by {self.approval_by}"
        return text + (f" at {self.approval_at}" if self.approval_at else "")


@dataclass(frozen=True)
class Flags:
    """Why an account is special to a review; each is a reason not to suspend it blindly."""

    protected: bool = False
    exempt: bool = False
    identity_provider: bool = False
    unmanaged: bool = False
    admin: bool = False
    #: Why it is exempt, in the org's own words: "matches spec.inactivity.exemptSelector",
    #: "listed in spec.inactivity.exempt", or both.
    exempt_by: tuple[str, ...] = ()

    def words(self) -> list[str]:
        named = (
            ("protected", self.protected),
            ("exempt", self.exempt),
            ("IdP", self.identity_provider),
            ("unmanaged", self.unmanaged),
            ("admin", self.admin),
        )
        return [word for word, on in named if on]


@dataclass(frozen=True)
class AccountLine:
    """One AtlassianAccount under review: what it names, what was observed, and its flags."""

    namespace: str
    name: str
    generation: int
    org: OrgView
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    labels: Mapping[str, str]
    flags: Flags
    products: tuple[ProductAccess, ...]
    #: The field manager that last set spec.desiredState (kubectl, a GitOps controller).
    desired_by: str | None
    #: The newest of the account's lastActive and every product's lastActive.
    newest_activity: datetime | None
    #: Whole days from newest_activity to the review's as_of; None when never active.
    days_since_active: int | None

    @property
    def account_id(self) -> str:
        return str(self.status.get("accountId") or self.spec.get("accountId") or "")

    @property
    def email(self) -> str:
        return str(self.status.get("email") or self.spec.get("email") or "")

    @property
    def display_name(self) -> str:
        return str(self.status.get("displayName") or "")

    @property
    def who(self) -> str:
        """How a person recognises the account: the email, else the account ID, else the name."""
        return self.email or self.account_id or self.name

    @property
    def state(self) -> str:
        return str(self.status.get("accountStatus") or "")

    @property
    def state_label(self) -> str:
        """accountStatus, or why there is none: for summaries and the page."""
        if self.state:
            return self.state
        return "Unknown" if self.status.get("atlassianStatus") else "Not observed"

    @property
    def billable(self) -> bool | None:
        value = self.status.get("billable")
        return value if isinstance(value, bool) else None

    @property
    def desired_state(self) -> str:
        return str(self.spec.get("desiredState") or "")

    @property
    def last_active(self) -> str | None:
        return self.status.get("lastActive") or None

    @property
    def activity_unreadable(self) -> bool:
        """Atlassian sent a last-active time the operator cannot read (its Ready reason says
        so): how long the account has been idle is unknown, which is not "never active"."""
        conditions = self.status.get("conditions") or ()
        return any(
            c.get("type") == "Ready" and c.get("reason") == LAST_ACTIVE_UNREADABLE
            for c in conditions
        )

    @property
    def ready(self) -> Mapping[str, Any] | None:
        """The Ready condition: its reason says why an offboarding waits or was refused
        (ProtectedAccount, SuspensionBudgetExceeded, MassSuspensionPaused, ...)."""
        return _condition(self.status, READY)

    @property
    def ready_reason(self) -> str:
        return str((self.ready or {}).get("reason") or "")

    @property
    def last_action(self) -> LastAction | None:
        return LastAction.of(self.status.get("lastAction"))

    @property
    def inactive_days(self) -> int | None:
        """The operator's own count (status.inactiveDays), as of its last listing."""
        value = self.status.get("inactiveDays")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def inactivity_eligible(self) -> bool | None:
        value = self.status.get("inactivityEligible")
        return value if isinstance(value, bool) else None

    @property
    def kept_by_intent(self) -> bool:
        """Idle past the policy's threshold, kept by its own desiredState: Active."""
        return self.status.get("keptByIntent") is True

    @property
    def inactivity_refused(self) -> str | None:
        """Idle past the policy's threshold, but the operator would refuse to suspend it: why."""
        value = self.status.get("inactivityRefused")
        return str(value) if value else None

    @property
    def inactivity_verdict(self) -> str | None:
        """The reason of the account's Inactivity condition: the policy's verdict on it."""
        found = _condition(self.status, INACTIVITY)
        return str(found.get("reason")) if found and found.get("reason") else None

    @property
    def first_observed(self) -> str | None:
        return self.status.get("firstObserved") or None

    @property
    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.namespace, self.org.name, self.who.lower(), self.name)

    @property
    def idle_from(self) -> datetime | None:
        """From when the account counts as idle, as the operator's inactivity policy counts it
        (`idle_since`): its newest activity, else (never active) status.firstObserved; None
        when unknown: an unreadable last activity, or never active and no firstObserved."""
        newest: datetime | UnreadableTime | None = self.newest_activity
        if self.activity_unreadable:
            newest = UnreadableTime("see the Ready condition")
        return idle_since(newest, parse_time(self.first_observed))

    def idle_for(self, days: int, as_of: datetime) -> bool:
        """Nothing (account or any product) active within `days` days before as_of, and, for
        an account never active, first observed more than `days` days before as_of; never for
        an account whose last activity cannot be read or that was never observed."""
        start = self.idle_from
        return start is not None and as_of - start > timedelta(days=days)

    def not_idle_yet(self, days: int, as_of: datetime) -> str | None:
        """Why an account with no readable activity within `days` days is not idle for `days`
        days all the same (see `idle_for`); None when it is, or when it was active since."""
        if self.idle_for(days, as_of) or self.newest_activity is not None:
            return None
        if self.activity_unreadable:
            return "last activity unreadable (see its Ready condition): its idle days are unknown"
        first = parse_time(self.first_observed)
        if first is None:
            return (
                "never active and no status.firstObserved: when the operator first observed "
                "it is unknown, so its idle days cannot be counted"
            )
        return (
            f"never active, first observed {days_between(first, as_of)} days ago "
            f"({self.first_observed}): not {days}+ days yet (a never-active account counts "
            "from its first observation, as the inactivity policy counts it)"
        )


@dataclass(frozen=True)
class AccessRow:
    """One account and one of its product-sites (product None: an account with no access)."""

    account: AccountLine
    product: ProductAccess | None

    def record(self) -> dict[str, Any]:
        """The row as plain values, in column order: what CSV and JSON print."""
        a, p = self.account, self.product
        ready, act = a.ready or {}, a.last_action
        return {
            "namespace": a.namespace,
            "org": a.org.name,
            "name": a.name,
            "accountId": a.account_id,
            "email": a.email,
            "displayName": a.display_name,
            "desiredState": a.desired_state or None,
            "accountStatus": a.state or None,
            "ready": ready.get("status"),
            "readyReason": ready.get("reason"),
            "readyMessage": ready.get("message"),
            "lastAction": act.action if act else None,
            "lastActionResult": act.result if act else None,
            "lastActionReason": (act.reason or None) if act else None,
            "lastActionTime": act.time if act else None,
            "lastActionRequestedBy": act.requested_by if act else None,
            "lastActionMessage": (act.message or None) if act else None,
            "lastActionApprovalCount": act.approval_count if act else None,
            "lastActionApprovalBy": act.approval_by if act else None,
            "lastActionApprovalAt": act.approval_at if act else None,
            "billable": a.billable,
            "lastActive": a.last_active,
            "daysSinceActive": a.days_since_active,
            "inactiveDays": a.inactive_days,
            "inactivityEligible": a.inactivity_eligible,
            "firstObserved": a.first_observed,
            "product": p.product if p else None,
            "productStatus": (p.status or None) if p else None,
            "productLastActive": p.last_active if p else None,
            "protected": a.flags.protected,
            "exempt": a.flags.exempt,
            "identityProvider": a.flags.identity_provider,
            "unmanaged": a.flags.unmanaged,
            "admin": a.flags.admin,
            "keptByIntent": a.kept_by_intent,
            "inactivityRefused": a.inactivity_refused,
        }


#: The keys of `AccessRow.record`, in order: the CSV header.
COLUMNS = (
    "namespace", "org", "name", "accountId", "email", "displayName", "desiredState",
    "accountStatus", "ready", "readyReason", "readyMessage", "lastAction", "lastActionResult",
    "lastActionReason", "lastActionTime", "lastActionRequestedBy", "lastActionMessage",
    "lastActionApprovalCount", "lastActionApprovalBy", "lastActionApprovalAt", "billable",
    "lastActive", "daysSinceActive", "inactiveDays", "inactivityEligible", "firstObserved",
    "product", "productStatus", "productLastActive", "protected", "exempt", "identityProvider",
    "unmanaged", "admin", "keptByIntent", "inactivityRefused",
)  # fmt: skip


@dataclass(frozen=True)
class OrgSummary:
    """One org in numbers: its accounts by state, billable seats, and the seats to reclaim."""

    org: OrgView
    accounts: int
    by_state: Mapping[str, int]
    billable: int
    #: Billable, Active accounts the policy finds eligible, or, without a policy, idle for
    #: --inactive-days; None when neither says (no policy and no --inactive-days).
    reclaimable: int | None
    #: What decided `reclaimable`, in words.
    reclaimable_basis: str
    flags: Mapping[str, int]
    #: The org's users that have an AtlassianAccount the operator observed (distinct
    #: account IDs): the part of the org this review covers.
    covered: int = 0

    def health(self) -> str:
        """The org's Ready and Synced conditions, its last complete listing and, when the
        operator says it, the listing its inactivity counts are measured against."""
        org = self.org
        if not org.found:
            return (
                f"AtlassianOrg not found in namespace {org.namespace}: nothing acts on its accounts"
            )
        parts = [condition_text(kind, org.condition(kind)) for kind in (READY, SYNCED)]
        sync = org.status.get("lastSyncTime")
        parts.append(f"last sync {sync}" if sync else "never synced")
        if org.inactivity_as_of:
            parts.append(f"inactivity as of {org.inactivity_as_of}")
        return ", ".join(parts)

    def coverage(self) -> str:
        """How much of the org the review covers: its users with an observed AtlassianAccount."""
        total = self.org.users_total
        if total is None:
            return (
                f"{self.covered} users of the org have an AtlassianAccount; how many users it "
                "has is not known yet (no complete listing)"
            )
        return f"{self.covered} of {total} users of the org have an AtlassianAccount"

    def notes(self) -> list[str]:
        """What a reviewer must not miss: a condition that is not True (with its message) and
        that the counts are therefore not current, a review that covers only hand-made
        accounts, calls paused by the brake."""
        org = self.org
        if not org.found:
            return []
        lines = []
        for kind in (READY, SYNCED):
            c = org.condition(kind)
            if c is not None and c.get("status") != "True" and c.get("message"):
                lines.append(f"{kind} {c.get('status')} ({c.get('reason')}): {c['message']}")
        if (caveat := org.stale()) is not None:
            lines.append(f"the counts and statuses shown are {caveat}")
        if not org.discovers_accounts:
            others = (org.users_total or 0) - self.covered
            rest = f", not the org's other {others} users" if others > 0 else ""
            lines.append(
                "warning: account discovery is off (spec.accountDiscovery.enabled is false): "
                f"this review covers only the {self.covered} accounts someone created{rest}"
            )
        command = org.approve_command()
        if command is not None:
            lines.append(
                f"lifecycle calls paused: {org.paused_calls} waiting, approve with {command}"
            )
        return lines

    def record(self) -> dict[str, Any]:
        org = self.org
        return {
            "namespace": org.namespace,
            "name": org.name,
            "found": org.found,
            "orgId": org.org_id or None,
            "accounts": self.accounts,
            "accountsByState": dict(self.by_state),
            "billable": self.billable,
            "reclaimableSeats": self.reclaimable,
            "reclaimableBasis": self.reclaimable_basis,
            "flags": dict(self.flags),
            "atlassianUsers": org.status.get("users"),
            "inactivityPolicy": org.spec.get("inactivity"),
            "inactivity": org.status.get("inactivity"),
            "lastSyncTime": org.status.get("lastSyncTime"),
            "ready": org.condition(READY),
            "synced": org.condition(SYNCED),
            "inactivityAsOf": org.inactivity_as_of,
            "stale": org.stale(),
            "accountDiscovery": org.discovers_accounts if org.found else None,
            "coverage": {"usersWithAccount": self.covered, "users": org.users_total},
            "suspensionBrake": org.status.get("suspensionBrake"),
            "approveCommand": org.approve_command(),
            "notes": self.notes(),
        }


@dataclass(frozen=True)
class Application:
    """One product on one site of one org, the way the seed lists a managed application."""

    org: OrgView
    product: str
    #: Every account with this product-site, Active or Deprovisioned access, with its entry.
    assignments: tuple[tuple[AccountLine, ProductAccess], ...]

    @property
    def active(self) -> list[tuple[AccountLine, ProductAccess]]:
        return [(a, p) for a, p in self.assignments if p.status == "Active"]

    @property
    def atlassian_active_users(self) -> int | None:
        """The org's own count from its listing (status.products), which covers every user."""
        for entry in self.org.status.get("products") or ():
            if entry.get("product") == self.product:
                count = entry.get("activeUsers")
                return count if isinstance(count, int) else None
        return None


@dataclass(frozen=True)
class AccessReview:
    """The orgs and accounts of one scope as of one instant, and which accounts are selected."""

    as_of: datetime
    orgs: tuple[OrgView, ...]
    #: Every account of the scope (and --org), sorted; the summaries count all of them.
    accounts: tuple[AccountLine, ...]
    #: --inactive-days, when given: the selection keeps only accounts idle that long.
    inactive_days: int | None = None

    @property
    def selected(self) -> list[AccountLine]:
        if self.inactive_days is None:
            return list(self.accounts)
        return [a for a in self.accounts if a.idle_for(self.inactive_days, self.as_of)]

    def held_back(self) -> list[tuple[AccountLine, str]]:
        """The accounts with no readable activity within --inactive-days that `selected` leaves
        out all the same, each with why: a new hire observed fewer days ago, say."""
        if self.inactive_days is None:
            return []
        found = ((a, a.not_idle_yet(self.inactive_days, self.as_of)) for a in self.accounts)
        return [(a, reason) for a, reason in found if reason is not None]

    def rows(self) -> list[AccessRow]:
        return rows_of(self.selected)

    def summaries(self) -> list[OrgSummary]:
        by_org: dict[tuple[str, str], list[AccountLine]] = {o.key: [] for o in self.orgs}
        for account in self.accounts:
            by_org.setdefault(account.org.key, []).append(account)
        orgs = {o.key: o for o in self.orgs} | {a.org.key: a.org for a in self.accounts}
        return [self._summary(orgs[key], by_org[key]) for key in sorted(by_org)]

    def _summary(self, org: OrgView, accounts: Sequence[AccountLine]) -> OrgSummary:
        states = Counter(a.state_label for a in accounts)
        billable = [a for a in accounts if a.billable and a.state == "Active"]
        policy = org.inactivity_policy
        if policy is not None:
            reclaimable: int | None = sum(1 for a in billable if a.inactivity_eligible)
            basis = (
                f"eligible under the org's inactivity policy "
                f"(suspendAfterDays {policy.get('suspendAfterDays')})"
            )
            if org.counted_at:
                basis += f" as of the listing at {org.counted_at}"
        elif self.inactive_days is not None:
            reclaimable = sum(1 for a in billable if a.idle_for(self.inactive_days, self.as_of))
            basis = f"billable and inactive {self.inactive_days}+ days"
        else:
            reclaimable, basis = None, "no inactivity policy; pass --inactive-days N to count"
        flags = Counter(word for a in accounts for word in a.flags.words())
        observed = {a.account_id or a.name for a in accounts if a.state_label != "Not observed"}
        return OrgSummary(
            org=org,
            accounts=len(accounts),
            by_state={s: states.get(s, 0) for s in (*STATES, *sorted(set(states) - set(STATES)))},
            billable=sum(1 for a in accounts if a.billable),
            reclaimable=reclaimable,
            reclaimable_basis=basis,
            flags={w: flags.get(w, 0) for w in Flags(True, True, True, True, True).words()},
            covered=len(observed),
        )

    def applications(self) -> list[Application]:
        """Each product-site of each org with the selected accounts assigned to it."""
        found: dict[tuple[str, str, str], list[tuple[AccountLine, ProductAccess]]] = {}
        orgs: dict[tuple[str, str], OrgView] = {}
        for account in self.selected:
            orgs[account.org.key] = account.org
            for product in account.products:
                key = (*account.org.key, product.product)
                found.setdefault(key, []).append((account, product))
        return [
            Application(orgs[(ns, org)], product, tuple(found[(ns, org, product)]))
            for ns, org, product in sorted(found, key=lambda k: (k[0], k[1], k[2].lower()))
        ]


def rows_of(accounts: Iterable[AccountLine]) -> list[AccessRow]:
    """One row per account and product-site, or one with no product for an account without."""
    rows: list[AccessRow] = []
    for account in accounts:
        if not account.products:
            rows.append(AccessRow(account, None))
        rows.extend(AccessRow(account, p) for p in account.products)
    return rows


def account_line(body: Mapping[str, Any], org: OrgView, as_of: datetime) -> AccountLine:
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    products = tuple(
        sorted(
            (ProductAccess.of(p) for p in status.get("productAccess") or ()),
            key=lambda p: (p.product.lower(), p.product),
        )
    )
    times = [parse_time(status.get("lastActive")), *(parse_time(p.last_active) for p in products)]
    newest = max((t for t in times if t is not None), default=None)
    roles = status.get("platformRoles") or ()
    account_id = status.get("accountId") or spec.get("accountId")
    emails = [spec.get("email"), status.get("email")]
    exempt_by = exemptions(org, labels, account_id, emails)
    flags = Flags(
        protected=org.suspension.protects(account_id, emails),
        exempt=bool(exempt_by),
        identity_provider=status.get("managedBy") == "IdentityProvider",
        unmanaged=status.get("claimStatus") == "unmanaged",
        admin=any(role in ADMIN_ROLES for role in roles),
        exempt_by=exempt_by,
    )
    return AccountLine(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        generation=int(meta.get("generation") or 0),
        org=org,
        spec=spec,
        status=status,
        labels=labels,
        flags=flags,
        products=products,
        newest_activity=newest,
        days_since_active=None if newest is None else days_between(newest, as_of),
        desired_by=desired_state_manager(meta) if spec.get("desiredState") else None,
    )


def exemptions(
    org: OrgView, labels: Mapping[str, str], account_id: str | None, emails: list[str | None]
) -> tuple[str, ...]:
    """What exempts the account from the org's inactivity policy, as the operator's plan
    decides it: the exemptSelector on its labels, the exempt list on whom it is about."""
    found = []
    if org.exempt_selector is not None and org.exempt_selector.matches(labels):
        found.append(BY_SELECTOR)
    if is_listed(org.exempt_accounts, account_id, emails):
        found.append(BY_LIST)
    return tuple(found)


def build_review(
    orgs: Iterable[Mapping[str, Any]],
    accounts: Iterable[Mapping[str, Any]],
    *,
    as_of: datetime,
    org_name: str | None = None,
    inactive_days: int | None = None,
) -> AccessReview:
    """The review of these orgs and accounts; `org_name` keeps only that org (in any namespace)."""
    views = {(o.namespace, o.name): o for o in map(OrgView.of, orgs)}
    lines = []
    for body in accounts:
        namespace = str((body.get("metadata") or {}).get("namespace") or "")
        name = str(((body.get("spec") or {}).get("orgRef") or {}).get("name") or "")
        if org_name is not None and name != org_name:
            continue
        org = views.get((namespace, name)) or OrgView(namespace, name, found=False)
        lines.append(account_line(body, org, as_of))
    lines.sort(key=lambda a: a.sort_key)
    kept = tuple(o for o in views.values() if org_name is None or o.name == org_name)
    return AccessReview(
        as_of=as_of,
        orgs=tuple(sorted(kept, key=lambda o: o.key)),
        accounts=tuple(lines),
        inactive_days=inactive_days,
    )


def who_has(review: AccessReview, product: str) -> list[AccessRow]:
    """The accounts with Active access to `product` (e.g. "Confluence (acme)", any case)."""
    wanted = product.strip().lower()
    return [
        AccessRow(a, p)
        for a in review.selected
        for p in a.products
        if p.status == "Active" and p.product.lower() == wanted
    ]


def known_products(review: AccessReview) -> list[str]:
    """Every product-site the accounts or the orgs' listings name, for a helpful error."""
    names = {p.product for a in review.accounts for p in a.products}
    names |= {str(e.get("product")) for o in review.orgs for e in o.status.get("products") or ()}
    return sorted(names, key=str.lower)
