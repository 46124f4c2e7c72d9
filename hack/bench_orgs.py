#!/usr/bin/env python3
"""Several orgs in one operator process, end to end: what one org's load costs the others.

`make bench` (`hack/bench.py`) runs both scenarios below on its control plane; this script runs
the many-orgs one alone, on a control plane of its own, and writes
bench/results/<timestamp>-orgs.{json,md}:

    .venv/bin/python hack/bench_orgs.py [--orgs 20] [--users 2500] [--suspensions 100]

Many orgs (`many_orgs`): K orgs (default 20) of N simulated users each (2,500), a simulator
process per org, one AtlassianAccount per user created before the operator starts (as
bench.py's first sync), and one operator process serving the namespace, so every org.

- quiet-sync cost: every org's sync requested at once (the sync-requested annotation), with
  nothing changed: Atlassian requests (the simulators' logs), account and org writes (watches),
  operator CPU seconds, and wall time until its CPU goes idle; against one org's quiet sync in
  the same operator with the other orgs idle (the baseline), interleaved, `--quiet-rounds` of
  each. Expected: K times the baseline, and 0 account writes, 1 org write per org.
- fairness: org 1's simulator answers every request (listing, search, disable, ...) with 429
  and `Retry-After: 300`; `--held` of its accounts are to be suspended and its sync is
  requested, so its calls wait. Meanwhile `--suspensions` suspensions in the other orgs, one at
  a time, round robin: spec patch -> that org's simulator answering the disable call (its log
  has millisecond UTC timestamps, our clock). p50 / p95 / max against the same with org 1
  idle, measured first in the same run. Target: p95 < 1 s.

Head-of-line, two orgs (`head_of_line`, bench.py's `head_of_line_e2e`): the fairness
measurement as first written, with org "slow" (only its disable calls answered 429) and org
"fast"; kept as it was so that its figures compare with earlier runs.

Both build on `Orgs` (orgs in one namespace, one operator), `one_at_a_time` and `hold`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "hack" / "controlplane"), str(ROOT / "tests"), str(ROOT / "operator")]

from bench import (  # noqa: E402 - the harness: its helpers, shared with this scenario
    API_KEY,
    PAGE_SIZE,
    account_state,
    bench_namespace,
    clean_up_on_signals,
    control_plane,
    log,
    markdown,
    now,
    org_spec,
    percentile,
    proc_cpu,
    proc_mem,
    start_operator,
    wait_cpu_idle,
    wait_disables,
    wait_statuses,
    watch_all,
)

from support.e2e import condition  # noqa: E402
from support.operator import OperatorProcess  # noqa: E402
from support.reliability import ACCOUNTS, ORGS, ObjectWatch  # noqa: E402
from support.simulator import Simulator, SimulatorError, start_simulator  # noqa: E402

HOLD = {"kind": "status", "status": 429, "headers": {"Retry-After": "300"}}
EVERY_ENDPOINT = ("list_users", "search_users", "disable", "enable", "manage")
Entry = dict[str, Any]  # one user of the simulator's /_sim/users


def suspendable(entry: Entry) -> bool:
    """Active and not managed by SCIM: the operator may suspend it."""
    return bool(entry["user"]["account_status"] == "active" and not entry["scim"])


@dataclass
class BenchOrg:
    """One AtlassianOrg, its simulator, and its AtlassianAccounts (name -> account id)."""

    name: str
    sim: Simulator
    max_per_sync: int
    accounts: dict[str, str] = field(default_factory=dict)
    suspendable: list[str] = field(default_factory=list)  # account names, in creation order


@dataclass
class OrgPlan:
    """What to create for one org: a simulator of `users`, and accounts for `pick(entries)`."""

    name: str
    users: int
    seed: int
    max_per_sync: int
    pick: Callable[[list[Entry]], list[Entry]] = list  # default: one account per user


class Orgs:
    """Orgs in one namespace, a simulator each, and one operator process for all of them."""

    def __init__(self, kubeconfig: Path, ns: str, profile: Path | None = None) -> None:
        self.kubeconfig, self.ns, self.profile = kubeconfig, ns, profile
        self.orgs: list[BenchOrg] = []
        self.watches: list[ObjectWatch] = []
        self.op: OperatorProcess | None = None

    def __enter__(self) -> Orgs:
        return self

    def __exit__(self, *exc: object) -> None:
        for watch in self.watches:
            watch.stop()
        if self.op is not None:
            self.op.stop()
        with ThreadPoolExecutor(8) as pool:  # each waits for its process to exit
            list(pool.map(lambda org: org.sim.stop(), self.orgs))
        if hasattr(self, "bulk"):
            self.bulk.close()

    @property
    def pid(self) -> int:
        assert self.op is not None and self.op.process is not None
        return self.op.process.pid

    def start(self, plans: Sequence[OrgPlan], first_sync_timeout: float) -> dict[str, Any]:
        """Simulators, AtlassianOrgs and AtlassianAccounts, then the operator; returns once
        every account has a status (the first syncs), with setup and first-sync figures."""
        t0 = now()

        def simulator(plan: OrgPlan) -> Simulator:
            start = partial(
                start_simulator, users=plan.users, seed=plan.seed, page_size=PAGE_SIZE,
                org_id=f"org-{plan.name}", api_key=API_KEY,
            )  # fmt: skip
            try:
                return start()
            except SimulatorError:  # on a loaded machine a start may miss its 20 s deadline
                return start()

        with ThreadPoolExecutor(2) as pool:
            futures = [(plan, pool.submit(simulator, plan)) for plan in plans]
        failed = [f.exception() for _, f in futures if f.exception() is not None]
        # Those that started are stopped on __exit__, even if another one failed.
        self.orgs = [
            BenchOrg(p.name, f.result(), p.max_per_sync) for p, f in futures if not f.exception()
        ]
        if failed:
            raise RuntimeError(f"{len(failed)} simulators did not start: {failed[0]!r}")
        specs: dict[str, dict[str, Any]] = {}
        for plan, org in zip(plans, self.orgs, strict=True):
            for i, entry in enumerate(plan.pick(org.sim.users())):
                name = f"{org.name}-{i:05d}"
                org.accounts[name] = entry["user"]["account_id"]
                if suspendable(entry):
                    org.suspendable.append(name)
                specs[name] = {"orgRef": {"name": org.name}, "accountId": org.accounts[name]}
        t_sims = now()
        log(f"{self.ns}: {len(self.orgs)} simulators up; creating {len(specs)} AtlassianAccounts")
        self.kube, self.bulk = bench_namespace(self.kubeconfig, self.ns)
        self.bulk.create_orgs({o.name: org_spec(o.sim, o.max_per_sync) for o in self.orgs})
        self.bulk.create_accounts(specs)
        t_created = now()
        self.accounts = watch_all(self.kube, ACCOUNTS, len(specs))
        self.watches.append(self.accounts)
        self.org_watch = watch_all(self.kube, ORGS, len(self.orgs))
        self.watches.append(self.org_watch)
        log(f"{self.ns}: operator for {len(self.orgs)} orgs, {len(specs)} accounts; first syncs")
        start = self.accounts.count()
        t_start = now()
        self.op = start_operator(
            self.kubeconfig, self.ns, self.profile, [o.sim.url for o in self.orgs]
        )
        done = wait_statuses(
            self.accounts, specs, lambda s: s.get("accountStatus"), first_sync_timeout,
            progress=f"{self.ns}: first syncs",
        )  # fmt: skip
        if not done:
            raise TimeoutError(f"the first syncs did not finish in {first_sync_timeout:.0f} s")
        t_done = now()
        self.accounts.quiet_for(2.0)
        wait_cpu_idle(self.pid)
        writes = [e for e in self.accounts.events(start) if e.type == "MODIFIED"]
        # Writes before the observation: the Ready reason each said (e.g. OrgNotFound).
        early = Counter(
            str(condition(e.status, "Ready", "reason"))
            for e in writes
            if not e.status.get("accountStatus")
        )
        return {
            "orgs": len(self.orgs),
            "accounts": len(specs),
            "simulators_start_seconds": round(t_sims - t0, 1),
            "create_seconds": round(t_created - t_sims, 1),
            "operator_start_to_all_statuses_seconds": round(t_done - t_start, 1),
            "operator_cpu_seconds": round(proc_cpu(self.pid), 1),
            "account_writes": len(writes),
            "account_writes_without_observation": dict(early),
        }

    def usage(self) -> dict[str, Any]:
        mem = proc_mem(self.pid)
        return {
            "peak_rss_mib": round(mem["VmHWM"], 1),
            "rss_mib": round(mem["VmRSS"], 1),
            "cpu_seconds": round(proc_cpu(self.pid), 1),
        }


def one_at_a_time(orgs: Orgs, targets: Sequence[tuple[BenchOrg, str]]) -> dict[str, Any]:
    """Suspends each (org, account name) in turn: spec patch -> the disable call answered by
    that org's simulator, then waits for the Suspended status before the next one."""
    latencies: list[float] = []
    for org, name in targets:
        account_id = org.accounts[name]
        t0 = now()
        orgs.bulk.patch_account(name, {"desiredState": "Suspended"})
        try:
            got = wait_disables(org.sim, {account_id}, timeout=30)
        except TimeoutError:
            reason = condition(orgs.accounts.latest(name), "Ready", "reason")
            raise TimeoutError(
                f"no disable call for {name} in 30 s, after {len(latencies)} suspensions of "
                f"this phase; its Ready reason: {reason}"
            ) from None
        latencies.append(got[account_id] - t0)
        orgs.accounts.wait(account_state(name, "Suspended"), timeout=30)
    return {
        "count": len(latencies),
        "p50_seconds": round(percentile(latencies, 50), 4),
        "p95_seconds": round(percentile(latencies, 95), 4),
        "max_seconds": round(max(latencies), 4),
    }


