"""What an org's owner hears: watch events, and the results of the calls it started."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from atlassian_operator.atlassian import (
    AtlassianError,
    LifecyclePermission,
    UserListing,
)
from atlassian_operator.core.decisions import Action
from atlassian_operator.core.directory import DirectorySearch
from atlassian_operator.core.ledger import LedgerCall
from atlassian_operator.core.resources import AccountClaim, AccountResource, ObjectRef
from atlassian_operator.reconcile.kube import ApiKey


@dataclass(frozen=True)
class OrgSeen:
    body: Mapping[str, Any]


@dataclass(frozen=True)
class OrgGone:
    uid: str


@dataclass(frozen=True)
class Duplicate:
    """From the Fleet: `of` is the earlier AtlassianOrg that acts for this one's `orgId`, so
    this one lists and acts on nobody; None: this one is (again) the only or the first."""

    of: ObjectRef | None


@dataclass(frozen=True)
class AccountSeen:
    account: AccountResource


@dataclass(frozen=True)
class AccountGone:
    """Deleted, or moved to another org: whatever this org had queued for it is cancelled."""

    name: str
    uid: str


@dataclass(frozen=True)
class KeyRead:
    """The Secret was read for a sync (`then_sync`) or to notice a fixed key."""

    generation: int
    key: ApiKey | None
    problem: str | None
    then_sync: bool


@dataclass
class ListingCount:
    """Requests and 429s of one sync's listings (lifecycle calls share the client, not this)."""

    requests: int = 0
    rate_limited: int = 0
    #: Of `requests`, those of the enrichment (v2 search).
    search_requests: int = 0


@dataclass(frozen=True)
class Listed:
    """A sync's listings came back: the users, the v2 search's (or why not), and (first time,
    or discovery) every account's claim."""

    epoch: int
    listing: UserListing | None
    error: AtlassianError | None
    claims: Sequence[AccountClaim] | None
    count: ListingCount
    directory: DirectorySearch | None = None
    directory_error: AtlassianError | None = None
    # Read with the claims: the calls the org's ledger holds (None: it does not exist yet).
    ledger: Sequence[LedgerCall] | None = None


@dataclass(frozen=True)
class LedgerStored:
    """A write of the org's call ledger ended: stored, or why not."""

    number: int
    problem: str | None


@dataclass(frozen=True)
class LifecycleDone:
    name: str
    uid: str
    account_id: str
    action: Action
    error: AtlassianError | None
    requested_by: str | None
    #: The user management API's answer when it was asked first; no call was made if it said no.
    permission: LifecyclePermission | None = None
    #: When the listing the call was decided on started (a permission belongs to it).
    listed_at: float = 0.0
    #: When the call took a slot of the suspension budget (None: it took none).
    spent_at: float | None = None
    #: Why the inactivity policy asked for it, when it did.
    policy: str | None = None
    #: The approval past the brake on mass calls it was sent under, if any.
    approval: dict[str, Any] | None = None


@dataclass(frozen=True)
class StatusStored:
    key: str
    body: Mapping[str, Any] | None
    status: int  # 0 when stored, else the API server's HTTP status (or -1: no answer)
    message: str = ""


@dataclass(frozen=True)
class RateLimitWait:
    seconds: float


@dataclass(frozen=True)
class Tick:
    """Time passed: look at what is due (the loop also wakes by itself)."""


@dataclass(frozen=True)
class EffectFailed:
    """A call the owner started failed in a way nobody planned for; the org says so."""

    what: str
    error: BaseException


Message = (
    OrgSeen
    | OrgGone
    | Duplicate
    | AccountSeen
    | AccountGone
    | KeyRead
    | Listed
    | LifecycleDone
    | StatusStored
    | LedgerStored
    | RateLimitWait
    | Tick
    | EffectFailed
)
