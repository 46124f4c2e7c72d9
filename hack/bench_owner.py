#!/usr/bin/env python3
"""The org owner's own code path, in-process: the real `OrgOwner` driven with the unit tests' fakes.

`make bench` runs each measurement in a fresh process (`hack/bench.py` calls this script) so that
no other thread of the benchmark shares its CPU clock; it prints one JSON object.

- `quiet N`: an org of N users and one observe-only AtlassianAccount per user, after its first
  listing; then CPU (`time.process_time()`) and wall time of `owner._reconcile(every account)`
  with nothing changed (the quiet sync's per-account work). Several passes; median and min.
- `waiting N`: the same with `suspension.maxPerSync: 10` and N accounts stating
  `desiredState: Suspended`: the first 10 disable calls go (the fake's disable is instant), the
  others wait on the budget; one pass re-evaluates them all. Against the quiet pass at the same
  N in this process, interleaved, for a ratio (these machines are noisy).
- `hol K`: no head-of-line blocking. Two owners, sharing nothing but the event loop. Org
  "slow" has 80 suspensions whose calls are held (`call_gate` closed, as a 429 with a
  minutes-long Retry-After holds them); org "fast" gets K suspensions one at a time. Latency of
  each, from the spec change posted (`world.account`) to the fake recording the disable call;
  the same with org "slow" idle (80 observe-only accounts) as the baseline.

The fakes are the unit tests' (`tests/unit/owner_world.py`): Kubernetes and Atlassian cost
nothing here, so what is timed is the owner's own work and its event loop.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "unit"), str(ROOT / "tests"), str(ROOT / "operator")]

import owner_world  # noqa: E402
from bench import percentile  # noqa: E402 - one definition, shared with hack/bench.py
from owner_world import FakeAtlassian, World, user  # noqa: E402

SETUP_DEADLINE = 600.0  # building a world of 10,000 accounts takes seconds, not minutes
PASSES = 7


class TimedCalls(list[tuple[str, str]]):
    """The fake's call log, with the moment (perf_counter) each call was recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.at: dict[tuple[str, str], float] = {}

    def append(self, item: tuple[str, str]) -> None:
        self.at.setdefault(item, time.perf_counter())
        super().append(item)