def hold(orgs: Orgs, org: BenchOrg, names: Sequence[str], endpoints: Sequence[str]) -> None:
    """Every call of `endpoints` to this org answered 429 with `Retry-After: 300`; then `names`
    suspended (and, if its listing is among the endpoints, a sync requested): their calls wait.
    Returns once a first call has met its 429 and every patch has had time to land."""
    for endpoint in endpoints:
        org.sim.add_fault(endpoint=endpoint, times=10**6, **HOLD)
    org.sim.clear_requests()
    orgs.bulk.patch_accounts(names, {"desiredState": "Suspended"})
    if "list_users" in endpoints:
        orgs.bulk.request_sync(org.name)
    deadline = now() + 30
    while not any(e["status"] == 429 for e in org.sim.requests()):
        if now() > deadline:
            raise TimeoutError(f"org {org.name}'s calls never reached its simulator")
        time.sleep(0.05)
    time.sleep(1.0)  # every patch has reached the operator: its calls wait on the 429


def held_calls(org: BenchOrg) -> dict[str, Any]:
    """What the held org's simulator answered while the others were measured."""
    log_ = org.sim.requests()
    by_endpoint: dict[str, int] = {}
    for entry in log_:
        by_endpoint[entry["endpoint"]] = by_endpoint.get(entry["endpoint"], 0) + 1
    return {
        "requests": len(log_),
        "responses_429": sum(1 for e in log_ if e["status"] == 429),
        "disabled": sum(1 for e in log_ if e["endpoint"] == "disable" and e["status"] == 204),
        "by_endpoint": by_endpoint,
    }


