"""The suspension budget: a rolling window, oldest request first, and no busy waiting."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from atlassian_operator.core.brake import DAY_SECONDS
from atlassian_operator.core.budget import Backlog, SuspensionBudget, backlog_of, recorded_calls

WINDOW = 300.0


def spent_budget(limit: int, *times: float) -> SuspensionBudget:
    budget = SuspensionBudget(limit, WINDOW)
    for i, t in enumerate(times):
        budget.spend(f"earlier-{i}", t)
    return budget


def grant(budget: SuspensionBudget, now: float) -> list[str]:
    """The caller's granting policy: while a slot is free and someone waits, the oldest goes."""
    granted = []
    while budget.available(now) > 0 and (head := budget.next_in_line()) is not None:
        budget.spend(head, now)
        granted.append(head)
    return granted


# ----- the rolling window ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "available"),
    [
        pytest.param(0.0, 0, id="spent-at-t"),
        pytest.param(WINDOW - 0.001, 0, id="still-spent-just-before-t-plus-window"),
        pytest.param(WINDOW, 1, id="free-again-at-t-plus-window"),
        pytest.param(WINDOW * 3, 1, id="free-long-after"),
    ],
)
def test_a_spent_slot_comes_back_one_window_later(now: float, available: int) -> None:
    budget = spent_budget(1, 0.0)

    assert budget.available(now) == available


def test_the_window_rolls_one_call_at_a_time() -> None:
    budget = spent_budget(3, 0.0, 100.0, 200.0)

    assert [budget.available(t) for t in (250.0, 300.0, 400.0, 500.0)] == [0, 1, 2, 3]
    # Out of the window, still in the brake's day; gone a day after the last one.
    assert [t for t, _, _ in budget.kept(500.0)] == [0.0, 100.0, 200.0]
    assert budget.kept(DAY_SECONDS + 200.0) == []


def test_the_day_counts_only_calls_no_approval_covered() -> None:
    budget = SuspensionBudget(100, 300.0)
    for at, approved in ((0.0, False), (10.0, True), (20.0, True), (30.0, False)):
        budget.spend(f"k{at}", at, approved=approved)

    assert budget.unapproved_today(40.0) == {"k0.0", "k30.0"}
    assert budget.approved_since(10.0, 40.0) == 2  # a call made the moment it was accepted counts
    assert budget.approved_since(15.0, 40.0) == 1
    assert budget.unapproved_today(DAY_SECONDS + 5.0) == {"k30.0"}  # the first is a day old


def test_the_day_counts_a_retried_call_once() -> None:
    budget = SuspensionBudget(100, 300.0)
    for at in (0.0, 10.0, 20.0):
        budget.spend("alice", at)
    budget.ask("alice", 30.0)
    budget.ask("bob", 30.0)

    made = budget.unapproved_today(40.0)
    assert (len(made), budget.waiting_besides(made)) == (1, 1)


def test_a_refund_gives_back_the_call_it_names_approved_or_not() -> None:
    budget = SuspensionBudget(100, 300.0)
    budget.spend("a", 5.0, approved=True)
    budget.spend("b", 5.0)

    budget.refund("a", 5.0, approved=True)

    assert (budget.unapproved_today(6.0), budget.approved_since(0.0, 6.0)) == ({"b"}, 0)


def test_a_restored_call_counts_for_the_account_that_recorded_it() -> None:
    budget = SuspensionBudget(100, 300.0)

    budget.restore([(1.0, "alice"), (2.0, "alice"), (3.0, None), (4.0, None)], 10.0)
    budget.ask("alice", 10.0)  # retried after the restart: still one account

    made = budget.unapproved_today(10.0)
    assert (len(made), budget.waiting_besides(made)) == (3, 0)


def test_calls_of_one_second_restore_whether_or_not_a_record_names_their_account() -> None:
    budget = SuspensionBudget(100, 300.0)

    budget.restore([(5.0, "alice"), (5.0, None)], 10.0)  # make fuzz: this raised TypeError

    assert budget.spent(10.0) == 2


