"""Issue 7, item 9: safety limits under pressure.

A bad merge flips 1,000 AtlassianAccounts to Suspended at once. With maxPerSync 10 and a 30 s
syncInterval: exactly 10 disable calls go out, then exactly 10 more once the rolling window
allows (never 11 within any 30 s), protected accounts (named by id and by email) are never
called, and every account that waits has one Warning Event saying why, not one per sync.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from support.e2e import API_KEY, E2E, condition
from support.reliability import BulkKube, calls, operator_process, sim_time, wait_until
from support.simulator import start_simulator

pytestmark = pytest.mark.e2e

N, LIMIT, WINDOW = 1000, 10, 30.0


def test_thousand_accounts_flipped_at_once(kube: Any, crds: None) -> None:
    with (
        start_simulator(
            users=N,
            seed=9,
            page_size=100,
            org_id="org-limits",
            api_key=API_KEY,
            scim_every=1_000_000,
        ) as sim,
        operator_process(kube, allow=[sim.url]) as op,
    ):
        e2e = E2E(kube, sim, op)
        bulk = BulkKube(kube)
        users = [entry["user"] for entry in sim.users()]
        active = [u for u in users if u["account_status"] == "active"]
        protected = active[:3]
        protected_refs = [
            protected[0]["account_id"],
            protected[1]["account_id"],
            protected[2]["email"].upper(),
        ]
        assert all(u.get("email") for u in protected[2:])
        e2e.org(
            syncInterval="30s",
            # The brake on mass calls lifted: what is tested here is the budget's window at
            # scale (tests/e2e/test_brake.py tests the brake).
            suspension={
                "maxPerSync": LIMIT,
                "protectedAccounts": protected_refs,
                "pauseAbove": N,
            },
        )
        names = {u["account_id"]: f"u{i:04d}" for i, u in enumerate(users)}
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
            120,
            "every account observed",
        )

        bulk.patch_accounts(list(names.values()), {"desiredState": "Suspended"})

        def reasons() -> Counter[str]:
            return Counter(
                condition(a.get("status") or {}, "Ready", "reason") for a in bulk.accounts()
            )

        waiting = len(active) - len(protected) - LIMIT
        wait_until(
            lambda: reasons()["SuspensionBudgetExceeded"] == waiting,
            60,
            f"{waiting} accounts waiting for the budget",
        )
        first = calls(sim, "disable")
        assert len(first) == LIMIT
        decided = reasons()
        assert decided["ProtectedAccount"] == len(protected)
        inactive = sum(1 for u in users if u["account_status"] == "inactive")
        assert decided["InDesiredState"] == inactive + LIMIT
        assert decided["Deprovisioned"] == N - len(active) - inactive  # closed: nothing to do

        # Every waiting account says why, once, in a Warning Event.
        def warnings() -> list[dict[str, Any]]:
            events = json.loads(kube.kubectl("get", "events", "-o", "json").stdout)["items"]
            return [ev for ev in events if ev["reason"] == "SuspensionBudgetExceeded"]

        wait_until(lambda: len(warnings()) >= waiting, 30, "the Warning Events")
        budget_events = warnings()
        assert all(ev["type"] == "Warning" for ev in budget_events)
        assert len(budget_events) == waiting
        assert len({ev["involvedObject"]["name"] for ev in budget_events}) == waiting
        assert f"spec.suspension.maxPerSync ({LIMIT})" in budget_events[0]["message"]

        # The window rolls: exactly LIMIT more, no earlier than WINDOW after the first LIMIT.
        wait_until(
            lambda: len(calls(sim, "disable")) >= 2 * LIMIT,
            WINDOW + 30,
            "the second window's suspensions",
        )
        e2e.request_sync()
        e2e.wait_status(
            "aorg",
            "acme",
            lambda s: (
                s.get("lastSyncTime", "") > max(c["time"][:19] for c in calls(sim, "disable"))
            ),
            "a sync after the second window",
            timeout=30,
        )
        done = calls(sim, "disable")
        bulk.close()
        assert len(done) == 2 * LIMIT
        times = sorted(sim_time(c) for c in done)
        assert all(times[i + LIMIT] - times[i] >= WINDOW - 0.5 for i in range(LIMIT)), times
        assert len({c["path"] for c in done}) == 2 * LIMIT  # twenty different accounts
        for user in protected:
            assert calls(sim, "disable", user["account_id"]) == []
        assert sim.requests("enable") == []

        events = json.loads(kube.kubectl("get", "events", "-o", "json").stdout)["items"]
        per_object = Counter((ev["involvedObject"]["name"], ev["reason"]) for ev in events)
        assert max(per_object.values()) == 1, per_object.most_common(3)
        assert sum(1 for (_, reason) in per_object if reason == "Suspended") == 2 * LIMIT
        assert sum(1 for (_, reason) in per_object if reason == "ProtectedAccount") == 3
