"""The org owner under interleavings the tests choose: fakes block and release on events.

Each test names the fault of the old acting layer it shows cannot happen (issue 16).
"""

from __future__ import annotations

import asyncio
import copy
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from owner_world import DEADLINE, NS, ORG, FakeAtlassian, World, quiet, synced, until, user

from atlassian_operator.atlassian import (
    AtlassianUnavailable,
    Forbidden,
    ListingInconsistent,
    OutcomeUnknown,
    RateLimited,
)
from atlassian_operator.core.conditions import find
from atlassian_operator.reconcile.fleet import Fleet
from atlassian_operator.reconcile.messages import (
    AccountGone,
    Listed,
    Message,
    OrgGone,
    OrgSeen,
    RateLimitWait,
)

ALICE, BOB, CEO = "aa01", "bb02", "cc03"


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = World()
    w.atlassian.add(user(ALICE), user(BOB), user(CEO, email="ceo@acme.example"))
    w.start()
    yield w
    await w.stop()


async def test_a_suspension_during_the_account_listing_is_not_repeated(world: World) -> None:
    """Double disable: the listing's snapshot predates the call; the call is the newer truth."""
    world.org(accountDiscovery={"enabled": True})
    world.account("alice", accountId=ALICE)
    await synced(world)
    world.kube.claims_gate.close()  # the next sync holds in its LIST of AtlassianAccounts
    world.tick(61)
    await until(lambda: world.kube.claims_gate.waiting == 1, "the sync to wait for its LIST")
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.atlassian.disables(ALICE) == 1, "the disable call")
    await until(lambda: world.status("alice").get("accountStatus") == "Suspended", "Suspended")
    world.kube.claims_gate.open()
    await until(lambda: world.atlassian.listings == 2 and world.kube.claims_gate.waiting == 0, "")
    await quiet(world)
    world.tick(61)  # and one more listing, now showing the user inactive
    await until(lambda: world.atlassian.listings == 3, "a third listing")
    await quiet(world)
    assert world.atlassian.disables() == 1


async def test_an_email_that_moves_to_another_person_never_moves_the_suspension(
    world: World,
) -> None:
    world.org()
    world.account("leaver", email="alex@acme.example", desiredState="Suspended")
    world.atlassian.add(user("old-alex", status="inactive", email="alex@acme.example"))
    await synced(world)
    assert world.status("leaver")["accountId"] == "old-alex"
    # The old account is deleted; a new hire gets the address; someone re-enables nothing.
    del world.atlassian.users["old-alex"]
    world.atlassian.add(user("new-alex", email="alex@acme.example"))
    world.tick(61)
    await until(lambda: world.reason("leaver") == "IdentityChanged", "IdentityChanged")
    await quiet(world)
    message = world.status("leaver")["conditions"][0]["message"]
    assert "old-alex" in message and "new-alex" in message and "spec.accountId" in message
    assert world.atlassian.disables() == 0
    assert world.kube.warnings("leaver") == ["IdentityChanged"]
    world.tick(61)  # it stays so, with no second Event
    await until(lambda: world.atlassian.listings == 3, "a third listing")
    await quiet(world)
    assert world.kube.warnings("leaver") == ["IdentityChanged"]
    # Setting spec.accountId says whom it means.
    world.account("leaver", accountId="new-alex", email="alex@acme.example",
                  desiredState="Suspended")  # fmt: skip
    await until(lambda: world.atlassian.disables("new-alex") == 1, "the meant suspension")


async def test_protection_holds_when_atlassian_hides_the_email(world: World) -> None:
    world.org(suspension={"protectedAccounts": ["ceo@acme.example"]})
    world.account("ceo", email="ceo@acme.example")
    await synced(world)
    assert world.status("ceo")["accountId"] == CEO
    # Restricted email visibility: the listing no longer shows the address.
    world.atlassian.add(user(CEO).model_copy(update={"email": None}))
    world.tick(61)
    await until(lambda: world.atlassian.listings == 2, "a second listing")
    await quiet(world)
    world.account("ceo", email="ceo@acme.example", desiredState="Suspended")
    await until(lambda: world.reason("ceo") == "ProtectedAccount", "ProtectedAccount")
    assert world.atlassian.disables() == 0


