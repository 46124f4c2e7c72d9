#!/usr/bin/env python3
"""Scale with account discovery: one org of N users, first sync, memory per account (issue 14).

For each N (default 5,000, 10,000, 25,000 and 50,000) in a fresh namespace: a simulator org of
N users, a fresh operator process watching only that namespace, then an AtlassianOrg with
`spec.accountDiscovery.enabled`, so that the operator lists the org, creates an
AtlassianAccount per user and writes each one's status. Measured:

- first sync: the first Atlassian request (simulator log, millisecond UTC) -> the last
  AtlassianAccount to get a status (`status.accountStatus`), from the harness's one watch on
  the namespace's accounts (`ObjectWatch`, keeping three fields of each version; never a
  re-list of N objects);
- Kubernetes writes: account creates (ADDED events) and status writes (MODIFIED events, less
  our one spec patch) per second of that first sync, and the API server's own count
  (`apiserver_request_total`, POST and PATCH, from its /metrics) as a cross-check;
- operator peak RSS (VmHWM), its RSS once the sync is done, and CPU seconds, from /proc; RSS is
  sampled every 0.5 s as well, so that the phase holding the peak shows (`rss_at_phases`);
- where the machine's CPU went during the first sync: the operator, the API server, etcd, the
  rest (this harness, its watch, the simulator, anything else running), and steal, from /proc:
  on a 2-core machine shared by all of them, a busy neighbour shows here;
- a suspension during the first sync: once a third of the statuses are written, one account
  whose user is active gets `spec.desiredState: Suspended`; latency = that patch -> the
  simulator logging the disable call (the same clock);

then bytes per account = the least-squares slope of peak RSS over N, and its intercept.

`run(kubeconfig, sizes)` does the measuring for `hack/bench.py` (it reports, it asserts
nothing); `rows(results)` gives the Markdown table's rows. Alone:

    .venv/bin/python hack/bench_scale.py --sizes 5000,10000

starts its own control plane in a temporary folder and writes bench/results/scale-<time>.*.
`--tracemalloc DIR` runs the operator under tracemalloc and dumps snapshots there (before the
org exists, and once the first sync is done) for `python -m tracemalloc`-style comparison: it
slows the operator down and inflates RSS, so its figures are not the bench's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT / "hack", ROOT / "hack" / "controlplane", ROOT / "tests", ROOT / "operator"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench import (  # noqa: E402 - the harness: its helpers, shared with this scenario
    API_KEY,
    bench_namespace,
    control_plane,
    control_plane_pids,
    log,
    machine_cpu,
    markdown,
    org_spec,
    proc_cpu,
    proc_mem,
    wait_cpu_idle,
)

from support.kube import Kube  # noqa: E402
from support.operator import OperatorProcess  # noqa: E402
from support.reliability import ACCOUNTS, ORGS, BulkKube, ObjectWatch, sim_time  # noqa: E402
from support.simulator import Simulator, start_simulator  # noqa: E402

ORG = "acme"
PAGE_SIZE = 100
SIZES = (5_000, 10_000, 25_000, 50_000)


def _memory_limit_mib() -> int:
    """The Deployment's memory limit as shipped (manifests/base/deployment.yaml), in MiB."""
    import yaml

    deployment = yaml.safe_load((ROOT / "manifests" / "base" / "deployment.yaml").read_text())
    limit = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    units = {"Mi": 1, "Gi": 1024}
    value = str(limit["memory"])
    return int(value[:-2]) * units[value[-2:]]


MEMORY_LIMIT_MIB = _memory_limit_mib()
MEMORY_TARGET = 0.6  # peak RSS under 60% of the limit

