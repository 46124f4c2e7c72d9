"""The inactivity policy (issue 13, license management) in the org's owner: who is eligible,
who is suspended and in which order, and who is never touched. Real owner loop, in-memory fakes.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from owner_world import FakeAtlassian, World, quiet, synced, until, user

from atlassian_operator.atlassian import AtlassianUnavailable, User
from atlassian_operator.core.conditions import find

OLD, OLDER, OLDEST, RECENT, NEVER = "old01", "old02", "old03", "rec04", "nev05"


def ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    atlassian = FakeAtlassian()
    atlassian.add(
        user(OLD, last_active=ago(150), billable=True),
        user(OLDER, last_active=ago(200), billable=False),
        user(OLDEST, last_active=ago(300), billable=True),
        user(RECENT, last_active=ago(10), billable=True),
        user(NEVER, billable=True),
    )
    w = World(atlassian)
    w.start()
    yield w
    await w.stop()


def counts(world: World) -> dict[str, int]:
    """The org's status.inactivity without its asOf."""
    return {k: v for k, v in world.org_status()["inactivity"].items() if k != "asOf"}


def verdict(world: World, name: str) -> str | None:
    """The reason of the account's Inactivity condition: the policy's verdict on it."""
    condition = find(world.status(name).get("conditions"), "Inactivity")
    return None if condition is None else str(condition["reason"])


def observe_all(world: World, **labels: dict[str, str]) -> None:
    for ident in (OLD, OLDER, OLDEST, RECENT, NEVER):
        world.account(ident, accountId=ident, labels=labels.get(ident))


async def test_report_mode_counts_and_explains_but_changes_nothing(world: World) -> None:
    world.org(inactivity={"suspendAfterDays": 90})
    observe_all(world)
    await synced(world)
    assert world.atlassian.calls == []
    assert counts(world) == {
        "eligible": 3, "eligibleBillable": 2, "suspended": 0, "warned": 0,
        "refused": 0, "refusedBillable": 0, "keptByIntent": 0,
    }  # fmt: skip
    old = world.status(OLD)
    assert old["inactiveDays"] == 150 and old["inactivityEligible"] is True
    # Ready says the account is fine; the policy's verdict is its own condition.
    assert world.reason(OLD) == "Observed" and verdict(world, OLD) == "InactivityEligible"
    message = find(old["conditions"], "Inactivity")["message"]  # type: ignore[index]
    assert "inactive for 150 days" in message and "90 days" in message
    recent = world.status(RECENT)
    assert recent["inactiveDays"] == 10 and "inactivityEligible" not in recent
    assert world.reason(RECENT) == "Observed" and verdict(world, RECENT) == "NotInactive"
    # Never active: no inactiveDays, and not eligible on the day it is first observed.
    never = world.status(NEVER)
    assert "inactiveDays" not in never and "inactivityEligible" not in never
    assert never["firstObserved"]
    gauge = world.metrics.registry.get_sample_value(
        "atlassian_operator_inactivity_accounts",
        {"namespace": "team", "org": "acme", "state": "eligible_billable"},
    )
    assert gauge == 2


