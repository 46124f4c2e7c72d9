"""Bringing AtlassianAccounts in line with an org's snapshot: decide, act, write status, announce.

One AccountReconciler per org. It serialises work per account (and per Atlassian user, so two
objects naming one user never cause two calls), spends the org's suspension budget, and
retries transient failures with backoff instead of at the next listing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from atlassian_operator.atlassian import AtlassianError, User
from atlassian_operator.core.conditions import READY, find
from atlassian_operator.core.decisions import (
    Action,
    Blocked,
    Decision,
    decide_account,
    needed_action,
)
from atlassian_operator.core.reasons import failure_reason, is_transient
from atlassian_operator.core.resources import AccountResource, AccountSpec, InvalidSpec
from atlassian_operator.core.status import (
    ActionResult,
    account_status,
    problem_status,
    status_patch,
)
from atlassian_operator.reconcile.kube import KubeApi
from atlassian_operator.reconcile.registry import AccountRegistry

if TYPE_CHECKING:
    from atlassian_operator.reconcile.org import OrgRuntime

logger = logging.getLogger(__name__)

RETRY_CAP_SECONDS = 300.0


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def write_account_status(
    kube: KubeApi, registry: AccountRegistry, account: AccountResource, status: Mapping[str, Any]
) -> None:
    """Patch only what changed; the registry learns the stored object at once."""
    patch = status_patch(account.status, status)
    if not patch:
        return
    patch["lastSyncTime"] = utcnow()
    stored = await kube.patch_status(account.ref, patch)
    registry.upsert(stored)


async def report_account_problem(
    kube: KubeApi, registry: AccountRegistry, account: AccountResource, reason: str, message: str
) -> None:
    """Ready/Synced False with a reason; what was observed before is kept."""
    await write_account_status(
        kube,
        registry,
        account,
        problem_status(
            reason=reason,
            message=message,
            generation=account.generation,
            previous=account.status,
            now=utcnow(),
        ),
    )


class AccountReconciler:
    def __init__(self, org: OrgRuntime) -> None:
        self.org = org
        self._retry_at: dict[str, float] = {}
        self._attempts: dict[str, int] = defaultdict(int)
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def next_retry(self) -> float | None:
        return min(self._retry_at.values(), default=None)

    async def reconcile_due(self) -> None:
        """Retries whose time has come, and suspensions the budget now allows."""
        now = self.org.clock()
        due = [name for name, at in self._retry_at.items() if at <= now]
        due += self.org.budget.waiting[: self.org.budget.available(now)]
        for name in dict.fromkeys(due):
            self._retry_at.pop(name, None)
            account = self.org.registry.get(self.org.ref.namespace, name)
            if account is None:
                self.org.budget.withdraw(name)
            else:
                await self.reconcile(account)

    async def reconcile_all(self) -> None:
        accounts = self.org.registry.of_org(self.org.ref.namespace, self.org.ref.name)
        limit = asyncio.Semaphore(16)

        async def one(account: AccountResource) -> None:
            async with limit:
                await self.reconcile(account)

        await asyncio.gather(*(one(a) for a in accounts))

    async def reconcile(self, account: AccountResource) -> None:
        """Bring one account's status (and, if asked, its Atlassian state) in line."""
        async with self._locks[account.ref.name]:
            latest = self.org.registry.get(account.ref.namespace, account.ref.name)
            if latest is not None and latest.ref.uid == account.ref.uid:
                try:
                    await self._reconcile(latest)
                except Exception:
                    # Kubernetes refused a write, most likely: try again later, not in a loop.
                    logger.exception("Reconciling %s failed; retrying later", latest.ref)
                    self.org.budget.withdraw(latest.ref.name)
                    self._schedule_retry(latest.ref.name)

    async def _reconcile(self, account: AccountResource) -> None:
        now = utcnow()
        spec = account.spec
        if isinstance(spec, InvalidSpec):
            await self.write_problem(account, "InvalidSpec", str(spec))
            return
        if self.org.snapshot is None or self.org.spec is None:
            failure = self.org.last_failure
            if failure is None:
                return  # the first listing is under way and brings every account up to date
            ready = find(account.status.get("conditions"), READY)
            waiting = ready is not None and ready.get("reason") == "OrgNotSynced"
            if account.status.get("observedGeneration") == account.generation and not waiting:
                return  # observed on this spec before a restart: keep it until a listing works
            await self.write_problem(
                account,
                "OrgNotSynced",
                f"waiting for a complete listing of AtlassianOrg {self.org.ref.name}: {failure}",
            )
            return
        observation = self.org.snapshot.observe(spec, account.status.get("accountId"))
        if observation.account_id and (owner := self._owner(account, observation.account_id)):
            self.org.budget.withdraw(account.ref.name)
            await self.write_problem(
                account,
                "DuplicateAccount",
                f"AtlassianAccount {owner} already manages Atlassian account "
                f"{observation.account_id}; delete one of the two",
            )
            return
        policy = self.org.spec.suspension
        decision = decide_account(
            spec, observation.user, policy, account.status.get("lastAction"), account.generation
        )
        result: ActionResult | None = None
        name = account.ref.name
        action = decision.action
        if action is None or observation.user is None:
            self.org.budget.withdraw(name)
        elif action is Action.SUSPEND and not self.org.budget.request(name, self.org.clock()):
            decision = Decision(blocked=self._over_budget())
        else:
            result = await self._act(action, observation.user, spec, account)
            if result is None:
                self.org.budget.withdraw(name)
            observation = self.org.snapshot.observe(spec, observation.account_id)
        status = account_status(
            spec=spec,
            generation=account.generation,
            observation=observation,
            decision=decision,
            result=result,
            previous=account.status,
            org=self.org.spec.org_id,
            now=now,
        )
        await self._write_account(account, status)
        await self._announce(account, decision, result, status)

    def _over_budget(self) -> Blocked:
        org, now = self.org, self.org.clock()
        window = org.spec.sync_interval_seconds if org.spec else 0.0
        return Blocked(
            "SuspensionBudgetExceeded",
            f"{org.budget.spent(now)} suspensions in the last {window:.0f}s reached "
            f"spec.suspension.maxPerSync ({org.budget.limit}) of AtlassianOrg {org.ref.name}; "
            "this one waits its turn (oldest first)",
        )

    def _owner(self, account: AccountResource, account_id: str) -> str | None:
        """The older AtlassianAccount naming the same user, if this one is the younger."""
        claimants = self.org.registry.claimants(
            account.ref.namespace, self.org.ref.name, account_id
        )
        everyone = sorted(
            {*[(c.created, c.ref.name) for c in claimants], (account.created, account.ref.name)}
        )
        return None if everyone[0][1] == account.ref.name else everyone[0][1]

    async def _act(
        self, action: Action, user: User, spec: AccountSpec, account: AccountResource
    ) -> ActionResult | None:
        assert self.org.snapshot is not None
        name = account.ref.name
        client = self.org.client
        if client is None:  # the key's Secret went away: act again only with a key in hand
            self._schedule_retry(name)
            return ActionResult(
                action,
                False,
                "SecretNotUsable",
                f"AtlassianOrg {self.org.ref.name} has no usable API key; see its Synced condition",
                utcnow(),
            )
        async with self._locks[f"id:{user.account_id}"]:
            current = self.org.snapshot.users.get(user.account_id)
            if current is None or needed_action(spec.desired_state, current) is not action:
                return None  # another reconcile got there first
            try:
                if action is Action.SUSPEND:
                    self.org.budget.spend(name, self.org.clock())
                    await client.disable(user.account_id, spec.suspension_message)
                else:
                    await client.enable(user.account_id)
            except AtlassianError as exc:
                reason = failure_reason(exc)
                self.org.metrics.action(self.org.ref, action, reason)
                logger.warning(
                    "%s of %s for %s failed: %s", action, user.account_id, account.ref, exc
                )
                if is_transient(exc):
                    self._schedule_retry(name)
                return ActionResult(action, False, reason, str(exc), utcnow())
            self._attempts.pop(name, None)
            self.org.metrics.action(self.org.ref, action, "Succeeded")
            verb = "disabled" if action is Action.SUSPEND else "enabled"
            self.org.record_action(
                user.account_id, "inactive" if action is Action.SUSPEND else "active"
            )
            logger.info(
                "%s %s (%s) for %s",
                verb.capitalize(),
                user.account_id,
                user.email or "no email",
                account.ref,
            )
            return ActionResult(
                action,
                True,
                "Succeeded",
                f"{verb} {user.email or user.account_id} in Atlassian",
                utcnow(),
            )

    def _schedule_retry(self, name: str) -> None:
        self._attempts[name] += 1
        delay = min(RETRY_CAP_SECONDS, 2.0 ** self._attempts[name])
        self._retry_at[name] = self.org.clock() + delay * random.uniform(0.5, 1.0)
        self.org.wake()

    async def _announce(
        self,
        account: AccountResource,
        decision: Decision,
        result: ActionResult | None,
        status: Mapping[str, Any],
    ) -> None:
        """Events for what happened; a block is announced once, when it starts."""
        if result is not None:
            if result.succeeded:
                reason = "Suspended" if result.action is Action.SUSPEND else "Reactivated"
                await self.org.kube.post_event(account.ref, "Normal", reason, result.message)
            else:
                reason = f"{result.action}Failed"
                await self.org.kube.post_event(
                    account.ref, "Warning", reason, f"{result.reason}: {result.message}"
                )
            return
        blocked = decision.blocked
        before = find(account.status.get("conditions"), READY)
        if blocked is not None and (before is None or before.get("reason") != blocked.reason):
            kind = "Normal" if blocked.reason == "DryRun" else "Warning"
            await self.org.kube.post_event(account.ref, kind, blocked.reason, blocked.message)

    async def write_problem(self, account: AccountResource, reason: str, message: str) -> None:
        await report_account_problem(self.org.kube, self.org.registry, account, reason, message)

    async def _write_account(self, account: AccountResource, status: Mapping[str, Any]) -> None:
        await write_account_status(self.org.kube, self.org.registry, account, status)
