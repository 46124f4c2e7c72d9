"""The suspension budget: a rolling window, oldest request first, and no busy waiting."""

from __future__ import annotations

import pytest

from atlassian_operator.core.budget import SuspensionBudget

WINDOW = 300.0


def spent_budget(limit: int, *times: float) -> SuspensionBudget:
    budget = SuspensionBudget(limit, WINDOW)
    for i, t in enumerate(times):
        budget.spend(f"earlier-{i}", t)
    return budget


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
    assert budget.spent(250.0) == 0


def test_up_to_limit_requests_go_at_once_and_the_rest_wait() -> None:
    budget = SuspensionBudget(2, WINDOW)

    granted = []
    for name in ("a", "b", "c"):
        if budget.request(name, 0.0):
            budget.spend(name, 0.0)
            granted.append(name)

    assert granted == ["a", "b"]
    assert budget.waiting == ["c"]


def test_every_disable_call_counts_even_without_a_request() -> None:
    budget = SuspensionBudget(1, WINDOW)
    budget.spend("drift", 0.0)

    assert budget.request("spec-change", 1.0) is False


def test_the_oldest_waiting_request_goes_first() -> None:
    budget = spent_budget(1, 0.0)
    assert budget.request("old", 10.0) is False
    assert budget.request("new", 20.0) is False

    assert budget.request("new", WINDOW) is False
    assert budget.request("old", WINDOW) is True
    assert budget.waiting == ["old", "new"]


def test_asking_again_keeps_the_place_in_the_queue() -> None:
    budget = spent_budget(1, 0.0)
    budget.request("old", 10.0)
    budget.request("new", 20.0)

    budget.request("old", 30.0)

    assert budget.waiting == ["old", "new"]


def test_the_newer_request_goes_once_the_older_one_has_spent() -> None:
    budget = spent_budget(1, 0.0)
    budget.request("old", 10.0)
    budget.request("new", 20.0)
    budget.spend("old", WINDOW)

    assert budget.request("new", WINDOW) is False
    assert budget.request("new", 2 * WINDOW) is True


def test_withdraw_frees_the_place_in_the_queue() -> None:
    budget = spent_budget(1, 0.0)
    budget.request("old", 10.0)
    budget.request("new", 20.0)

    budget.withdraw("old")

    assert budget.waiting == ["new"]
    assert budget.request("new", WINDOW) is True


def test_withdraw_of_an_unknown_key_is_harmless() -> None:
    budget = SuspensionBudget(1, WINDOW)

    budget.withdraw("nobody")

    assert budget.waiting == []


def test_spend_takes_the_request_out_of_the_queue() -> None:
    budget = SuspensionBudget(1, WINDOW)
    budget.request("a", 0.0)

    budget.spend("a", 0.0)

    assert budget.waiting == []
    assert budget.spent(0.0) == 1


# ----- next_slot -------------------------------------------------------------------------------


def test_next_slot_is_none_when_nothing_waits() -> None:
    assert spent_budget(1, 0.0).next_slot(10.0) is None


def test_next_slot_is_none_when_the_limit_is_zero_so_nobody_wakes_in_a_loop() -> None:
    budget = SuspensionBudget(0, WINDOW)
    assert budget.request("a", 0.0) is False

    assert budget.next_slot(0.0) is None
    assert budget.next_slot(10 * WINDOW) is None


def test_next_slot_is_now_when_a_slot_is_free() -> None:
    budget = spent_budget(2, 0.0)
    budget.request("a", 5.0)

    assert budget.next_slot(5.0) == 5.0


def test_next_slot_is_when_the_oldest_call_leaves_the_window() -> None:
    budget = spent_budget(2, 10.0, 50.0)
    budget.request("a", 60.0)

    assert budget.next_slot(60.0) == 10.0 + WINDOW


def test_next_slot_after_shrinking_the_limit_is_when_a_slot_really_frees() -> None:
    budget = spent_budget(3, 0.0, 10.0, 20.0)
    budget.request("a", 30.0)
    budget.resize(1, WINDOW)

    slot = budget.next_slot(30.0)

    assert slot is not None
    assert budget.available(slot - 0.001) == 0  # earlier first: expiry only moves forward
    assert budget.available(slot) > 0


# ----- limits ----------------------------------------------------------------------------------


def test_available_is_never_negative_after_the_limit_shrinks() -> None:
    budget = spent_budget(3, 0.0, 1.0, 2.0)

    budget.resize(1, WINDOW)

    assert budget.available(3.0) == 0
    assert budget.request("a", 3.0) is False


def test_resize_to_a_larger_limit_lets_waiting_requests_go() -> None:
    budget = spent_budget(1, 0.0)
    assert budget.request("a", 1.0) is False

    budget.resize(2, WINDOW)

    assert budget.request("a", 2.0) is True


def test_resize_to_a_shorter_window_frees_slots_sooner() -> None:
    budget = spent_budget(1, 0.0)

    budget.resize(1, 60.0)

    assert budget.available(60.0) == 1
    assert (budget.limit, budget.window) == (1, 60.0)
