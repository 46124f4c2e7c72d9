"""Issue 14, item 4: account discovery at scale, the reduced size of `hack/bench_scale.py`.

An org of 2,000 users and no AtlassianAccount, then an AtlassianOrg with account discovery
on: the operator must create exactly one account per user and write every one's status, and a
suspension asked for while that first sync is still writing (a third of the statuses written)
must go out and show, not wait behind the thousands of creates and writes still queued. The
full size (50,000 users) and the timings are measured by `make bench`; here the deadlines are
generous and nothing is timed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from support.e2e import API_KEY, E2E, condition
from support.reliability import BulkKube, calls, operator_process, wait_until
from support.simulator import start_simulator

pytestmark = pytest.mark.e2e

N = 2000
DISCOVERED = "atlassian.operators.dev/discovered"


def test_discovery_of_thousands_writes_every_status_and_a_suspension_lands_meanwhile(
    kube: Any, crds: None
) -> None:
    with (
        start_simulator(
            users=N, seed=14, page_size=100, org_id="org-scale", api_key=API_KEY,
            scim_every=1_000_000,
        ) as sim,
        operator_process(kube, allow=[sim.url]) as op,
    ):  # fmt: skip
        e2e = E2E(kube, sim, op)
        bulk = BulkKube(kube, threads=2)
        users = [entry["user"] for entry in sim.users()]
        active = {u["account_id"] for u in users if u["account_status"] == "active"}
        e2e.org(syncInterval="30m", accountDiscovery={"enabled": True})

        def observed() -> list[dict[str, Any]]:
            return [a for a in bulk.accounts() if (a.get("status") or {}).get("accountStatus")]

        def at_least(count: int) -> list[dict[str, Any]] | None:
            found = observed()
            return found if len(found) >= count else None

        # A third of the statuses written: the first sync is still creating and writing.
        third = wait_until(lambda: at_least(N // 3), 300, f"{N // 3} of {N} accounts observed")
        target = next(a for a in third if a["status"]["accountId"] in active)
        name, account_id = target["metadata"]["name"], target["status"]["accountId"]
        bulk.patch_accounts([name], {"desiredState": "Suspended"})
        still_writing = len(observed()) < N

        wait_until(
            lambda: calls(sim, "disable", account_id),
            120,
            f"the disable call for {account_id}, asked for during the first sync",
        )
        wait_until(lambda: at_least(N), 600, f"all {N} statuses written")

        accounts = bulk.accounts()
        assert still_writing, "the suspension came after the first sync: nothing was measured"
        assert len(accounts) == N
        assert all(a["metadata"]["labels"].get(DISCOVERED) == "true" for a in accounts)
        per_user = Counter(a["spec"]["accountId"] for a in accounts)
        assert set(per_user) == {u["account_id"] for u in users}
        assert max(per_user.values()) == 1, "a user was discovered twice"
        others = [a for a in accounts if a["metadata"]["name"] != name]
        assert all(condition(a["status"], "Synced") == "True" for a in others)
        wait_until(
            lambda: (bulk.account(name).get("status") or {}).get("accountStatus") == "Suspended",
            60,
            f"{name} shown Suspended",
        )
        assert bulk.account(name)["status"]["lastAction"]["result"] == "Succeeded"
        assert len(calls(sim, "disable")) == 1
        org = e2e.status("aorg", "acme")
        assert condition(org, "Synced") == "True"
        assert org["users"]["total"] == N