def test_recorded_calls_name_the_account_an_account_record_shows() -> None:
    at = [datetime(2026, 12, 6, 10, m, tzinfo=UTC) for m in range(4)]

    calls = recorded_calls(
        [at[0], at[2]],  # the org's record: two calls, whom for unknown
        [(at[1], "alice"), (at[3], "bob")],  # answered after they were sent
    )

    assert calls == [(at[0], "alice"), (at[2], "bob")]
    # A call only an account records (the org's record was lost) is kept, with its account.
    assert recorded_calls([], [(at[1], "carol")]) == [(at[1], "carol")]


def test_a_restored_record_counts_its_approved_calls_as_the_latest() -> None:
    budget = SuspensionBudget(100, 300.0)

    budget.restore([(1.0, None), (2.0, None), (3.0, None), (4.0, None)], 10.0, approved=1)

    assert len(budget.unapproved_today(10.0)) == 3  # each restored call counts as one person
    assert budget.approved_since(4.0, 10.0) == 1


def test_spent_counts_the_calls_in_the_window() -> None:
    budget = spent_budget(5, 0.0, 100.0, 200.0)

    assert [budget.spent(t) for t in (200.0, 300.0, 400.0, 500.0)] == [3, 2, 1, 0]


# ----- the line --------------------------------------------------------------------------------


def test_up_to_limit_requests_go_at_once_and_the_rest_wait() -> None:
    budget = SuspensionBudget(2, WINDOW)
    for name in ("a", "b", "c"):
        budget.ask(name, 0.0)

    assert grant(budget, 0.0) == ["a", "b"]
    assert len(budget) == 1
    assert [budget.waiting(k) for k in ("a", "b", "c")] == [False, False, True]
    assert budget.next_in_line() == "c"
    assert budget.spent(0.0) == 2


def test_every_disable_call_counts_even_without_a_request() -> None:
    budget = SuspensionBudget(1, WINDOW)
    budget.spend("drift", 0.0)
    budget.ask("spec-change", 1.0)

    assert grant(budget, 1.0) == []
    assert budget.waiting("spec-change")
    assert grant(budget, WINDOW) == ["spec-change"]


def test_nothing_is_granted_when_nobody_asks() -> None:
    budget = SuspensionBudget(3, WINDOW)

    assert budget.next_in_line() is None
    assert grant(budget, 0.0) == []
    assert budget.spent(0.0) == 0


def test_the_oldest_waiting_request_goes_first() -> None:
    budget = spent_budget(1, 0.0)
    budget.ask("old", 10.0)
    budget.ask("new", 20.0)

    assert grant(budget, 20.0) == []
    assert grant(budget, WINDOW) == ["old"]
    assert budget.next_in_line() == "new"


def test_requests_asked_at_the_same_time_go_by_key() -> None:
    budget = spent_budget(1, 0.0)
    for name in ("c", "a", "b"):
        budget.ask(name, 10.0)

    assert [grant(budget, t) for t in (WINDOW, 2 * WINDOW, 3 * WINDOW)] == [["a"], ["b"], ["c"]]


def test_the_line_order_is_by_time_asked_not_by_key() -> None:
    budget = SuspensionBudget(3, WINDOW)
    budget.ask("zed", 1.0)
    budget.ask("amy", 2.0)
    budget.ask("bob", 3.0)

    assert grant(budget, 3.0) == ["zed", "amy", "bob"]


def test_asking_again_keeps_the_place_in_the_line() -> None:
    budget = spent_budget(1, 0.0)
    budget.ask("old", 10.0)
    budget.ask("new", 20.0)

    budget.ask("old", 30.0)
    budget.ask("new", 5.0)  # an earlier time asked again does not jump the line either

    assert len(budget) == 2
    assert grant(budget, WINDOW) == ["old"]
    assert grant(budget, 2 * WINDOW) == ["new"]


def test_the_newer_request_goes_once_the_older_one_has_spent() -> None:
    budget = spent_budget(1, 0.0)
    budget.ask("old", 10.0)
    budget.ask("new", 20.0)
    budget.spend("old", WINDOW)

    assert grant(budget, WINDOW) == []
    assert grant(budget, 2 * WINDOW) == ["new"]


def test_withdraw_frees_the_place_in_the_line() -> None:
    budget = spent_budget(1, 0.0)
    budget.ask("old", 10.0)
    budget.ask("new", 20.0)

    budget.withdraw("old")

    assert not budget.waiting("old")
    assert len(budget) == 1
    assert budget.next_in_line() == "new"
    assert grant(budget, WINDOW) == ["new"]


