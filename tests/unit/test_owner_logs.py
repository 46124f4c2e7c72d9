"""What the operator's log says about one org: one line for each thing that happens to it (a
deleted Secret, a deleted org, calls starting to wait), not one per pass, key check or retry;
each line names what it is about as fields, which `--log-format json` writes out."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from owner_world import DEADLINE, NS, ORG, World, quiet, synced, until, user

from atlassian_operator.core.brake import APPROVE_ANNOTATION
from atlassian_operator.reconcile.messages import OrgSeen

ALICE, BOB, CAROL = "aa01", "bb02", "cc03"
PEOPLE = {"alice": ALICE, "bob": BOB, "carol": CAROL}

Lines = Callable[[str], list[logging.LogRecord]]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = World()
    w.atlassian.add(*(user(i) for i in PEOPLE.values()))
    w.start()
    yield w
    await w.stop()


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> Lines:
    """The operator's log records whose message contains a text."""
    caplog.set_level(logging.INFO, logger="atlassian_operator")

    def containing(text: str) -> list[logging.LogRecord]:
        return [
            r
            for r in caplog.records
            if r.name.startswith("atlassian_operator") and text in r.getMessage()
        ]

    return containing


def fields(record: logging.LogRecord) -> dict[str, str]:
    """The fields a JSON line of this record carries besides its message."""
    names = ("namespace", "org", "account", "action", "accountId")
    return {n: getattr(record, n) for n in names if hasattr(record, n)}


async def passes(world: World, count: int, seconds: float) -> None:
    """Time passes: `count` steps of `seconds`, each handled (key checks, retries, syncs)."""
    for _ in range(count):
        world.tick(seconds)
        await quiet(world)


async def test_a_deleted_secret_leaves_one_line_and_its_return_another(
    world: World, lines: Lines
) -> None:
    world.org()
    world.account("alice", accountId=ALICE)
    await synced(world)
    world.kube.secret = None
    world.tick(61)
    await until(lambda: world.org_reason() == "SecretNotUsable", "SecretNotUsable")
    await passes(world, 50, 7)  # many key checks (every 5 s) and backed-off syncs

    (line,) = lines("cannot be used")
    assert line.levelno == logging.WARNING
    assert line.getMessage() == (
        "The API key of AtlassianOrg team/acme cannot be used: Secret team/key not found; "
        "nothing is listed or changed in Atlassian for it until it can"
    )
    assert fields(line) == {"namespace": NS, "org": ORG}
    assert not lines("can be used again")

    world.kube.secret = "key-1"
    world.tick(5)
    await until(lambda: lines("can be used again"), "the line saying the key is back")
    await passes(world, 5, 61)
    assert len(lines("can be used again")) == 1
    assert len(lines("cannot be used")) == 1
    assert not lines("key-1"), "the key itself is never logged"


async def test_a_deleted_org_leaves_one_line(world: World, lines: Lines) -> None:
    world.org()
    world.account("alice", accountId=ALICE)
    await synced(world)
    # As the watch shows a deletion: the object with a deletionTimestamp, then DELETED.
    deleting = copy.deepcopy(world.kube.objects[("AtlassianOrg", ORG)])
    deleting["metadata"]["deletionTimestamp"] = "2026-12-07T00:00:00Z"
    world.owner.post(OrgSeen(deleting))
    world.owner.post(OrgSeen(copy.deepcopy(deleting)))
    world.delete_org()
    await until(lambda: world.reason("alice") == "OrgNotFound", "alice's OrgNotFound")
    await passes(world, 5, 61)

    (line,) = lines("was deleted")
    assert line.getMessage() == (
        "AtlassianOrg team/acme was deleted: nothing more is listed or changed in Atlassian for "
        "it, and the AtlassianAccounts naming it (1) show OrgNotFound until it is created again"
    )
    assert fields(line) == {"namespace": NS, "org": ORG}