async def test_moving_an_account_to_another_org_cancels_what_the_old_org_queued() -> None:
    people = FakeAtlassian()
    people.add(user(ALICE), user(BOB))
    one, two = World(people, "one"), World(people, "two")
    for w in (one, two):
        w.start()
    try:
        one.org(suspension={"maxPerSync": 1})
        two.org(suspension={"dryRun": True})
        one.account("alice", accountId=ALICE, desiredState="Suspended")
        await until(lambda: people.disables(ALICE) == 1, "alice's suspension spends the budget")
        one.account("bob", accountId=BOB, desiredState="Suspended")
        await until(lambda: one.reason("bob") == "SuspensionBudgetExceeded", "bob waits")
        # bob moves to org "two" (dry run) while waiting for a slot of org "one"
        one.owner.post(AccountGone("bob", one.kube.objects[("AtlassianAccount", "bob")]
                                   ["metadata"]["uid"]))  # fmt: skip
        await quiet(one)
        one.tick(61)  # the window of "one" frees a slot
        await until(lambda: one.owner.budget.available(one.now) == 1, "a free slot")
        await quiet(one)
        assert people.disables(BOB) == 0
        assert not one.owner.budget.waiting("bob")
    finally:
        await one.stop()
        await two.stop()


async def test_a_missing_secret_costs_one_event_no_requests_and_a_fix_lands_at_once(
    world: World,
) -> None:
    """No hot loop, no Event storm, no dead loop; restoring the Secret unblocks by itself."""
    world.org()
    world.account("alice", accountId=ALICE)
    await synced(world)
    world.kube.secret = None
    world.tick(61)
    await until(lambda: world.org_reason() == "SecretNotUsable", "SecretNotUsable")
    requests = len(world.atlassian.keys_used)
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.reason("alice") == "SecretNotUsable", "alice blocked")
    for _ in range(50):  # many backoff steps and key checks pass
        world.tick(7)
        await quiet(world)
    assert len(world.atlassian.keys_used) == requests, "no Atlassian request without a key"
    assert world.kube.warnings("alice") == ["SecretNotUsable"]
    assert world.owner.alive(world.now) is None
    # Both wait for a person (kstatus: Failed), the org's Ready and Synced say why.
    for status in (world.org_status(), world.status("alice")):
        stalled = find(status["conditions"], "Stalled") or {}
        assert (stalled.get("status"), stalled.get("reason")) == ("True", "SecretNotUsable")
    world.kube.secret = "key-1"
    world.tick(5)  # the next key check (every 5 s, a Kubernetes GET) sees it
    await until(lambda: world.atlassian.disables(ALICE) == 1, "the suspension")
    await until(lambda: world.status("alice").get("accountStatus") == "Suspended", "Suspended")
    for status in (world.org_status(), world.status("alice")):
        stalled = find(status["conditions"], "Stalled") or {}
        assert stalled.get("status") == "False", status["conditions"]


async def test_a_new_key_unblocks_a_permanent_failure_without_touching_the_account(
    world: World,
) -> None:
    world.atlassian.fail_calls = lambda action, account_id: (
        Forbidden("scoped key", key="forbidden.insufficientScope")
        if world.kube.secret == "scoped"
        else None
    )
    world.kube.secret = "scoped"
    world.org()
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.reason("alice") == "Forbidden", "Forbidden")
    for _ in range(3):  # listings come and go: the failure is not retried
        world.tick(61)
        await quiet(world)
    assert world.atlassian.disables() == 1
    world.kube.secret = "unscoped"  # rotated in place
    world.tick(61)
    await until(lambda: world.atlassian.disables() == 2, "a retry with the new key")
    await until(lambda: world.reason("alice") == "InDesiredState", "suspended")
    assert world.atlassian.keys_used[-1] == "unscoped"


async def test_a_recreated_org_is_a_new_object_with_the_same_budget(world: World) -> None:
    """Bug 12: a Flux prune-and-create or an Argo CD Replace must not refill the window."""
    world.org(suspension={"maxPerSync": 1})
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.atlassian.disables() == 1, "a suspension spends the budget")
    # Deleted and created again with the same name and generation; the DELETED event was missed.
    later = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    world.org(uid="org-uid-2", created=later, suspension={"maxPerSync": 1})
    await until(lambda: world.owner.ref.uid == "org-uid-2", "the new object")
    await quiet(world)
    await until(lambda: world.atlassian.listings == 2, "the new org's first listing")
    await quiet(world)
    world.account("bob", accountId=BOB, desiredState="Suspended")
    await until(lambda: world.reason("bob") == "SuspensionBudgetExceeded", "bob waits")
    assert world.atlassian.disables() == 1
    assert world.owner.budget.spent(world.now) == 1
    world.tick(61)  # the window of the first call has passed
    await until(lambda: world.atlassian.disables(BOB) == 1, "bob's turn")


