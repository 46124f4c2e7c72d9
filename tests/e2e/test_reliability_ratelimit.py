"""Issue 7, item 2: a 429 storm with each waiting signal.

Another tool sharing the org's rate limit has used up the current window when a listing and six
suspensions start at once, so every one of their first requests is refused. With each signal the
simulator can give (Retry-After; X-RateLimit-Reset only; no signal at all) the sync must slow
down and complete, every suspension must land exactly once, the org must say RateLimited while
it waits (seen in the stored versions of the org, not by luck of polling), and once refused, the
operator must not send another request Atlassian refuses when Atlassian said when to come back.

X-RateLimit-Reset has minute precision (as Atlassian documents it), so with a signal the
operator waits until the next wall-clock minute. The two signals that say when run side by
side, one org and one simulator each, under one operator: one wait instead of two.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

import pytest

from support.e2e import API_KEY, E2E, condition
from support.reliability import (
    BulkKube,
    ObjectWatch,
    calls,
    operator_process,
    per_account,
    sim_time,
    wait_until,
)
from support.simulator import start_simulator

pytestmark = pytest.mark.e2e

SYNC_ANNOTATION = "atlassian.operators.dev/sync-requested"
LEAVERS = [f"7a00000000000000000000{i:02d}" for i in range(6)]

# signal -> (window seconds, requests per window, seconds of the window left after exhaustion)
LIMITS = {
    "retry-after": (60.0, 30, 6.0),
    "reset": (60.0, 30, 6.0),
    # No signal: the operator can only back off (jittered, 0.5 s doubling, 6 attempts); a short
    # window lets those retries reach the next one.
    "none": (2.0, 20, 1.0),
}


def window_end(window: float) -> float:
    return (math.floor(time.time() / window) + 1) * window


def exhaust(sims: list[Any], window: float, min_left: float) -> float:
    """Use up the current window of each simulator from outside the operator, with at least
    `min_left` seconds of it left; return the Unix time the window ends."""
    while True:
        end = window_end(window)
        if end - time.time() < min_left + 0.5:
            wait_until(lambda end=end: time.time() >= end, window + 1, "the next window")
            continue
        for sim in sims:
            while sim.http.get(sim.users_url, headers=sim.auth_headers).status_code != 429:
                pass
        if end - time.time() >= min_left:
            return end


class Org:
    """One org under one rate-limit signal: its simulator, its accounts, its watch."""

    def __init__(self, e2e: E2E, signal: str) -> None:
        self.e2e, self.sim, self.signal = e2e, e2e.sim, signal
        self.names = [f"{signal}-leaver{i}" for i in range(len(LEAVERS))]

    def set_up(self) -> None:
        for i, account_id in enumerate(LEAVERS):
            self.sim.add_user(account_id=account_id, name=f"Leaver {i}",
                              email=f"leaver{i}@acme.example", account_status="active")  # fmt: skip
        self.e2e.org(name=self.signal, syncInterval="10m")
        for name, account_id in zip(self.names, LEAVERS, strict=True):
            self.e2e.account(name, org=self.signal, accountId=account_id)

    def wait_observed(self) -> None:
        self.first = self.e2e.wait_synced(self.signal)
        for name in self.names:
            self.e2e.wait_status("aacct", name, lambda s: condition(s, "Ready") == "True", name)
        window, limit, _ = LIMITS[self.signal]
        self.sim.set_rate_limit(limit, signal=self.signal, window_seconds=window)

    def storm(self, bulk: BulkKube) -> None:
        self.mark = self.sim.requests()[-1]["seq"]  # everything after this is the operator's
        self.started = time.time()
        bulk.patch_accounts(self.names, {"desiredState": "Suspended"})
        bulk.custom.patch_namespaced_custom_object(
            "atlassian.operators.dev", "v1beta1", self.e2e.kube.namespace, "atlassianorgs",
            self.signal, {"metadata": {"annotations": {SYNC_ANNOTATION: str(time.time_ns())}}},
        )  # fmt: skip

    def wait_done(self, timeout: float) -> None:
        self.org = self.e2e.wait_status(
            "aorg", self.signal, lambda s: s.get("lastSyncTime") != self.first["lastSyncTime"]
            and condition(s, "Synced") == "True", f"{self.signal}: the rate-limited sync",
            timeout=timeout,
        )  # fmt: skip
        for name in self.names:
            self.e2e.wait_status("aacct", name, lambda s: s.get("accountStatus") == "Suspended",
                                 f"{name} Suspended", timeout=timeout)  # fmt: skip

    def check(self, end: float, versions: list[dict[str, Any]]) -> None:
        sim, org = self.sim, self.org
        assert condition(org, "Synced", "reason") == "ListingComplete"
        assert org["users"]["total"] == 46
        ours = [r for r in sim.requests() if r["seq"] > self.mark]
        refused = [r for r in ours if r["status"] == 429]
        assert refused, "the storm refused nothing: the test did not exhaust the window"
        if self.signal == "none":
            # Without a signal the operator can only back off: bounded retries per request.
            targets: dict[str, int] = {}
            for r in refused:
                key = r["path"] + str(sorted(r["query"].items()))
                targets[key] = targets.get(key, 0) + 1
            assert max(targets.values()) <= 5, targets
        else:
            # Told when to come back, the operator came back then: nothing refused after the
            # exhausted window, and nothing sent before its end but the first, refused, tries.
            late = [r for r in refused if sim_time(r) >= end]
            assert late == [], f"refused after the window Atlassian named: {late}"
            assert [r for r in ours if r["status"] != 429 and sim_time(r) < end - 0.05] == []
            # The sync slowed down by the wait it was told to make.
            assert org["lastSyncDurationSeconds"] >= end - self.started - 1.0

        # Every suspension landed exactly once, despite the refusals on the way.
        assert per_account(calls(sim, "disable", status=204)) == dict.fromkeys(LEAVERS, 1)
        for account_id in LEAVERS:
            assert sim.user(account_id)["user"]["account_status"] == "inactive"
        for name in self.names:
            assert [ev["reason"] for ev in self.e2e.events(name)] == ["Suspended"]

        # The org said RateLimited while it waited, without claiming the spec or key were wrong.
        waiting = [v for v in versions if condition(v, "Synced", "reason") == "RateLimited"]
        shown = [v.get("conditions") for v in versions]
        assert waiting, f"RateLimited never shown while the listing waited; versions: {shown}"
        assert "wait" in str(condition(waiting[0], "Synced", "message"))
        assert all(condition(v, "Ready") == "True" for v in versions)
        # What the org reports about this sync is about its listings: their own requests (v1
        # pages, v2 search pages, and their retries), not the suspensions that shared the
        # client meanwhile.
        listing = [r for r in ours if r["endpoint"] in ("list_users", "search_users")]
        assert org["apiRequests"] == len(listing), (org["apiRequests"], len(listing))
        assert f"in {len(listing)} requests" in str(condition(org, "Synced", "message"))
        assert org["rateLimitedResponses"] == len([r for r in listing if r["status"] == 429])


@pytest.mark.parametrize("signals", [("retry-after", "reset"), ("none",)],
                         ids=["told-when", "not-told"])  # fmt: skip
def test_429_storm_slows_the_sync_which_completes(
    kube: Any, crds: None, signals: tuple[str, ...]
) -> None:
    window, _, min_left = LIMITS[signals[0]]
    with contextlib.ExitStack() as stack:
        sims = [
            stack.enter_context(start_simulator(users=40, seed=3, page_size=10,
                                                org_id=f"org-e2e-{signal}",  # one org each
                                                api_key=API_KEY, scim_every=1000))
            for signal in signals
        ]  # fmt: skip
        op = stack.enter_context(operator_process(kube, allow=[s.url for s in sims]))
        orgs = [Org(E2E(kube, sim, op), signal) for sim, signal in zip(sims, signals, strict=True)]
        for org in orgs:
            org.set_up()
        for org in orgs:
            org.wait_observed()
        bulk = stack.enter_context(contextlib.closing(BulkKube(kube)))
        watches = [stack.enter_context(ObjectWatch(kube, "aorg", org.signal)) for org in orgs]
        end = exhaust(sims, window, min_left)
        for org in orgs:
            org.storm(bulk)
        for org in orgs:
            org.wait_done(timeout=window + 60)

        failures = []
        for org, watch in zip(orgs, watches, strict=True):
            try:
                org.check(end, watch.statuses())
            except AssertionError as exc:
                failures.append(f"signal {org.signal}: {exc}")
        assert not failures, "\n\n".join(failures)
