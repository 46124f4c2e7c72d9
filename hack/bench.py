#!/usr/bin/env python3
"""`make bench`: how the operator scales, measured on this machine against a naive poller.

A local control plane (kube-apiserver + etcd), the Atlassian simulator and the operator as a
process, as `make demo` runs them. For each N (1,000 and 10,000; `--quick`: 300 and 2,000) it
creates an org of N simulated users and one AtlassianAccount per user, then measures:

- first sync: Atlassian requests (simulator log) against ceil(N / page size), the time from the
  first listing request to the last AtlassianAccount status written (a watch on the accounts),
  and every Kubernetes write on the way;
- a quiet sync (nothing changed; requested with the sync-requested annotation): Atlassian
  requests (v1 listing pages + v2 search pages), account writes (watch events), org writes, and
  wall time until the operator's CPU goes idle; then the same with `spec.enrichment.enabled:
  false` (v1 only), in the same run;
- suspension latency, spec patch -> the simulator receiving the disable call (its request log
  has millisecond UTC timestamps, the same clock as ours), 100 accounts one at a time and
  100 at once (maxPerSync 200 from the start, so the rolling window admits both batches);
- (largest N) a sync under a rate limit of R requests per 60 s window against pages / R;
- operator peak RSS (VmHWM) and CPU seconds (utime + stime) from /proc;
- the naive design, in the same run against the same simulator: one request per account per
  interval (GET /_sim/users/{id}, which returns the user as listed: the simulator serves no
  per-user Atlassian route), 4 at a time like the operator's client.

Plus the listing alone at 50,000 users (`--quick`: 10,000) in a separate process, and the
operator's own code path in-process (`hack/bench_owner.py`, each in a fresh process): the real
`OrgOwner` driven with the unit tests' fakes (`tests/unit/owner_world.py`), where Kubernetes and
Atlassian cost nothing:

- per N, one `_reconcile` of every account with nothing changed (the quiet sync's CPU per
  account);
- one such pass with 10,000 suspensions waiting on `suspension.maxPerSync: 10`, against the
  quiet pass at 10,000 in the same process (a ratio: this machine is shared and noisy);
- head-of-line blocking: org "fast" suspends 100 accounts one at a time while org "slow" has 80
  disable calls held (as a 429 with a Retry-After of minutes holds them), against the same with
  org "slow" idle; and the same end to end (`--no-e2e-hol` skips it): the operator process and
  two simulators, one answering every disable call with 429 and `Retry-After: 300`.

And several orgs in one operator process, end to end (`hack/bench_orgs.py`; `--no-orgs` skips
it): 20 orgs of 2,500 users (`--quick`: 100), a simulator each; the quiet-sync cost of every
org at once against one org's, and suspensions in 19 orgs while org 1 answers every request
with 429 and `Retry-After: 300`, against the same with org 1 idle.

The cluster side uses the tests' helpers (tests/support: `Kube`, `BulkKube`, `ObjectWatch`), and
each figure that has one is reported against a baseline measured in the same run.

Results: bench/results/<timestamp>.{json,md}; a full run (no --quick, no size or skip flags)
also writes bench/latest.{json,md}. It reports, it asserts nothing. BENCH_PROFILE=1 runs the
operator under cProfile and writes the top entries.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import math
import os
import platform
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "hack" / "controlplane"), str(ROOT / "tests"), str(ROOT / "operator")]

from support.e2e import API_KEY_LABEL, condition  # noqa: E402
from support.kube import Kube  # noqa: E402
from support.operator import OperatorProcess  # noqa: E402
from support.reliability import ACCOUNTS, GROUP, ORGS, BulkKube, ObjectWatch  # noqa: E402
from support.simulator import Simulator, start_simulator  # noqa: E402

API_KEY = "bench-org-api-key-7f3e"
PAGE_SIZE = 100
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------ helpers


def now() -> float:
    return time.time()


def parse_sim_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def machine_cpu() -> dict[str, float]:
    """CPU seconds of the whole machine from /proc/stat: busy (every mode but idle and iowait)
    and steal (time the hypervisor gave our virtual CPUs to someone else)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return {
        "busy": (user + nice + system + irq + softirq + steal) / CLK_TCK,
        "steal": steal / CLK_TCK,
    }


def control_plane_pids(kubeconfig: Path | str) -> dict[str, int]:
    """The kube-apiserver and etcd serving `kubeconfig` (`control_plane` puts their state beside
    it): by name, for their CPU seconds."""
    state = str(Path(kubeconfig).resolve().parent / "controlplane")
    pids: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        name = Path(argv[0].decode(errors="replace")).name
        if name in ("kube-apiserver", "etcd") and state.encode() in b" ".join(argv):
            pids[name] = int(entry.name)
    return pids


def proc_mem(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) / 1024  # MiB
    return out