async def test_enforce_suspends_explicit_offboardings_first_then_the_longest_inactive(
    world: World,
) -> None:
    world.atlassian.add(user("leaver", last_active=ago(1)))
    world.account("leaver", accountId="leaver", desiredState="Suspended")
    observe_all(world)
    world.org(
        inactivity={"suspendAfterDays": 90, "mode": "Enforce", "maxPerSync": 2},
        suspension={"maxPerSync": 3},
    )
    await synced(world)
    await until(lambda: len(world.atlassian.calls) == 3, "three disable calls")
    await quiet(world)
    # The budget of three: the explicit offboarding, then 300 and 200 days inactive.
    assert [i for _, i in world.atlassian.calls] == ["leaver", OLDEST, OLDER]
    # The policy waits for the budget: not a failure, Ready stays True, no Warning Event.
    assert world.reason(OLD) == "Observed" and verdict(world, OLD) == "WaitingForBudget"
    assert find(world.status(OLD)["conditions"], "Ready")["status"] == "True"  # type: ignore[index]
    last = world.status(OLDEST)["lastAction"]
    assert last["requestedBy"] == "inactivity-policy"
    assert "inactivity policy: inactive for 300 days" in last["message"]
    assert world.status(OLDEST)["accountStatus"] == "Suspended"
    assert verdict(world, OLDEST) == "SuspendedForInactivity"
    assert world.org_status()["inactivity"]["suspended"] == 2
    assert world.kube.warnings(OLD) == []
    waiting = world.metrics.registry.get_sample_value(
        "atlassian_operator_accounts",
        {
            "namespace": "team",
            "org": "acme",
            "ready": "False",
            "reason": "SuspensionBudgetExceeded",
        },
    )
    assert not waiting  # what AtlassianOffboardingStuck counts
    # The window rolls on: the last eligible one goes in its turn.
    world.tick(61)
    await until(lambda: world.atlassian.disables(OLD) == 1, "the third policy suspension")
    await synced(world, listings=2)
    assert counts(world) == {
        "eligible": 0, "eligibleBillable": 0, "suspended": 3, "warned": 0,
        "refused": 0, "refusedBillable": 0, "keptByIntent": 0,
    }  # fmt: skip
    assert world.atlassian.disables(RECENT) == 0 and world.atlassian.disables(NEVER) == 0


async def test_exempt_protected_and_explicitly_active_accounts_are_never_touched(
    world: World,
) -> None:
    world.org(
        inactivity={
            "suspendAfterDays": 90, "mode": "Enforce",
            "exemptSelector": {"matchLabels": {"licence": "keep"}},
        },
        suspension={"protectedAccounts": [f"{OLDER}@acme.example"], "allowReactivation": True},
    )  # fmt: skip
    world.account(OLD, accountId=OLD, labels={"licence": "keep"})
    world.account(OLDER, accountId=OLDER)
    world.account(OLDEST, accountId=OLDEST, desiredState="Active")
    await synced(world)
    assert world.atlassian.calls == []
    for ident in (OLD, OLDER, OLDEST):
        assert "inactivityEligible" not in world.status(ident), ident
    assert world.org_status()["inactivity"]["eligible"] == 0
    # Taking the label away makes the account eligible at once: it is suspended.
    world.account(OLD, accountId=OLD, labels={})
    await until(lambda: world.atlassian.disables(OLD) == 1, "suspended once not exempt")


async def test_dry_run_says_what_the_policy_would_do(world: World) -> None:
    world.org(inactivity={"suspendAfterDays": 90, "mode": "Enforce"}, suspension={"dryRun": True})
    observe_all(world)
    await synced(world)
    assert world.atlassian.calls == []
    assert world.reason(OLDEST) == "Observed" and verdict(world, OLDEST) == "DryRun"
    assert world.status(OLDEST)["lastAction"]["result"] == "DryRun"


async def test_a_never_active_account_counts_from_when_it_was_first_observed(
    world: World,
) -> None:
    world.org(inactivity={"suspendAfterDays": 90, "mode": "Enforce"})
    seen_long_ago = (datetime.now(UTC) - timedelta(days=95)).strftime("%Y-%m-%dT%H:%M:%SZ")
    world.account(
        NEVER, accountId=NEVER, stored_status={"accountId": NEVER, "firstObserved": seen_long_ago}
    )
    world.account(RECENT, accountId=RECENT)
    await synced(world)
    await until(lambda: world.atlassian.disables(NEVER) == 1, "the never-active one")
    assert "never active; observed for 95 days" in world.status(NEVER)["lastAction"]["message"]
    assert world.status(NEVER)["firstObserved"] == seen_long_ago  # kept, not reset