def test_asking_after_a_withdrawal_joins_the_end_of_the_line() -> None:
    budget = spent_budget(1, 0.0)
    budget.ask("first", 10.0)
    budget.ask("second", 20.0)
    budget.withdraw("first")

    budget.ask("first", 30.0)

    assert grant(budget, WINDOW) == ["second"]
    assert grant(budget, 2 * WINDOW) == ["first"]


def test_withdraw_of_an_unknown_key_is_harmless() -> None:
    budget = SuspensionBudget(1, WINDOW)

    budget.withdraw("nobody")

    assert len(budget) == 0
    assert not budget.waiting("nobody")
    assert budget.next_in_line() is None


def test_spend_takes_the_request_out_of_the_line() -> None:
    budget = SuspensionBudget(1, WINDOW)
    budget.ask("a", 0.0)

    budget.spend("a", 0.0)

    assert not budget.waiting("a")
    assert len(budget) == 0
    assert budget.next_in_line() is None
    assert budget.spent(0.0) == 1


def test_next_in_line_does_not_take_the_request() -> None:
    budget = SuspensionBudget(1, WINDOW)
    budget.ask("a", 0.0)

    assert [budget.next_in_line(), budget.next_in_line()] == ["a", "a"]
    assert budget.waiting("a")
    assert budget.spent(0.0) == 0


# ----- a long line -----------------------------------------------------------------------------