def wait_cpu_idle(pid: int, quiet: float = 0.6, timeout: float = 300.0) -> float:
    """Waits until the process uses (almost) no CPU for `quiet` seconds; returns when that began."""
    deadline = now() + timeout
    last_busy, last_cpu = now(), proc_cpu(pid)
    while now() < deadline:
        time.sleep(0.1)
        cpu = proc_cpu(pid)
        if cpu - last_cpu > 0.011:  # more than one tick per 100 ms: busy
            last_busy = now()
        last_cpu = cpu
        if now() - last_busy >= quiet:
            return last_busy
    raise TimeoutError("operator never went idle")


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def clean_up_on_signals() -> None:
    """SIGTERM/SIGHUP run the clean-up (operator, simulators, control plane), as ^C does."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))


# ------------------------------------------------------------------------------ kubernetes
# The tests' helpers: `Kube` (a namespace and the real kubectl), `BulkKube` (the official client,
# for thousands of objects and for patches whose latency is measured) and `ObjectWatch`.


def bench_namespace(kubeconfig: Path, ns: str) -> tuple[Kube, BulkKube]:
    """A new namespace with the API key's Secret, labelled: its owner's opt-in to serve as one."""
    kube = Kube(ns, kubeconfig)
    kube.kubectl("create", "namespace", ns, namespaced=False)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "atlassian-api-key", "labels": {API_KEY_LABEL: "true"}},
        "stringData": {"api-key": API_KEY},
    }
    kube.kubectl("apply", "-f", "-", input=json.dumps(secret))
    return kube, BulkKube(kube)


def org_spec(sim: Simulator, max_per_sync: int) -> dict[str, Any]:
    """An AtlassianOrg on `sim` that never syncs on its own during a run (20 min interval)."""
    return {
        "orgId": sim.org_id,
        "apiKeySecretRef": {"name": "atlassian-api-key"},
        "apiBaseURL": sim.url,
        "syncInterval": "20m",
        # The brake on mass calls lifted: the runs measure the calls themselves.
        "suspension": {"maxPerSync": max_per_sync, "pauseAbove": max_per_sync},
    }


def name_and_status(obj: dict[str, Any]) -> dict[str, Any]:
    """What a watch on thousands of accounts keeps of each version."""
    return {"metadata": {"name": obj["metadata"]["name"]}, "status": obj.get("status") or {}}


def watch_all(kube: Kube, plural: str, existing: int, timeout: float = 300.0) -> ObjectWatch:
    """A watch on every object of `plural`, once it has listed the `existing` ones: from then on
    each MODIFIED event is one write."""
    watch = ObjectWatch(kube, plural, keep=name_and_status)
    if not watch.wait(lambda w: w.count() >= existing, timeout):
        watch.stop()
        raise TimeoutError(f"the watch on {plural} listed {watch.count()} of {existing} objects")
    return watch


def wait_statuses(
    watch: ObjectWatch,
    names: Iterable[str],
    accept: Callable[[dict[str, Any]], Any],
    timeout: float,
    progress: str = "",
) -> bool:
    """Until the latest status of every name is accepted (once accepted, a name stays so).

    Incremental, as the watch may hold 50,000 accounts: each check reads only the new events.
    With `progress`, logs how many are left every minute.
    """
    cursor = watch.count()
    pending = {name for name in names if not accept(watch.latest(name))}

    def done(w: ObjectWatch) -> bool:
        nonlocal cursor
        new = w.events(cursor)
        cursor += len(new)
        for event in new:
            if event.name in pending and accept(w.latest(event.name)):
                pending.discard(event.name)
        return not pending

    deadline = now() + timeout
    while now() < deadline and not watch.ended:
        if watch.wait(done, min(60.0, deadline - now())):
            return True
        if progress:
            reasons = Counter(str(condition(watch.latest(n), "Ready", "reason")) for n in pending)
            log(f"{progress}: {len(pending)} to go; their Ready reasons: {dict(reasons)}")
    return False


def account_state(name: str, state: str) -> Callable[[ObjectWatch], bool]:
    """A watch predicate: the account's status shows `state` (e.g. Suspended)."""
    return lambda w: bool(w.latest(name).get("accountStatus") == state)


@contextlib.contextmanager
def control_plane(work: Path) -> Iterator[Path]:
    """A private kube-apiserver + etcd under `work`, with the CRDs established: its kubeconfig."""
    from controlplane import ControlPlane

    log("starting a local control plane")
    cp = ControlPlane.start(work / "controlplane", kubeconfig=work / "kubeconfig")
    try:
        kube = Kube("default", cp.kubeconfig)
        crds = [f"--filename={ROOT / 'crds' / f'{plural}.yaml'}" for plural in (ORGS, ACCOUNTS)]
        kube.kubectl("apply", *crds, namespaced=False)
        established = [f"crd/{plural}.{GROUP}" for plural in (ORGS, ACCOUNTS)]
        kube.kubectl("wait", "--for=condition=Established", *established, namespaced=False)
        yield cp.kubeconfig
    finally:
        cp.stop()


# ------------------------------------------------------------------------------- operator


def start_operator(
    kubeconfig: Path, ns: str, profile: Path | None, allow: list[str]
) -> OperatorProcess:
    """The operator, optionally under cProfile (it exits on SIGTERM, writing the profile).

    `allow`: the simulators' base URLs, which a cluster admin allows with --allow-api-base-url.
    """
    launcher = ["-m", "atlassian_operator.cli"]
    if profile is not None:
        launcher = ["-m", "cProfile", "-o", str(profile), *launcher]
    return OperatorProcess(kubeconfig, [ns], launcher=launcher, allow=allow).start()


# ---------------------------------------------------------------------------- naive poller


async def naive_interval(base_url: str, account_ids: list[str], concurrency: int) -> dict[str, Any]:
    """One GET per account, `concurrency` at a time: what a per-object poll does each interval."""
    import httpx

    limit = asyncio.Semaphore(concurrency)
    failures = 0
    async with httpx.AsyncClient(
        base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {API_KEY}"}
    ) as http:

        async def one(account_id: str) -> None:
            nonlocal failures
            async with limit:
                response = await http.get(f"/_sim/users/{account_id}")
                if response.status_code != 200:
                    failures += 1
                else:
                    response.json()

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(a) for a in account_ids))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {
        "requests": len(account_ids),
        "failures": failures,
        "wall_seconds": round(wall, 2),
        "poller_cpu_seconds": round(cpu, 2),
        "concurrency": concurrency,
    }


# --------------------------------------------------------------------------- listing alone