def ratio(a: float, b: float) -> float:
    return round(a / max(b, 1e-3), 2)


# --------------------------------------------------------------------- head-of-line, 2 orgs


def head_of_line(kubeconfig: Path, count: int, held: int = 80) -> dict[str, Any]:
    """Org "fast" suspends `count` accounts one at a time, first with org "slow" idle, then with
    `held` disable calls of org "slow" held by a 429 with `Retry-After: 300`; one operator
    process, two simulators. Latency: spec patch -> org "fast"'s simulator answering the call.
    """

    def active(k: int) -> Callable[[list[Entry]], list[Entry]]:
        return lambda entries: [e for e in entries if suspendable(e)][:k]

    # Budgets that never hold a suspension back: warm-up + 2 * count for org fast.
    plans = [
        OrgPlan("slow", users=2 * held, seed=21, max_per_sync=2 * held, pick=active(held)),
        OrgPlan(
            "fast", users=3 * count + 60, seed=22, max_per_sync=2 * count + 10,
            pick=active(2 * count + 1),
        ),
    ]  # fmt: skip
    with Orgs(kubeconfig, "bench-hol") as orgs:
        orgs.start(plans, first_sync_timeout=120)
        slow, fast = orgs.orgs
        if len(slow.suspendable) < held or len(fast.suspendable) < 2 * count + 1:
            raise RuntimeError("the simulators generated too few active users")
        fast_targets = [(fast, name) for name in fast.suspendable]
        one_at_a_time(orgs, fast_targets[-1:])  # warm-up (connections, first calls), not counted
        log(f"head-of-line e2e: {count} suspensions of org fast, org slow idle")
        idle = one_at_a_time(orgs, fast_targets[:count])
        log(f"head-of-line e2e: {held} suspensions of org slow, held by 429 + Retry-After: 300")
        hold(orgs, slow, slow.suspendable, ["disable"])
        log(f"head-of-line e2e: {count} suspensions of org fast, org slow's calls held")
        t_blocked = now()
        blocked = one_at_a_time(orgs, fast_targets[count : 2 * count])
        slow_calls = slow.sim.requests("disable")
        result = {
            "slow_suspensions": len(slow.suspendable),
            "fast_suspensions": count,
            "idle": idle,
            "blocked": blocked,
            "ratio_p95_blocked_to_idle": ratio(blocked["p95_seconds"], idle["p95_seconds"]),
            "slow_disable_requests": len(slow_calls),
            "slow_disable_429": sum(1 for e in slow_calls if e["status"] == 429),
            "slow_disabled_while_measuring": sum(1 for e in slow_calls if e["status"] == 204),
            "blocked_phase_seconds": round(now() - t_blocked, 1),
        }
        log(f"head-of-line e2e: {result}")
        return result