async def alice_suspended_then_both_deleted(world: World) -> None:
    """One call spends a budget of one; then the account that asked and the org are deleted."""
    world.org(suspension={"maxPerSync": 1})
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.atlassian.disables() == 1, "a suspension spends the budget")
    await quiet(world)
    alice = world.kube.objects.pop(("AtlassianAccount", "alice"))
    world.owner.post(AccountGone("alice", alice["metadata"]["uid"]))
    world.delete_org()
    await quiet(world)


async def test_a_recreated_org_keeps_the_window_in_its_own_status_across_a_restart(
    world: World,
) -> None:
    """Found by `make fuzz`: the only durable record of a call whose account was deleted was
    the old object's `status.budget`; re-creating the org and then restarting refilled the
    window. The new object records the window it inherits as soon as it is seen."""
    await alice_suspended_then_both_deleted(world)
    world.org(uid="org-uid-2", suspension={"maxPerSync": 1})
    await until(lambda: world.owner.ref.uid == "org-uid-2", "the new object")
    await quiet(world)
    assert len(world.org_status().get("budget", {}).get("calls", [])) == 1
    await world.stop()
    world.restart()
    world.account("bob", accountId=BOB, desiredState="Suspended")
    await until(lambda: world.reason("bob") == "SuspensionBudgetExceeded", "bob waits")
    assert world.atlassian.disables() == 1


async def test_calls_still_count_once_the_org_and_the_account_are_gone_and_it_restarted(
    world: World,
) -> None:
    """Found by `make fuzz`: with the AtlassianOrg and the account that asked both deleted (a
    pruned directory, then a revert) and the operator restarted meanwhile, no object recorded
    the call any more, and the window started afresh. The org's call ledger outlives them."""
    await alice_suspended_then_both_deleted(world)
    await world.stop()
    world.restart()
    world.org(uid="org-uid-2", suspension={"maxPerSync": 1})
    world.account("bob", accountId=BOB, desiredState="Suspended")
    await until(lambda: world.reason("bob") == "SuspensionBudgetExceeded", "bob waits")
    assert world.atlassian.disables() == 1
    assert [call.account for call in world.kube.ledger("org-1")] == ["alice"]
    world.tick(61)  # the window of alice's call has passed
    await until(lambda: world.atlassian.disables(BOB) == 1, "bob's turn")


async def test_a_restart_counts_each_call_once_when_the_ledger_holds_them(world: World) -> None:
    """Found by the crash test under load: an account's pendingAction times a call when it was
    recorded, the org's status.budget when it was sent; once a slow write put them more than a
    second apart, a restart counted the call twice and held back calls the window allowed.
    The ledger, once it exists, is the one record."""
    world.org(suspension={"maxPerSync": 3})
    world.account("alice", accountId=ALICE)
    world.account("bob", accountId=BOB)
    await synced(world)
    world.atlassian.call_gate.close()
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.atlassian.call_gate.waiting == 1, "alice's call is in flight")
    await quiet(world)
    await world.stop()  # SIGKILL: the call never lands
    alice = world.kube.objects[("AtlassianAccount", "alice")]["status"]["pendingAction"]
    sent = world.org_status()["budget"]["calls"][0]
    recorded = datetime.strptime(sent, "%Y-%m-%dT%H:%M:%SZ") - timedelta(seconds=5)
    alice["time"] = recorded.strftime("%Y-%m-%dT%H:%M:%SZ")  # its write took 5 s to land
    world.atlassian.call_gate.open()
    world.restart()
    world.account("bob", accountId=BOB, desiredState="Suspended")
    # The lost call counts once: alice's call again and bob's fit in the window of 3.
    await until(lambda: world.atlassian.disables(BOB) == 1, "bob's suspension")
    await until(lambda: world.atlassian.disables(ALICE) == 2, "alice's call, made again")


async def test_no_call_is_made_while_the_ledger_cannot_be_written(world: World) -> None:
    """A call the ledger does not hold could be forgotten: while the ConfigMap cannot be
    written (RBAC without the grant), the account says why and nothing is called."""
    world.org()
    world.account("alice", accountId=ALICE)
    await synced(world)
    world.kube.refuse_ledger = 403
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.reason("alice") == "LedgerUnavailable", "alice waits for it")
    assert "ConfigMap team/atlassian-calls-" in world.status("alice")["conditions"][0]["message"]
    assert world.atlassian.disables() == 0
    world.kube.refuse_ledger = 0
    world.tick(61)  # the ledger's retry, after its backoff
    await until(lambda: world.atlassian.disables(ALICE) == 1, "alice's suspension")
    assert [call.account for call in world.kube.ledger("org-1")] == ["alice"]