async def test_calls_waiting_for_the_budget_leave_one_line_as_they_start_and_one_when_done(
    world: World, lines: Lines
) -> None:
    for name, account_id in PEOPLE.items():  # all planned by the org's first listing
        world.account(name, accountId=account_id, desiredState="Suspended")
    world.org(suspension={"maxPerSync": 1})
    await synced(world)
    await until(lambda: world.reason("carol") == "SuspensionBudgetExceeded", "carol waits")
    await passes(world, 10, 5)  # passes within the window: the same two wait

    (waiting,) = lines("wait for its budget")
    assert waiting.getMessage() == (
        "2 lifecycle calls of AtlassianOrg team/acme wait for its budget: 1 per 60s "
        "(spec.suspension.maxPerSync); they go in turn, oldest first"
    )
    assert fields(waiting) == {"namespace": NS, "org": ORG}
    assert not lines("waits any more")

    for done in (2, 3):  # the window moves: one more at a time
        world.tick(61)
        await until(lambda: world.atlassian.disables() == done, f"{done} suspensions")  # noqa: B023
    await passes(world, 3, 61)
    (cleared,) = lines("waits any more")
    assert cleared.getMessage() == "No lifecycle call of AtlassianOrg team/acme waits any more"
    assert len(lines("wait for its budget")) == 1
    # Each suspension: a line of its own, with whom and what it was about.
    assert [fields(r) for r in lines("Disabled")] == [
        {"namespace": NS, "org": ORG, "account": name, "action": "Suspend", "accountId": i}
        for name, i in PEOPLE.items()
    ]


async def test_calls_the_brake_pauses_leave_one_warning_until_approved(
    world: World, lines: Lines
) -> None:
    for name, account_id in PEOPLE.items():
        world.account(name, accountId=account_id, desiredState="Suspended")
    world.org(suspension={"maxPerSync": 100, "pauseAbove": 1})
    await synced(world)
    await until(lambda: world.reason("alice") == "MassSuspensionPaused", "paused")
    await passes(world, 5, 61)

    (paused,) = lines("paused them")
    assert paused.levelno == logging.WARNING
    assert paused.getMessage() == (
        "3 lifecycle calls of AtlassianOrg team/acme wait: the brake on mass calls paused them "
        f"until a person approves them with the annotation {APPROVE_ANNOTATION} (its "
        "ActionsPaused condition says how many)"
    )
    assert world.atlassian.disables() == 0

    world.annotate_org(APPROVE_ANNOTATION, "3")
    await until(lambda: world.atlassian.disables() == 3, "the approved suspensions")
    await passes(world, 3, 61)
    assert len(lines("waits any more")) == 1
    assert len(lines("paused them")) == 1
    assert not lines("wait for its budget")


async def test_stopping_never_says_the_waiting_calls_are_done(world: World, lines: Lines) -> None:
    """A stopping operator leaves waiting calls to the next process: they are not made."""
    for name, account_id in PEOPLE.items():
        world.account(name, accountId=account_id, desiredState="Suspended")
    world.org(suspension={"maxPerSync": 1})
    await synced(world)
    await until(lambda: world.reason("carol") == "SuspensionBudgetExceeded", "carol waits")
    world.kube.status_gate.close()  # a status write stays in flight: the drain goes on
    world.account("bob", accountId=BOB, desiredState="Suspended", suspensionMessage="bye")
    await until(lambda: world.kube.status_gate.waiting, "bob's write held")
    stopping = asyncio.ensure_future(world.owner.stop(drain=DEADLINE))
    await until(lambda: world.owner._draining, "the drain")
    for name in ("bob", "carol"):  # edited while stopping: each leaves the line
        world.account(name, accountId=PEOPLE[name], desiredState="Suspended", suspensionMessage="x")
    await until(lambda: not len(world.owner.budget), "the line empty")
    world.kube.status_gate.open()
    await stopping
    assert len(lines("wait for its budget")) == 1
    assert not lines("waits any more")
    assert world.atlassian.disables() == 1