# ------------------------------------------------------------------------------- many orgs


def quiet_round(orgs: Orgs, which: Sequence[BenchOrg]) -> dict[str, Any]:
    """A sync of each org in `which`, requested at once, nothing changed: its whole cost."""
    for org in orgs.orgs:
        org.sim.clear_requests()
    acc0, org0 = orgs.accounts.count(), orgs.org_watch.count()
    cpu0, t0 = proc_cpu(orgs.pid), now()
    tokens = {org.name: orgs.bulk.request_sync(org.name) for org in which}
    answered = orgs.org_watch.wait(
        lambda w: all(w.latest(n).get("observedSyncRequest") == t for n, t in tokens.items()),
        timeout=600,
    )
    t_idle = wait_cpu_idle(orgs.pid)
    cpu = proc_cpu(orgs.pid) - cpu0
    logs = [org.sim.requests() for org in orgs.orgs]
    org_events = orgs.org_watch.events(org0)
    time.sleep(0.5)
    return {
        "orgs": len(which),
        "answered": answered,
        "wall_seconds": round(t_idle - t0, 2),
        "operator_cpu_seconds": round(cpu, 2),
        "atlassian_requests": sum(len(entries) for entries in logs),
        "v1_requests": sum(1 for entries in logs for e in entries if e["endpoint"] == "list_users"),
        "v2_requests": sum(
            1 for entries in logs for e in entries if e["endpoint"] == "search_users"
        ),
        "account_writes": len(orgs.accounts.events(acc0)),
        # one org event per sync request is our own annotation, not the operator's write
        "org_status_writes": max(0, len(org_events) - len(which)),
        "listing_seconds_max": max(
            (orgs.org_watch.latest(o.name).get("lastSyncDurationSeconds") or 0 for o in which),
            default=0,
        ),
    }


def round_robin(orgs: Sequence[BenchOrg], per_org: int) -> list[list[tuple[BenchOrg, str]]]:
    """`per_org` lists of suspendable accounts, one account of each org in every list."""
    queues = {org.name: iter(org.suspendable) for org in orgs}
    return [[(org, next(queues[org.name])) for org in orgs] for _ in range(per_org)]