async def test_an_org_object_pointed_at_another_org_starts_a_new_window(world: World) -> None:
    world.org(suspension={"maxPerSync": 1})
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.atlassian.disables() == 1, "a suspension spends the budget")
    world.org(generation=2, orgId="org-2", suspension={"maxPerSync": 1})
    await until(lambda: world.owner.budget.spent(world.now) == 0, "org-2's own window")


async def test_a_listing_that_contradicts_itself_deprovisions_nobody_and_acts_on_nobody(
    world: World,
) -> None:
    world.org()
    world.account("alice", accountId=ALICE)
    world.account("bob", accountId=BOB)
    await synced(world)
    del world.atlassian.users[BOB]  # bob missing, while meta.total still counts him
    world.atlassian.reported_total = 3
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.atlassian.disables() == 1, "alice's suspension")
    world.atlassian.add(user(ALICE))  # re-enabled upstream: drift
    world.tick(61)
    await until(lambda: world.org_reason() == "ListingInconsistent", "ListingInconsistent")
    await quiet(world)
    assert world.status("bob")["accountStatus"] == "Active"
    assert world.atlassian.disables() == 1, "no action from a doubtful listing"
    world.atlassian.reported_total = None
    world.tick(61)
    await until(lambda: world.status("bob")["accountStatus"] == "Deprovisioned", "bob gone")
    await until(lambda: world.atlassian.disables() == 2, "the drift corrected")


async def test_a_listing_that_would_not_end_fails_the_sync_and_acts_on_nobody(
    world: World,
) -> None:
    """Issue 25 (14): the client abandons a listing of endless pages; the org says so, as for
    any listing that contradicts itself, and nobody is acted on until a listing ends."""
    world.atlassian.fail_list = ListingInconsistent(
        "stopped listing users of org 'org-1' (page 10), a listing that would not end: the "
        "last 10 of 10 pages were empty, yet each linked to a next one; meta.total says 3 users"
    )
    world.org()
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.org_reason() == "ListingInconsistent", "ListingInconsistent")
    await quiet(world)
    synced = find(world.org_status()["conditions"], "Synced")
    assert synced is not None and "would not end" in synced["message"]
    assert world.reason("alice") == "OrgNotSynced"
    assert world.atlassian.calls == [], "no lifecycle call from a listing that did not end"
    world.atlassian.fail_list = None
    world.tick(61)
    await until(lambda: world.atlassian.disables(ALICE) == 1, "the suspension, once it ends")


async def test_explicit_intent_wins_and_a_deleted_duplicate_frees_the_other_at_once(
    world: World,
) -> None:
    world.org()
    world.account("discovered-alice", accountId=ALICE)
    await synced(world)
    world.account("offboard-alice", email=f"{ALICE}@acme.example", desiredState="Suspended")
    await until(lambda: world.atlassian.disables(ALICE) == 1, "the Git-managed suspension")
    await until(lambda: world.reason("offboard-alice") == "InDesiredState", "done")
    await until(
        lambda: world.status("discovered-alice")["conditions"][0]["reason"] == "DefersToAccount",
        "the observe-only account defers",
    )
    world.account("second", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.reason("second") == "DuplicateAccount", "a conflict")
    await until(lambda: world.reason("offboard-alice") == "DuplicateAccount", "both say so")
    second = world.kube.objects.pop(("AtlassianAccount", "second"))
    world.owner.post(AccountGone("second", second["metadata"]["uid"]))
    await until(lambda: world.reason("offboard-alice") == "InDesiredState", "at once")
    assert world.atlassian.disables() == 1


