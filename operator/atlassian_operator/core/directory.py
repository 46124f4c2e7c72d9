"""What the v2 user search adds to a listing: who is managed by an identity provider, who is an
admin, and the unmanaged users the v1 listing never shows.

The v1 listing stays the source of each managed user's state and product access; the v2 search
(the "enrichment") is joined to it by account ID. Enrichment can only ever stop an action: a
fact from an older listing still blocks one (an admin yesterday is not suspended today on a
guess), but only a fact from the current listing lets an action go without asking Atlassian
first (`Directory.fresh_about`).

"Older" is per user, not per search: a search that succeeds but does not return a user (paging
that skipped them, an index that lags) says nothing about them, so what an earlier search said
that blocks a call is carried forward (`carry_forward`) until a search that returns the user
says otherwise, or a complete v1 listing no longer has them (they left the org).
"""

from __future__ import annotations

import sys
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field

from atlassian_operator.atlassian import DirectoryUser, User
from atlassian_operator.atlassian.v2_choices import ADMIN_ROLES, IDP_MANAGEMENT_SOURCE

IDENTITY_PROVIDER = "IdentityProvider"
ATLASSIAN = "Atlassian"
UNMANAGED = "unmanaged"


@dataclass(frozen=True, slots=True)
class DirectoryFacts:
    """What the v2 search says about one user, as the account's status shows it."""

    #: IdentityProvider (synced by SCIM or Google), Atlassian (invited), or None: not determined.
    managed_by: str | None
    #: managed (email domain claimed by the org) | unmanaged | None.
    claim_status: str | None
    platform_roles: tuple[str, ...]
    #: active | suspended | no_membership | None: the user's membership of the org.
    membership_status: str | None

    @classmethod
    def of(cls, user: DirectoryUser) -> DirectoryFacts:
        source = user.management_source
        managed_by = (
            None
            if source is None
            else IDENTITY_PROVIDER
            if source == IDP_MANAGEMENT_SOURCE
            else ATLASSIAN
        )
        # Kept for every user of the org: one copy of each repeated value, not one per user.
        return cls(
            managed_by,
            _shared(user.claim_status),
            tuple(sys.intern(role) for role in user.platform_roles),
            _shared(user.membership_status),
        )

    @property
    def unmanaged(self) -> bool:
        return self.claim_status == UNMANAGED

    @property
    def admin_roles(self) -> tuple[str, ...]:
        return tuple(r for r in self.platform_roles if r in ADMIN_ROLES)

    @property
    def protective(self) -> bool:
        """Says something the lifecycle gate refuses a call for (core/safety.py)."""
        return self.unmanaged or self.managed_by == IDENTITY_PROVIDER or bool(self.admin_roles)

    def status_fields(self) -> dict[str, object]:
        fields: dict[str, object] = {
            "managedBy": self.managed_by,
            "claimStatus": self.claim_status,
            "membershipStatus": self.membership_status,
        }
        if self.platform_roles:
            fields["platformRoles"] = list(self.platform_roles)
        return {k: v for k, v in fields.items() if v is not None}


def _shared(value: str | None) -> str | None:
    return None if value is None else sys.intern(value)


@dataclass
class DirectorySearch:
    """What one sync's v2 searches found, kept small while the pages arrive.

    At 10,000 users the parsed pages weigh as much as the v1 listing; only the facts of each
    user are kept, and the whole user only when it is unmanaged (v1 cannot show it). A later
    page (or the second, unmanaged-only search) replaces what an earlier one said of a user.
    """

    facts: dict[str, DirectoryFacts] = field(default_factory=dict)
    unmanaged: dict[str, DirectoryUser] = field(default_factory=dict)

    def add(self, users: Iterable[DirectoryUser]) -> None:
        for user in users:
            self.facts[user.account_id] = found = DirectoryFacts.of(user)
            if found.unmanaged:
                self.unmanaged[user.account_id] = user
            else:
                self.unmanaged.pop(user.account_id, None)