# The operator under tracemalloc: SIGUSR1 dumps a snapshot into the folder named by
# BENCH_TRACEMALLOC_DIR (numbered in order), then the real entry point runs.
# Tracing starts after the imports: they are no account's, and traced they take minutes.
_TRACED_MAIN = """
import itertools, os, signal, sys, tracemalloc
import kopf, kubernetes, httpx, pydantic
from atlassian_operator import cli, handlers, runner
from atlassian_operator.reconcile import fleet
from kubernetes import client  # its API classes import lazily, and slowly
client.CustomObjectsApi, client.CoreV1Api, client.V1Secret, client.V1ObjectMeta
tracemalloc.start(int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "12")))
_out, _n = os.environ["BENCH_TRACEMALLOC_DIR"], itertools.count()
def _dump(*_):
    tracemalloc.take_snapshot().dump(os.path.join(_out, f"snapshot-{next(_n)}.tracemalloc"))
    open(os.path.join(_out, "dumped"), "a").write("x")
signal.signal(signal.SIGUSR1, _dump)
def _peaks():  # the traced memory's high-water mark, as snapshot-peak (overwritten as it grows)
    import threading, time
    def run():
        dumped = 0
        while True:
            time.sleep(1.0)
            current = tracemalloc.get_traced_memory()[0]
            if current > dumped * 1.05 + (1 << 20):
                tracemalloc.take_snapshot().dump(os.path.join(_out, "snapshot-peak.tracemalloc"))
                dumped = current
    threading.Thread(target=run, daemon=True).start()
_peaks()
sys.exit(cli.main(sys.argv[1:]))
"""


class RssSampler:
    """The operator's RSS every `period` seconds, in a thread: when the peak happened."""

    def __init__(self, pid: int, period: float = 0.5) -> None:
        self.pid, self.period = pid, period
        self.samples: list[tuple[float, float]] = []  # (time, RSS MiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            with contextlib.suppress(OSError):
                self.samples.append((time.time(), proc_mem(self.pid)["VmRSS"]))

    def peak(self, start: float = 0.0, end: float = math.inf) -> float | None:
        inside = [rss for t, rss in self.samples if start <= t <= end]
        return max(inside) if inside else None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# -------------------------------------------------------------------------------- the watch


def account_summary(obj: dict[str, Any]) -> dict[str, Any]:
    """What the watch keeps of each version of 50,000 accounts: its name and three fields."""
    status = obj.get("status") or {}
    keep = ("accountStatus", "accountId", "atlassianStatus")
    return {
        "metadata": {"name": obj["metadata"]["name"]},
        "status": {k: status[k] for k in keep if k in status},
    }


class Tally:
    """The first sync as one watch (`ObjectWatch`) on the namespace's accounts saw it: when each
    account was added and first showed `accountStatus`, and how many status writes came.
    `update()` reads only the events that arrived since its last call (50,000 accounts)."""

    def __init__(self, watch: ObjectWatch) -> None:
        self.watch = watch
        self.added: dict[str, float] = {}
        self.observed: dict[str, float] = {}  # name -> when status.accountStatus first showed
        self.modified = 0
        self._seen = 0

    def update(self) -> Tally:
        new = self.watch.events(self._seen)
        self._seen += len(new)
        for event in new:
            if event.type == "ADDED":
                self.added.setdefault(event.name, event.time)
            elif event.type == "MODIFIED":
                self.modified += 1
            if event.status.get("accountStatus"):
                self.observed.setdefault(event.name, event.time)
        return self

    def wait_observed(self, count: float, timeout: float) -> bool:
        return self.watch.wait(lambda _: len(self.update().observed) >= count, timeout)


# ---------------------------------------------------------------------- the API server's count


def apiserver_writes(kube: Kube) -> dict[str, int]:
    """Requests the API server counted, by `verb resource[/subresource]`, for our kinds."""
    text = kube.kubectl("get", "--raw", "/metrics", namespaced=False).stdout
    counts: dict[str, int] = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels_text, _, value = line[len("apiserver_request_total{") :].rpartition("} ")
        labels = dict(part.split("=", 1) for part in labels_text.split('",') if "=" in part)
        labels = {k: v.strip('"') for k, v in labels.items()}
        resource, verb = labels.get("resource", ""), labels.get("verb", "")
        if resource not in (ACCOUNTS, ORGS, "events") or verb not in ("POST", "PATCH", "PUT"):
            continue
        sub = labels.get("subresource", "")
        key = f"{verb} {resource}{'/' + sub if sub else ''} {labels.get('code', '')}"
        counts[key] = counts.get(key, 0) + int(float(value))
    return counts


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in sorted(after.items()) if v - before.get(k, 0)}