async def test_two_org_objects_for_one_org_id_never_fight_over_a_person() -> None:
    """Two AtlassianOrgs naming one orgId (issue 25, item 6) each acted on alice: one disabled
    her and the other re-enabled her every sync. The earlier one acts; the other says
    DuplicateOrg, lists nothing and changes nobody, and takes over once the first is deleted."""
    people = FakeAtlassian()
    people.add(user(ALICE, status="inactive"))
    # One Atlassian org, seen through each object's own key: each counts its own listings.
    other_key = FakeAtlassian(users=people.users, calls=people.calls)
    fleet = Fleet(None, None, None, frozenset())  # type: ignore[arg-type]
    first = World(people, ORG, namespace="team-a", fleet=fleet)
    second = World(other_key, ORG, namespace="team-b", fleet=fleet)
    worlds = (first, second)
    for w in worlds:
        w.start()
    try:
        first.org(created="2026-12-01T00:00:00Z")
        second.org(uid="org-uid-2", created="2026-12-02T00:00:00Z",
                   suspension={"allowReactivation": True})  # fmt: skip
        first.account("offboard-alice", accountId=ALICE, desiredState="Suspended")
        second.account("keep-alice", accountId=ALICE, desiredState="Active")
        await until(lambda: first.reason("offboard-alice") == "InDesiredState", "first synced")
        for sync in range(2, 5):
            for w in worlds:
                w.tick(61)
            await until(
                # awaited within this iteration: `sync` cannot move under it
                lambda: people.listings >= sync and not first.owner._busy_syncing(),  # noqa: B023
                f"the first org's sync {sync} done",
            )
            for w in worlds:
                await quiet(w)
        assert [call for call in people.calls if call[0] == "enable"] == []
        assert people.disables(ALICE) <= 1
        assert other_key.listings == 0, "the duplicate lists nothing"
        assert second.org_reason("Ready") == "DuplicateOrg"
        ready = find(second.org_status()["conditions"], "Ready")
        assert ready is not None and "team-a/acme" in ready["message"]
        assert second.reason("keep-alice") == "DuplicateOrg"
        assert first.org_reason("Ready") == "Synced"

        first.delete_org()  # the next one takes over at once, without waiting for its interval
        await until(lambda: ("enable", ALICE) in people.calls, "the second org's re-enable")
        await until(lambda: second.reason("keep-alice") == "InDesiredState", "its status")
        await until(lambda: second.org_reason("Ready") == "Synced", "the second org Ready")
        assert other_key.listings == 1
    finally:
        for w in worlds:
            await w.stop()


async def test_a_later_org_seen_first_yields_and_takes_over_when_the_orgId_moves() -> None:
    """At start-up the watch may deliver the later object first: its listing under way when
    the earlier one arrives is dropped unread. Pointing the earlier one at another orgId hands
    this orgId to the later one at once."""
    people = FakeAtlassian()
    people.add(user(ALICE, status="inactive"))
    other_key = FakeAtlassian(users=people.users, calls=people.calls)
    fleet = Fleet(None, None, None, frozenset())  # type: ignore[arg-type]
    first = World(people, "acme", fleet=fleet)
    second = World(other_key, "acme-copy", fleet=fleet)  # same namespace, another name
    heard: list[Message] = []  # what the later org's owner is told, in order
    tell = second.owner.post

    def overheard(message: Message) -> None:
        heard.append(message)
        tell(message)

    second.owner.post = overheard  # type: ignore[method-assign]
    for w in (first, second):
        w.start()
    try:
        other_key.list_gate.close()
        second.account("keep-alice", accountId=ALICE, desiredState="Active")
        second.org(created="2026-12-02T00:00:00Z", suspension={"allowReactivation": True})
        await until(lambda: other_key.list_gate.waiting == 1, "the later org's listing")
        first.org(created="2026-12-01T00:00:00Z")
        await until(lambda: second.org_reason("Ready") == "DuplicateOrg", "it yields")
        other_key.list_gate.open()
        await until(lambda: any(isinstance(m, Listed) for m in heard), "the listing's answer")
        await until(lambda: first.org_reason("Ready") == "Synced", "the earlier org synced")
        for w in (first, second):
            await quiet(w)
        assert people.calls == []
        assert second.org_reason("Ready") == "DuplicateOrg", "the listing was dropped unread"
        assert second.reason("keep-alice") == "DuplicateOrg"

        first.org(generation=2, orgId="org-2")  # the earlier one now serves another org
        await until(lambda: ("enable", ALICE) in people.calls, "the later org acts at once")
        await until(lambda: second.org_reason("Ready") == "Synced", "the later org Ready")
    finally:
        for w in (first, second):
            await w.stop()


async def test_the_org_counts_follow_the_operators_own_action(world: World) -> None:
    world.org()
    world.account("alice", accountId=ALICE)
    await synced(world)
    assert world.org_status()["users"]["suspended"] == 0
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.org_status()["users"]["suspended"] == 1, "counts at once")
    assert world.atlassian.listings == 1


async def test_an_unexpected_error_becomes_a_condition_and_the_loop_lives_on(
    world: World,
) -> None:
    world.org()
    await synced(world)

    def broken(*_: object) -> None:
        raise ZeroDivisionError("boom")

    world.owner._start_sync = broken  # type: ignore[method-assign]
    world.tick(61)
    await until(lambda: world.org_reason() == "InternalError", "InternalError")
    assert "ZeroDivisionError" in world.org_status()["conditions"][1]["message"]
    assert world.owner.alive(world.now) is None
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.atlassian.disables(ALICE) == 1, "still acting")