def listing_child(url: str, org_id: str, profile: str | None) -> None:
    """Runs in a fresh process: list the org with the operator's client, build the snapshot."""
    from atlassian_operator.atlassian import AtlassianClient
    from atlassian_operator.core.snapshot import OrgSnapshot
    from atlassian_operator.core.status import org_status

    async def run() -> dict[str, Any]:
        async with AtlassianClient(API_KEY, base_url=url) as client:
            t0, cpu0 = time.perf_counter(), time.process_time()
            users = await client.list_all_users(org_id)
            t1 = time.perf_counter()
            snapshot = OrgSnapshot(org_id, users, datetime.now(UTC))
            org_status(snapshot, generation=1, now="x", duration=0, requests=0, rate_limited=0)
            t2 = time.perf_counter()
            return {
                "users": len(snapshot),
                "requests": client.stats.requests,
                "listing_seconds": round(t1 - t0, 2),
                "snapshot_seconds": round(t2 - t1, 3),
                "cpu_seconds": round(time.process_time() - cpu0, 2),
            }

    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    result = asyncio.run(run())
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    result["peak_rss_mib"] = round(proc_mem(os.getpid())["VmHWM"], 1)
    print(json.dumps(result))


def listing_alone(n: int, profile_dir: Path | None) -> dict[str, Any]:
    t0 = now()
    sim = start_simulator(
        users=n, seed=11, page_size=PAGE_SIZE, org_id="org-listing", api_key=API_KEY
    )
    started = now() - t0
    try:
        profile = str(profile_dir / "listing.prof") if profile_dir else ""
        out = subprocess.run(
            [sys.executable, __file__, "--listing-child", sim.url, sim.org_id, profile],
            capture_output=True,
            text=True,
            check=True,
        )
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        sim.stop()
    result.update(
        n=n, min_requests=math.ceil(n / PAGE_SIZE), simulator_start_seconds=round(started, 1)
    )
    return result


# -------------------------------------------------------- the owner's own code path, in-process