# ------------------------------------------------------------------------------- one size


def _operator(
    kube: Kube, sim: Simulator, traced: Path | None, profile: Path | None
) -> OperatorProcess:
    """The operator as a process; under tracemalloc (`traced`) or cProfile (`profile`: the
    file it writes when it stops), which slow it down."""
    launcher = ["-m", "atlassian_operator.cli"]
    if profile is not None:
        launcher = ["-m", "cProfile", "-o", str(profile), *launcher]
    if traced is not None:
        launcher = ["-c", _TRACED_MAIN]
        os.environ["BENCH_TRACEMALLOC_DIR"] = str(traced)  # inherited by the operator
    return OperatorProcess(kube.kubeconfig, [kube.namespace], launcher=launcher, allow=[sim.url])


def _dump_snapshot(pid: int, folder: Path, timeout: float = 600.0) -> None:
    """SIGUSR1 to the traced operator; wait until it has written the snapshot."""
    marker = folder / "dumped"
    before = marker.stat().st_size if marker.exists() else 0
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists() and marker.stat().st_size > before:
            return
        time.sleep(0.5)
    raise TimeoutError("the operator wrote no tracemalloc snapshot")


def measure(
    control: Kube,
    n: int,
    *,
    timeout: float,
    suspend_fraction: float = 1 / 3,
    sync_interval: str = "30m",
    traced: Path | None = None,
    profile: Path | None = None,
    cleanup: bool = True,
) -> dict[str, Any]:
    """One size: simulator, namespace, operator, org with discovery; see the module docstring."""
    namespace = f"scale-{n}-{uuid.uuid4().hex[:6]}"
    result: dict[str, Any] = {"n": n, "namespace": namespace, "sync_interval": sync_interval}
    t0 = time.time()
    with contextlib.ExitStack() as stack:
        sim = stack.enter_context(
            start_simulator(
                users=n, seed=14, page_size=PAGE_SIZE, org_id=f"org-scale-{n}", api_key=API_KEY
            )
        )
        result["simulator_start_seconds"] = round(time.time() - t0, 1)
        kube, bulk = bench_namespace(control.kubeconfig, namespace)
        stack.callback(bulk.close)
        if cleanup:  # after the operator has stopped
            stack.callback(_delete_namespace, kube, bulk)
        op = _operator(kube, sim, traced, profile)
        stack.callback(op.stop)  # also when it never got healthy
        op.start()
        assert op.process is not None
        pid = op.process.pid
        rss_idle = proc_mem(pid)["VmRSS"]
        if traced is not None:
            _dump_snapshot(pid, traced)  # snapshot-0: no org, no account
        sampler = RssSampler(pid)
        stack.callback(sampler.stop)
        watch = stack.enter_context(ObjectWatch(kube, ACCOUNTS, keep=account_summary))
        tally = Tally(watch)
        writes_before = apiserver_writes(control)
        cpu_split = CpuSplit(pid, control.kubeconfig)
        sim.clear_requests()
        log(f"N={n}: operator up ({rss_idle:.0f} MiB); creating the org with discovery")
        t_org = time.time()
        spec = {**org_spec(sim, 200), "syncInterval": sync_interval}
        bulk.create_orgs({ORG: {**spec, "accountDiscovery": {"enabled": True}}})

        suspension = _suspend_during_sync(bulk, sim, tally, n, suspend_fraction, timeout)
        done = tally.wait_observed(n, timeout - (time.time() - t_org))
        t_end = time.time()
        cpu_seconds = cpu_split.seconds()
        peak_at_done = proc_mem(pid)["VmHWM"]
        idle = _idle_since(pid) if done else None  # the echoes of the last writes handled
        mem = proc_mem(pid)
        writes_after = apiserver_writes(control)
        requests = sim.requests()
        listing = [r for r in requests if r["endpoint"] in ("list_users", "search_users")]
        first = min((sim_time(r) for r in listing), default=math.nan)
        tally.update()
        last_status = max(tally.observed.values(), default=math.nan)
        added = list(tally.added.values())
        org_status = bulk.org(ORG).get("status") or {}
        seconds = last_status - first
        status_writes = tally.modified - (1 if suspension.get("patched_at") else 0)
        api = _delta(writes_after, writes_before)
        if suspension.get("account"):
            suspension["final_status"] = watch.latest(suspension["account"]).get("accountStatus")
        phases = {
            "first_request": first,
            "listing_done": first + float(org_status.get("lastSyncDurationSeconds") or math.nan),
            "first_create": min(added, default=math.nan),
            "last_create": max(added, default=math.nan),
            "last_status": last_status,
        }
        result.update(
            complete=done,
            accounts_created=len(tally.added),
            statuses_written=len(tally.observed),
            first_sync_seconds=round(seconds, 1),
            org_to_all_statuses_seconds=round(last_status - t_org, 1),
            listing_seconds=org_status.get("lastSyncDurationSeconds"),
            atlassian_requests=len(listing),
            creates=len(tally.added),
            status_writes=status_writes,
            writes_per_second=round((len(tally.added) + status_writes) / seconds, 1)
            if seconds > 0
            else None,
            creates_per_second=_rate(added),
            apiserver_writes=api,
            apiserver_account_writes=sum(
                v for k, v in api.items() if k.split()[1].startswith(ACCOUNTS)
            ),
            peak_rss_mib=round(mem["VmHWM"], 1),
            peak_rss_at_last_status_mib=round(peak_at_done, 1),
            rss_at_end_mib=round(mem["VmRSS"], 1),
            idle_after_last_status_seconds=round(idle - last_status, 1) if idle else None,
            rss_idle_mib=round(rss_idle, 1),
            rss_at_phases={k: round(sampler.peak(0, v) or math.nan, 1) for k, v in phases.items()},
            phases_seconds={k: round(v - first, 1) for k, v in phases.items()},
            operator_cpu_seconds=cpu_seconds["operator"],
            cpu_seconds=cpu_seconds,
            suspension=suspension,
            load_average=[round(x, 2) for x in os.getloadavg()],
            wall_seconds=round(t_end - t0, 1),
        )
        if traced is not None:
            _dump_snapshot(pid, traced)  # snapshot-1: the first sync done
        log(f"N={n}: {_summary(result)}")
        with contextlib.suppress(Exception):
            op.assert_clean_log([API_KEY], errors_allowed=True)
            result["log_clean"] = True
    return result


