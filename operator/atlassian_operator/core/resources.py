"""Typed views of the two custom resources, parsed from the dicts the Kubernetes API returns."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from atlassian_operator.core.inactivity import InactivityPolicy, is_listed, listed_name

GROUP = "atlassian.operators.dev"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
ORG_PLURAL = "atlassianorgs"
ACCOUNT_PLURAL = "atlassianaccounts"
ORG_KIND = "AtlassianOrg"
ACCOUNT_KIND = "AtlassianAccount"
ORG_LABEL = f"{GROUP}/org"
DISCOVERED_LABEL = f"{GROUP}/discovered"
# Set to any new value (e.g. the time) to list the org now instead of at the next interval.
SYNC_REQUESTED_ANNOTATION = f"{GROUP}/sync-requested"

MIN_SYNC_INTERVAL_SECONDS = 30.0
DEFAULT_SYNC_INTERVAL = "5m"
DEFAULT_API_BASE_URL = "https://api.atlassian.com"


class InvalidSpec(ValueError):
    """A spec the schema accepted but the operator cannot act on; the message says what to fix."""


class DesiredState(StrEnum):
    ACTIVE = "Active"
    SUSPENDED = "Suspended"


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration such as `30s`, `5m` or `1h30m`."""
    parts = _DURATION_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise InvalidSpec(
            f"syncInterval {text!r} is not a duration; write it like 30s, 5m or 1h30m"
        )
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Enough of an object's identity to patch its status and to attach Events to it."""

    kind: str
    namespace: str
    name: str
    uid: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class SuspensionPolicy:
    dry_run: bool = False
    max_per_sync: int = 10
    protected_accounts: frozenset[str] = frozenset()
    allow_reactivation: bool = False
    #: Org and site admins (from the v2 search) may be suspended too.
    allow_admins: bool = False
    #: The brake on mass calls (core/brake.py): calls a day beyond it wait for an approval;
    #: None: the default, from the org's active users.
    pause_above: int | None = None

    @classmethod
    def from_dict(cls, suspension: Mapping[str, Any]) -> SuspensionPolicy:
        """`spec.suspension` of an AtlassianOrg; emails are matched case-insensitively."""
        pause_above = suspension.get("pauseAbove")
        if pause_above is not None and (
            isinstance(pause_above, bool) or not isinstance(pause_above, int) or pause_above < 0
        ):
            raise InvalidSpec(
                f"spec.suspension.pauseAbove {pause_above!r} must be a whole number >= 0 (the "
                "lifecycle calls a day that go without an approval; 0: every call needs one), "
                "or unset for the default"
            )
        return cls(
            dry_run=bool(suspension.get("dryRun", False)),
            max_per_sync=int(suspension.get("maxPerSync", 10)),
            protected_accounts=frozenset(
                listed_name(str(p)) for p in suspension.get("protectedAccounts") or ()
            ),
            allow_reactivation=bool(suspension.get("allowReactivation", False)),
            allow_admins=bool(suspension.get("allowAdmins", False)),
            pause_above=pause_above,
        )

    def protects(self, account_id: str | None, emails: Iterable[str | None] = ()) -> bool:
        """Protected by account ID or by any address the account is known by."""
        return is_listed(self.protected_accounts, account_id, emails)


@dataclass(frozen=True)
class OrgSpec:
    org_id: str
    secret_name: str
    secret_key: str = "api-key"
    api_base_url: str = DEFAULT_API_BASE_URL
    sync_interval_seconds: float = 300.0
    discovery: bool = False
    #: List the org with the v2 search as well (who is IdP-managed, admin, or unmanaged).
    enrichment: bool = True
    suspension: SuspensionPolicy = field(default_factory=SuspensionPolicy)
    #: Suspend (or only report) accounts nobody used for long: license management.
    inactivity: InactivityPolicy | None = None

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> OrgSpec:
        org_id = spec.get("orgId")
        if not org_id:
            raise InvalidSpec(
                "spec.orgId is required: the organization ID from admin.atlassian.com"
            )
        secret = spec.get("apiKeySecretRef") or {}
        if not secret.get("name"):
            raise InvalidSpec("spec.apiKeySecretRef.name is required: a Secret in this namespace")
        interval_text = spec.get("syncInterval") or DEFAULT_SYNC_INTERVAL
        interval = parse_duration(interval_text)
        if interval < MIN_SYNC_INTERVAL_SECONDS:
            raise InvalidSpec(
                f"syncInterval {interval_text!r} is shorter than the minimum 30s; "
                "Atlassian rate-limits the org, so list it at most every 30s"
            )
        suspension = spec.get("suspension") or {}
        try:
            inactivity = InactivityPolicy.from_dict(spec.get("inactivity") or {})
        except ValueError as exc:
            raise InvalidSpec(str(exc)) from None
        return cls(
            org_id=str(org_id),
            secret_name=str(secret["name"]),
            secret_key=str(secret.get("key") or "api-key"),
            api_base_url=str(spec.get("apiBaseURL") or DEFAULT_API_BASE_URL).rstrip("/"),
            sync_interval_seconds=interval,
            discovery=bool((spec.get("accountDiscovery") or {}).get("enabled", False)),
            enrichment=bool((spec.get("enrichment") or {}).get("enabled", True)),
            suspension=SuspensionPolicy.from_dict(suspension),
            inactivity=inactivity,
        )


