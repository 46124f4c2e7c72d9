"""One complete listing of an org, indexed for account lookups and summarised for the org status."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from atlassian_operator.atlassian import User
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


class OrgSnapshot:
    """Every user of one org from one complete listing. Only complete listings become snapshots."""

    def __init__(self, org_id: str, users: Iterable[User], taken_at: datetime) -> None:
        self.org_id = org_id
        self.taken_at = taken_at
        self._users: dict[str, User] = {u.account_id: u for u in users}
        self._by_email: dict[str, list[str]] = defaultdict(list)
        for user in self._users.values():
            if user.email:
                self._by_email[user.email.lower()].append(user.account_id)

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

    def observe(self, spec: AccountSpec, known_account_id: str | None) -> Observation:
        """Find the user by accountId, else by email, else by the id an earlier sync resolved."""
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
        if len(matches) == 1:
            return Observation(self._users[matches[0]], matches[0])
        if len(matches) > 1:
            return Observation(
                None,
                None,
                f"email {spec.email} matches {len(matches)} users in org {self.org_id} "
                f"({', '.join(sorted(matches))}); set spec.accountId to choose one",
            )
        if known_account_id and known_account_id in self._users:
            return Observation(self._users[known_account_id], known_account_id)
        return Observation(
            None,
            known_account_id,
            f"no user with email {spec.email} in org {self.org_id}; check the address "
            "(Atlassian hides emails of users with restricted visibility: use spec.accountId)",
        )

    def user_counts(self) -> dict[str, int]:
        states = Counter(account_state(u.account_status) for u in self._users.values())
        return {
            "total": len(self._users),
            "active": states[ACTIVE],
            "suspended": states[SUSPENDED],
            "deprovisioned": states[DEPROVISIONED],
            "billable": sum(1 for u in self._users.values() if u.access_billable),
        }

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
