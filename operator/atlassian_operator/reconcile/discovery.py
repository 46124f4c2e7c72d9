"""Account discovery: an observe-only AtlassianAccount for every org user that has none."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Iterable

from atlassian_operator.atlassian import User
from atlassian_operator.core.resources import (
    ACCOUNT_KIND,
    API_VERSION,
    DISCOVERED_LABEL,
    ORG_KIND,
    ORG_LABEL,
    AccountSpec,
    ObjectRef,
)
from atlassian_operator.core.snapshot import OrgSnapshot
from atlassian_operator.reconcile.kube import KubeApi
from atlassian_operator.reconcile.registry import AccountRegistry

logger = logging.getLogger(__name__)


def discovered_name(org: str, account_id: str) -> str:
    """A stable, valid object name for a discovered account; a hash keeps lossy slugs unique."""
    slug = re.sub(r"[^a-z0-9-]+", "-", account_id.lower()).strip("-")[:40]
    if slug != account_id:
        slug = f"{slug}-{hashlib.sha256(account_id.encode()).hexdigest()[:8]}".strip("-")
    return f"{org}-{slug}"[:253]


def unclaimed_users(
    snapshot: OrgSnapshot, registry: AccountRegistry, org: ObjectRef, listed: Iterable[str]
) -> list[User]:
    """Users no AtlassianAccount of this org names, by account ID or by email.

    `listed` are the names from kopf's index of every AtlassianAccount, complete from the first
    listing on; the registry adds what this process has seen or written since.
    """
    claimed: set[str] = set(listed)
    for account in registry.of_org(org.namespace, org.name):
        if isinstance(account.spec, AccountSpec):
            claimed.update(
                filter(
                    None,
                    (
                        account.spec.account_id,
                        (account.spec.email or "").lower(),
                        account.status.get("accountId"),
                    ),
                )
            )
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


async def discover(
    kube: KubeApi,
    registry: AccountRegistry,
    snapshot: OrgSnapshot,
    org: ObjectRef,
    listed: Iterable[str],
) -> int:
    """Create the missing accounts; returns how many were created."""
    missing = unclaimed_users(snapshot, registry, org, listed)
    created = await asyncio.gather(
        *(kube.create_account(org.namespace, discovered_account(org, u)) for u in missing)
    )
    if any(created):
        logger.info("Discovered %d accounts in %s", sum(created), org)
    return sum(created)