async def test_someone_re_enabling_a_policy_suspension_restarts_the_clock(world: World) -> None:
    world.org(inactivity={"suspendAfterDays": 90, "mode": "Enforce"})
    world.account(OLDEST, accountId=OLDEST)
    await synced(world)
    await until(lambda: world.status(OLDEST).get("accountStatus") == "Suspended", "suspended")
    world.echo(OLDEST)
    await quiet(world)
    # An admin re-enables them in Atlassian; they still have not used anything.
    world.atlassian.add(user(OLDEST, last_active=ago(300), billable=True))
    world.tick(61)
    await synced(world, listings=2)
    await until(lambda: world.status(OLDEST).get("accountStatus") == "Active", "seen active")
    await quiet(world)
    status = world.status(OLDEST)
    assert status["inactivityResetAt"] and "inactivityEligible" not in status
    world.tick(61)
    await synced(world, listings=3)
    assert world.atlassian.disables(OLDEST) == 1


async def test_a_failed_listing_makes_nobody_eligible(world: World) -> None:
    world.org(inactivity={"suspendAfterDays": 90, "mode": "Enforce"})
    world.account(RECENT, accountId=RECENT)
    await synced(world)
    # In Atlassian the user goes quiet for long, but no listing shows it: nothing happens.
    world.atlassian.add(user(RECENT, last_active=ago(400), billable=True))
    world.atlassian.fail_list = AtlassianUnavailable("Atlassian is unavailable: 503")
    world.tick(61)
    await until(lambda: world.org_reason() == "AtlassianUnavailable", "the failed sync")
    await quiet(world)
    assert "inactivityEligible" not in world.status(RECENT)
    assert world.atlassian.calls == []
    world.atlassian.fail_list = None
    world.tick(61)
    await until(lambda: world.atlassian.disables(RECENT) == 1, "suspended once listed")


