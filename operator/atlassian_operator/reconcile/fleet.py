"""Every org the operator serves: routes watch events to the owner of the org they concern."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from atlassian_operator.core.resources import AccountResource
from atlassian_operator.reconcile.kube import KubeApi
from atlassian_operator.reconcile.messages import AccountGone, AccountSeen, OrgGone, OrgSeen
from atlassian_operator.reconcile.metrics import Metrics
from atlassian_operator.reconcile.owner import ClientFactory, OrgOwner

logger = logging.getLogger(__name__)

OrgKey = tuple[str, str]  # (namespace, AtlassianOrg name)
REAP_SECONDS = 10.0


class Fleet:
    """Routing only: the owners hold all state. Nothing here awaits Atlassian or Kubernetes.

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
        if event_type == "DELETED":
            if key in self.owners:
                self.owners[key].post(OrgGone(str(meta.get("uid") or "")))
            return
        self.owner(key).post(OrgSeen(body))

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
