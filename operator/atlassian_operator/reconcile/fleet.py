"""Every org the operator serves: routes watch events to the owner of the org they concern.

It also decides which AtlassianOrg acts for each Atlassian org (`orgId`): two objects naming
one org would each have their own budget, protected list and desired states, and could
disable and re-enable one person every sync. The earliest created acts; the others are told
they are duplicates (a message: the Fleet never touches an owner's state) and act on nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from atlassian_operator.core.mapping import parse_time
from atlassian_operator.core.resources import ORG_KIND, AccountResource, ObjectRef
from atlassian_operator.reconcile.kube import KubeApi
from atlassian_operator.reconcile.messages import (
    AccountGone,
    AccountSeen,
    Duplicate,
    OrgGone,
    OrgSeen,
)
from atlassian_operator.reconcile.metrics import Metrics
from atlassian_operator.reconcile.owner import ClientFactory, OrgOwner

logger = logging.getLogger(__name__)

OrgKey = tuple[str, str]  # (namespace, AtlassianOrg name)
REAP_SECONDS = 10.0


@dataclass(frozen=True)
class OrgObject:
    """An AtlassianOrg object, as far as who acts for the Atlassian org it names goes."""

    namespace: str
    name: str
    uid: str
    org_id: str
    created: datetime | None  # None: unreadable, which ranks after every readable time

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> OrgObject | None:
        """None for an object being deleted or naming no org: it stands in nobody's way."""
        meta = body.get("metadata") or {}
        org_id = str((body.get("spec") or {}).get("orgId") or "")
        if meta.get("deletionTimestamp") or not org_id:
            return None
        return cls(
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
            str(meta.get("uid") or ""),
            org_id,
            parse_time(str(meta.get("creationTimestamp") or "")),
        )

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(ORG_KIND, self.namespace, self.name, self.uid)


def first_by_org_id(orgs: Iterable[OrgObject]) -> dict[str, OrgObject]:
    """The one AtlassianOrg that acts for each `orgId`: the earliest created; equal times go
    by namespace, then name, so that every replica and every restart picks the same one."""

    def seniority(org: OrgObject) -> tuple[bool, datetime, str, str]:
        return (org.created is None, org.created or datetime.max, org.namespace, org.name)

    first: dict[str, OrgObject] = {}
    for org in sorted(orgs, key=seniority):
        first.setdefault(org.org_id, org)
    return first


class Fleet:
    """Routing, and which AtlassianOrg acts for each orgId: the owners hold all other state.
    Nothing here awaits Atlassian or Kubernetes.

    Every org name an account refers to gets an owner, whether or not the AtlassianOrg exists,
    so that each account's status has exactly one writer: the owner of the org it names.
    """

    def __init__(
        self,
        kube: KubeApi,
        metrics: Metrics,
        client_factory: ClientFactory,
        allowed_base_urls: frozenset[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube, self.metrics = kube, metrics
        self._client_factory = client_factory
        self._allowed = allowed_base_urls
        self._clock = clock
        self.owners: dict[OrgKey, OrgOwner] = {}
        self._account_org: dict[tuple[str, str], tuple[str, str]] = {}  # -> (org, uid)
        self._orgs: dict[OrgKey, OrgObject] = {}  # every AtlassianOrg that names an orgId
        self._told: dict[OrgKey, ObjectRef] = {}  # the owners last told they are duplicates
        self._reaper: asyncio.Task[None] | None = None

    def owner(self, key: OrgKey) -> OrgOwner:
        owner = self.owners.get(key)
        if owner is None:
            owner = OrgOwner(
                key[0], key[1], self.kube, self.metrics, self._client_factory, self._allowed,
                self._clock,
            )  # fmt: skip
            self.owners[key] = owner
            owner.start()
            if self._reaper is None:
                self._reaper = asyncio.create_task(self._reap(), name="reap idle owners")
        return owner

    def org_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
        org = None if event_type == "DELETED" else OrgObject.of(body)
        if org is None:
            self._orgs.pop(key, None)
        else:
            self._orgs[key] = org
        if event_type == "DELETED":
            if key in self.owners:
                self.owners[key].post(OrgGone(str(meta.get("uid") or "")))
            self._tell_duplicates()  # the next one takes over at once
            return
        owner = self.owner(key)
        self._tell_duplicates()  # before OrgSeen: a duplicate must not act on its own spec
        owner.post(OrgSeen(body))

    def _tell_duplicates(self) -> None:
        """Tell each owner whose standing changed whether another AtlassianOrg acts for it."""
        first = first_by_org_id(self._orgs.values())
        standing = {
            key: first[org.org_id].ref
            for key, org in self._orgs.items()
            if first[org.org_id] != org
        }
        for key in self._told.keys() | standing.keys():
            of = standing.get(key)
            if self._told.get(key) == of:
                continue
            if of is None:
                del self._told[key]
            else:
                self._told[key] = of
            if key in self.owners or of is not None:
                self.owner(key).post(Duplicate(of))

    def account_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        raw_org = ((body.get("spec") or {}).get("orgRef") or {}).get("name")
        if event_type != "DELETED" and self._holds(str(raw_org or ""), body):
            # The echo of the owner's own status write, whose response it already keeps: half
            # of all events in a first sync, and parsing each one cost as much as the rest.
            return
        account = AccountResource.from_body(body)
        ref = account.ref
        org = account.org_name or str(raw_org or "")
        before = self._account_org.get((ref.namespace, ref.name))
        if before is not None and (event_type == "DELETED" or before != (org, ref.uid)):
            # Deleted, moved to another org or replaced: its old org cancels what it queued.
            old = self.owners.get((ref.namespace, before[0]))
            if old is not None:
                old.post(AccountGone(ref.name, before[1]))
            del self._account_org[(ref.namespace, ref.name)]
        if event_type == "DELETED":
            return  # deleting an AtlassianAccount never changes the Atlassian account
        self._account_org[(ref.namespace, ref.name)] = (org, ref.uid)
        self.owner((ref.namespace, org)).post(AccountSeen(account))

    def _holds(self, org: str, body: Mapping[str, Any]) -> bool:
        meta = body.get("metadata") or {}
        owner = self.owners.get((str(meta.get("namespace") or ""), org))
        return owner is not None and owner.holds(
            str(meta.get("name") or ""),
            str(meta.get("uid") or ""),
            str(meta.get("resourceVersion") or ""),
        )

    def problems(self) -> list[str]:
        """Why the operator is not working (a dead or stalled org loop); empty when healthy."""
        now = self._clock()
        found = [p for owner in self.owners.values() if (p := owner.alive(now))]
        if self._reaper is not None and self._reaper.done():
            found.append("the reaper of idle org owners ended")
        return found

    async def _reap(self) -> None:
        """Owners of orgs nothing refers to any more are stopped (their state goes with them)."""
        while True:
            await asyncio.sleep(REAP_SECONDS)
            for key, owner in list(self.owners.items()):
                if owner.idle():
                    del self.owners[key]
                    self._told.pop(key, None)  # a new owner starts as no duplicate
                    await owner.stop()
                    self.metrics.forget(owner.ref)

    async def close(self, drain: float = 0.0) -> None:
        """Stop every org's owner; lifecycle calls in flight get up to `drain` s to finish."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        await asyncio.gather(*(owner.stop(drain) for owner in self.owners.values()))
        self.owners.clear()
        self.kube.close()