def test_ten_thousand_waiting_requests_with_withdrawals_come_out_oldest_first() -> None:
    rng = random.Random(20240601)
    budget = spent_budget(1, 0.0)
    asked: dict[str, float] = {}
    keys: list[str] = []  # the standing keys, for picking one at random in O(1)
    gone_keys: list[str] = []  # withdrawn ones, some of which ask again later
    for i in range(10_000):
        key = f"acct-{rng.randrange(1_000_000):07d}-{i}"
        # Times repeat (ten requests a second) so that ties between keys are exercised too.
        at = float(i // 10)
        budget.ask(key, at)
        asked[key] = at
        keys.append(key)
        if i % 3 == 0:  # withdraw a standing request now and then
            j = rng.randrange(len(keys))
            keys[j], keys[-1] = keys[-1], keys[j]
            gone = keys.pop()
            budget.withdraw(gone)
            del asked[gone]
            gone_keys.append(gone)
        if i % 5 == 0 and gone_keys:  # a withdrawn request comes back: it joins at the end
            back = gone_keys.pop(rng.randrange(len(gone_keys)))
            budget.ask(back, at)
            asked[back] = at
            keys.append(back)
        if i % 7 == 0 and keys:  # ask again while waiting: keeps the first place
            budget.ask(keys[rng.randrange(len(keys))], -1.0)
    expected = sorted(asked, key=lambda k: (asked[k], k))
    assert len(budget) == len(expected)
    budget.resize(len(expected) + 5, WINDOW)

    granted = grant(budget, 2.0e6)

    assert granted == expected
    assert len(budget) == 0
    assert budget.next_in_line() is None


def test_lazily_withdrawn_entries_never_grow_the_heap_past_the_asks() -> None:
    budget = spent_budget(0)  # nobody can go: the head of the line stays put
    budget.ask("head", 0.0)
    pushes = 1
    for round_ in range(1, 200):
        for key in ("a", "b", "c"):
            budget.ask(key, float(round_))
            budget.ask(key, float(round_) + 0.5)  # asking while waiting pushes nothing
            pushes += 1
            budget.withdraw(key)
        # Lazily deleted entries are skipped: the head stays the oldest standing request.
        assert budget.next_in_line() == "head"
        assert len(budget._queue) <= pushes  # the heap itself is the subject
    assert len(budget) == 1

    budget.withdraw("head")

    assert budget.next_in_line() is None
    assert budget._queue == []  # every stale entry was dropped on the way


def test_withdrawn_entries_at_the_top_are_dropped_by_next_in_line() -> None:
    budget = SuspensionBudget(1, WINDOW)
    for i in range(100):
        budget.ask(f"k{i:03d}", float(i))
    for i in range(99):
        budget.withdraw(f"k{i:03d}")

    assert budget.next_in_line() == "k099"
    assert len(budget._queue) == 1  # the stale entries above it are gone
    assert len(budget) == 1


# ----- next_slot -------------------------------------------------------------------------------


def test_next_slot_is_none_when_nothing_waits() -> None:
    assert spent_budget(1, 0.0).next_slot(10.0) is None


def test_next_slot_is_none_once_every_request_is_withdrawn() -> None:
    budget = spent_budget(1, 0.0)
    budget.ask("a", 5.0)
    budget.withdraw("a")

    assert budget.next_slot(10.0) is None


def test_next_slot_is_none_when_the_limit_is_zero_so_nobody_wakes_in_a_loop() -> None:
    budget = SuspensionBudget(0, WINDOW)
    budget.ask("a", 0.0)

    assert grant(budget, 0.0) == []
    assert budget.next_slot(0.0) is None
    assert budget.next_slot(10 * WINDOW) is None


def test_next_slot_is_now_when_a_slot_is_free() -> None:
    budget = spent_budget(2, 0.0)
    budget.ask("a", 5.0)

    assert budget.next_slot(5.0) == 5.0


def test_next_slot_is_when_the_oldest_call_leaves_the_window() -> None:
    budget = spent_budget(2, 10.0, 50.0)
    budget.ask("a", 60.0)

    assert budget.next_slot(60.0) == 10.0 + WINDOW
    assert grant(budget, 10.0 + WINDOW - 0.001) == []
    assert grant(budget, 10.0 + WINDOW) == ["a"]


def test_next_slot_after_shrinking_the_limit_is_when_a_slot_really_frees() -> None:
    budget = spent_budget(3, 0.0, 10.0, 20.0)
    budget.ask("a", 30.0)
    budget.resize(1, WINDOW)

    slot = budget.next_slot(30.0)

    assert slot is not None
    assert budget.available(slot - 0.001) == 0  # earlier first: expiry only moves forward
    assert budget.available(slot) > 0


# ----- restore ---------------------------------------------------------------------------------


def test_restore_keeps_only_calls_inside_the_window() -> None:
    budget = SuspensionBudget(3, WINDOW)

    budget.restore([(t, None) for t in (1000.0, 50.0, 800.0, 700.0, 701.0)], now=1000.0)

    # 50 and 700 are a whole window old (700 + 300 = now) and left out; 701, 800, 1000 count.
    assert budget.spent(1000.0) == 3
    assert budget.available(1000.0) == 0
    assert [budget.available(t) for t in (1000.999, 1001.0, 1100.0, 1300.0)] == [0, 1, 2, 3]


def test_a_restart_never_refills_the_window() -> None:
    budget = SuspensionBudget(2, WINDOW)
    budget.restore([(90.0, None), (95.0, None)], now=100.0)
    budget.ask("a", 100.0)

    assert grant(budget, 100.0) == []
    assert budget.next_slot(100.0) == 90.0 + WINDOW


# ----- limits ----------------------------------------------------------------------------------


def test_available_is_never_negative_after_the_limit_shrinks() -> None:
    budget = spent_budget(3, 0.0, 1.0, 2.0)

    budget.resize(1, WINDOW)
    budget.ask("a", 3.0)

    assert budget.available(3.0) == 0
    assert grant(budget, 3.0) == []


def test_resize_to_a_larger_limit_lets_waiting_requests_go() -> None:
    budget = spent_budget(1, 0.0)
    budget.ask("a", 1.0)
    assert grant(budget, 1.0) == []

    budget.resize(2, WINDOW)

    assert grant(budget, 2.0) == ["a"]


def test_resize_to_a_shorter_window_frees_slots_sooner() -> None:
    budget = spent_budget(1, 0.0)

    budget.resize(1, 60.0)

    assert budget.available(60.0) == 1
    assert (budget.limit, budget.window) == (1, 60.0)


@pytest.mark.parametrize(
    ("waiting", "paused", "backlog"),
    [
        pytest.param(0, False, None, id="nobody waits"),
        pytest.param(0, True, None, id="nobody waits, whatever the brake says"),
        pytest.param(3, False, Backlog.BUDGET, id="the budget is used up"),
        pytest.param(3, True, Backlog.PAUSED, id="the brake holds them"),
    ],
)
def test_the_backlog_the_log_reports(waiting: int, paused: bool, backlog: Backlog | None) -> None:
    assert backlog_of(waiting, paused=paused) is backlog
