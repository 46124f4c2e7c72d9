"""One complete listing of an org, indexed for account lookups and summarised for the org status."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from atlassian_operator.atlassian import UnreadableTime, User
from atlassian_operator.core.directory import Directory, DirectoryFacts
from atlassian_operator.core.inactivity import newest_activity
from atlassian_operator.core.mapping import (
    ACTIVE,
    DEPROVISIONED,
    SUSPENDED,
    account_state,
    product_label,
    site_name,
)
from atlassian_operator.core.resources import AccountSpec


@dataclass(frozen=True)
class Observation:
    """What the snapshot says about the user an AtlassianAccount names.

    `user` is None when no user matches; `problem` then says why in words a person can act on.
    """

    user: User | None
    account_id: str | None
    problem: str | None = None
    reason: str = "AccountNotFound"
    #: What the v2 search says of the user (see `OrgSnapshot.directory`), if anything.
    facts: DirectoryFacts | None = None


class OrgSnapshot:
    """Every user of one org from one complete listing. Only complete listings become snapshots.

    A listing that contradicts itself (fewer or more users than its own `meta.total`, a user
    twice) is not `trusted`: it is merged over the previous snapshot, so that nobody missing
    from it looks deprovisioned, and nothing is decided from it.

    `directory` is the enrichment (v2 search) joined to it, if the org has one: its unmanaged
    users are users of the snapshot too.
    """

    def __init__(
        self,
        org_id: str,
        users: Iterable[User],
        taken_at: datetime,
        *,
        trusted: bool = True,
        directory: Directory | None = None,
    ) -> None:
        self.org_id = org_id
        self.taken_at = taken_at
        self.trusted = trusted
        self.directory = directory
        self._users: dict[str, User] = {u.account_id: u for u in users}
        if directory is not None:
            for user in directory.unmanaged:
                self._users.setdefault(user.account_id, user)
        self._by_email: dict[str, list[str]] = defaultdict(list)
        for user in self._users.values():
            if user.email:
                self._by_email[user.email.lower()].append(user.account_id)

    @classmethod
    def untrusted(
        cls,
        org_id: str,
        previous: OrgSnapshot | None,
        users: Iterable[User],
        taken_at: datetime,
        directory: Directory | None = None,
    ) -> OrgSnapshot:
        """A doubtful listing over what was known: users it lacks keep their last known state."""
        merged = dict(previous.users) if previous is not None else {}
        merged.update((u.account_id, u) for u in users)
        return cls(org_id, merged.values(), taken_at, trusted=False, directory=directory)

    def __len__(self) -> int:
        return len(self._users)

    @property
    def users(self) -> Mapping[str, User]:
        return self._users

    def record_status(self, account_id: str, account_status: str) -> None:
        """What a successful lifecycle call changed, until the next listing confirms it."""
        user = self._users.get(account_id)
        if user is not None:
            self._users[account_id] = user.model_copy(update={"account_status": account_status})

    def facts(self, account_id: str | None) -> DirectoryFacts | None:
        if self.directory is None or account_id is None:
            return None
        return self.directory.about(account_id)

    def observe(self, spec: AccountSpec, pinned: str | None) -> Observation:
        observation = self._observe(spec, pinned)
        facts = self.facts(observation.account_id) if observation.user is not None else None
        if facts is None:
            return observation
        return replace(observation, facts=facts)

    def _observe(self, spec: AccountSpec, pinned: str | None) -> Observation:
        """The user an AtlassianAccount is about: `spec.accountId`, else the pinned ID, by email.

        `pinned` is the account ID this AtlassianAccount resolved to before (kept in status):
        once resolved, it acts only on that ID. An email that now resolves to somebody else
        is reported (`IdentityChanged`), never followed.
        """
        if spec.account_id:
            return Observation(
                self._users.get(spec.account_id),
                spec.account_id,
                None
                if spec.account_id in self._users
                else f"no user with accountId {spec.account_id} in org {self.org_id}",
            )
        assert spec.email is not None
        matches = self._by_email.get(spec.email.lower(), [])
        if pinned and (pinned in matches or (not matches and pinned in self._users)):
            return Observation(self._users[pinned], pinned)
        if pinned and matches:
            now = ", ".join(sorted(matches))
            return Observation(
                None,
                pinned,
                f"email {spec.email} now belongs to Atlassian account {now}, but this "
                f"AtlassianAccount resolved to {pinned} before; it acts on neither until you "
                "set spec.accountId to the one you mean",
                "IdentityChanged",
            )
        if len(matches) == 1:
            return Observation(self._users[matches[0]], matches[0])
        if len(matches) > 1:
            return Observation(
                None,
                pinned,
                f"email {spec.email} matches {len(matches)} users in org {self.org_id} "
                f"({', '.join(sorted(matches))}); set spec.accountId to choose one",
            )
        return Observation(
            None,
            pinned,
            f"no user with email {spec.email} in org {self.org_id}; check the address "
            "(Atlassian hides emails of users with restricted visibility: use spec.accountId)",
        )

    def unmatched(self, entries: Iterable[str]) -> list[str]:
        """The entries (account IDs or emails) that name no user of this listing."""
        return sorted(
            e for e in entries if e not in self._users and e.lower() not in self._by_email
        )

    def unreadable_times(self) -> dict[str, UnreadableTime]:
        """The users whose last activity (account or any product) came in a layout nobody can
        read, with the unreadable text: the inactivity policy can never find them eligible."""
        found = {}
        for user in self._users.values():
            if isinstance(newest := newest_activity(user), UnreadableTime):
                found[user.account_id] = newest
        return found

    def user_counts(self) -> dict[str, int]:
        states = Counter(account_state(u.account_status) for u in self._users.values())
        counts = {
            "total": len(self._users),
            "active": states[ACTIVE],
            "suspended": states[SUSPENDED],
            "deprovisioned": states[DEPROVISIONED],
            "billable": sum(1 for u in self._users.values() if u.access_billable),
        }
        if self.directory is not None:
            counts["unmanaged"] = sum(1 for u in self._users if self._unmanaged(u))
        return counts

    def _unmanaged(self, account_id: str) -> bool:
        facts = self.facts(account_id)
        return facts is not None and facts.unmanaged

    def products(self) -> list[dict[str, Any]]:
        """The org's applications: each product on each site, with how many active users use it."""
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        active_users: Counter[tuple[str, str]] = Counter()
        for user in self._users.values():
            for product in user.product_access:
                ident = (product.key, product.url or product.name)
                if ident not in seen:
                    entry: dict[str, Any] = {
                        "product": product_label(product.name, product.url),
                        "key": product.key,
                        "name": product.name,
                    }
                    if site := site_name(product.url):
                        entry["site"] = site
                    if product.url:
                        entry["url"] = product.url
                    seen[ident] = entry
                if user.account_status == "active":
                    active_users[ident] += 1
        return sorted(
            ({**entry, "activeUsers": active_users[ident]} for ident, entry in seen.items()),
            key=lambda e: (e["product"], e.get("url", "")),
        )
