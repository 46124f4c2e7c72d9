"""Account discovery: which org users have no AtlassianAccount, and the one to create for each."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from atlassian_operator.atlassian import User
from atlassian_operator.core.resources import (
    ACCOUNT_KIND,
    API_VERSION,
    DISCOVERED_LABEL,
    ORG_KIND,
    ORG_LABEL,
    AccountClaim,
    ObjectRef,
)
from atlassian_operator.core.snapshot import OrgSnapshot


def discovered_name(org: str, account_id: str) -> str:
    """A stable, valid object name for a discovered account; a hash keeps lossy slugs unique."""
    slug = re.sub(r"[^a-z0-9-]+", "-", account_id.lower()).strip("-")[:40]
    if slug != account_id:
        slug = f"{slug}-{hashlib.sha256(account_id.encode()).hexdigest()[:8]}".strip("-")
    return f"{org}-{slug}"[:253]


def unclaimed_users(snapshot: OrgSnapshot, claims: Iterable[AccountClaim]) -> list[User]:
    """Users no AtlassianAccount of the org names, by account ID or by email.

    `claims` must cover every AtlassianAccount of the org (a fresh LIST, plus what the operator
    has seen since): a user missed here gets a second, discovered account.
    """
    claimed: set[str] = set()
    for claim in claims:
        claimed |= claim.names
    return [
        u
        for u in snapshot.users.values()
        if u.account_id not in claimed and (u.email or "").lower() not in claimed
    ]


def discovered_account(org: ObjectRef, user: User) -> dict[str, object]:
    return {
        "apiVersion": API_VERSION,
        "kind": ACCOUNT_KIND,
        "metadata": {
            "name": discovered_name(org.name, user.account_id),
            "namespace": org.namespace,
            "labels": {ORG_LABEL: org.name, DISCOVERED_LABEL: "true"},
            "ownerReferences": [
                {"apiVersion": API_VERSION, "kind": ORG_KIND, "name": org.name, "uid": org.uid}
            ],
        },
        "spec": {"orgRef": {"name": org.name}, "accountId": user.account_id},
    }
