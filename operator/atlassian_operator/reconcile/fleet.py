"""All orgs and accounts the operator watches: routes watch events to the right OrgRuntime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from atlassian_operator.core.resources import ORG_KIND, AccountResource, ObjectRef
from atlassian_operator.reconcile.accounts import report_account_problem
from atlassian_operator.reconcile.kube import KubeApi
from atlassian_operator.reconcile.metrics import Metrics
from atlassian_operator.reconcile.org import ClientFactory, OrgRuntime
from atlassian_operator.reconcile.registry import AccountRegistry

logger = logging.getLogger(__name__)

# An account whose org is unknown waits this long before it says so: at start-up the org's
# watch may simply not have delivered it yet.
ORPHAN_GRACE_SECONDS = 5.0


class Fleet:
    def __init__(self, kube: KubeApi, metrics: Metrics, client_factory: ClientFactory) -> None:
        self.kube, self.metrics = kube, metrics
        self.registry = AccountRegistry()
        self.orgs: dict[tuple[str, str], OrgRuntime] = {}
        self._client_factory = client_factory
        self._orphans: dict[tuple[str, str], float] = {}
        self._orphan_task: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Future[None]] = set()

    def org_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if event_type == "DELETED" or meta.get("deletionTimestamp"):
            runtime = self.orgs.pop(key, None)
            if runtime is not None:
                stopping = asyncio.ensure_future(runtime.stop())
                self._stopping.add(stopping)
                stopping.add_done_callback(self._stopping.discard)
                for account in self.registry.of_org(*key):
                    self._orphans.setdefault(
                        (account.ref.namespace, account.ref.name), time.monotonic()
                    )
                self._ensure_orphan_watch()
            return
        runtime = self.orgs.get(key)
        if runtime is None:
            ref = ObjectRef(ORG_KIND, key[0], key[1], meta.get("uid", ""))
            runtime = OrgRuntime(
                ref,
                self.kube,
                self.registry,
                self.metrics,
                self._client_factory,
            )
            self.orgs[key] = runtime
            runtime.update(body)
            runtime.start()
        else:
            runtime.update(body)

    async def account_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        if event_type == "DELETED":
            # Deleting an AtlassianAccount never changes the Atlassian account.
            old = self.registry.remove(namespace, name)
            if (
                old is not None
                and old.org_name
                and (org := self.orgs.get((namespace, old.org_name)))
            ):
                org.budget.withdraw(name)
            self._orphans.pop((namespace, name), None)
            return
        before = self.registry.get(namespace, name)
        account = self.registry.upsert(body)
        if account is None:
            return
        needs_reconcile = (
            before is None  # first sight since start-up
            or before.ref.uid != account.ref.uid
            or account.generation != account.status.get("observedGeneration")
        )
        if not needs_reconcile:
            return
        org = self.orgs.get((namespace, account.org_name or ""))
        if org is None:
            self._orphans.setdefault((namespace, name), time.monotonic())
            self._ensure_orphan_watch()
            return
        self._orphans.pop((namespace, name), None)
        await org.accounts.reconcile(account)

    def _ensure_orphan_watch(self) -> None:
        if self._orphan_task is None or self._orphan_task.done():
            self._orphan_task = asyncio.create_task(self._watch_orphans(), name="orphans")

    async def _watch_orphans(self) -> None:
        """Accounts naming an org that does not exist get a condition saying so."""
        while self._orphans:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for key, since in list(self._orphans.items()):
                account = self.registry.get(*key)
                if account is None:
                    self._orphans.pop(key, None)
                    continue
                org = self.orgs.get((key[0], account.org_name or ""))
                if org is not None:
                    self._orphans.pop(key, None)
                    await org.accounts.reconcile(account)
                elif now - since >= ORPHAN_GRACE_SECONDS:
                    self._orphans.pop(key, None)
                    await self._report_orphan(account)

    async def _report_orphan(self, account: AccountResource) -> None:
        org_name = account.org_name
        reason, message = (
            (
                "OrgNotFound",
                f"AtlassianOrg {org_name!r} not found in namespace "
                f"{account.ref.namespace}; create it or fix spec.orgRef.name",
            )
            if org_name
            else ("InvalidSpec", str(account.spec))
        )
        await report_account_problem(self.kube, self.registry, account, reason, message)

    async def close(self) -> None:
        if self._orphan_task is not None:
            self._orphan_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._orphan_task
        await asyncio.gather(*(org.stop() for org in self.orgs.values()))
        self.orgs.clear()
        self.kube.close()
