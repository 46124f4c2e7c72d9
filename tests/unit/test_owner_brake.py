"""The brake on mass lifecycle calls (issue 26): beyond a day's threshold, nothing goes until a
person approves the number waiting; the approval is taken once, used exactly, and recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from owner_world import FakeAtlassian, World, quiet, synced, until, user

from atlassian_operator.core.brake import APPROVE_ANNOTATION
from atlassian_operator.core.conditions import find
from atlassian_operator.core.resources import SYNC_REQUESTED_ANNOTATION

PEOPLE = [f"p{i:02}" for i in range(44)]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    atlassian = FakeAtlassian()
    atlassian.add(*(user(p) for p in PEOPLE))
    w = World(atlassian)
    w.start()
    yield w
    await w.stop()


def offboard(world: World, people: list[str], state: str = "Suspended") -> None:
    for p in people:
        world.account(p, accountId=p, desiredState=state)


async def forty_paused(world: World, **suspension: object) -> None:
    """Forty offboardings planned at once (they exist before the org's first listing): paused."""
    offboard(world, PEOPLE[:40])
    world.org(suspension=suspension)
    await synced(world)
    await until(lambda: paused(world).get("status") == "True", "the org paused")


def paused(world: World) -> dict[str, object]:
    return find(world.org_status().get("conditions"), "ActionsPaused") or {}


def gauge(world: World) -> float | None:
    return world.metrics.registry.get_sample_value(
        "atlassian_operator_paused_lifecycle_calls", {"namespace": "team", "org": "acme"}
    )


async def test_forty_offboardings_at_once_pause_the_org_and_send_nothing(world: World) -> None:
    offboard(world, PEOPLE[:40])
    world.org(suspension={"maxPerSync": 100})  # the default threshold: 10 (floor) for 44 users
    await synced(world)
    await until(lambda: paused(world).get("status") == "True", "the org paused")
    await quiet(world)

    assert world.atlassian.disables() == 0
    condition = paused(world)
    assert condition["reason"] == "MassSuspensionPaused"
    assert "40 lifecycle calls" in condition["message"]
    assert f"{APPROVE_ANNOTATION}=40" in condition["message"]
    assert (
        "the default threshold of 10 a day (1 % of the org's 44 active users, at least 10;"
        in (condition["message"])
    )
    assert world.org_status()["suspensionBrake"] == {
        "threshold": 10, "madeToday": 0, "waiting": 40, "paused": True,
    }  # fmt: skip
    assert world.kube.warnings("acme") == ["MassSuspensionPaused"]
    assert gauge(world) == 40
    assert world.reason(PEOPLE[0]) == "MassSuspensionPaused"


async def test_an_approval_smaller_than_the_line_changes_nothing(world: World) -> None:
    await forty_paused(world, maxPerSync=100)

    world.annotate_org(APPROVE_ANNOTATION, "39", manager="kubectl-annotate")
    await until(
        lambda: world.org_status()["suspensionBrake"].get("approval"), "the approval considered"
    )
    await quiet(world)

    assert world.atlassian.disables() == 0
    approval = world.org_status()["suspensionBrake"]["approval"]
    assert approval["standing"] == "TooSmall" and approval["count"] == 39
    assert "was fewer than the number that waited" in paused(world)["message"]
    assert world.kube.warnings("acme") == ["MassSuspensionPaused", "ApprovalNotUsed"]


async def test_the_right_approval_lets_exactly_that_many_out_within_max_per_sync(
    world: World,
) -> None:
    await forty_paused(world, maxPerSync=15)

    world.annotate_org(APPROVE_ANNOTATION, "40", manager="alice-kubectl", at="2026-12-06T11:00:00Z")
    await until(lambda: world.atlassian.disables() == 15, "the first window's calls")
    await quiet(world)
    assert world.atlassian.disables() == 15  # maxPerSync still holds
    last = world.status(world.atlassian.calls[0][1])["lastAction"]
    assert last["approval"] == {"count": 40, "by": "alice-kubectl", "at": "2026-12-06T11:00:00Z"}
    assert paused(world)["reason"] == "Approved"
    assert world.org_status()["suspensionBrake"]["approval"]["used"] == 15
    assert "SuspensionsApproved" in [r for _, _, r in world.kube.events]

    for window in (2, 3):
        world.tick(61)
        await until(lambda w=window: world.atlassian.disables() == min(40, 15 * w), "a window")
    await quiet(world)
    assert world.atlassian.disables() == 40
    # Used up: the next offboarding the same day is weighed against the threshold again.
    assert world.org_status()["suspensionBrake"]["approval"]["used"] == 40
    assert gauge(world) == 0


async def test_an_approval_set_before_anything_paused_is_no_blank_cheque(world: World) -> None:
    world.org(suspension={"maxPerSync": 100})
    await synced(world)
    world.annotate_org(APPROVE_ANNOTATION, "50")
    await until(
        lambda: world.org_status()["suspensionBrake"].get("approval"), "the approval considered"
    )

    # One at a time (as kubectl apply sends them): each goes while the day stays within the
    # threshold, then the rest pause; the approval set before is not used for them.
    offboard(world, PEOPLE[:40])
    await until(lambda: paused(world).get("status") == "True", "the org paused")
    await quiet(world)

    assert world.atlassian.disables() == 10
    assert world.org_status()["suspensionBrake"]["approval"]["standing"] == "NothingPaused"
    assert world.org_status()["suspensionBrake"]["waiting"] == 30


async def test_re_enables_count_too(world: World) -> None:
    world.atlassian.add(*(user(f"gone{i}", status="inactive") for i in range(12)))
    world.org(suspension={"maxPerSync": 100, "allowReactivation": True})
    for i in range(12):
        world.account(f"gone{i}", accountId=f"gone{i}", desiredState="Active")
    await synced(world)
    await until(lambda: paused(world).get("status") == "True", "the org paused")
    await quiet(world)

    assert world.atlassian.calls == []
    assert "12 lifecycle calls" in paused(world)["message"]


async def test_a_day_below_the_threshold_goes_and_the_next_call_pauses(world: World) -> None:
    world.org(suspension={"maxPerSync": 100, "pauseAbove": 3})
    await synced(world)
    offboard(world, PEOPLE[:3])
    await until(lambda: world.atlassian.disables() == 3, "three offboardings")

    offboard(world, PEOPLE[3:4])
    await until(lambda: paused(world).get("status") == "True", "the fourth pauses")
    await quiet(world)
    assert world.atlassian.disables() == 3
    assert world.org_status()["suspensionBrake"]["madeToday"] == 3

    world.tick(86_401)  # a day later the three no longer count
    await until(lambda: world.atlassian.disables() == 4, "the fourth, a day later")


async def test_a_call_retried_all_day_is_one_person_not_many(world: World) -> None:
    from atlassian_operator.atlassian import RateLimited

    world.atlassian.fail_calls = lambda action, account_id: RateLimited("429", retry_after=1)
    world.org(suspension={"pauseAbove": 1})
    await synced(world)
    offboard(world, PEOPLE[:1])
    for attempt in range(1, 6):
        # Failed and recorded (its Warning posted) before the clock moves past the retry.
        failed = lambda a=attempt: len(world.kube.warnings(PEOPLE[0])) == a  # noqa: E731
        await until(failed, f"attempt {attempt} failed")
        await quiet(world)
        world.tick(120)
    assert world.atlassian.disables() >= 5
    assert paused(world).get("status") != "True"


async def test_a_restart_neither_forgets_the_day_nor_grants_an_approval_twice(
    world: World,
) -> None:
    await forty_paused(world, maxPerSync=15)
    world.annotate_org(APPROVE_ANNOTATION, "40")
    await until(lambda: world.atlassian.disables() == 15, "the first window's calls")
    await quiet(world)
    await world.stop()

    world.restart()
    # The new process's own first listing (the status still shows the old one's).
    await until(lambda: world.owner.snapshot is not None, "the restarted owner's listing")
    await quiet(world)
    assert world.org_status()["suspensionBrake"]["approval"]["used"] == 15
    world.tick(61)
    await until(lambda: world.atlassian.disables() == 30, "the second window, after a restart")
    world.tick(61)
    await until(lambda: world.atlassian.disables() == 40, "the third window")
    await quiet(world)
    assert world.atlassian.disables() == 40
    # Eleven more, seen at once by the next listing: were the used-up approval granted again
    # after the restart, they would go under it; they pause instead.
    world.atlassian.add(*(user(f"x{i}") for i in range(11)))
    for i in range(11):
        world.account(f"x{i}", accountId=f"x{i}", desiredState="Suspended")
    await quiet(world)
    world.tick(61)
    await until(lambda: paused(world).get("status") == "True", "paused again")
    await quiet(world)
    assert world.atlassian.disables() == 40
    assert world.org_status()["suspensionBrake"]["waiting"] == 11


async def test_another_annotation_by_the_same_manager_is_not_a_new_approval(world: World) -> None:
    """managedFields' time moves when kubectl-annotate writes any annotation: a sync request
    after an approval was used up must not grant the same number again."""
    world.org(suspension={"maxPerSync": 100, "pauseAbove": 0})
    await synced(world)
    offboard(world, PEOPLE[:2])
    await until(lambda: paused(world).get("status") == "True", "the org paused")
    world.annotate_org(APPROVE_ANNOTATION, "2", at="2026-12-06T10:00:00Z")
    await until(lambda: world.atlassian.disables() == 2, "the two approved calls")
    offboard(world, PEOPLE[2:3])
    await until(lambda: paused(world).get("status") == "True", "paused again")

    world.tick(1)
    world.annotate_org(SYNC_REQUESTED_ANNOTATION, "now", at="2026-12-06T11:00:00Z")
    await synced(world, listings=2)
    await quiet(world)

    assert world.atlassian.disables() == 2
    assert paused(world)["reason"] == "MassSuspensionPaused"
    # A new number is a new approval; so is the same number after the annotation was removed.
    world.tick(1)
    world.annotate_org(APPROVE_ANNOTATION, None, at="2026-12-06T12:00:00Z")
    world.annotate_org(APPROVE_ANNOTATION, "2", at="2026-12-06T12:00:01Z")
    await until(lambda: world.atlassian.disables() == 3, "the call a new approval lets out")


async def test_after_a_crash_each_account_counts_once_not_each_record(world: World) -> None:
    """Eight calls whose answers a crash lost are made again after the restart: the day counts
    eight accounts (their records name them), not sixteen calls, so nothing pauses."""
    world.org(suspension={"maxPerSync": 20})  # the default threshold: 10 for 44 users
    await synced(world)
    world.atlassian.call_gate.close()  # the calls hang until the process dies
    offboard(world, PEOPLE[:8])
    await until(lambda: world.atlassian.disables() == 8, "eight calls sent")
    await quiet(world)
    await world.stop()  # no drain: the answers are lost
    world.atlassian.call_gate.open()

    world.restart()
    await until(lambda: world.atlassian.disables() == 16, "the eight made again")
    await quiet(world)
    assert paused(world).get("status") != "True"
    assert world.org_status()["suspensionBrake"]["madeToday"] == 8