@dataclass(frozen=True)
class Directory:
    """One enrichment listing joined to the v1 listing of the same sync (or an older one).

    `facts` covers every user the search returned; `unmanaged` are the users it returned that
    the v1 listing (managed accounts only) cannot show, as v1-shaped users so that they are
    observed, discovered and counted like the others. `carried` are the users of the org it did
    not return, with what an earlier search said of them that blocks a call.
    """

    facts: Mapping[str, DirectoryFacts]
    unmanaged: tuple[User, ...] = ()
    #: Taken with the v1 listing it is joined to; False once a later enrichment listing failed.
    fresh: bool = True
    #: Requests the enrichment listing took, for the org's status.
    requests: int = 0
    _ids: frozenset[str] = field(default=frozenset(), repr=False)
    carried: Mapping[str, DirectoryFacts] = field(default_factory=dict)

    @classmethod
    def join(
        cls,
        search: DirectorySearch,
        managed_ids: Iterable[str],
        requests: int = 0,
        *,
        earlier: Directory | None = None,
        complete: bool = True,
    ) -> Directory:
        """The search's facts by account ID, and the unmanaged users v1 does not list.

        A user the search calls managed but v1 did not list joined the org between the two
        listings: the next v1 listing shows them, and until then nothing is invented. `earlier`
        is the directory of the previous snapshot; `complete`: the v1 listing did not
        contradict itself, so a user absent from it has left the org.
        """
        managed = set(managed_ids)
        unmanaged = tuple(as_user(u) for i, u in search.unmanaged.items() if i not in managed)
        carried = carry_forward(earlier, search.facts, managed if complete else None)
        return cls(search.facts, unmanaged, True, requests, frozenset(search.facts), carried)

    def stale(self) -> Directory:
        """What this listing knew, kept after a later enrichment listing failed."""
        return Directory(self.facts, self.unmanaged, False, 0, self._ids, self.carried)

    def about(self, account_id: str) -> DirectoryFacts | None:
        """What the last search that returned this user said, if any search did."""
        found = self.facts.get(account_id)
        return found if found is not None else self.carried.get(account_id)

    def fresh_about(self, account_id: str | None) -> bool:
        """Whether what is known of this user comes from the search of the current listing."""
        return self.fresh and account_id is not None and account_id in self.facts

    def __len__(self) -> int:
        return len(self._ids)


def carry_forward(
    earlier: Directory | None,
    search: Mapping[str, DirectoryFacts],
    members: Container[str] | None,
) -> dict[str, DirectoryFacts]:
    """The users a new search did not return that an earlier one said a call must not touch.

    Only facts that block a call are carried (`DirectoryFacts.protective`): a missing fact that
    would have let a call go only means the user management API is asked first. `members` are
    the account IDs of a complete v1 listing: a user absent from it left the org, and what was
    said of them goes too. None: the listing was incomplete, so nobody is known to have left.

    Costs one pass over the earlier directory's users per sync and a new dict holding only the
    carried users (usually a few; the facts themselves are shared, not copied); the new search's
    map, which holds everybody, is never copied.
    """
    if earlier is None:
        return {}
    return {
        account_id: facts
        for known in (earlier.facts, earlier.carried)
        for account_id, facts in known.items()
        if account_id not in search  # first: one lookup, and nearly everybody is in the search
        and facts.protective
        and (members is None or account_id in members)
    }


def as_user(user: DirectoryUser) -> User:
    """An unmanaged user in the v1 listing's shape: what v2 says of state, name and activity.

    v2 `productAccess` is activity per product instance, not entitlement (API-NOTES-v2 §1.5), so
    it gives the last active time and no product access.
    """
    return User(
        account_id=user.account_id,
        account_type=user.account_type or "atlassian",
        account_status=user.account_status or "unknown",
        name=user.name or "",
        picture="",
        email=user.email,
        last_active=user.last_active,
    )
