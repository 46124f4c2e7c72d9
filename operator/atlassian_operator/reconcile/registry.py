"""Every AtlassianAccount the watch has shown, indexed by org and by the Atlassian user it names."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from atlassian_operator.core.resources import AccountResource

Key = tuple[str, str]  # (namespace, name)


def _newer_or_equal(new: str, old: str) -> bool:
    # resourceVersions are opaque, but every real API server stores etcd revisions: when both
    # parse as integers, an older event must not overwrite what a patch response already told us.
    if new.isdigit() and old.isdigit():
        return int(new) >= int(old)
    return True


class AccountRegistry:
    def __init__(self) -> None:
        self._accounts: dict[Key, AccountResource] = {}
        self._by_org: dict[Key, set[str]] = defaultdict(set)
        self._claims: dict[tuple[str, str, str], set[str]] = defaultdict(set)

    def __len__(self) -> int:
        return len(self._accounts)

    def get(self, namespace: str, name: str) -> AccountResource | None:
        return self._accounts.get((namespace, name))

    def upsert(self, body: Mapping[str, Any]) -> AccountResource | None:
        """Record the object from a watch event; None when it is older than what we hold."""
        account = AccountResource.from_body(body)
        key = (account.ref.namespace, account.ref.name)
        old = self._accounts.get(key)
        if old is not None:
            if old.ref.uid == account.ref.uid and not _newer_or_equal(
                account.resource_version, old.resource_version
            ):
                return None
            self._unindex(old)
        self._accounts[key] = account
        self._index(account)
        return account

    def remove(self, namespace: str, name: str) -> AccountResource | None:
        old = self._accounts.pop((namespace, name), None)
        if old is not None:
            self._unindex(old)
        return old

    def of_org(self, namespace: str, org: str) -> list[AccountResource]:
        return [
            self._accounts[(namespace, n)] for n in sorted(self._by_org.get((namespace, org), ()))
        ]

    def claimants(self, namespace: str, org: str, account_id: str) -> list[AccountResource]:
        """Accounts naming this Atlassian user, oldest first: the first one manages it."""
        names = self._claims.get((namespace, org, account_id), set())
        found = [self._accounts[(namespace, n)] for n in names]
        return sorted(found, key=lambda a: (a.created, a.ref.name))

    def _ids(self, account: AccountResource) -> set[str]:
        ids = {account.status.get("accountId")}
        if account.org_name and not isinstance(account.spec, Exception):
            ids.add(account.spec.account_id)
        return {i for i in ids if i}

    def _index(self, account: AccountResource) -> None:
        if account.org_name:
            ns = account.ref.namespace
            self._by_org[(ns, account.org_name)].add(account.ref.name)
            for account_id in self._ids(account):
                self._claims[(ns, account.org_name, account_id)].add(account.ref.name)

    def _unindex(self, account: AccountResource) -> None:
        if account.org_name:
            ns = account.ref.namespace
            self._by_org[(ns, account.org_name)].discard(account.ref.name)
            for account_id in self._ids(account):
                self._claims[(ns, account.org_name, account_id)].discard(account.ref.name)
