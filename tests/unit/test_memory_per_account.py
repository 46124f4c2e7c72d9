"""What the operator keeps per account: nothing twice, nothing kopf does not need (issue 14).

At 50,000 accounts every kilobyte kept per account is 50 MB of the Pod's memory limit, so
these pin the choices `hack/bench_scale.py` measured: kopf keeps no memory per object, the
discovered accounts' bodies are built one at a time, a stored status shares its repeated
strings, and the watch echo of the operator's own write does not replace the copy it keeps.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import kopf
from kopf._cogs.structs.ephemera import AnyMemo
from owner_world import World, quiet, until, user

from atlassian_operator.core.resources import AccountResource, ObjectRef, shared_strings
from atlassian_operator.handlers import event_memories
from atlassian_operator.reconcile import effects
from atlassian_operator.reconcile.kube import KubeError

ORG = ObjectRef("AtlassianOrg", "team", "acme", "org-uid")


async def test_kopf_remembers_nothing_per_object() -> None:
    memories = event_memories()
    assert memories is not None, "this kopf moved ResourceMemories: see handlers.event_memories"
    memo = AnyMemo(kopf.Memo(fleet="the fleet"))
    for uid in ("uid-1", "uid-2", "uid-1"):
        memory = await memories.recall({"metadata": {"uid": uid}}, memobase=memo)
        assert memory.memo.fleet == "the fleet"  # the handlers still get the operator's memo
    assert list(memories.iter_all_memories()) == []


class Creates:
    """A fake Kubernetes that counts creates in flight; `fail` names a body it refuses."""

    def __init__(self, fail: str | None = None) -> None:
        self.names: list[str] = []
        self.in_flight = self.most = 0
        self.fail = fail

    async def create_account(self, namespace: str, body: dict[str, Any]) -> bool:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0)  # every creator starts before the first one resumes
            if body["metadata"]["name"] == self.fail:
                raise KubeError(500, "refused")
            self.names.append(body["metadata"]["name"])
            return True
        finally:
            self.in_flight -= 1


def bodies(count: int, built: list[str]) -> Iterator[dict[str, Any]]:
    for i in range(count):
        built.append(f"a{i}")
        yield {"metadata": {"name": f"a{i}"}}


async def test_discovered_accounts_are_created_a_few_at_a_time_as_they_are_built() -> None:
    kube, built = Creates(), []
    await effects.create_accounts(kube, ORG, bodies(50, built))  # type: ignore[arg-type]
    assert sorted(kube.names) == sorted(f"a{i}" for i in range(50))
    assert kube.most == effects.CREATE_CONCURRENCY


async def test_the_first_failed_create_stops_the_others() -> None:
    kube, built = Creates(fail="a5"), []
    try:
        await effects.create_accounts(kube, ORG, bodies(1000, built))  # type: ignore[arg-type]
    except KubeError:
        pass
    else:
        raise AssertionError("the failure was not raised")
    assert len(built) < 20  # the bodies after the failure were never even built


def test_a_stored_status_shares_its_keys_and_repeated_values_but_not_its_content() -> None:
    status = {
        "accountId": "557058:1",
        "conditions": [{"type": "Ready", "status": "True", "reason": "Observed"}],
        "productAccess": [{"product": "Confluence (acme)", "status": "Active"}],
    }
    one, two = (AccountResource.from_body(json.loads(json.dumps({"status": status}))) for _ in "12")
    assert one.status == two.status == status
    assert one.status is not two.status
    first, second = one.status["productAccess"][0], two.status["productAccess"][0]
    assert first["product"] is second["product"]
    assert next(iter(first)) is next(iter(second))  # the keys too
    assert shared_strings([{"email": "a@b.example"}]) == [{"email": "a@b.example"}]


async def test_the_echo_of_a_status_write_does_not_replace_the_copy_kept() -> None:
    world = World()
    world.atlassian.add(user("557058:1"))
    world.start()
    world.org()
    world.account("alice", accountId="557058:1")
    await until(lambda: world.status("alice").get("accountStatus") == "Active", "alice observed")
    await quiet(world)
    state = world.owner.accounts.get("alice")
    assert state is not None and state.resource.status.get("accountStatus") == "Active"
    kept = state.resource
    world.echo("alice")  # the watch event of the stored object, after the patch's response
    await quiet(world)
    assert state.resource is kept
    assert state.rendered is not None and state.rendered.status is kept.status
    await world.stop()