async def wait_for(predicate: Callable[[], Any], describe: str, within: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {describe}")
        await asyncio.sleep(0.001)


async def settled(world: World, describe: str) -> None:
    """The owner handled everything posted and started every write (the unit tests' `quiet`,
    whose own deadline is short for 10,000 accounts), and stays so for a moment."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETUP_DEADLINE
    for _ in range(4):
        while True:
            try:
                await owner_world.quiet(world)
                break
            except AssertionError:
                if loop.time() > deadline:
                    raise TimeoutError(f"timed out waiting for {describe}") from None
        await asyncio.sleep(0.01)


def account_names(world: World) -> list[str]:
    return [name for kind, name in world.kube.objects if kind == "AtlassianAccount"]


class Counted:
    """Counts the owner's Kubernetes writes (status patches, Events) in the fake."""

    def __init__(self, world: World) -> None:
        self.patches = 0
        kube, patch = world.kube, world.kube.patch_status

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.patches += 1
            return await patch(*args, **kwargs)

        kube.patch_status = counted  # type: ignore[method-assign]
        self.events = lambda: len(kube.events)


async def populated(
    name: str,
    n: int,
    *,
    prefix: str = "a",
    desired: str | None = None,
    org_spec: dict[str, Any] | None = None,
) -> World:
    """A started owner of an org of `n` users, one AtlassianAccount each, first listing done."""
    atlassian = FakeAtlassian()
    atlassian.calls = TimedCalls()
    atlassian.add(*(user(f"{prefix}{i:05d}") for i in range(n)))
    world = World(atlassian, name)
    world.start()
    world.org(**(org_spec or {}))
    extra = {"desiredState": desired} if desired else {}
    for i in range(n):
        world.account(f"u{i:05d}", accountId=f"{prefix}{i:05d}", **extra)
    await wait_for(lambda: world.org_reason() == "ListingComplete", "the first listing", 600)
    await settled(world, f"the first sync of {name}")
    return world


async def one_pass(world: World, names: list[str], counted: Counted) -> dict[str, float]:
    """One `_reconcile` of every account, called from outside the owner's loop (nothing else
    runs meanwhile); then the writes and Events it caused, once the owner has made them."""
    await settled(world, "the owner before a pass")
    patches, events = counted.patches, counted.events()
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    world.owner._reconcile(names)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    await settled(world, "the owner after a pass")
    return {
        "cpu": cpu,
        "wall": wall,
        "status_writes": counted.patches - patches,
        "events": counted.events() - events,
    }


def summary(runs: list[dict[str, float]], accounts: int) -> dict[str, Any]:
    cpu = [r["cpu"] for r in runs]
    wall = [r["wall"] for r in runs]
    return {
        "accounts": accounts,
        "passes": len(runs),
        "cpu_seconds_median": round(statistics.median(cpu), 4),
        "cpu_seconds_min": round(min(cpu), 4),
        "wall_seconds_median": round(statistics.median(wall), 4),
        "per_account_cpu_us": round(statistics.median(cpu) / max(1, accounts) * 1e6, 2),
        "per_account_wall_us": round(statistics.median(wall) / max(1, accounts) * 1e6, 2),
        "status_writes": max(r["status_writes"] for r in runs),  # of the busiest pass
        "events": max(r["events"] for r in runs),
        "cpu_seconds_runs": [round(c, 4) for c in cpu],
    }


def profile_pass(world: World, names: list[str], path: str | None) -> None:
    if path:
        profiler = cProfile.Profile()
        profiler.runcall(world.owner._reconcile, names)
        profiler.dump_stats(path)


# ------------------------------------------------------------------------- item 15: quiet pass


async def quiet(n: int, profile: str | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    world = await populated("acme", n)
    setup = time.perf_counter() - t0
    try:
        names, counted = account_names(world), Counted(world)
        await one_pass(world, names, counted)  # warm-up, not counted
        runs = [await one_pass(world, names, counted) for _ in range(PASSES)]
        profile_pass(world, names, profile)
    finally:
        await world.stop()
    return {**summary(runs, len(names)), "setup_seconds": round(setup, 1)}


# ------------------------------------------------------------- item 9: 10,000 waiting suspensions


async def waiting(n: int, profile: str | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    base = await populated("quiet", n)
    busy = await populated(
        "waiting",
        n,
        desired="Suspended",
        # The brake on mass calls lifted: what is measured is the pass over the budget's line.
        org_spec={"suspension": {"maxPerSync": 10, "pauseAbove": n}},
    )
    setup = time.perf_counter() - t0
    try:
        await wait_for(lambda: busy.atlassian.disables() == 10, "the first 10 disables", 60)
        await settled(busy, "the waiting org")
        waiting_before = len(busy.owner.budget)
        base_names, busy_names = account_names(base), account_names(busy)
        reasons = Counter(busy.reason(name) for name in busy_names)
        base_count, busy_count = Counted(base), Counted(busy)
        await one_pass(base, base_names, base_count)  # warm-up
        await one_pass(busy, busy_names, busy_count)
        base_runs, busy_runs = [], []
        for i in range(PASSES):  # interleaved, either first in turn: both see the same machine
            if i % 2:
                base_runs.append(await one_pass(base, base_names, base_count))
            busy_runs.append(await one_pass(busy, busy_names, busy_count))
            if not i % 2:
                base_runs.append(await one_pass(base, base_names, base_count))
        profile_pass(busy, busy_names, profile)
        result_busy = summary(busy_runs, len(busy_names))
        result_base = summary(base_runs, len(base_names))
        result_busy.update(
            waiting_on_budget=waiting_before,
            waiting_after=len(busy.owner.budget),
            disable_calls=busy.atlassian.disables(),
            ready_reasons=dict(reasons),
        )
        ratio = result_busy["cpu_seconds_median"] / max(1e-9, result_base["cpu_seconds_median"])
        ratio_min = result_busy["cpu_seconds_min"] / max(1e-9, result_base["cpu_seconds_min"])
        return {
            "n": n,
            "max_per_sync": 10,
            "waiting_pass": result_busy,
            "quiet_pass": result_base,
            "ratio_cpu_waiting_to_quiet": round(ratio, 2),  # of the medians
            "ratio_cpu_waiting_to_quiet_min": round(ratio_min, 2),
            "setup_seconds": round(setup, 1),
        }
    finally:
        await base.stop()
        await busy.stop()


# ------------------------------------------------------------ item 10: no head-of-line blocking


async def suspend_one_at_a_time(fast: World, count: int) -> tuple[list[float], list[float]]:
    """Latency of each suspension: posted spec change -> disable call; -> status stored."""
    to_call, to_status = [], []
    loop = asyncio.get_running_loop()
    calls = fast.atlassian.calls
    assert isinstance(calls, TimedCalls)
    for i in range(count):
        name, account_id = f"u{i:05d}", f"f{i:05d}"
        deadline = loop.time() + 30
        t0 = time.perf_counter()
        fast.account(name, accountId=account_id, desiredState="Suspended")
        while ("disable", account_id) not in calls.at:
            if loop.time() > deadline:
                raise TimeoutError(f"the disable call of {account_id} never came")
            await asyncio.sleep(0)
        to_call.append(calls.at[("disable", account_id)] - t0)
        while fast.status(name).get("accountStatus") != "Suspended":
            if loop.time() > deadline:
                raise TimeoutError(f"the status of {name} never said Suspended")
            await asyncio.sleep(0)
        to_status.append(time.perf_counter() - t0)
        await settled(fast, "org fast")
    return to_call, to_status


def latency_summary(to_call: list[float], to_status: list[float]) -> dict[str, Any]:
    ms = 1000.0
    return {
        "count": len(to_call),
        "p50_ms": round(percentile(to_call, 50) * ms, 3),
        "p95_ms": round(percentile(to_call, 95) * ms, 3),
        "max_ms": round(max(to_call) * ms, 3),
        "to_status_p50_ms": round(percentile(to_status, 50) * ms, 3),
        "to_status_p95_ms": round(percentile(to_status, 95) * ms, 3),
        "to_status_max_ms": round(max(to_status) * ms, 3),
    }


async def hol_variant(count: int, *, blocked: bool) -> dict[str, Any]:
    slow_accounts = 80
    slow = await populated(
        "slow",
        slow_accounts,
        prefix="s",
        org_spec={"suspension": {"maxPerSync": 100, "pauseAbove": 100}},
    )
    fast = await populated(
        "fast",
        count,
        prefix="f",
        org_spec={"suspension": {"maxPerSync": 2 * count, "pauseAbove": 2 * count}},
    )
    try:
        if blocked:
            slow.atlassian.call_gate.close()
            for i in range(slow_accounts):
                slow.account(f"u{i:05d}", accountId=f"s{i:05d}", desiredState="Suspended")
            await wait_for(
                lambda: slow.atlassian.call_gate.waiting == slow_accounts, "80 calls held", 30
            )
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        to_call, to_status = await suspend_one_at_a_time(fast, count)
        result = latency_summary(to_call, to_status)
        result.update(
            wall_seconds=round(time.perf_counter() - t0, 2),
            cpu_seconds=round(time.process_time() - cpu0, 2),
            slow_calls_held=slow.atlassian.call_gate.waiting,
            slow_disable_calls=slow.atlassian.disables(),
        )
        return result
    finally:
        slow.atlassian.call_gate.open()
        await slow.stop()
        await fast.stop()


async def hol(count: int) -> dict[str, Any]:
    idle = await hol_variant(count, blocked=False)
    blocked = await hol_variant(count, blocked=True)
    return {
        "slow_calls_held": 80,
        "fast_suspensions": count,
        "idle": idle,
        "blocked": blocked,
        "ratio_p95_blocked_to_idle": round(blocked["p95_ms"] / max(1e-9, idle["p95_ms"]), 2),
    }


def main() -> int:
    what, n = sys.argv[1], int(sys.argv[2])
    profile = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
    run = {"quiet": lambda: quiet(n, profile), "waiting": lambda: waiting(n, profile)}.get(
        what, lambda: hol(n)
    )
    print(json.dumps(asyncio.run(run())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