async def test_a_refused_status_write_ends_in_a_condition(world: World) -> None:
    world.org()
    world.kube.refuse_status = lambda ref, patch: (
        422 if ref.name == "alice" and "accountStatus" in patch else 0
    )
    world.account("alice", accountId=ALICE)
    await until(lambda: world.reason("alice") == "InternalError", "InternalError")
    assert "refused" in world.status("alice")["conditions"][0]["message"]


async def test_a_transient_failure_backs_off_without_overflow_and_without_a_storm(
    world: World,
) -> None:
    world.atlassian.fail_calls = lambda action, account_id: RateLimited("429", retry_after=600)
    world.org()
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    for attempt in range(1, 40):  # past 2**1024 if the delay were unbounded
        await until(lambda a=attempt: len(world.kube.warnings("alice")) == a, f"failure {attempt}")
        assert world.atlassian.disables() == attempt
        world.tick(61)
    await quiet(world)
    assert world.owner.alive(world.now) is None
    # One Warning Event per attempt, that is per backoff step: no storm.
    assert set(world.kube.warnings("alice")) == {"SuspendFailed"}


async def test_a_lost_outcome_does_not_hurry_listings_while_atlassian_is_down(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Atlassian down: a disable answered 503 may have landed, so a listing must confirm it
    before anything else happens; while listings fail, they back off as every failed sync
    does (5, 10, 20, 40 s, then the interval), not every 5 s for as long as the outage lasts."""
    world.org()  # syncInterval 60s
    await synced(world)
    # The shortest delays the jitter allows (0.8 of each): the most listings there can be.
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    world.atlassian.fail_calls = lambda action, account_id: OutcomeUnknown("HTTP 503", status=503)
    world.atlassian.fail_list = AtlassianUnavailable("Atlassian is unavailable: HTTP 503")
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.atlassian.disables() == 1, "the disable whose outcome is lost")
    listings = world.atlassian.listings
    seen = []
    for _ in range(60):  # five minutes in steps of 5 s
        world.tick(5)
        await quiet(world)
        seen.append(world.atlassian.listings - listings)
    # The first listing within 5 s, then after 4, 8, 16, 32 s and every 48 s (5, 10, 20, 40,
    # 60 s at 0.8), seen on 5 s ticks: 9 in 300 s. The old rule: one per tick, 60.
    assert seen[-1] <= 9, seen
    assert world.atlassian.disables() == 1  # never repeated without a listing

    world.atlassian.fail_list = None  # Atlassian is back: the next listing confirms, then acts
    world.tick(60)
    await until(lambda: world.atlassian.listings > listings + seen[-1], "a listing")


async def test_deleting_an_org_drops_its_state_and_metric_series(world: World) -> None:
    world.org(suspension={"maxPerSync": 1})
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    world.account("bob", accountId=BOB, desiredState="Suspended")
    await until(lambda: world.reason("bob") == "SuspensionBudgetExceeded", "bob waits")
    assert 'org="acme"' in _metrics(world)
    world.owner.post(OrgGone("org-uid-1"))
    await until(lambda: world.reason("bob") == "OrgNotFound", "the org is gone")
    await quiet(world)
    assert len(world.owner.budget) == 0 and world.owner.snapshot is None
    series = [line for line in _metrics(world).splitlines() if 'org="acme"' in line]
    # What is left of the org are its accounts, which still name it and say so.
    assert all(line.startswith("atlassian_operator_accounts{") for line in series), series
    assert 'ready="False",reason="OrgNotFound"} 2.0' in "\n".join(series)
    world.tick(3600)
    await quiet(world)
    assert world.atlassian.disables() == 1


async def test_one_orgs_blocked_calls_never_delay_another_org() -> None:
    """No head-of-line blocking: org one's calls hang; org two still suspends at once."""
    slow, fast = FakeAtlassian(), FakeAtlassian()
    slow.add(*(user(f"s{i:02}") for i in range(80)))
    fast.add(user(ALICE))
    one, two = World(slow, "one"), World(fast, "two")
    fleet = Fleet(None, None, None, frozenset(), clock=lambda: one.now)  # type: ignore[arg-type]
    fleet.owners[(NS, "one")], fleet.owners[(NS, "two")] = one.owner, two.owner
    for w in (one, two):
        w.start()
    try:
        one.org(suspension={"maxPerSync": 100, "pauseAbove": 100})
        two.org()
        slow.call_gate.close()  # every call of org one hangs (429 with Retry-After of minutes)
        for i in range(80):
            one.account(f"p{i}", accountId=f"s{i:02}", desiredState="Suspended")
        await until(lambda: slow.call_gate.waiting == 80, "80 calls held")
        two.account("alice", accountId=ALICE, desiredState="Suspended")
        await until(lambda: fast.disables(ALICE) == 1, "org two's suspension")
        await until(lambda: two.reason("alice") == "InDesiredState", "and its status")
        assert not fleet.problems()
        slow.call_gate.open()
    finally:
        await one.stop()
        await two.stop()


async def test_the_echo_of_our_own_write_is_dropped_but_an_edit_right_after_it_acts(
    world: World,
) -> None:
    """The Fleet skips a watch event whose version the owner already keeps (the echo of its own
    status write); the next version, a user's edit, still reaches the owner and is acted on."""
    fleet = Fleet(None, None, None, frozenset(), clock=lambda: world.now)  # type: ignore[arg-type]
    fleet.owners[(NS, "acme")] = world.owner
    world.org()
    await synced(world)
    created = world.account("alice", accountId=ALICE)["metadata"]["resourceVersion"]
    await until(lambda: world.reason("alice") == "Observed", "alice's first status")
    await quiet(world)
    stored = copy.deepcopy(world.kube.objects[("AtlassianAccount", "alice")])
    assert stored["metadata"]["resourceVersion"] != created  # the owner's write made a version

    fleet.account_event("MODIFIED", stored)  # the echo of the status write
    assert world.owner._queue.empty()

    edited = copy.deepcopy(stored)
    edited["spec"]["desiredState"] = "Suspended"
    edited["metadata"]["generation"] += 1
    edited["metadata"]["resourceVersion"] = str(next(world.kube._versions))
    world.kube.objects[("AtlassianAccount", "alice")] = copy.deepcopy(edited)
    fleet.account_event("MODIFIED", edited)
    await until(lambda: world.atlassian.disables(ALICE) == 1, "the edit's disable call")
    await until(lambda: world.status("alice").get("accountStatus") == "Suspended", "Suspended")


async def test_a_dead_loop_fails_the_liveness_check(world: World) -> None:
    fleet = Fleet(None, None, None, frozenset(), clock=lambda: world.now)  # type: ignore[arg-type]
    fleet.owners[(NS, "acme")] = world.owner
    assert fleet.problems() == []
    assert world.owner._task is not None
    world.owner._task.cancel()
    await until(lambda: world.owner._task is not None and world.owner._task.done(), "dead")
    assert fleet.problems() == [f"the loop of AtlassianOrg {NS}/acme ended"]


async def test_a_stalled_loop_fails_the_liveness_check(world: World) -> None:
    fleet = Fleet(None, None, None, frozenset(), clock=lambda: world.now)  # type: ignore[arg-type]
    fleet.owners[(NS, "acme")] = world.owner
    world.owner.post(OrgSeen({"metadata": {"name": "acme", "namespace": NS, "uid": "u"}}))
    await quiet(world)
    world.now += 120  # the loop has not beaten for two minutes of this clock
    assert "has not run for" in fleet.problems()[0]


def _metrics(world: World) -> str:
    from prometheus_client import generate_latest

    return generate_latest(world.metrics.registry).decode()


async def test_the_rate_limit_report_and_the_sync_never_lose_each_others_update(
    world: World,
) -> None:
    """One writer per status: a RateLimited report while the listing runs, then the listing's
    result, both go through the owner's queue of writes; the last decided status is stored."""
    world.org()
    await synced(world)
    world.atlassian.list_gate.close()
    world.tick(61)
    await until(lambda: world.atlassian.list_gate.waiting == 1, "a listing under way")
    world.owner.post(RateLimitWait(30.0))
    await until(lambda: world.org_reason() == "RateLimited", "RateLimited while it waits")
    assert world.org_reason("Ready") == "Synced"  # Ready holds for this generation
    world.atlassian.list_gate.open()
    await until(lambda: world.org_reason() == "ListingComplete", "the listing's result")
    await quiet(world)
    assert world.org_status()["users"]["total"] == 3
    assert world.org_reason() == "ListingComplete"


async def test_accounts_by_readiness_show_a_stuck_offboarding(world: World) -> None:
    world.org(suspension={"protectedAccounts": [CEO]})
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    world.account("ceo", accountId=CEO, desiredState="Suspended")
    world.account("bob", accountId=BOB)
    await until(lambda: world.reason("ceo") == "ProtectedAccount", "the CEO protected")
    await until(lambda: world.reason("alice") == "InDesiredState", "alice suspended")
    await quiet(world)
    text = _metrics(world)
    assert 'ready="False",reason="ProtectedAccount"} 1.0' in text
    assert 'ready="True",reason="InDesiredState"} 1.0' in text
    assert 'ready="True",reason="Observed"} 1.0' in text
    assert "_created" not in text
    assert "atlassian_operator_build_info{" in text


async def test_a_protected_entry_that_matches_nobody_is_reported_once(world: World) -> None:
    world.org(suspension={"protectedAccounts": ["ceo@acme.example", "cfo@acme.example"]})
    await synced(world)
    world.tick(61)
    await until(lambda: world.atlassian.listings == 2, "a second listing")
    await quiet(world)
    warnings = [e for e in world.kube.events if e[2] == "ProtectedAccountNotFound"]
    assert warnings == [("acme", "Warning", "ProtectedAccountNotFound")]


async def test_stopping_lets_a_suspension_in_flight_finish_at_atlassian() -> None:
    """On SIGTERM the owner stops starting calls but waits for the ones already sent: a
    cancelled call may still take effect at Atlassian after a replacement operator listed the
    account as active, and that one would send it again."""
    world = World()
    world.atlassian.add(user(ALICE), user(BOB))
    world.start()
    world.org()
    world.atlassian.call_gate.close()
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.atlassian.call_gate.waiting == 1, "alice's disable in flight")

    assert world.status("alice")["pendingAction"]["action"] == "Suspend"  # recorded first
    stopping = asyncio.create_task(world.owner.stop(drain=DEADLINE))
    await until(lambda: world.owner._draining, "the drain")
    world.account("bob", accountId=BOB, desiredState="Suspended")  # arrives after the stop
    await quiet(world)
    assert not stopping.done()  # still waiting for alice's answer
    world.atlassian.call_gate.open()
    await stopping
    assert world.atlassian.users[ALICE].account_status == "inactive"  # answered, not cancelled
    assert world.atlassian.disables() == 1  # and nothing new was started
    # Bug 8: the answer that came during the drain is recorded, and the intent settled.
    alice = world.status("alice")
    assert alice["lastAction"]["result"] == "Succeeded" and "pendingAction" not in alice
    assert ("alice", "Normal", "Suspended") in world.kube.events
    assert "pendingAction" not in world.status("bob")