def owner_in_process(what: str, n: int, profile_dir: Path | None) -> dict[str, Any]:
    """`hack/bench_owner.py what n` in a fresh process: nothing else shares its CPU clock."""
    profile = str(profile_dir / f"owner-{what}-{n}.prof") if profile_dir else ""
    t0 = now()
    out = subprocess.run(
        [sys.executable, str(ROOT / "hack" / "bench_owner.py"), what, str(n), profile],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        log(f"owner {what} {n} failed:\n{out.stderr[-3000:]}")
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(now() - t0, 1)
    log(f"owner {what} {n}: {result}")
    return result


# ------------------------------------------------------------------------------- scenario


class Scenario:
    def __init__(
        self, kubeconfig: Path, n: int, args: argparse.Namespace, profile_dir: Path | None
    ):
        self.kubeconfig, self.n, self.args, self.profile_dir = kubeconfig, n, args, profile_dir
        self.ns, self.org_name = f"bench-{n}", "acme"
        self.result: dict[str, Any] = {
            "n": n,
            "page_size": PAGE_SIZE,
            "min_requests": math.ceil(n / PAGE_SIZE),
        }
        self.watchers: list[ObjectWatch] = []
        self.op: OperatorProcess | None = None

    def run(self, rate_limited: bool) -> dict[str, Any]:
        n = self.n
        log(f"N={n}: simulator and {n} AtlassianAccounts")
        self.sim = sim = start_simulator(
            users=n, seed=7, page_size=PAGE_SIZE, org_id=f"org-{n}", api_key=API_KEY
        )
        try:
            entries = sim.users()
            self.ids = [e["user"]["account_id"] for e in entries]
            self.sim_users = entries
            self.setup(entries)
            self.first_sync()
            if not self.result["first_sync"]["complete"]:
                log(f"N={n}: the first sync did not finish; skipping the other measurements")
                self.result["operator"] = self.operator_usage()
                return self.result
            self.quiet_sync()
            self.suspensions(entries)
            if rate_limited:
                self.rate_limited_sync()
            self.result["operator"] = self.operator_usage()
        finally:
            for w in self.watchers:
                w.stop()
            if self.op is not None:
                self.op.stop()
            if hasattr(self, "bulk"):
                self.bulk.close()
        log(f"N={n}: the owner's quiet pass in-process (fakes)")
        self.result["owner_quiet_pass"] = owner_in_process("quiet", n, self.profile_dir)
        log(f"N={n}: naive baseline (one GET per account)")
        self.result["naive"] = asyncio.run(naive_interval(sim.url, self.ids, 4))
        sim.stop()
        return self.result

    # --- setup (not the operator's time)
    def setup(self, entries: list[dict[str, Any]]) -> None:
        t0 = now()
        self.kube, self.bulk = bench_namespace(self.kubeconfig, self.ns)
        self.bulk.create_orgs({self.org_name: org_spec(self.sim, max_per_sync=200)})
        self.bulk.create_accounts(
            {
                f"u{i:05d}": {
                    "orgRef": {"name": self.org_name},
                    "accountId": e["user"]["account_id"],
                }
                for i, e in enumerate(entries)
            }
        )
        self.result["setup_create_seconds"] = round(now() - t0, 1)
        self.acc = watch_all(self.kube, ACCOUNTS, len(entries))
        self.watchers.append(self.acc)
        self.orgw = watch_all(self.kube, ORGS, 1)
        self.watchers.append(self.orgw)

    def org_status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.bulk.org(self.org_name).get("status") or {}
        return status

    # --- first sync: operator start -> every status written
    def first_sync(self) -> None:
        n, sim = self.n, self.sim
        sim.clear_requests()
        log(f"N={n}: starting the operator; first sync")
        start = self.acc.count()  # the listing before: ADDED events
        t_start = now()
        profile = self.profile_dir / f"operator-{n}.prof" if self.profile_dir else None
        self.op = start_operator(self.kubeconfig, self.ns, profile, [sim.url])
        self.pid = self.op.process.pid
        done = wait_statuses(
            self.acc,
            (f"u{i:05d}" for i in range(n)),
            lambda s: s.get("accountStatus"),
            timeout=self.args.first_sync_timeout,
            progress=f"N={n}: first sync",
        )
        events = self.acc.events(start)
        observed_at = {}
        for e in events:
            if e.status.get("accountStatus") and e.name not in observed_at:
                observed_at[e.name] = e.time
        t_all = max(observed_at.values()) if observed_at else float("nan")
        lists = sim.requests("list_users")
        searches = sim.requests("search_users")
        first_list = parse_sim_time(lists[0]["time"]) if lists else float("nan")
        writes = [e for e in events if e.type == "MODIFIED"]
        problems = sum(1 for e in writes if not e.status.get("accountStatus"))
        org = self.org_status()
        if done:
            self.acc.quiet_for(3.0)
            wait_cpu_idle(self.pid)
        self.result["first_sync"] = {
            "complete": done,
            "statuses_written": len(observed_at),
            "atlassian_requests": len(lists) + len(searches),
            "v1_requests": len(lists),
            "v2_requests": len(searches),
            "org_status_apiRequests": org.get("apiRequests"),
            "listing_seconds": org.get("lastSyncDurationSeconds"),
            "first_request_to_all_statuses_seconds": round(t_all - first_list, 2),
            "operator_start_to_all_statuses_seconds": round(t_all - t_start, 2),
            "account_writes": sum(1 for e in self.acc.events(start) if e.type == "MODIFIED"),
            "account_writes_without_observation": problems,
            "org_writes": sum(1 for e in self.orgw.events() if e.type == "MODIFIED"),
            "operator_cpu_seconds": round(proc_cpu(self.pid), 2),
            "operator_rss_mib": round(proc_mem(self.pid)["VmRSS"], 1),
        }
        log(f"N={n}: first sync {self.result['first_sync']}")

    # --- a sync in which nothing changed, with the v2 search (the default) and without
    def quiet_sync(self) -> None:
        n = self.n
        runs = [self._one_quiet_sync() for _ in range(self.args.quiet_syncs)]
        self.result["quiet_sync"] = {**min(runs, key=lambda r: r["wall_seconds"]), "runs": runs}
        log(f"N={n}: quiet sync {runs}")
        self._set_enrichment(False)
        without = [self._one_quiet_sync() for _ in range(self.args.quiet_syncs)]
        self._set_enrichment(True)
        self.result["quiet_sync_without_enrichment"] = {
            **min(without, key=lambda r: r["wall_seconds"]),
            "runs": without,
        }
        log(f"N={n}: quiet sync without enrichment {without}")

    def _set_enrichment(self, enabled: bool) -> None:
        """Turn the v2 search on or off, and wait out the sync the spec change starts."""
        before = self.org_status().get("lastSyncTime")
        self.bulk.patch_org(self.org_name, {"spec": {"enrichment": {"enabled": enabled}}})
        self.orgw.wait(
            lambda w: (
                w.latest(self.org_name).get("lastSyncTime") != before
                and ("enrichment" in w.latest(self.org_name)) == enabled
            ),
            timeout=300,
        )
        wait_cpu_idle(self.pid)

    def _one_quiet_sync(self) -> dict[str, Any]:
        sim, pid = self.sim, self.pid
        sim.clear_requests()
        acc0, org0 = self.acc.count(), self.orgw.count()
        cpu0, rss0 = proc_cpu(pid), proc_mem(pid)["VmRSS"]
        t0 = now()
        token = self.bulk.request_sync(self.org_name)
        self.orgw.wait(
            lambda w: w.latest(self.org_name).get("observedSyncRequest") == token, timeout=300
        )
        t_idle = wait_cpu_idle(pid)
        org = self.org_status()
        org_events = self.orgw.events(org0)
        v1, v2 = len(sim.requests("list_users")), len(sim.requests("search_users"))
        time.sleep(0.5)
        return {
            "wall_seconds": round(t_idle - t0, 2),
            "listing_seconds": org.get("lastSyncDurationSeconds"),
            "atlassian_requests": v1 + v2,
            "v1_requests": v1,
            "v2_requests": v2,
            "org_status_apiRequests": org.get("apiRequests"),
            "account_writes": len(self.acc.events(acc0)),
            # the first org event is our own annotation, not the operator's write
            "org_status_writes": max(0, len(org_events) - 1),
            "operator_cpu_seconds": round(proc_cpu(pid) - cpu0, 2),
            "operator_rss_growth_mib": round(proc_mem(pid)["VmRSS"] - rss0, 1),
        }

    # --- suspension latency
    def suspensions(self, entries: list[dict[str, Any]]) -> None:
        n, sim = self.n, self.sim
        count = min(self.args.suspensions, max(1, n // 10))
        index = {e["user"]["account_id"]: i for i, e in enumerate(entries)}
        targets = [
            e["user"]["account_id"]
            for e in entries
            if e["user"]["account_status"] == "active" and not e["scim"]
        ][: 2 * count]
        one_by_one, at_once = targets[:count], targets[count:]
        sim.clear_requests()
        latencies, status_latencies = [], []
        log(f"N={n}: {count} suspensions one at a time")
        for account_id in one_by_one:
            name = f"u{index[account_id]:05d}"
            start = self.acc.count()
            t0 = now()
            self.bulk.patch_account(name, {"desiredState": "Suspended"})
            got = wait_disables(sim, {account_id}, timeout=30)
            latencies.append(got[account_id] - t0)
            self.acc.wait(account_state(name, "Suspended"), timeout=30)
            status_latencies.append(self._status_time(name, "Suspended", start) - t0)
        log(f"N={n}: {len(at_once)} suspensions at once")
        sim.clear_requests()
        patched: dict[str, float] = {}
        acc0 = self.acc.count()

        def patch(account_id: str) -> None:
            patched[account_id] = now()
            self.bulk.patch_account(f"u{index[account_id]:05d}", {"desiredState": "Suspended"})

        t0 = now()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(patch, at_once))
        t_patched = now()
        got = wait_disables(sim, set(at_once), timeout=120)
        names = {f"u{index[a]:05d}" for a in at_once}
        wait_statuses(self.acc, names, lambda s: s.get("accountStatus") == "Suspended", 120)
        t_status = max(self._status_time(x, "Suspended", acc0) for x in names)
        batch_latencies = [got[a] - patched[a] for a in at_once]
        calls = sim.requests("disable")
        self.result["suspension"] = {
            "one_at_a_time": {
                "count": len(latencies),
                "p50_seconds": round(percentile(latencies, 50), 3),
                "p95_seconds": round(percentile(latencies, 95), 3),
                "max_seconds": round(max(latencies), 3),
                "to_status_p50_seconds": round(percentile(status_latencies, 50), 3),
                "to_status_max_seconds": round(max(status_latencies), 3),
            },
            "at_once": {
                "count": len(at_once),
                "patching_seconds": round(t_patched - t0, 2),
                "all_disabled_seconds": round(max(got.values()) - t0, 2),
                "all_statuses_seconds": round(t_status - t0, 2),
                "per_account_p50_seconds": round(percentile(batch_latencies, 50), 3),
                "per_account_max_seconds": round(max(batch_latencies), 3),
                "disable_calls": len(calls),
            },
        }
        log(f"N={n}: suspension {self.result['suspension']}")

    def _status_time(self, name: str, state: str, start: int = 0) -> float:
        """When the watch first showed this account's status in `state`, from event `start` on."""
        for e in self.acc.events(start):
            if e.name == name and e.status.get("accountStatus") == state:
                return e.time
        return float("nan")

    # --- a sync under a rate limit
    def rate_limited_sync(self) -> None:
        sim, r, window = self.sim, self.args.rate_limit, 60.0
        log(f"N={self.n}: sync under a rate limit of {r} requests per {window:.0f}s")
        sim.set_rate_limit(r, window_seconds=window)
        sim.clear_requests()
        org0 = self.orgw.count()
        before = self.org_status().get("lastSyncTime")
        t0 = now()
        self.bulk.request_sync(self.org_name)

        def finished(w: ObjectWatch) -> bool:
            for e in w.events(org0):
                if e.status.get("lastSyncTime") != before:
                    return True
                for c in e.status.get("conditions") or ():
                    if (
                        c.get("type") == "Synced"
                        and c.get("status") == "False"
                        and c.get("reason") != "RateLimited"  # waiting, not failed
                    ):
                        return True
            return False

        # Both listings draw on the one limit: the v1 users pages and the v2 search pages.
        pages_at_least = 2 * self.result["min_requests"]
        ok = self.orgw.wait(finished, timeout=pages_at_least / r * window + 3 * window)
        t_end = now()
        requests = sorted(
            sim.requests("list_users") + sim.requests("search_users"),
            key=lambda e: parse_sim_time(e["time"]),
        )
        pages = sum(1 for e in requests if e["status"] == 200)
        sim.set_rate_limit(None)
        status = self.org_status()
        succeeded = status.get("lastSyncTime") != before
        first = parse_sim_time(requests[0]["time"]) if requests else t0
        last_ok = max(
            (parse_sim_time(e["time"]) for e in requests if e["status"] == 200), default=t_end
        )
        # Fixed windows aligned to the epoch: the earliest the last page can be answered.
        offset = first % window
        windows_needed = math.ceil(pages / r)
        fixed_window_min = max(0.0, (windows_needed - 1) * window - offset)
        self.result["rate_limited"] = {
            "limit_per_window": r,
            "window_seconds": window,
            "pages": pages,
            "v1_pages": sum(
                1 for e in requests if e["status"] == 200 and e["endpoint"] == "list_users"
            ),
            "pages_over_r_seconds": round(pages / r * window, 1),
            "fixed_window_minimum_seconds": round(fixed_window_min, 1),
            "first_to_last_page_seconds": round(last_ok - first, 1),
            "listing_seconds": status.get("lastSyncDurationSeconds"),
            "requests": len(requests),
            "responses_429": sum(1 for e in requests if e["status"] == 429),
            "failed_syncs": 0 if (ok and succeeded) else 1,
            "org_rateLimitedResponses": status.get("rateLimitedResponses"),
        }
        log(f"N={self.n}: rate limited {self.result['rate_limited']}")

    def operator_usage(self) -> dict[str, Any]:
        mem = proc_mem(self.pid)
        return {
            "peak_rss_mib": round(mem["VmHWM"], 1),
            "rss_mib": round(mem["VmRSS"], 1),
            "cpu_seconds": round(proc_cpu(self.pid), 2),
        }


def wait_disables(sim: Any, ids: set[str], timeout: float) -> dict[str, float]:
    """When the simulator answered each account's disable call with 204 (its own clock)."""
    deadline = now() + timeout
    seen: dict[str, float] = {}
    while now() < deadline:
        for entry in sim.requests("disable"):
            account_id = entry["path"].split("/")[2]
            if account_id in ids and account_id not in seen and entry["status"] == 204:
                seen[account_id] = parse_sim_time(entry["time"])
        if len(seen) == len(ids):
            return seen
        time.sleep(0.01)
    raise TimeoutError(f"{len(ids) - len(seen)} disable calls never arrived")


# ---------------------------------------------------------------------------------- report


def fmt(value: Any, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value}{unit}"


def g(d: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def table(results: dict[str, Any]) -> str:
    scenarios = results["scenarios"]
    head = ("Measure", *[f"N = {s['n']:,}" for s in scenarios], "Target")
    rows: list[tuple[str, ...]] = []

    def row(label: str, render: Any, target: str = "") -> None:
        cells = []
        for s in scenarios:
            try:
                cells.append(render(s))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("-")
        rows.append((label, *cells, target))

    fs = "first_sync"
    row(
        "Atlassian requests per full sync: v1 pages + v2 pages (minimum ceil(N/100) each)",
        lambda s: f"{s[fs]['v1_requests']} + {s[fs]['v2_requests']} (min {s['min_requests']} each)",
        "= pages",
    )
    row(
        "First sync: first request -> every status written",
        lambda s: (
            f"{s[fs]['first_request_to_all_statuses_seconds']} s"
            if s[fs]["complete"]
            else f"not done in {results['first_sync_timeout']:.0f} s "
            f"({s[fs]['statuses_written']} written)"
        ),
        "< 120 s at 10k",
    )
    row(
        "  operator start -> every status written",
        lambda s: (
            f"{s[fs]['operator_start_to_all_statuses_seconds']} s" if s[fs]["complete"] else "-"
        ),
    )
    row("  listing (org lastSyncDurationSeconds)", lambda s: f"{s[fs]['listing_seconds']} s")
    row(
        "  account status writes (of which without observation)",
        lambda s: f"{s[fs]['account_writes']} ({s[fs]['account_writes_without_observation']})",
        "N",
    )
    row(
        "Quiet sync: account writes / org status writes",
        lambda s: f"{s['quiet_sync']['account_writes']} / {s['quiet_sync']['org_status_writes']}",
        "0 / 1",
    )
    row(
        "Quiet sync: wall (annotation -> operator idle)",
        lambda s: f"{s['quiet_sync']['wall_seconds']} s",
        "< 5 s at 10k",
    )
    row("  of which listing", lambda s: f"{s['quiet_sync']['listing_seconds']} s")
    row("  operator CPU", lambda s: f"{s['quiet_sync']['operator_cpu_seconds']} s")
    off = "quiet_sync_without_enrichment"
    row(
        "Quiet sync requests, with / without the v2 search",
        lambda s: f"{s['quiet_sync']['atlassian_requests']} / {s[off]['atlassian_requests']}",
    )
    row(
        "Quiet sync listing time, with / without the v2 search",
        lambda s: (
            f"{s['quiet_sync']['listing_seconds']} / {s[off]['listing_seconds']} s "
            f"({s['quiet_sync']['listing_seconds'] / s[off]['listing_seconds']:.2f}x)"
        ),
    )
    one, many = ("suspension", "one_at_a_time"), ("suspension", "at_once")
    row(
        "Suspension latency, one at a time: p50 / p95 / max",
        lambda s: (
            f"{g(s, *one, 'p50_seconds')} / {g(s, *one, 'p95_seconds')} / "
            f"{g(s, *one, 'max_seconds')} s (n={g(s, *one, 'count')})"
        ),
        "p50 < 0.5 s, p95 < 2 s",
    )
    row(
        "Suspensions at once: last disable call / last status",
        lambda s: (
            f"{g(s, *many, 'all_disabled_seconds')} / "
            f"{g(s, *many, 'all_statuses_seconds')} s (n={g(s, *many, 'count')})"
        ),
        "100 in < 10 s",
    )
    row(
        "Operator peak RSS (VmHWM)",
        lambda s: f"{s['operator']['peak_rss_mib']} MiB",
        "< 300 MB at 10k",
    )
    row("Operator CPU seconds (whole scenario)", lambda s: f"{s['operator']['cpu_seconds']} s")
    oq = "owner_quiet_pass"
    row(
        "Quiet pass in-process (real OrgOwner, fakes): CPU per account (whole pass)",
        lambda s: (
            f"{s[oq]['per_account_cpu_us']} µs ({s[oq]['cpu_seconds_median']} s, "
            f"{s[oq]['status_writes']} writes)"
        ),
    )
    row(
        "Naive: Atlassian requests per interval (ratio)",
        lambda s: (
            f"{s['naive']['requests']} "
            f"({s['naive']['requests'] / s['quiet_sync']['atlassian_requests']:.0f}x)"
        ),
    )
    row(
        "Naive: wall per interval, 4 at a time (ratio to listing)",
        lambda s: (
            f"{s['naive']['wall_seconds']} s "
            f"({s['naive']['wall_seconds'] / s['quiet_sync']['listing_seconds']:.0f}x)"
        ),
    )
    for s in scenarios:
        rl = s.get("rate_limited")
        if not rl:
            continue
        here = lambda x, text, s=s: text if x is s else ""  # noqa: E731
        naive_min = s["n"] / rl["limit_per_window"] * rl["window_seconds"] / 60
        rows.append(
            (
                f"Rate limit {rl['limit_per_window']} requests/min, {rl['pages']} pages "
                f"(v1 users {rl['v1_pages']} + v2 search)",
                *["" for _ in scenarios],
                "",
            )
        )
        rows.append(
            (
                "  sync time / pages÷R / fixed-window minimum",
                *[
                    here(
                        x,
                        f"{rl['listing_seconds']} s / {rl['pages_over_r_seconds']} s / "
                        f"{rl['fixed_window_minimum_seconds']} s",
                    )
                    for x in scenarios
                ],
                "within 10% of pages/R",
            )
        )
        rows.append(
            (
                "  429 responses / failed syncs",
                *[here(x, f"{rl['responses_429']} / {rl['failed_syncs']}") for x in scenarios],
                "0 failed",
            )
        )
        rows.append(
            (
                "  naive at this limit: time per interval (N / R)",
                *[
                    here(
                        x,
                        f"{naive_min:.0f} min "
                        f"({naive_min * 60 / max(1.0, rl['listing_seconds'] or 1.0):.0f}x)",
                    )
                    for x in scenarios
                ],
                "",
            )
        )
    la = results.get("listing_alone")
    if la:
        rows.append(
            (
                f"Listing alone, {la['n']:,} users: requests / wall / snapshot / peak RSS",
                f"{la['requests']} (min {la['min_requests']}) / {la['listing_seconds']} s / "
                f"{la['snapshot_seconds']} s / {la['peak_rss_mib']} MiB",
                *["" for _ in scenarios[1:]],
                "",
            )
        )
    return markdown(head, rows)


def markdown(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    return "\n".join([line, sep, *body])


def owner_table(results: dict[str, Any]) -> str:
    """The operator's own code path: each figure against a baseline measured in the same run."""
    head = ("The operator's own code path", "Result", "Baseline (same run)", "Ratio", "Target")
    rows: list[tuple[str, ...]] = []
    w = results.get("owner_waiting") or {}
    if "waiting_pass" in w:
        busy, base = w["waiting_pass"], w["quiet_pass"]
        rows.append(
            (
                f"One pass over {w['n']:,} accounts, {busy['waiting_on_budget']:,} waiting on "
                f"maxPerSync {w['max_per_sync']} (in-process): CPU",
                f"{busy['cpu_seconds_median']} s ({busy['per_account_cpu_us']} µs/account, "
                f"{busy['status_writes']} writes)",
                f"quiet pass, {base['accounts']:,} observe-only: {base['cpu_seconds_median']} s",
                f"{w['ratio_cpu_waiting_to_quiet']}x (medians; mins "
                f"{w.get('ratio_cpu_waiting_to_quiet_min')}x)",
                "< 0.5 s CPU",
            )
        )
    elif w:
        rows.append(
            ("One pass with suspensions waiting (in-process)", w.get("error", "-"), "", "", "")
        )
    h = results.get("owner_head_of_line") or {}
    if "blocked" in h:
        b, i = h["blocked"], h["idle"]
        rows.append(
            (
                f"Head-of-line (in-process): {h['fast_suspensions']} suspensions of org fast one "
                f"at a time, {b['slow_calls_held']} calls of org slow held; spec change -> "
                "disable call p50 / p95 / max",
                f"{b['p50_ms']} / {b['p95_ms']} / {b['max_ms']} ms",
                f"org slow idle: {i['p50_ms']} / {i['p95_ms']} / {i['max_ms']} ms",
                f"{h['ratio_p95_blocked_to_idle']}x (p95)",
                "p95 < 1 s",
            )
        )
    elif h:
        rows.append(("Head-of-line (in-process)", h.get("error", "-"), "", "", ""))
    e = results.get("head_of_line_e2e") or {}
    if "blocked" in e:
        b, i = e["blocked"], e["idle"]
        ms = lambda x: f"{x * 1000:.1f}"  # noqa: E731
        rows.append(
            (
                f"Head-of-line end to end (operator, 2 simulators): {e['fast_suspensions']} "
                f"suspensions of org fast, {e['slow_suspensions']} of org slow held by 429 + "
                "Retry-After: 300; spec patch -> disable answered p50 / p95 / max",
                f"{ms(b['p50_seconds'])} / {ms(b['p95_seconds'])} / {ms(b['max_seconds'])} ms",
                f"org slow idle: {ms(i['p50_seconds'])} / {ms(i['p95_seconds'])} / "
                f"{ms(i['max_seconds'])} ms",
                f"{e['ratio_p95_blocked_to_idle']}x (p95)",
                "p95 < 1 s",
            )
        )
    elif e:
        rows.append(("Head-of-line end to end", e.get("error", "-"), "", "", ""))
    return markdown(head, rows) if rows else ""


def profile_summary(profile_dir: Path) -> str:
    out = io.StringIO()
    for path in sorted(profile_dir.glob("*.prof")):
        out.write(f"\n=== {path.name}: top 25 by own time ===\n")
        stats = pstats.Stats(str(path), stream=out)
        stats.strip_dirs().sort_stats("tottime").print_stats(25)
        out.write(f"\n=== {path.name}: top 25 by cumulative time ===\n")
        stats.sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(int(mem) / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


# ------------------------------------------------------------------------------------ main


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--listing-child":
        listing_child(sys.argv[2], sys.argv[3], sys.argv[4] or None)
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller: N = 300 and 2,000, listing alone at 10,000"
    )
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--listing", type=int, help="users for the listing alone")
    parser.add_argument("--suspensions", type=int, default=100)
    parser.add_argument("--rate-limit", type=int, default=60, help="requests per 60 s window")
    parser.add_argument("--quiet-syncs", type=int, default=2)
    parser.add_argument("--no-rate-limit", action="store_true")
    parser.add_argument(
        "--first-sync-timeout",
        type=float,
        default=240.0,
        help="give up on a first sync after this many seconds (default 240)",
    )
    parser.add_argument(
        "--waiting", type=int, default=10000, help="suspensions waiting on the budget, in-process"
    )
    parser.add_argument(
        "--hol", type=int, default=100, help="org fast's suspensions, head-of-line in-process"
    )
    parser.add_argument("--no-e2e-hol", action="store_true", help="skip head-of-line end to end")
    parser.add_argument(
        "--no-orgs", action="store_true", help="skip many orgs in one operator (bench_orgs.py)"
    )
    parser.add_argument("--orgs", type=int, default=20, help="many orgs: how many (default 20)")
    parser.add_argument(
        "--org-users", type=int, help="many orgs: users per org (default 2,500; --quick: 100)"
    )
    parser.add_argument(
        "--org-held", type=int, default=80, help="many orgs: org 1's suspensions held"
    )
    parser.add_argument(
        "--scale-sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        help="discovery at scale (bench_scale.py): users per org, comma-separated "
        "(default 5000,10000,25000,50000; --quick: 1000,3000)",
    )
    parser.add_argument("--no-scale", action="store_true", help="skip discovery at scale")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    # Only a run of every measurement at its reference size replaces bench/latest.*.
    shape = ("quick", "sizes", "listing", "suspensions", "rate_limit", "quiet_syncs",
             "no_rate_limit", "waiting", "hol", "no_e2e_hol", "no_orgs", "orgs", "org_users",
             "org_held", "scale_sizes", "no_scale")  # fmt: skip
    full = all(getattr(args, key) == parser.get_default(key) for key in shape)
    sizes = args.sizes or ([300, 2000] if args.quick else [1000, 10000])
    listing_n = args.listing or (10000 if args.quick else 50000)
    org_users = args.org_users or (100 if args.quick else 2500)
    scale_sizes = args.scale_sizes or ([1000, 3000] if args.quick else None)
    if args.quick and args.suspensions == 100:
        args.suspensions = 20
    if args.quick and args.rate_limit == 60:
        args.rate_limit = 12

    clean_up_on_signals()
    started = now()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    profile_dir = None
    if os.environ.get("BENCH_PROFILE"):
        profile_dir = args.out / f"profile-{stamp}"
        profile_dir.mkdir()
    work = Path(tempfile.mkdtemp(prefix="atlassian-bench-"))
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine(),
        "profiled": profile_dir is not None,
        "first_sync_timeout": args.first_sync_timeout,
        "operator_source": os.environ.get("BENCH_OPERATOR_NOTE", "tree"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "scenarios": [],
    }
    with control_plane(work) as kubeconfig:
        for i, n in enumerate(sizes):
            last = i == len(sizes) - 1
            results["scenarios"].append(
                Scenario(kubeconfig, n, args, profile_dir).run(
                    rate_limited=last and not args.no_rate_limit
                )
            )
        # The scenarios of several orgs; the figures so far are still worth writing if one fails.
        import bench_orgs

        if not args.no_e2e_hol:
            try:
                results["head_of_line_e2e"] = bench_orgs.head_of_line(kubeconfig, args.suspensions)
            except Exception as exc:
                log(f"head-of-line e2e failed: {exc!r}")
                results["head_of_line_e2e"] = {"error": repr(exc)}
        if not args.no_orgs:
            log(f"many orgs: {args.orgs} orgs x {org_users} users in one operator")
            try:
                results["many_orgs"] = bench_orgs.many_orgs(
                    kubeconfig, args.orgs, org_users, args.suspensions, args.org_held,
                    quiet_rounds=args.quiet_syncs,
                    # the first syncs of every org at once: at least 25 statuses a second
                    first_sync_timeout=max(args.first_sync_timeout, args.orgs * org_users / 25),
                    profile=profile_dir / "operator-orgs.prof" if profile_dir else None,
                )  # fmt: skip
            except Exception as exc:
                log(f"many orgs failed: {exc!r}")
                results["many_orgs"] = {"error": repr(exc)}
        if not args.no_scale:
            import bench_scale

            sizes_scale = scale_sizes or list(bench_scale.SIZES)
            log(f"discovery at scale: one org of {sizes_scale} users, each in a fresh operator")
            results["scale"] = bench_scale.run(kubeconfig, sizes_scale)
    log(f"listing alone at {listing_n} users")
    results["listing_alone"] = listing_alone(listing_n, profile_dir)
    log(f"the owner in-process: a pass with {args.waiting} suspensions waiting on the budget")
    results["owner_waiting"] = owner_in_process("waiting", args.waiting, profile_dir)
    log(f"the owner in-process: head-of-line blocking, {args.hol} suspensions")
    results["owner_head_of_line"] = owner_in_process("hol", args.hol, None)
    results["total_seconds"] = round(now() - started, 1)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]

    import bench_orgs

    sections = [table(results), owner_table(results), bench_orgs.table(results)]
    if "scale" in results:
        import bench_scale

        head, *body = bench_scale.rows(results["scale"])
        sections.append(markdown(head, body))
    text = "\n\n".join(section for section in sections if section)
    md = (
        f"# Benchmark {results['started']}{' (quick)' if args.quick else ''}"
        f"{' (PROFILED: times inflated)' if profile_dir else ''}\n\n"
        f"Machine: {results['machine']['cpus']} CPUs ({results['machine']['cpu']}), "
        f"{results['machine']['memory_gib']} GiB, Python {results['machine']['python']}. "
        f"Operator: {results['operator_source']}. "
        f"Total {results['total_seconds']} s. Load average (1, 5, 15 min) at start "
        f"{results['load_average_at_start']}, at end {results['load_average_at_end']}: this "
        "machine is shared, so compare the ratios against baselines of the same run.\n\n"
        f"{text}\n"
    )
    (args.out / f"{stamp}.json").write_text(json.dumps(results, indent=1))
    (args.out / f"{stamp}.md").write_text(md)
    if profile_dir:
        summary = profile_summary(profile_dir)
        (profile_dir / "summary.txt").write_text(summary)
        log(f"profiles in {profile_dir}")
    elif full:
        (ROOT / "bench" / "latest.json").write_text(json.dumps(results, indent=1) + "\n")
        (ROOT / "bench" / "latest.md").write_text(md)
    print("\n" + md, flush=True)
    subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