def many_orgs(
    kubeconfig: Path,
    orgs_n: int = 20,
    users: int = 2500,
    suspensions: int = 100,
    held: int = 80,
    quiet_rounds: int = 2,
    first_sync_timeout: float = 1800.0,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Issue 14, item 4: K orgs x N users in one operator; quiet-sync cost and fairness."""
    others_n = orgs_n - 1
    per_org = math.ceil(suspensions / others_n)
    # Budgets that never hold a suspension back: warm-up + both phases for the others.
    budget = 2 * per_org + 10
    plans = [
        OrgPlan(f"o{i + 1:02d}", users=users, seed=100 + i, max_per_sync=budget)
        for i in range(orgs_n)
    ]
    plans[0].max_per_sync = 2 * held
    result: dict[str, Any] = {"orgs": orgs_n, "users_per_org": users, "page_size": PAGE_SIZE}
    with Orgs(kubeconfig, "bench-orgs", profile) as orgs:
        result["setup"] = orgs.start(plans, first_sync_timeout)
        log(f"many orgs: {result['setup']}")
        stormy, others = orgs.orgs[0], orgs.orgs[1:]
        if len(stormy.suspendable) < held or any(
            len(o.suspendable) < 2 * per_org + 1 for o in others
        ):
            raise RuntimeError("the simulators generated too few active users")

        # --- quiet syncs: one org (the baseline), then every org, interleaved
        one_runs, all_runs = [], []
        for i in range(quiet_rounds):
            one_runs.append(quiet_round(orgs, [orgs.orgs[1 + i % others_n]]))
            log(f"many orgs: quiet sync of one org {one_runs[-1]}")
            all_runs.append(quiet_round(orgs, orgs.orgs))
            log(f"many orgs: quiet sync of {orgs_n} orgs {all_runs[-1]}")
        one = min(one_runs, key=lambda r: r["operator_cpu_seconds"])
        every = min(all_runs, key=lambda r: r["operator_cpu_seconds"])
        result["quiet"] = {
            "one_org": {**one, "runs": one_runs},
            "all_orgs": {**every, "runs": all_runs},
            "ratio_requests": ratio(every["atlassian_requests"], one["atlassian_requests"]),
            "ratio_cpu": ratio(every["operator_cpu_seconds"], one["operator_cpu_seconds"]),
            "ratio_wall": ratio(every["wall_seconds"], one["wall_seconds"]),
        }

        # --- fairness: suspensions in the other orgs, org 1 idle, then under a 429 storm
        batches = round_robin(others, 2 * per_org + 1)
        warm, rest = batches[0], list(itertools.chain.from_iterable(batches[1:]))
        idle_targets, storm_targets = rest[:suspensions], rest[suspensions : 2 * suspensions]
        one_at_a_time(orgs, warm)  # warm-up: each org's first call opens its connection
        log(f"many orgs: {suspensions} suspensions in {others_n} orgs, org 1 idle")
        idle = one_at_a_time(orgs, idle_targets)
        log(f"many orgs: org 1 answers every request 429 + Retry-After: 300, {held} held")
        held_names = set(stormy.suspendable[:held])
        acc0 = orgs.accounts.count()
        hold(orgs, stormy, sorted(held_names), EVERY_ENDPOINT)
        log(f"many orgs: {suspensions} suspensions in {others_n} orgs, org 1 held")
        t_storm = now()
        storm = one_at_a_time(orgs, storm_targets)
        held_events = [e for e in orgs.accounts.events(acc0) if e.name in held_names]
        result["fairness"] = {
            "suspensions": suspensions,
            "held": held,
            "idle": idle,
            "storm": storm,
            "ratio_p95_storm_to_idle": ratio(storm["p95_seconds"], idle["p95_seconds"]),
            "storm_phase_seconds": round(now() - t_storm, 1),
            "held_org": held_calls(stormy),
            # spec patches and status writes of org 1's held accounts while the storm lasted
            "held_account_events": len(held_events),
            "held_ready_reasons": sorted(
                {str(condition(orgs.accounts.latest(n), "Ready", "reason")) for n in held_names}
            ),
        }
        log(f"many orgs: fairness {result['fairness']}")
        result["operator"] = orgs.usage()
    return result


# ---------------------------------------------------------------------------------- report

HEAD = (
    "Many orgs in one operator (end to end)",
    "Result",
    "Baseline (same run)",
    "Ratio",
    "Target",
)


def rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """The many-orgs figures, each against its baseline of the same run (`results["many_orgs"]`)."""
    m = results.get("many_orgs") or {}
    if "error" in m:
        return [("Many orgs in one operator", m["error"], "", "", "")]
    if "quiet" not in m:
        return []
    k, n = m["orgs"], m["users_per_org"]
    q, one, every = m["quiet"], m["quiet"]["one_org"], m["quiet"]["all_orgs"]
    rows: list[tuple[str, ...]] = [
        (
            f"Quiet sync of {k} orgs x {n:,} users at once: Atlassian requests",
            f"{every['atlassian_requests']:,} ({every['atlassian_requests'] / k:.0f} per org)",
            f"one org of {n:,}: {one['atlassian_requests']}",
            f"{q['ratio_requests']}x",
            f"{k}x",
        ),
        (
            "  Kubernetes writes: accounts / orgs",
            f"{every['account_writes']} / {every['org_status_writes']}",
            f"{one['account_writes']} / {one['org_status_writes']}",
            "",
            "0 / 1 per org",
        ),
        (
            "  operator CPU seconds",
            f"{every['operator_cpu_seconds']} s",
            f"{one['operator_cpu_seconds']} s",
            f"{q['ratio_cpu']}x",
            f"~{k}x",
        ),
        (
            "  wall, annotation -> operator idle",
            f"{every['wall_seconds']} s",
            f"{one['wall_seconds']} s",
            f"{q['ratio_wall']}x",
            "",
        ),
    ]
    f = m.get("fairness") or {}
    if "storm" in f:
        s, i = f["storm"], f["idle"]
        rows.append(
            (
                f"Fairness: {f['suspensions']} suspensions in the other {k - 1} orgs, one at a "
                f"time, while org 1 answers every request 429 + Retry-After: 300 "
                f"({f['held']} suspensions held); spec patch -> disable answered p50 / p95 / max",
                f"{ms(s['p50_seconds'])} / {ms(s['p95_seconds'])} / {ms(s['max_seconds'])} ms",
                f"org 1 idle: {ms(i['p50_seconds'])} / {ms(i['p95_seconds'])} / "
                f"{ms(i['max_seconds'])} ms",
                f"{f['ratio_p95_storm_to_idle']}x (p95)",
                "p95 < 1 s",
            )
        )
    op, setup = m.get("operator") or {}, m.get("setup") or {}
    if op:
        rows.append(
            (
                f"  operator peak RSS (whole scenario: first and quiet syncs) / first syncs of "
                f"{setup.get('accounts', 0):,} accounts",
                f"{op['peak_rss_mib']} MiB / "
                f"{setup.get('operator_start_to_all_statuses_seconds')} s",
                "",
                "",
                "",
            )
        )
    return rows


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def table(results: dict[str, Any]) -> str:
    found = rows(results)
    return markdown(HEAD, found) if found else ""


# ------------------------------------------------------------------------------------ alone


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--users", type=int, default=2500, help="users per org")
    parser.add_argument("--suspensions", type=int, default=100, help="per phase, in all orgs")
    parser.add_argument("--held", type=int, default=80, help="org 1's suspensions held")
    parser.add_argument("--quiet-rounds", type=int, default=2)
    parser.add_argument("--first-sync-timeout", type=float, default=1800.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    clean_up_on_signals()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    load_start = [round(x, 2) for x in os.getloadavg()]
    with (
        tempfile.TemporaryDirectory(prefix="atlassian-bench-orgs-") as tmp,
        control_plane(Path(tmp)) as kubeconfig,
    ):
        result = many_orgs(
            kubeconfig, args.orgs, args.users, args.suspensions, args.held, args.quiet_rounds,
            args.first_sync_timeout,
        )  # fmt: skip
    results = {
        "started": started,
        "load_average_at_start": load_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "many_orgs": result,
    }
    md = (
        f"# Many orgs {started}\n\nLoad average (1, 5, 15 min) at start "
        f"{results['load_average_at_start']}, at end {results['load_average_at_end']}.\n\n"
        f"{table(results)}\n"
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stamp}-orgs.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / f"{stamp}-orgs.md").write_text(md)
    print("\n" + md, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
