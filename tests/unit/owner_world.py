"""In-memory fakes of Kubernetes and the Atlassian client for the org owner's concurrency tests.

The fakes block and release on events (`Gate`), so a test decides the interleaving: a listing
held open while an account changes, a disable call held while the org is deleted. The owner runs
its real loop; tests wait for states with a deadline, never for time to pass.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from atlassian_operator.atlassian import (
    AtlassianError,
    DirectoryListing,
    DirectoryUser,
    LifecyclePermission,
    User,
    UserListing,
)
from atlassian_operator.core.authority import allowed_base_urls
from atlassian_operator.core.conditions import find
from atlassian_operator.core.ledger import LedgerCall, ledger_name, parse_ledger
from atlassian_operator.core.resources import ObjectRef
from atlassian_operator.reconcile.fleet import Fleet
from atlassian_operator.reconcile.kube import ApiKey, KubeError, SecretProblem
from atlassian_operator.reconcile.messages import AccountSeen, OrgGone, OrgSeen, Tick
from atlassian_operator.reconcile.metrics import Metrics
from atlassian_operator.reconcile.owner import OrgOwner

NS = "team"
ORG = "acme"
BASE_URL = "https://api.atlassian.com"
DEADLINE = 5.0


class Gate:
    """A door a fake call waits at; closed gates hold calls until the test opens them."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self.waiting = 0

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    async def passage(self) -> None:
        self.waiting += 1
        try:
            await self._open.wait()
        finally:
            self.waiting -= 1


def user(
    account_id: str,
    status: str = "active",
    email: str | None = None,
    *,
    last_active: datetime | None = None,
    billable: bool | None = None,
) -> User:
    return User(
        account_id=account_id,
        account_type="atlassian",
        account_status=status,
        name=f"User {account_id}",
        picture="https://avatar.example/x.png",
        email=email if email is not None else f"{account_id}@acme.example",
        last_active=last_active,
        access_billable=billable,
    )


@dataclass
class FakeAtlassian:
    """One org's users and every call made to them, shared by all clients of the org."""

    users: dict[str, User] = field(default_factory=dict)
    list_gate: Gate = field(default_factory=Gate)
    call_gate: Gate = field(default_factory=Gate)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (action, account id)
    listings: int = 0
    reported_total: int | None = None  # meta.total; None: the true count
    fail_calls: Callable[[str, str], AtlassianError | None] = lambda action, account_id: None
    fail_list: AtlassianError | None = None
    keys_used: list[str] = field(default_factory=list)
    # The v2 search: every v1 user as a managed, invited, non-admin user unless `directory`
    # says otherwise, plus `unmanaged` users v1 does not list.
    directory: dict[str, dict[str, Any]] = field(default_factory=dict)
    unmanaged: list[DirectoryUser] = field(default_factory=list)
    search_omits: set[str] = field(default_factory=set)  # v1 users a search does not return
    search_gate: Gate = field(default_factory=Gate)
    fail_search: AtlassianError | None = None
    searches: int = 0
    # The user management pre-check: allowed unless `permissions` says otherwise.
    permissions: dict[str, LifecyclePermission] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    # What a history-keeping test hears, in order: a lifecycle call as it is sent (before the
    # call gate) and as it ends ("ok", "failed", or "cancelled"), each listing and v2 search.
    on_call: Callable[[str, str], None] = lambda action, account_id: None
    on_answer: Callable[[str, str, str], None] = lambda action, account_id, outcome: None
    on_listing: Callable[[list[User], int | None], None] = lambda users, total: None
    on_search: Callable[[list[DirectoryUser]], None] = lambda users: None
    # A call cancelled while held (a drain that ran out) still lands, as a request already
    # sent may.
    lands_when_cancelled: bool = False

    def add(self, *users: User) -> None:
        for u in users:
            self.users[u.account_id] = u

    def directory_users(self, *, everyone: bool = False) -> list[DirectoryUser]:
        """What the v2 search returns; `everyone`: the users it omits too (the truth)."""
        listed = [
            DirectoryUser(
                **{
                    "account_id": u.account_id,
                    "account_status": u.account_status,
                    "claim_status": "managed",
                    "management_source": "invited",
                    "membership_status": "active",
                    "email": u.email,
                    **self.directory.get(u.account_id, {}),
                }
            )
            for u in self.users.values()
            if everyone or u.account_id not in self.search_omits
        ]
        return listed + self.unmanaged

    def land(self, action: str, account_id: str) -> None:
        """What a disable or enable call does to the user, if the user is still there."""
        current = self.users.get(account_id)
        if current is not None:
            status = "inactive" if action == "disable" else "active"
            self.users[account_id] = current.model_copy(update={"account_status": status})

    def disables(self, account_id: str | None = None) -> int:
        return sum(1 for a, i in self.calls if a == "disable" and account_id in (None, i))