class CpuSplit:
    """Where the machine's CPU goes from now on: the operator, the API server, etcd and the rest
    (this harness, its watch, the simulator, anything else on the machine), and how much of the
    rest the hypervisor stole; a busy neighbour shows as a large rest."""

    def __init__(self, operator_pid: int, kubeconfig: Path | str) -> None:
        self._pids = {"operator": operator_pid, **control_plane_pids(kubeconfig)}
        self._before = self._read()

    def _read(self) -> dict[str, float]:
        seconds = machine_cpu()  # busy, steal
        for name, pid in self._pids.items():
            with contextlib.suppress(OSError):
                seconds[name] = proc_cpu(pid)
        return seconds

    def seconds(self) -> dict[str, float]:
        """CPU seconds of each since this was made, and of the whole machine."""
        after = self._read()
        used = {k: after[k] - self._before[k] for k in after if k in self._before}
        busy, steal = used.pop("busy"), used.pop("steal")
        split = {**used, "rest": busy - sum(used.values()), "machine": busy, "steal": steal}
        return {k: round(v, 1) for k, v in split.items()}


def _idle_since(pid: int) -> float | None:
    try:
        return wait_cpu_idle(pid, quiet=1.0)
    except TimeoutError:
        return None


def _rate(times: Sequence[float]) -> float | None:
    if len(times) < 2:
        return None
    span = max(times) - min(times)
    return round(len(times) / span, 1) if span > 0 else None


