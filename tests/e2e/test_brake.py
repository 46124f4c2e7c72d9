"""Issue 26, part 1: the brake on mass lifecycle calls on the real API server, with the real
kubectl and the simulator. Enforce switched on for 40 idle people of 44 sends nothing and
pauses the org; an approval smaller than the line changes nothing; the right one lets them out
within maxPerSync and is recorded; a mass revert of re-enables pauses the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from support.e2e import API_KEY, E2E, condition
from support.simulator import Simulator, start_simulator

pytestmark = pytest.mark.e2e

APPROVE = "atlassian.operators.dev/approve-suspensions"
IDLE = [f"idle{i:02}" for i in range(40)]
BUSY = [f"busy{i}" for i in range(4)]


def ident(name: str) -> str:
    return f"{name:0>24}"


def stamp(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    with start_simulator(users=0, seed=7, page_size=20, org_id="org-brake", api_key=API_KEY) as sim:
        for name in IDLE + BUSY:
            sim.add_user(
                account_id=ident(name),
                name=name.title(),
                email=f"{name}@acme.example",
                account_status="active",
                last_active=stamp(200 if name in IDLE else 3),
            )
        yield sim


def observe_everyone(e2e: E2E) -> None:
    e2e.apply(
        [
            {
                "apiVersion": "atlassian.operators.dev/v1beta1",
                "kind": "AtlassianAccount",
                "metadata": {"name": name},
                "spec": {"orgRef": {"name": "acme"}, "accountId": ident(name)},
            }
            for name in IDLE + BUSY
        ]
    )


def org(mode: str, **suspension: Any) -> dict[str, Any]:
    return {
        # The policy may take the whole window (its default share is half): no leaver here.
        "inactivity": {"suspendAfterDays": 90, "mode": mode, "maxPerSync": 15},
        "suspension": {"maxPerSync": 15, **suspension},
    }


def brake(e2e: E2E) -> dict[str, Any]:
    return e2e.status("aorg", "acme").get("suspensionBrake") or {}


def paused(status: dict[str, Any]) -> bool:
    return condition(status, "ActionsPaused", "reason") == "MassSuspensionPaused"


def approve(e2e: E2E, count: int) -> None:
    e2e.kube.kubectl("annotate", "--overwrite", "aorg/acme", f"{APPROVE}={count}")


def test_enforce_on_forty_idle_people_pauses_until_a_person_approves_forty(e2e: E2E) -> None:
    observe_everyone(e2e)
    e2e.org(**org("Report"))
    e2e.wait_status(
        "aorg", "acme", lambda s: (s.get("inactivity") or {}).get("eligible") == 40, "40 eligible"
    )

    e2e.apply(e2e.org_manifest(**org("Enforce")))
    status = e2e.wait_status("aorg", "acme", paused, "the org paused")
    assert e2e.sim.requests("disable") == []
    message = condition(status, "ActionsPaused", "message") or ""
    assert "40 lifecycle calls" in message and f"{APPROVE}=40" in message
    assert status["suspensionBrake"]["threshold"] == 10  # the default for 44 active users
    reasons = [ev["reason"] for ev in e2e.events("acme") if ev["type"] == "Warning"]
    assert reasons == ["MassSuspensionPaused"]
    # The policy's wait is its verdict, not a failure: Ready stays Observed.
    idle = e2e.status("aacct", IDLE[0])
    assert condition(idle, "Inactivity", "reason") == "MassSuspensionPaused"
    assert condition(idle, "Ready", "reason") == "Observed"
    metrics = e2e.operator.metrics()
    assert 'atlassian_operator_paused_lifecycle_calls{namespace="' in metrics
    assert any(
        line.startswith("atlassian_operator_paused_lifecycle_calls{") and line.endswith(" 40.0")
        for line in metrics.splitlines()
    ), metrics

    # Too small: a person did not read the number. Nothing goes, and the org says why.
    approve(e2e, 39)
    e2e.wait_status("aorg", "acme", lambda s: standing(s) == "TooSmall", "the approval refused")
    e2e.later_sync()
    assert e2e.sim.requests("disable") == []

    # The right number: out they go, within maxPerSync (15 per 30s window).
    approve(e2e, 40)
    e2e.wait_status("aorg", "acme", lambda s: not paused(s), "the approval taken")
    first = e2e.wait_status(
        "aorg", "acme", lambda s: brake_used(s) >= 15, "the first window's calls"
    )
    assert len(e2e.sim.requests("disable")) <= 30  # never the whole line in one window
    assert first["suspensionBrake"]["approval"]["by"] == "kubectl-annotate"
    e2e.wait_status(
        "aorg", "acme",
        lambda s: (s.get("inactivity") or {}).get("suspended") == 40, "all forty suspended",
        timeout=120,
    )  # fmt: skip
    assert len(e2e.sim.requests("disable")) == 40
    last = next(
        e2e.status("aacct", n)["lastAction"]
        for n in IDLE
        if e2e.status("aacct", n).get("lastAction")
    )
    assert last["approval"]["count"] == 40 and last["approval"]["by"] == "kubectl-annotate"
    assert all(e2e.status("aacct", b).get("accountStatus") == "Active" for b in BUSY)


def standing(status: dict[str, Any]) -> str | None:
    return ((status.get("suspensionBrake") or {}).get("approval") or {}).get("standing")


def brake_used(status: dict[str, Any]) -> int:
    return int(((status.get("suspensionBrake") or {}).get("approval") or {}).get("used") or 0)


def test_a_mass_revert_of_re_enables_pauses_too(e2e: E2E) -> None:
    for name in IDLE[:12]:
        e2e.sim.update_user(ident(name), account_status="inactive")
    e2e.apply(
        [
            {
                "apiVersion": "atlassian.operators.dev/v1beta1",
                "kind": "AtlassianAccount",
                "metadata": {"name": name},
                "spec": {
                    "orgRef": {"name": "acme"},
                    "accountId": ident(name),
                    "desiredState": "Active",
                },
            }
            for name in IDLE[:12]
        ]
    )
    e2e.org(suspension={"maxPerSync": 15})
    e2e.wait_status(
        "aacct", IDLE[0],
        lambda s: condition(s, "Ready", "reason") == "ReactivationNotAllowed", "refused first",
    )  # fmt: skip
    # The revert takes effect all at once when re-enables are allowed: twelve is above ten.
    e2e.apply(e2e.org_manifest(suspension={"maxPerSync": 15, "allowReactivation": True}))
    status = e2e.wait_status("aorg", "acme", paused, "the org paused")
    assert "12 lifecycle calls" in (condition(status, "ActionsPaused", "message") or "")
    e2e.later_sync()
    assert e2e.sim.requests("enable") == []

    approve(e2e, 12)
    e2e.wait_status(
        "aacct", IDLE[11], lambda s: s.get("accountStatus") == "Active", "re-enabled", timeout=60
    )
    assert len(e2e.sim.requests("enable")) == 12
    assert brake(e2e)["approval"]["used"] == 12