class FakeClient:
    def __init__(self, atlassian: FakeAtlassian, key: str) -> None:
        self._atlassian, self.key = atlassian, key

    async def list_org_users(self, org_id: str) -> UserListing:
        self._atlassian.listings += 1
        self._atlassian.keys_used.append(self.key)
        await self._atlassian.list_gate.passage()
        if self._atlassian.fail_list is not None:
            raise self._atlassian.fail_list
        users = list(self._atlassian.users.values())
        total = self._atlassian.reported_total
        self._atlassian.on_listing(users, total)
        return UserListing(users, len(users) if total is None else total)

    async def search_directory_pages(
        self, org_id: str, *, unmanaged_only: bool = False
    ) -> AsyncIterator[list[DirectoryUser]]:
        self._atlassian.searches += 1
        await self._atlassian.search_gate.passage()
        if self._atlassian.fail_search is not None:
            raise self._atlassian.fail_search
        users = self._atlassian.directory_users()
        if not unmanaged_only:
            self._atlassian.on_search(users)
        yield [u for u in users if u.claim_status == "unmanaged" or not unmanaged_only]

    async def search_directory_users(
        self, org_id: str, *, unmanaged_only: bool = False
    ) -> DirectoryListing:
        pages = [
            p async for p in self.search_directory_pages(org_id, unmanaged_only=unmanaged_only)
        ]
        return DirectoryListing([u for p in pages for u in p], (), len(pages))

    async def lifecycle_permission(self, account_id: str) -> LifecyclePermission:
        self._atlassian.checks.append(account_id)
        return self._atlassian.permissions.get(account_id, LifecyclePermission(True))

    async def _call(self, action: str, account_id: str) -> None:
        atlassian = self._atlassian
        atlassian.keys_used.append(self.key)
        atlassian.calls.append((action, account_id))
        atlassian.on_call(action, account_id)
        try:
            await atlassian.call_gate.passage()
        except asyncio.CancelledError:
            if atlassian.lands_when_cancelled:
                atlassian.land(action, account_id)
            atlassian.on_answer(action, account_id, "cancelled")
            raise
        error = atlassian.fail_calls(action, account_id)
        if error is not None:
            atlassian.on_answer(action, account_id, "failed")
            raise error
        atlassian.land(action, account_id)
        atlassian.on_answer(action, account_id, "ok")

    async def disable(self, account_id: str, message: str | None = None) -> None:
        await self._call("disable", account_id)

    async def enable(self, account_id: str) -> None:
        await self._call("enable", account_id)

    def stop_sending(self) -> None:
        self.stopped = True

    async def aclose(self) -> None:
        return None


