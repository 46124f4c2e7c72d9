"""Conditions keep their transition time while unchanged, as `kubectl wait` and kstatus expect."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from atlassian_operator.core.conditions import (
    READY,
    RECONCILING,
    STALLED,
    STALLED_REASONS,
    SYNCED,
    Condition,
    find,
    progress,
    render_conditions,
)

EARLIER = "2024-06-01T12:00:00Z"
NOW = "2024-06-01T12:05:00Z"


def rendered(status: str, reason: str = "Old", type_: str = READY) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": "before",
        "observedGeneration": 1,
        "lastTransitionTime": EARLIER,
    }


def test_a_first_condition_is_stamped_now_with_the_generation() -> None:
    [ready] = render_conditions([Condition(READY, True, "Observed", "observe only")], None, 3, NOW)

    assert ready == {
        "type": "Ready",
        "status": "True",
        "reason": "Observed",
        "message": "observe only",
        "observedGeneration": 3,
        "lastTransitionTime": NOW,
    }


@pytest.mark.parametrize(
    ("before", "now_true", "transition"),
    [
        pytest.param("True", True, EARLIER, id="true-stays-true-keeps-time"),
        pytest.param("False", False, EARLIER, id="false-stays-false-keeps-time"),
        pytest.param("False", True, NOW, id="false-to-true-updates-time"),
        pytest.param("True", False, NOW, id="true-to-false-updates-time"),
        pytest.param("Unknown", True, NOW, id="unknown-to-true-updates-time"),
    ],
)
def test_last_transition_time_changes_only_with_the_status(
    before: str, now_true: bool, transition: str
) -> None:
    [ready] = render_conditions(
        [Condition(READY, now_true, "New", "after")], [rendered(before)], 2, NOW
    )

    assert ready["lastTransitionTime"] == transition
    assert (ready["reason"], ready["message"], ready["observedGeneration"]) == ("New", "after", 2)


def test_each_condition_keeps_its_own_transition_time() -> None:
    previous = [rendered("True", type_=SYNCED), {**rendered("False"), "lastTransitionTime": "x"}]

    ready, synced = render_conditions(
        [Condition(READY, True, "InDesiredState", "ok"), Condition(SYNCED, True, "Synced", "ok")],
        previous,
        2,
        NOW,
    )

    assert (ready["type"], ready["lastTransitionTime"]) == ("Ready", NOW)
    assert (synced["type"], synced["lastTransitionTime"]) == ("Synced", EARLIER)


def test_a_previous_condition_without_a_time_gets_now() -> None:
    previous = [{"type": READY, "status": "True"}]

    [ready] = render_conditions([Condition(READY, True, "Observed", "ok")], previous, 1, NOW)

    assert ready["lastTransitionTime"] == NOW


def test_conditions_of_other_types_are_dropped() -> None:
    previous = [rendered("True", type_="Legacy")]

    rendered_now = render_conditions([Condition(READY, True, "Observed", "ok")], previous, 1, NOW)

    assert [c["type"] for c in rendered_now] == ["Ready"]
    assert rendered_now[0]["lastTransitionTime"] == NOW


def test_find_returns_the_condition_of_a_type() -> None:
    conditions = [rendered("True"), rendered("False", type_=SYNCED)]

    assert find(conditions, SYNCED) == conditions[1]
    assert find(conditions, "Other") is None
    assert find(None, READY) is None


def test_the_reasons_page_lists_exactly_the_reasons_that_stall() -> None:
    """What a person reads as "waits for me" and what kstatus reads as Failed are one list."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "reference" / "reasons.md").read_text()
    listed = re.search(r"<!-- stalled-reasons -->(.*?)<!-- /stalled-reasons -->", page, re.S)
    assert listed is not None
    assert set(re.findall(r"`(\w+)`", listed.group(1))) == STALLED_REASONS


@pytest.mark.parametrize(
    ("ready", "pending", "reconciling", "stalled"),
    [
        pytest.param(("True", "InDesiredState"), None, "False", "False", id="ready"),
        pytest.param(("False", "ProtectedAccount"), None, "False", "True", id="refused"),
        pytest.param(("False", "SuspensionBudgetExceeded"), None, "True", "False", id="waits"),
        pytest.param(("False", "SomeNewReason"), None, "True", "False", id="unknown-waits"),
        pytest.param(("True", "Observed"), {"action": "Suspend"}, "True", "False", id="in-flight"),
        pytest.param(
            ("False", "ProtectedAccount"), {"action": "Suspend"}, "True", "False",
            id="in-flight-before-stall",
        ),
    ],
)  # fmt: skip
def test_reconciling_and_stalled_follow_ready_and_the_recorded_call(
    ready: tuple[str, str], pending: dict[str, Any] | None, reconciling: str, stalled: str
) -> None:
    status: dict[str, Any] = {"conditions": [rendered(ready[0], ready[1])]}
    if pending:
        status["pendingAction"] = pending
    derived = progress(status)
    assert derived is not None
    assert {c.type: "True" if c.status else "False" for c in derived} == {
        RECONCILING: reconciling,
        STALLED: stalled,
    }
    assert progress({"conditions": []}) is None  # kstatus reads observedGeneration until then