def _suspend_during_sync(
    bulk: BulkKube, sim: Simulator, tally: Tally, n: int, fraction: float, timeout: float
) -> dict[str, Any]:
    """Once `fraction` of the statuses are written, suspend one active user's account."""
    if not tally.wait_observed(n * fraction, timeout):
        return {"error": f"fewer than {fraction:.0%} of the statuses within {timeout:.0f}s"}
    written = list(tally.observed)
    latest = {name: tally.watch.latest(name) for name in written}
    candidates = [name for name in written if latest[name].get("atlassianStatus") == "active"]
    if not candidates:
        return {"error": "no active account observed yet"}
    name = candidates[len(candidates) // 2]
    account_id = latest[name]["accountId"]
    patched_at = time.time()
    bulk.patch_account(name, {"desiredState": "Suspended"})
    path = f"/users/{account_id}/manage/lifecycle/disable"
    deadline = time.monotonic() + 300
    landed: float | None = None
    while time.monotonic() < deadline:
        calls = [r for r in sim.requests("disable") if r["path"].startswith(path)]
        if calls:
            landed = sim_time(calls[0])
            break
        time.sleep(0.05)
    return {
        "account": name,
        "statuses_written_then": len(written),
        "patched_at": patched_at,
        "latency_seconds": round(landed - patched_at, 3) if landed is not None else None,
    }


def _delete_namespace(kube: Kube, bulk: BulkKube) -> None:
    """Delete the accounts in one request, so that the next size starts on an API server and
    etcd as light as the first; no controller-manager would ever finish deleting the namespace."""
    t0 = time.time()
    with contextlib.suppress(Exception):
        bulk.delete_accounts(_request_timeout=600)
    kube.kubectl(
        "delete", "namespace", kube.namespace, "--wait=false", namespaced=False, check=False
    )
    log(f"{kube.namespace} deleted in {time.time() - t0:.0f} s")


def _summary(r: dict[str, Any]) -> str:
    return (
        f"first sync {r['first_sync_seconds']} s ({r['statuses_written']}/{r['n']} statuses), "
        f"{r['writes_per_second']} writes/s, peak RSS {r['peak_rss_mib']} MiB, "
        f"CPU {r['operator_cpu_seconds']} s, suspension "
        f"{(r['suspension'] or {}).get('latency_seconds')} s, load {r['load_average']}"
    )


# -------------------------------------------------------------------------------- the slope


def fit(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least squares y = slope * x + intercept."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else math.nan
    return slope, my - slope * mx


def per_account(sizes: Sequence[dict[str, Any]], key: str = "peak_rss_mib") -> dict[str, Any]:
    """Bytes per account (slope of `key` over N) and the intercept, over the complete sizes."""
    points = [(float(s["n"]), s[key] * 1024 * 1024) for s in sizes if s.get("complete")]
    if len(points) < 2:
        return {}
    slope, intercept = fit(points)
    out: dict[str, Any] = {
        "of": key,
        "sizes": [int(x) for x, _ in points],
        "bytes_per_account": round(slope),
        "intercept_mib": round(intercept / 2**20, 1),
    }
    biggest = max(sizes, key=lambda s: s["n"])
    if key == "peak_rss_mib" and biggest.get("complete"):
        peak = biggest[key]
        out["largest_n"] = biggest["n"]
        out["peak_share_of_limit"] = round(peak / MEMORY_LIMIT_MIB, 3)
        # The limit under which that peak is 60%, rounded up to a multiple of 64 Mi.
        out["limit_for_target_mib"] = int(math.ceil(peak / MEMORY_TARGET / 64) * 64)
    return out


def run(
    kubeconfig: Path | str,
    sizes: Sequence[int] = SIZES,
    *,
    timeout: float = 1800.0,
    sync_interval: str = "30m",
    traced: Path | None = None,
    profile: Path | None = None,
    partial: Path | None = None,
) -> dict[str, Any]:
    """Every size in turn against the cluster of `kubeconfig` (the CRDs must be installed).

    `partial`: a JSON file rewritten after each size, so that a long run interrupted still
    leaves its figures."""
    control = Kube("default", Path(kubeconfig))
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "sizes": [],
    }
    for n in sizes:
        folder = None
        if traced is not None:
            folder = traced / str(n)
            folder.mkdir(parents=True, exist_ok=True)
        try:
            one = measure(
                control, n, timeout=timeout, sync_interval=sync_interval, traced=folder,
                profile=profile / f"operator-{n}.prof" if profile is not None else None,
            )  # fmt: skip
        except Exception as exc:  # the other sizes are still worth measuring
            log(f"N={n} failed: {exc!r}")
            one = {"n": n, "error": repr(exc)}
        results["sizes"].append(one)
        if partial is not None:
            partial.write_text(json.dumps(results, indent=1) + "\n")
    results["per_account"] = per_account(results["sizes"])
    results["per_account_at_end"] = per_account(results["sizes"], "rss_at_end_mib")
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def _cpu_cell(size: dict[str, Any]) -> str:
    split = size.get("cpu_seconds")
    if not split:  # a result from before the split was measured
        return f"{size['operator_cpu_seconds']} s"
    parts = [split.get(k, "?") for k in ("operator", "kube-apiserver", "etcd", "rest")]
    return f"{' / '.join(map(str, parts))} ({split['steal']})"


def rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """The Markdown table: a header, then one row per size, then the slope."""
    out: list[tuple[str, ...]] = [
        (
            "N (discovery on)",
            "First sync: first request -> every status",
            "Peak RSS (VmHWM)",
            "RSS after",
            "Writes/s (creates + status)",
            "Suspension patch -> disable call",
            "CPU s: operator / API server / etcd / rest (of which steal)",
            "Load average (1 min) after",
        )
    ]
    for s in results["sizes"]:
        if "error" in s:
            out.append((f"{s['n']:,}", f"failed: {s['error'][:60]}", *[""] * 6))
            continue
        susp = s.get("suspension") or {}
        latency = susp.get("latency_seconds")
        partial = "" if s["complete"] else f" (only {s['statuses_written']:,} of {s['n']:,})"
        out.append(
            (
                f"{s['n']:,}",
                f"{s['first_sync_seconds']} s{partial}",
                f"{s['peak_rss_mib']} MiB",
                f"{s['rss_at_end_mib']} MiB",
                f"{s['writes_per_second']} ({s['creates']:,} + {s['status_writes']:,})",
                f"{latency} s (at {susp.get('statuses_written_then', 0):,} statuses)"
                if latency is not None
                else str(susp.get("error", "no disable call")),
                _cpu_cell(s),
                str(s["load_average"][0]),
            )
        )
    fitted = results.get("per_account") or {}
    if fitted:
        limit = (
            f"; {fitted['peak_share_of_limit']:.0%} of {MEMORY_LIMIT_MIB} Mi at "
            f"{fitted['largest_n']:,} (60% needs {fitted['limit_for_target_mib']} Mi)"
            if "largest_n" in fitted
            else ""
        )
        out.append(
            (
                "Peak RSS per account (slope)",
                f"{fitted['bytes_per_account']:,} bytes/account + {fitted['intercept_mib']} MiB"
                f"{limit}",
                *[""] * 6,
            )
        )
    return out


# ------------------------------------------------------------------------- where bytes go

_CHARGED = ("atlassian_operator/", "kopf/", "kubernetes/", "urllib3/", "pydantic/", "httpx/")
_NOT_CHARGED = ("atlassian_operator/cli.py", "atlassian_operator/runner.py")


def where_bytes_go(
    folder: Path, n: int, top: int = 30, against: str = "1"
) -> list[tuple[str, str, int, int]]:
    """From a `--tracemalloc` run: bytes per account by code line, snapshot-1 (after the first
    sync, or `against="peak"`: at the traced memory's peak) minus snapshot-0 (before the org).

    Each allocation is charged to the innermost frame of the operator's own code (not its
    entry points), or else of kopf, or else of a client library: a dict that `json.loads`
    built inside kopf's watch counts against kopf's line that parsed it. Returns (charged
    line, innermost line of the biggest allocation, bytes per account, blocks per account),
    biggest first.
    """
    import tracemalloc

    before = tracemalloc.Snapshot.load(str(folder / "snapshot-0.tracemalloc"))
    after = tracemalloc.Snapshot.load(str(folder / f"snapshot-{against}.tracemalloc"))
    charged: dict[str, list[Any]] = {}
    for diff in after.compare_to(before, "traceback"):
        frames = list(reversed(diff.traceback))  # the innermost first
        names = [f.filename.split("site-packages/")[-1].split("/operator/")[-1] for f in frames]
        index = next(
            (
                i
                for prefix in _CHARGED
                for i, name in enumerate(names)
                if name.startswith(prefix) and not name.startswith(_NOT_CHARGED)
            ),
            0,
        )
        key = f"{names[index]}:{frames[index].lineno}"
        entry = charged.setdefault(key, [0, 0, {}])
        entry[0] += diff.size_diff
        entry[1] += diff.count_diff
        site = f"{names[0]}:{frames[0].lineno}"
        entry[2][site] = entry[2].get(site, 0) + diff.size_diff
    ranked = sorted(charged.items(), key=lambda kv: -kv[1][0])
    return [
        (key, max(sites, key=sites.get), size // n, count // n)
        for key, (size, count, sites) in ranked[:top]
    ]


# ------------------------------------------------------------------------------------ alone


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=list(SIZES),
        help="users per org, comma-separated (default 5000,10000,25000,50000)",
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="per size, seconds")
    parser.add_argument("--sync-interval", default="30m", help="the org's syncInterval")
    parser.add_argument("--kubeconfig", type=Path, help="use this cluster (CRDs installed)")
    parser.add_argument("--tracemalloc", type=Path, metavar="DIR", help="see the docstring")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="run the operator under cProfile; "
        "DIR/operator-<N>.prof (slower: its figures are not the bench's)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--note", default="", help="a word on what was measured, in the .md")
    parser.add_argument(
        "--where", type=Path, metavar="DIR", help="print bytes per account by code line from a "
        "--tracemalloc run's folder for one size (DIR/<N>), and exit",
    )  # fmt: skip
    parser.add_argument("--against", default="1", help="with --where: 1 (after) or peak")
    args = parser.parse_args(argv)
    if args.where is not None:
        n = int(args.where.name)
        for line, site, size, blocks in where_bytes_go(args.where, n, against=args.against):
            print(f"{size:8,d} B {blocks:4d} blocks  {line}  (mostly at {site})")
        return 0
    for signum in (signal.SIGTERM, signal.SIGHUP):  # clean up as ^C does
        signal.signal(signum, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        kubeconfig = args.kubeconfig
        if kubeconfig is None:
            work = Path(tempfile.mkdtemp(prefix="atlassian-bench-scale-"))
            stack.callback(subprocess.run, ["rm", "-rf", str(work)], check=False)
            log(f"starting a control plane in {work}")
            kubeconfig = stack.enter_context(control_plane(work))
        results = run(
            kubeconfig,
            args.sizes,
            timeout=args.timeout,
            sync_interval=args.sync_interval,
            traced=args.tracemalloc,
            profile=args.profile,
            partial=args.out / f"scale-{stamp}.partial.json",
        )
    results["note"] = args.note
    head, *body = rows(results)
    text = markdown(head, body)
    md = (
        f"# Scale with account discovery {results['started']}"
        f"{' (tracemalloc: inflated)' if args.tracemalloc else ''}\n\n{args.note}\n\n"
        f"Load average (1, 5, 15 min) at start {results['load_average_at_start']}, at end "
        f"{results['load_average_at_end']}.\n\n{text}\n"
    )
    (args.out / f"scale-{stamp}.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / f"scale-{stamp}.md").write_text(md)
    (args.out / f"scale-{stamp}.partial.json").unlink(missing_ok=True)
    print("\n" + md, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