class FakeKube:
    """The few Kubernetes calls the owner makes, against in-memory objects."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.secret: str | None = "key-1"
        self.secret_labelled = True
        self.events: list[tuple[str, str, str]] = []  # (object name, type, reason)
        self.event_messages: list[str] = []  # the message of each of `events`
        self.claims_gate = Gate()
        self.status_gate = Gate()  # holds status writes (before they are stored)
        self.refuse_status: Callable[[ObjectRef, dict[str, Any]], int] = lambda ref, patch: 0
        self.created: list[str] = []
        self._versions = itertools.count(1)
        # The call ledgers' ConfigMaps (name -> data): no object's deletion takes them.
        self.configmaps: dict[str, dict[str, str]] = {}
        self.ledger_gate = Gate()  # holds ledger writes (before they are stored)
        self.refuse_ledger = 0  # a status the ledger's reads and writes fail with (0: none)

    async def patch_status(self, ref: ObjectRef, patch: dict[str, Any]) -> dict[str, Any]:
        await self.status_gate.passage()
        if status := self.refuse_status(ref, patch):
            raise KubeError(status, f"{status} refused")
        obj = self.objects.get((ref.kind, ref.name))
        if obj is None:
            raise KubeError(404, "not found")
        current = dict(obj.get("status") or {})
        for key, value in patch.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        obj["status"] = current
        obj["metadata"]["resourceVersion"] = str(next(self._versions))
        return _copy(obj)

    async def read_ledger(self, namespace: str, org_id: str) -> list[LedgerCall] | None:
        if self.refuse_ledger:
            raise KubeError(self.refuse_ledger, f"{self.refuse_ledger} refused")
        data = self.configmaps.get(ledger_name(org_id))
        return None if data is None else parse_ledger(data, org_id)

    async def write_ledger(self, namespace: str, body: dict[str, Any]) -> None:
        await self.ledger_gate.passage()
        if self.refuse_ledger:
            raise KubeError(self.refuse_ledger, f"{self.refuse_ledger} refused")
        self.configmaps[body["metadata"]["name"]] = dict(body["data"])

    def ledger(self, org_id: str) -> list[LedgerCall]:
        """What the org's ledger holds now."""
        data = self.configmaps.get(ledger_name(org_id))
        return [] if data is None else parse_ledger(data, org_id)

    async def read_api_key(self, namespace: str, name: str, key: str) -> ApiKey:
        if self.secret is None:
            raise SecretProblem(f"Secret {namespace}/{name} not found")
        if not self.secret_labelled:
            raise SecretProblem(f"Secret {namespace}/{name} is not labelled")
        return ApiKey(self.secret)

    async def account_claims(self, namespace: str, org: str) -> list[Any]:
        await self.claims_gate.passage()
        from atlassian_operator.core.resources import AccountClaim

        return [
            AccountClaim.of(o.get("spec") or {}, o.get("status") or {}, name)
            for (kind, name), o in self.objects.items()
            if kind == "AtlassianAccount"
        ]

    async def create_account(self, namespace: str, body: dict[str, Any]) -> bool:
        self.created.append(body["metadata"]["name"])
        return True

    async def post_event(self, ref: ObjectRef, type_: str, reason: str, message: str) -> None:
        self.events.append((ref.name, type_, reason))
        self.event_messages.append(message)

    def close(self) -> None:
        return None

    def warnings(self, name: str) -> list[str]:
        return [reason for n, t, reason in self.events if n == name and t == "Warning"]


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(obj)