async def test_stopping_gives_up_on_a_call_that_outlasts_the_drain() -> None:
    world = World()
    world.atlassian.add(user(ALICE))
    world.start()
    world.org()
    world.atlassian.call_gate.close()
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    await until(lambda: world.atlassian.call_gate.waiting == 1, "alice's disable in flight")
    await world.owner.stop(drain=0.05)  # returns although the call never answers
    assert world.atlassian.call_gate.waiting == 0  # cancelled
    assert world.atlassian.users[ALICE].account_status == "active"


def synced_of(world: World, name: str) -> tuple[str, str]:
    found = find(world.status(name).get("conditions"), "Synced") or {}
    return str(found.get("status")), str(found.get("reason"))


async def test_an_accounts_synced_turns_false_after_two_intervals_of_failed_listings(
    world: World,
) -> None:
    """SYNCED means "what this row shows is current": one failed listing does not say the
    account changed (no mass rewrite at every blip), but once the last complete listing is more
    than two intervals old it does, with why, and the next complete listing puts it back."""
    world.org(suspension={"maxPerSync": 1})  # syncInterval 60s
    world.account("alice", accountId=ALICE, desiredState="Suspended")
    world.account("bob", accountId=BOB, desiredState="Suspended")
    await until(lambda: world.reason("bob") == "SuspensionBudgetExceeded", "bob waits")
    assert synced_of(world, "bob") == ("True", "Synced")  # waiting is Ready's to say

    world.atlassian.fail_list = AtlassianUnavailable("Atlassian is unavailable: HTTP 503")
    world.tick(61)
    await until(lambda: world.org_reason() == "AtlassianUnavailable", "the failed listing")
    await quiet(world)
    assert synced_of(world, "alice") == ("True", "Synced")

    world.tick(60)  # 121 s since the last complete listing started, and a failed one now
    await until(lambda: synced_of(world, "alice") == ("False", "StaleListing"), "stale")
    message = str((find(world.status("alice").get("conditions"), "Synced") or {})["message"])
    assert "more than two sync intervals (120s) ago" in message and "HTTP 503" not in message
    assert world.reason("alice") == "InDesiredState"  # what was seen is kept, not forgotten

    world.atlassian.fail_list = None
    world.tick(60)
    await until(lambda: synced_of(world, "bob") == ("True", "Synced"), "current again")