@dataclass(frozen=True, slots=True)
class AccountSpec:
    org_name: str
    account_id: str | None = None
    email: str | None = None
    desired_state: DesiredState | None = None
    suspension_message: str | None = None

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> AccountSpec:
        org_name = (spec.get("orgRef") or {}).get("name")
        if not org_name:
            raise InvalidSpec("spec.orgRef.name is required: the AtlassianOrg in this namespace")
        account_id, email = spec.get("accountId"), spec.get("email")
        if not account_id and not email:
            raise InvalidSpec("spec must set accountId or email to name the Atlassian user")
        desired = spec.get("desiredState")
        try:
            desired_state = DesiredState(desired) if desired else None
        except ValueError:
            raise InvalidSpec(
                f"spec.desiredState {desired!r} is not one of Active, Suspended"
            ) from None
        return cls(
            org_name=sys.intern(str(org_name)),  # one copy for the org's thousands of accounts
            account_id=str(account_id) if account_id else None,
            email=str(email) if email else None,
            desired_state=desired_state,
            suspension_message=spec.get("suspensionMessage") or None,
        )


@dataclass(frozen=True)
class AccountClaim:
    """What one AtlassianAccount names, and when it made lifecycle calls.

    Read from a fresh LIST of the org's accounts: discovery learns who already has an
    account, and a restarted operator learns what its budget already spent. The one
    definition of what an account names (its spec's accountId and email, the ID it resolved
    to), used for every account whether listed or watched.
    """

    names: frozenset[str]
    #: When its recorded calls were made: the last one (`status.lastAction`, either kind, sent
    #: whatever its result) and one recorded as about to be sent (`status.pendingAction`).
    calls: tuple[str, ...] = ()
    #: Which of them a person approved past the brake on mass calls.
    approved: tuple[str, ...] = ()
    #: The AtlassianAccount's name: whom its calls count for under the brake after a restart.
    account: str = ""

    @classmethod
    def of(
        cls, spec: Mapping[str, Any], status: Mapping[str, Any], account: str = ""
    ) -> AccountClaim:
        names = {spec.get("accountId"), (spec.get("email") or "").lower(), status.get("accountId")}
        return cls(
            frozenset(n for n in names if n),
            recorded_calls(status),
            recorded_calls(status, approved=True),
            account,
        )

    @classmethod
    def of_account(cls, spec: AccountSpec, status: Mapping[str, Any]) -> AccountClaim:
        """The same, for an account the operator already parsed."""
        return cls.of({"accountId": spec.account_id, "email": spec.email}, status)


def recorded_calls(status: Mapping[str, Any], *, approved: bool = False) -> tuple[str, ...]:
    """The times of the lifecycle calls an account's status records as made or about to be;
    `approved`: only those made under an approval past the brake on mass calls."""
    times = []
    last = status.get("lastAction") or {}
    made = last.get("result") in ("Succeeded", "Failed") and last.get("time")
    if made and (not approved or last.get("approval")):
        times.append(str(last["time"]))
    pending = status.get("pendingAction") or {}
    recorded = pending.get("time") and pending.get("time") != last.get("time")
    if recorded and (not approved or pending.get("approval")):
        times.append(str(pending["time"]))
    return tuple(times)


# Status fields whose values are one person's own (IDs, names, Atlassian's activity times):
# sharing them saves nothing, and every interned string costs an entry in the interned table.
_OWN_VALUES = frozenset({"accountId", "email", "displayName", "lastActive", "inactivityResetAt"})


def shared_strings(value: Any, key: str = "") -> Any:
    """A copy of a parsed JSON value whose keys and repeated strings are shared (interned).

    The owner keeps every account's status; `json.loads` gives each its own copy of every key
    and of values that thousands of accounts repeat (condition types, reasons and messages,
    states, product names and URLs, the second a batch was written). Per stored status that
    is about half its size.
    """
    if isinstance(value, Mapping):
        return {sys.intern(str(k)): shared_strings(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [shared_strings(v, key) for v in value]
    if isinstance(value, str) and key not in _OWN_VALUES:
        return sys.intern(value)
    return value


def desired_state_manager(meta: Mapping[str, Any]) -> str | None:
    """The field manager that last set spec.desiredState, from metadata.managedFields.

    An update moves a field to its manager; several server-side appliers may share one, and
    then the most recent is the one that asked.
    """
    owners = [
        (str(entry.get("time") or ""), index, str(entry["manager"]))
        for index, entry in enumerate(meta.get("managedFields") or ())
        if entry.get("manager")
        and "f:desiredState" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})
    ]
    return max(owners)[2] if owners else None


@dataclass(frozen=True, slots=True)
class AccountResource:
    """One AtlassianAccount as last seen: identity, generation, parsed spec and current status."""

    ref: ObjectRef
    generation: int
    resource_version: str
    created: str
    spec: AccountSpec | InvalidSpec
    status: Mapping[str, Any]
    #: Who last set spec.desiredState (a field manager), for the audit trail of actions.
    desired_by: str | None = None
    #: What the org's spec.inactivity.exemptSelector matches against.
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def org_name(self) -> str | None:
        return self.spec.org_name if isinstance(self.spec, AccountSpec) else None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> AccountResource:
        meta = body.get("metadata") or {}
        spec: AccountSpec | InvalidSpec
        try:
            spec = AccountSpec.from_dict(body.get("spec") or {})
        except InvalidSpec as exc:
            spec = exc
        return cls(
            ref=ObjectRef(
                ACCOUNT_KIND,
                sys.intern(str(meta.get("namespace", ""))),
                meta.get("name", ""),
                meta.get("uid", ""),
            ),
            generation=int(meta.get("generation") or 0),
            resource_version=str(meta.get("resourceVersion") or ""),
            created=sys.intern(str(meta.get("creationTimestamp") or "")),
            spec=spec,
            status=shared_strings(body.get("status") or {}),
            desired_by=desired_state_manager(meta),
            labels=shared_strings({str(k): str(v) for k, v in (meta.get("labels") or {}).items()}),
        )
