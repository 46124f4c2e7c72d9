"""Issue 7, item 8: load.

N accounts (one AtlassianAccount per org user), then several syncs in which 1% of the users
change (last active time; every third also loses a product). Each change must reach its account,
a suspension asked for in the middle of each sync must land within seconds, and the operator's
resident memory must stay flat from sync to sync once it has settled.

"Settled": the allocator's high-water mark grows over the first two churn syncs (a new listing
is parsed while the previous snapshot is still held) and then stays. Measured on the 2-core
machine, RSS before the churn and after each sync: 135.1, 148.0, 156.3, 156.6, 157.2, 157.2 MiB.
A leak is growth on every sync, so the test compares the syncs after those two, allowing 1% per
sync: keeping each listing (4,000 parsed users) measured 134.5, 155.2, 167.9, 180.0, 192.2,
204.2 MiB (+6.6% per sync) and fails.

N is 4,000, not the issue's 10,000: on the 2-core reference machine creating the accounts and
writing their first statuses is bound by the API server (~70 accounts per second end to end),
so 10,000 accounts make this test take ~145 s (measured; it passes, RSS flat at ~396 MiB,
suspensions landing in < 0.1 s) and the whole suite would no longer stay well under 15
minutes. 4,000 keeps it around 50-80 s (idle vs. busy machine). `LOAD_ACCOUNTS=10000 pytest
tests/e2e/test_reliability_load.py` runs it at full size.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import pytest

from support.e2e import API_KEY, E2E, condition
from support.reliability import BulkKube, calls, operator_process, sim_time, wait_until
from support.simulator import start_simulator

pytestmark = pytest.mark.e2e

N = int(os.environ.get("LOAD_ACCOUNTS", "4000"))
SYNCS = 5
SETTLING_SYNCS = 2
SYNC_ANNOTATION = "atlassian.operators.dev/sync-requested"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_thousands_of_accounts_with_churn_stay_responsive_and_flat(kube: Any, crds: None) -> None:
    rng = random.Random(7)
    with (
        start_simulator(
            users=N, seed=7, page_size=100, org_id="org-load", api_key=API_KEY, scim_every=1_000_000
        ) as sim,
        operator_process(kube, allow=[sim.url]) as op,
    ):
        assert op.process is not None
        pid = op.process.pid
        e2e = E2E(kube, sim, op)
        bulk = BulkKube(kube)
        users = [entry["user"] for entry in sim.users()]
        active = [u["account_id"] for u in users if u["account_status"] == "active"]
        e2e.org(syncInterval="30s", suspension={"maxPerSync": 100})
        e2e.wait_synced()
        pages = len(sim.requests("list_users"))
        assert pages <= N // 100 + 1  # one request per page, never one per account
        names = {u["account_id"]: f"u{i:05d}" for i, u in enumerate(users)}
        bulk.create_accounts(
            {
                name: {"orgRef": {"name": "acme"}, "accountId": account_id}
                for account_id, name in names.items()
            }
        )
        wait_until(
            lambda: (
                sum(1 for a in bulk.accounts() if (a.get("status") or {}).get("accountStatus")) == N
            ),
            240,
            f"all {N} accounts observed",
        )

        memory, latencies = [rss_mib(pid)], []
        leavers = rng.sample(active, SYNCS)
        for sync in range(SYNCS):
            stamp = f"2026-10-{sync + 1:02d}T08:00:00Z"
            changed = rng.sample([a for a in names if a not in leavers], N // 100)
            for i, account_id in enumerate(changed):
                fields: dict[str, Any] = {"last_active": stamp}
                if i % 3 == 0:
                    fields["product_access"] = []
                sim.update_user(account_id, **fields)
            bulk.custom.patch_namespaced_custom_object(
                "atlassian.operators.dev",
                "v1beta1",
                kube.namespace,
                "atlassianorgs",
                "acme",
                {"metadata": {"annotations": {SYNC_ANNOTATION: str(time.time_ns())}}},
            )
            # While that sync lists and writes, someone leaves.
            leaver = leavers[sync]
            asked = time.time()
            bulk.patch_accounts([names[leaver]], {"desiredState": "Suspended"})
            landed = wait_until(
                lambda leaver=leaver: calls(sim, "disable", leaver), 30, f"the disable of {leaver}"
            )
            latencies.append(sim_time(landed[0]) - asked)
            for i, account_id in enumerate(changed):

                def arrived(account_id: str = account_id, i: int = i, stamp: str = stamp) -> bool:
                    status = bulk.account(names[account_id]).get("status") or {}
                    return status.get("lastActive") == stamp and (
                        i % 3 or "activeProducts" not in status
                    )

                wait_until(arrived, 60, f"sync {sync}: the change of {account_id}")
            memory.append(rss_mib(pid))
        bulk.close()

        org = e2e.wait_synced()
        assert org["users"]["total"] == N
        for leaver in leavers:
            status = e2e.status("aacct", names[leaver])
            assert status["accountStatus"] == "Suspended"
            assert condition(status, "Ready", "reason") == "InDesiredState"
        assert len(calls(sim, "disable")) == SYNCS
        print(
            f"N={N}: {pages} requests per listing, suspension latencies "
            f"{[round(x, 2) for x in latencies]} s, RSS {[round(m, 1) for m in memory]} MiB"
        )
        assert max(latencies) < 5.0, latencies
        # Flat once settled: each sync after the settling ones grows the process by < 1% on average.
        settled = memory[SETTLING_SYNCS:]
        assert max(settled) <= settled[0] * (1 + 0.01 * (len(settled) - 1)), memory