class World:
    """An owner for one org, with its fakes, driven by a test.

    With a `fleet`, the org's watch events go through it (it decides who acts for an orgId).
    """

    def __init__(
        self,
        atlassian: FakeAtlassian | None = None,
        name: str = ORG,
        namespace: str = NS,
        fleet: Fleet | None = None,
    ) -> None:
        self.kube = FakeKube()
        self.atlassian = atlassian or FakeAtlassian()
        self.metrics = Metrics()
        self.now = 1000.0
        self.clients: list[FakeClient] = []
        self.name, self.namespace, self.fleet = name, namespace, fleet
        self._origin = 0.0  # where this process's monotonic clock starts, against `now`
        self.owner = self._new_owner()
        if fleet is not None:
            fleet.owners[(namespace, name)] = self.owner
        self._uids = itertools.count(1)
        self.generations: dict[str, int] = {}

    def _new_owner(self) -> OrgOwner:
        origin = self._origin
        return OrgOwner(
            self.namespace, self.name, self.kube, self.metrics,
            self._client,  # type: ignore[arg-type]
            allowed_base_urls(()), clock=lambda: self.now + origin,
        )  # fmt: skip

    def _client(self, key: str, base_url: str, observer: Any) -> FakeClient:
        client = FakeClient(self.atlassian, key)
        self.clients.append(client)
        return client

    def start(self) -> None:
        self.owner.start()

    async def stop(self, drain: float = 0.0) -> None:
        await self.owner.stop(drain)

    def restart(self) -> None:
        """A new operator process after the old owner was stopped: a new owner over the same
        Kubernetes objects and Atlassian org, told of every stored object (statuses as stored),
        as the watches of a new process list them. Its monotonic clock starts elsewhere."""
        from atlassian_operator.core.resources import AccountResource

        self._origin += 100_000.0
        self.owner = self._new_owner()
        self.owner.start()
        org = self.kube.objects.get(("AtlassianOrg", self.name))
        if org is not None:
            self.owner.post(OrgSeen(_copy(org)))
        for (kind, _), body in sorted(self.kube.objects.items()):
            if kind == "AtlassianAccount":
                self.owner.post(AccountSeen(AccountResource.from_body(_copy(body))))

    # ---- objects as the watch delivers them ------------------------------------------------

    def org(
        self,
        uid: str = "org-uid-1",
        generation: int = 1,
        created: str = "2026-12-01T00:00:00Z",
        **spec: Any,
    ) -> None:
        """Create the AtlassianOrg, or (same uid, a new generation) change its spec: the status
        the owner wrote stays, and the event is newer than every write so far."""
        stored = self.kube.objects.get(("AtlassianOrg", self.name))
        kept = stored is not None and stored["metadata"]["uid"] == uid
        body = {
            "apiVersion": "atlassian.operators.dev/v1beta1",
            "kind": "AtlassianOrg",
            "metadata": {
                "name": self.name, "namespace": self.namespace, "uid": uid,
                "generation": generation,
                "resourceVersion": str(next(self.kube._versions)) if kept else "1",
                "creationTimestamp": created,
            },
            "spec": {"orgId": "org-1", "apiKeySecretRef": {"name": "key"}, "syncInterval": "60s",
                     **spec},
            "status": dict(stored.get("status") or {}) if kept and stored else {},
        }  # fmt: skip
        if kept and stored:  # metadata a spec change leaves as it was
            for key in ("annotations", "managedFields"):
                if key in stored["metadata"]:
                    body["metadata"][key] = stored["metadata"][key]
        self.kube.objects[("AtlassianOrg", self.name)] = body
        if self.fleet is not None:
            self.fleet.org_event("MODIFIED" if kept else "ADDED", _copy(body))
        else:
            self.owner.post(OrgSeen(_copy(body)))

    def annotate_org(
        self, key: str, value: str | None, manager: str = "kubectl-annotate", at: str = ""
    ) -> None:
        """Set (None: remove) an annotation of the AtlassianOrg, as `manager` does at `at`:
        metadata only, so the generation stays; managedFields says who set it."""
        body = self.kube.objects[("AtlassianOrg", self.name)]
        meta = body["metadata"]
        annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != key}
        if value is not None:
            annotations[key] = value
        meta["annotations"] = annotations
        # As the API server keeps them: one entry per manager, whose time moves with every
        # field that manager writes.
        entries = [e for e in meta.get("managedFields") or () if e["manager"] != manager]
        mine = next((e for e in meta.get("managedFields") or () if e["manager"] == manager), None)
        owned = dict(((mine or {}).get("fieldsV1") or {}).get("f:metadata", {}).get(
            "f:annotations", {}))  # fmt: skip
        if value is None:
            owned.pop(f"f:{key}", None)
        else:
            owned[f"f:{key}"] = {}
        meta["managedFields"] = [
            *entries,
            {"manager": manager, "operation": "Update", "time": at or "2026-12-06T10:00:00Z",
             "fieldsV1": {"f:metadata": {"f:annotations": owned}}},
        ]  # fmt: skip
        meta["resourceVersion"] = str(next(self.kube._versions))
        self.owner.post(OrgSeen(_copy(body)))

    def delete_org(self) -> None:
        body = self.kube.objects.pop(("AtlassianOrg", self.name))
        if self.fleet is not None:
            self.fleet.org_event("DELETED", body)
        else:
            self.owner.post(OrgGone(body["metadata"]["uid"]))

    def account(
        self,
        name: str,
        uid: str | None = None,
        *,
        labels: dict[str, str] | None = None,
        stored_status: dict[str, Any] | None = None,
        **spec: Any,
    ) -> dict[str, Any]:
        """Create or change an AtlassianAccount (a new generation when its spec changes).

        `labels` replace the object's labels; `stored_status` is the status a new object
        already has (as after an operator restart).
        """
        from atlassian_operator.core.resources import AccountResource

        existing = self.kube.objects.get(("AtlassianAccount", name))
        full_spec = {"orgRef": {"name": self.name}, **spec}
        if existing is None or (uid is not None and existing["metadata"]["uid"] != uid):
            body: dict[str, Any] = {
                "metadata": {
                    "name": name, "namespace": self.namespace,
                    "uid": uid or f"uid-{next(self._uids)}",
                    "generation": 1, "resourceVersion": str(next(self.kube._versions)),
                    "creationTimestamp": "2026-12-01T00:00:00Z",
                    "managedFields": [{"manager": "kubectl-client-side-apply",
                                       "time": "2026-12-01T00:00:00Z",
                                       "fieldsV1": {"f:spec": {"f:desiredState": {}}}}],
                },
                "spec": full_spec,
                "status": dict(stored_status or {}),
            }  # fmt: skip
            self.kube.objects[("AtlassianAccount", name)] = body
        else:
            body = existing
            if body["spec"] != full_spec:
                body["spec"] = full_spec
                body["metadata"]["generation"] += 1
            body["metadata"]["resourceVersion"] = str(next(self.kube._versions))
        if labels is not None:
            body["metadata"]["labels"] = dict(labels)
        self.owner.post(AccountSeen(AccountResource.from_body(_copy(body))))
        return body

    def echo(self, name: str) -> None:
        """The watch event of the object as stored now (e.g. after the owner's own write)."""
        from atlassian_operator.core.resources import AccountResource

        body = self.kube.objects[("AtlassianAccount", name)]
        self.owner.post(AccountSeen(AccountResource.from_body(_copy(body))))

    def tick(self, seconds: float = 0.0) -> None:
        self.now += seconds
        self.owner.post(Tick())

    # ---- what a user would look at ---------------------------------------------------------

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.kube.objects[("AtlassianAccount", name)].get("status") or {})

    def org_status(self) -> dict[str, Any]:
        return dict(self.kube.objects[("AtlassianOrg", self.name)].get("status") or {})

    def reason(self, name: str) -> str | None:
        ready = find(self.status(name).get("conditions"), "Ready")
        return str(ready.get("reason")) if ready else None

    def org_reason(self, type_: str = "Synced") -> str | None:
        condition = find(self.org_status().get("conditions"), type_)
        return str(condition.get("reason")) if condition else None


async def until(predicate: Callable[[], Any], describe: str, within: float = DEADLINE) -> Any:
    """Wait for a state the owner reaches by itself, with a deadline; fail with what was seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: Any = None
    while loop.time() < deadline:
        try:
            last = predicate()
        except (KeyError, AssertionError) as exc:
            last = exc
        else:
            if last:
                return last
        await asyncio.sleep(0.001)
    raise AssertionError(f"timed out waiting for {describe}; last seen: {last!r}")


async def quiet(world: World) -> None:
    """The owner has handled everything posted so far and started every write it decided."""
    await until(
        lambda: (
            world.owner._queue.empty()
            and not len(world.owner._writes)
            and not world.owner._writes.in_flight
            and not world.owner._ledger.writing
            # A ledger write that failed waits for the owner's backoff, like a status write.
            and (world.owner._ledger.idle or world.owner._ledger_failure is not None)
        ),
        "the owner to go quiet",
    )


async def synced(world: World, listings: int = 1) -> None:
    """The org has listed at least `listings` times, completely, and the owner is quiet."""
    await until(lambda: world.atlassian.listings >= listings, f"listing {listings}")
    await until(lambda: world.org_reason() == "ListingComplete", "the org Synced")
    await quiet(world)