async def test_an_unreadable_last_active_time_is_not_never_active(world: World) -> None:
    # A daily user whose last-active time Atlassian sends in a layout the parser cannot read,
    # watched for 200 days: read as "never active", the policy would suspend them.
    daily = User.model_validate({**user("daily").model_dump(), "last_active": "yesterday 09:14"})
    world.atlassian.add(daily)
    world.org(inactivity={"suspendAfterDays": 90, "mode": "Enforce"})
    seen_long_ago = (datetime.now(UTC) - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    world.account(
        "daily",
        accountId="daily",
        stored_status={"accountId": "daily", "firstObserved": seen_long_ago},
    )
    # The policy does act: a truly never-active account watched as long is suspended.
    world.account(
        NEVER, accountId=NEVER, stored_status={"accountId": NEVER, "firstObserved": seen_long_ago}
    )
    await synced(world)
    await until(lambda: world.atlassian.disables(NEVER) == 1, "the never-active one suspended")
    await quiet(world)

    assert world.atlassian.disables("daily") == 0
    status = world.status("daily")
    assert "inactivityEligible" not in status and "lastActive" not in status
    assert world.reason("daily") == "LastActiveUnreadable"
    ready = find(status["conditions"], "Ready")
    assert ready is not None and "last activity unreadable ('yesterday 09:14')" in ready["message"]
    synced_condition = find(world.org_status()["conditions"], "Synced")
    assert synced_condition is not None
    assert (
        "1 user has a last-active time that cannot be read (daily 'yesterday 09:14')"
        in synced_condition["message"]
    )
    gauge = world.metrics.registry.get_sample_value(
        "atlassian_operator_unreadable_last_active_users", {"namespace": "team", "org": "acme"}
    )
    assert gauge == 1


DISCOVERED = {"atlassian.operators.dev/discovered": "true"}


async def test_the_orgs_exempt_list_keeps_a_person_whatever_their_account_object(
    world: World,
) -> None:
    world.org(
        inactivity={
            "suspendAfterDays": 90, "mode": "Enforce",
            "exempt": [f"{OLD.upper()}@ACME.example", OLDER],
        },
    )  # fmt: skip
    world.account(OLD, accountId=OLD, labels=DISCOVERED)
    world.account(OLDER, accountId=OLDER)
    world.account(OLDEST, accountId=OLDEST, labels=DISCOVERED)
    await synced(world)
    await until(lambda: world.atlassian.disables(OLDEST) == 1, "the one not listed suspended")
    await quiet(world)
    for ident, days in ((OLD, 150), (OLDER, 200)):
        status = world.status(ident)
        assert status["inactiveDays"] == days and "inactivityEligible" not in status, ident
        assert world.reason(ident) == "Observed", ident
    # The discovered account is deleted and discovered again: a new object, same person.
    world.account(OLD, uid="rediscovered", accountId=OLD, labels=DISCOVERED)
    world.tick(61)
    await synced(world, listings=2)
    assert world.status(OLD)["inactiveDays"] == 150
    assert [i for _, i in world.atlassian.calls] == [OLDEST]
    assert world.org_status()["inactivity"]["eligible"] == 0
    assert world.kube.warnings(OLD) == []


async def test_a_label_exemption_on_a_discovered_account_is_warned_of_once(
    world: World,
) -> None:
    world.org(
        inactivity={
            "suspendAfterDays": 90, "mode": "Enforce",
            "exemptSelector": {"matchLabels": {"licence": "keep"}}, "exempt": [OLDER],
        },
    )  # fmt: skip
    keep = {**DISCOVERED, "licence": "keep"}
    world.account(OLD, accountId=OLD, labels=keep)
    world.account(OLDER, accountId=OLDER, labels=keep)  # listed as well: durable
    world.account(OLDEST, accountId=OLDEST, labels={"licence": "keep"})  # not discovered
    await synced(world)
    # More passes over the same object: more listings, and an edit of its labels.
    world.tick(61)
    await synced(world, listings=2)
    world.account(OLD, accountId=OLD, labels={**keep, "team": "ops"})
    world.tick(61)
    await synced(world, listings=3)

    assert world.atlassian.calls == []
    assert world.kube.warnings(OLD) == ["ExemptionNotDurable"]
    assert world.kube.warnings(OLDER) == [] and world.kube.warnings(OLDEST) == []
    message = world.kube.event_messages[
        world.kube.events.index((OLD, "Warning", "ExemptionNotDurable"))
    ]
    assert "spec.inactivity.exempt of AtlassianOrg acme" in message


ADMIN, SCIM, GUARD, GUEST = "adm06", "sci07", "grd08", "gst09"


def gauge(world: World, state: str) -> float | None:
    return world.metrics.registry.get_sample_value(
        "atlassian_operator_inactivity_accounts",
        {"namespace": "team", "org": "acme", "state": state},
    )


def idle_but_refused(world: World) -> None:
    """Four more people idle for 400 days whom the operator would not suspend: an org admin,
    one synced from an identity provider, one protected, one unmanaged (outside the verified
    domains) — all billable."""
    for ident in (ADMIN, SCIM, GUARD, GUEST):
        world.atlassian.add(user(ident, last_active=ago(400), billable=True))
        world.account(ident, accountId=ident)
    world.atlassian.directory[ADMIN] = {"platform_roles": ("atlassian/org-admin",)}
    world.atlassian.directory[SCIM] = {"management_source": "synced"}
    world.atlassian.directory[GUEST] = {"claim_status": "unmanaged"}


@pytest.mark.parametrize("mode", ["Report", "Enforce"])
async def test_reclaimable_counts_only_the_seats_the_operator_would_reclaim(
    world: World, mode: str
) -> None:
    idle_but_refused(world)
    observe_all(world)
    world.org(
        inactivity={"suspendAfterDays": 90, "mode": mode},
        suspension={"protectedAccounts": [f"{GUARD}@acme.example"], "dryRun": True},
    )
    await synced(world)
    assert counts(world) == {
        "eligible": 3, "eligibleBillable": 2, "suspended": 0, "warned": 0,
        "refused": 4, "refusedBillable": 4, "keptByIntent": 0,
    }  # fmt: skip
    assert gauge(world, "eligible_billable") == 2 and gauge(world, "refused") == 4
    for ident, reason in (
        (ADMIN, "OrganizationAdmin"), (SCIM, "ManagedByIdentityProvider"),
        (GUARD, "ProtectedAccount"), (GUEST, "UnmanagedAccount"),
    ):  # fmt: skip
        status = world.status(ident)
        assert "inactivityEligible" not in status, ident
        assert status["inactivityRefused"] == reason, ident
    # In either mode the admin is not a failure (Ready stays Observed): its Inactivity
    # condition says the operator would not suspend it, rather than "would in Enforce".
    assert world.reason(ADMIN) == "Observed"
    assert verdict(world, ADMIN) == "RefusedOrganizationAdmin"
    message = find(world.status(ADMIN)["conditions"], "Inactivity")["message"]  # type: ignore[index]
    assert "would refuse to suspend it (OrganizationAdmin)" in message
    assert "inactive for 400 days" in message
    assert verdict(world, GUARD) == "RefusedProtectedAccount"
    assert world.atlassian.calls == []


async def test_an_org_that_allows_admins_counts_its_idle_admins_as_reclaimable(
    world: World,
) -> None:
    idle_but_refused(world)
    world.org(
        inactivity={"suspendAfterDays": 90},
        suspension={"allowAdmins": True, "protectedAccounts": [GUARD]},
    )
    await synced(world)
    assert world.status(ADMIN)["inactivityEligible"] is True
    assert (counts(world)["eligibleBillable"], counts(world)["refused"]) == (1, 3)


async def test_the_counts_keep_their_last_good_values_while_the_api_key_is_broken(
    world: World,
) -> None:
    # Enforce, but the brake holds every call: the eligible wait, counted, and none is made.
    idle_but_refused(world)
    observe_all(world)
    world.account("pinned", accountId=OLD, desiredState="Active")
    world.org(
        inactivity={"suspendAfterDays": 90, "mode": "Enforce"},
        suspension={"pauseAbove": 1, "protectedAccounts": [GUARD]},
    )
    await synced(world)
    listed = world.org_status()["inactivity"]
    assert counts(world) == {
        "eligible": 2, "eligibleBillable": 1, "suspended": 0, "warned": 0,
        "refused": 4, "refusedBillable": 4, "keptByIntent": 1,
    }  # fmt: skip
    as_of = listed["asOf"]
    as_of_gauge = world.metrics.registry.get_sample_value(
        "atlassian_operator_inactivity_as_of_timestamp_seconds",
        {"namespace": "team", "org": "acme"},
    )
    assert as_of_gauge == datetime.fromisoformat(as_of.replace("Z", "+00:00")).timestamp()

    # The key Secret is deleted: the next sync cannot list, and nobody can be called.
    world.kube.secret = None
    world.tick(61)
    await until(lambda: world.org_reason() == "SecretNotUsable", "the broken key")
    await quiet(world)
    assert world.org_status()["inactivity"] == listed  # the same counts, as of the same listing
    assert gauge(world, "eligible_billable") == 1 and gauge(world, "refused") == 4
    assert gauge(world, "kept_by_intent") == 1
    assert world.reason(OLDEST) == "SecretNotUsable"
    assert world.status(OLDEST)["inactivityEligible"] is True
    assert world.atlassian.calls == []


async def test_an_idle_account_pinned_active_is_kept_by_intent_and_says_so(world: World) -> None:
    world.org(inactivity={"suspendAfterDays": 90, "mode": "Enforce"})
    world.account(OLDEST, accountId=OLDEST, desiredState="Active")
    world.account(RECENT, accountId=RECENT, desiredState="Active")
    world.account(OLD, accountId=OLD)
    await synced(world)
    await until(lambda: world.atlassian.disables(OLD) == 1, "the observe-only one suspended")
    await quiet(world)
    # Explicit intent still wins: the pinned one is never suspended, but a review sees it.
    assert world.atlassian.disables(OLDEST) == 0
    pinned = world.status(OLDEST)
    assert pinned["keptByIntent"] is True and "inactivityEligible" not in pinned
    assert world.reason(OLDEST) == "InDesiredState"
    message = find(pinned["conditions"], "Ready")["message"]  # type: ignore[index]
    assert "kept by intent, inactive for 300 days" in message and "90 days" in message
    assert "keptByIntent" not in world.status(RECENT)
    assert counts(world)["keptByIntent"] == 1 and gauge(world, "kept_by_intent") == 1
    # Unpinned (the desiredState removed), the policy decides: it is suspended.
    world.account(OLDEST, accountId=OLDEST)
    await until(lambda: world.atlassian.disables(OLDEST) == 1, "suspended once unpinned")
    await quiet(world)
    assert "keptByIntent" not in world.status(OLDEST)
    assert counts(world)["keptByIntent"] == 0


async def test_the_policy_takes_only_its_share_of_a_window_and_offboardings_go_first(
    world: World,
) -> None:
    # maxPerSync 2: the policy's default share is 1, so a window always has room for a leaver.
    world.atlassian.add(*(user(n, last_active=ago(1)) for n in ("leaver", "leaver2", "leaver3")))
    world.org(inactivity={"suspendAfterDays": 90, "mode": "Enforce"}, suspension={"maxPerSync": 2})
    observe_all(world)
    await synced(world)
    await until(lambda: world.atlassian.disables(OLDEST) == 1, "the longest inactive first")
    await quiet(world)
    assert [i for _, i in world.atlassian.calls] == [OLDEST]  # one slot of two: its share
    assert verdict(world, OLDER) == "WaitingForBudget"
    message = find(world.status(OLDER)["conditions"], "Inactivity")["message"]  # type: ignore[index]
    assert "spec.inactivity.maxPerSync" in message
    # A leaver in the same window finds the slot the policy left.
    world.account("leaver", accountId="leaver", desiredState="Suspended")
    await until(lambda: world.atlassian.disables("leaver") == 1, "the leaver, at once")
    await quiet(world)
    # Two more leavers while the policy's accounts have waited longer: in the next window both
    # go before any of them (explicit intent first, whenever it began to wait).
    for name in ("leaver2", "leaver3"):
        world.account(name, accountId=name, desiredState="Suspended")
    await quiet(world)
    assert len(world.atlassian.calls) == 2
    world.tick(61)
    await until(lambda: len(world.atlassian.calls) == 4, "the next window")
    await quiet(world)
    assert [i for _, i in world.atlassian.calls] == [OLDEST, "leaver", "leaver2", "leaver3"]
    assert world.reason("leaver3") != "SuspensionBudgetExceeded"
    world.tick(61)
    await until(lambda: len(world.atlassian.calls) == 5, "the policy's next one")
    world.tick(61)
    await until(lambda: len(world.atlassian.calls) == 6, "and the last")
    await quiet(world)
    assert [i for _, i in world.atlassian.calls][4:] == [OLDER, OLD]


async def test_an_explicit_offboarding_waiting_for_the_budget_is_still_not_ready(
    world: World,
) -> None:
    world.org(suspension={"maxPerSync": 1})
    for name in ("leaver", "leaver2"):
        world.atlassian.add(user(name, last_active=ago(1)))
        world.account(name, accountId=name, desiredState="Suspended")
    await synced(world)
    await until(lambda: len(world.atlassian.calls) == 1, "one call")
    await quiet(world)
    waiting = next(n for n in ("leaver", "leaver2") if world.atlassian.disables(n) == 0)
    assert world.reason(waiting) == "SuspensionBudgetExceeded"
    assert find(world.status(waiting)["conditions"], "Ready")["status"] == "False"  # type: ignore[index]
    assert find(world.status(waiting)["conditions"], "Inactivity") is None  # no policy


BASE = datetime(2026, 12, 1, tzinfo=UTC)
DAY = 86_400


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch, world: World) -> Callable[[], datetime]:
    """The operator's wall clock (the listing's time the policy measures from) moved by the
    world's clock, so that days pass in a test without waiting for them."""

    def now() -> datetime:
        return BASE + timedelta(seconds=world.now)

    class Controlled(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return BASE + timedelta(seconds=world.now)

    for name, module in list(sys.modules.items()):
        if name.startswith("atlassian_operator.reconcile") and (
            getattr(module, "datetime", None) is datetime
        ):
            monkeypatch.setattr(module, "datetime", Controlled)
    return now


async def test_enforce_warns_first_and_suspends_only_after_the_warning_period(
    world: World, wall: Callable[[], datetime]
) -> None:
    idle, fresh, quiet_one = "idle1", "fresh2", "quiet3"
    world.atlassian.add(
        user(idle, last_active=BASE - timedelta(days=300), billable=True),  # far past both
        user(quiet_one, last_active=BASE - timedelta(days=85)),  # past warnAfterDays only
        user(fresh, last_active=BASE - timedelta(days=40)),  # neither
    )
    world.org(inactivity={"suspendAfterDays": 90, "warnAfterDays": 80, "mode": "Enforce"})
    for name in (idle, fresh, quiet_one):
        world.account(name, accountId=name)
    await synced(world)
    await quiet(world)
    # 300 days idle, but never warned: warned now, not suspended.
    assert world.atlassian.calls == []
    started = stamp(wall())
    for name in (idle, quiet_one):
        status = world.status(name)
        assert verdict(world, name) == "InactivityWarning", name
        assert status["inactivityWarnedAt"] == started, name
        assert "inactivityEligible" not in status
        assert world.reason(name) == "Observed"
        assert world.kube.warnings(name) == ["InactivityWarning"], name
    message = find(world.status(idle)["conditions"], "Inactivity")["message"]  # type: ignore[index]
    assert f"suspended no earlier than {stamp(wall() + timedelta(days=10))}" in message
    assert verdict(world, fresh) == "NotInactive" and "inactivityWarnedAt" not in world.status(
        fresh
    )
    assert world.org_status()["inactivity"]["warned"] == 2
    gauge = world.metrics.registry.get_sample_value(
        "atlassian_operator_inactivity_accounts",
        {"namespace": "team", "org": "acme", "state": "warned"},
    )
    assert gauge == 2
    # Nine days on: still in the warning period; the warning is not posted again.
    world.tick(9 * DAY)
    await synced(world, listings=2)
    await quiet(world)
    assert world.atlassian.calls == []
    assert world.kube.warnings(idle) == ["InactivityWarning"]
    assert world.status(idle)["inactivityWarnedAt"] == started
    # The quiet one comes back: the warning ends (and would start afresh).
    world.atlassian.add(user(quiet_one, last_active=wall()))
    # Ten days after the warning began, the idle one may go.
    world.tick(1 * DAY)
    await until(lambda: world.atlassian.disables(idle) == 1, "suspended after the warning")
    await quiet(world)
    assert world.atlassian.disables(quiet_one) == 0
    assert verdict(world, quiet_one) == "NotInactive"
    assert "inactivityWarnedAt" not in world.status(quiet_one)
    assert world.org_status()["inactivity"]["warned"] == 0


async def test_a_restart_keeps_the_warning_start(
    world: World, wall: Callable[[], datetime]
) -> None:
    world.atlassian.add(user("idle1", last_active=BASE - timedelta(days=300)))
    world.org(inactivity={"suspendAfterDays": 90, "warnAfterDays": 60, "mode": "Enforce"})
    world.account("idle1", accountId="idle1")
    await synced(world)
    await quiet(world)
    started = world.status("idle1")["inactivityWarnedAt"]
    assert started == stamp(wall())
    await world.stop()
    world.tick(29 * DAY)
    world.restart()
    await synced(world, listings=2)
    await quiet(world)
    # Measured from the first warning, not the restart; and no second Event.
    assert world.status("idle1")["inactivityWarnedAt"] == started
    assert world.kube.warnings("idle1") == ["InactivityWarning"]
    assert world.atlassian.calls == []
    world.tick(1 * DAY)
    await until(lambda: world.atlassian.disables("idle1") == 1, "thirty days after the warning")
