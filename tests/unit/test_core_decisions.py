"""What the operator does about one account, and every reason it holds back."""

from __future__ import annotations

from typing import Any

import pytest

from atlassian_operator.atlassian import User
from atlassian_operator.core.decisions import Action, Blocked, Decision, decide_account
from atlassian_operator.core.resources import AccountSpec, DesiredState, SuspensionPolicy

ACCOUNT_ID = "5570:ada"
EMAIL = "ada@acme.example"
GENERATION = 4


def user(status: str, email: str | None = EMAIL) -> User:
    return User.model_validate(
        {
            "account_id": ACCOUNT_ID,
            "account_type": "atlassian",
            "account_status": status,
            "name": "Ada Lovelace",
            "picture": "https://avatar.example/ada.png",
            "email": email,
        }
    )


def spec(desired: DesiredState | None) -> AccountSpec:
    return AccountSpec("acme", account_id=ACCOUNT_ID, desired_state=desired)


def decide(
    desired: DesiredState | None,
    status: str,
    policy: SuspensionPolicy | None = None,
    last_action: dict[str, Any] | None = None,
    generation: int = GENERATION,
) -> Decision:
    return decide_account(
        spec(desired), user(status), policy or SuspensionPolicy(), last_action, generation
    )


SUSPENDED, ACTIVE = DesiredState.SUSPENDED, DesiredState.ACTIVE


@pytest.mark.parametrize(
    ("desired", "status", "action", "blocked_reason"),
    [
        pytest.param(None, "active", None, None, id="observe-only-active-nothing"),
        pytest.param(None, "inactive", None, None, id="observe-only-inactive-nothing"),
        pytest.param(None, "closed", None, None, id="observe-only-closed-nothing"),
        pytest.param(SUSPENDED, "active", Action.SUSPEND, None, id="suspend-an-active-account"),
        pytest.param(SUSPENDED, "inactive", None, None, id="already-suspended-nothing"),
        pytest.param(SUSPENDED, "closed", None, None, id="suspend-a-closed-account-nothing"),
        pytest.param(ACTIVE, "active", None, None, id="already-active-nothing"),
        pytest.param(
            ACTIVE,
            "inactive",
            None,
            "ReactivationNotAllowed",
            id="reactivate-not-allowed-by-default",
        ),
        pytest.param(
            ACTIVE, "closed", None, "AccountDeprovisioned", id="activate-a-closed-account-blocked"
        ),
        pytest.param(SUSPENDED, "pending", None, None, id="unknown-status-nothing"),
    ],
)
def test_desired_state_against_atlassian_status(
    desired: DesiredState | None, status: str, action: Action | None, blocked_reason: str | None
) -> None:
    decision = decide(desired, status)

    assert decision.action is action
    assert (decision.blocked.reason if decision.blocked else None) == blocked_reason


def test_no_user_no_decision() -> None:
    assert decide_account(spec(SUSPENDED), None, SuspensionPolicy(), None, 1) == Decision()


def test_a_closed_account_cannot_be_activated_and_the_message_says_where_to_restore_it() -> None:
    blocked = decide(ACTIVE, "closed").blocked

    assert blocked is not None
    assert blocked.action is None
    assert EMAIL in blocked.message
    assert "admin.atlassian.com" in blocked.message


def test_reactivation_when_the_org_allows_it() -> None:
    assert decide(ACTIVE, "inactive", SuspensionPolicy(allow_reactivation=True)) == Decision(
        action=Action.REACTIVATE
    )


def test_reactivation_not_allowed_says_which_setting_to_change() -> None:
    blocked = decide(ACTIVE, "inactive").blocked

    assert blocked is not None
    assert "allowReactivation: true" in blocked.message


# ----- protected accounts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "protected",
    [
        pytest.param(frozenset({ACCOUNT_ID}), id="protected-by-id"),
        pytest.param(frozenset({EMAIL}), id="protected-by-email"),
    ],
)
def test_a_protected_account_is_never_suspended(protected: frozenset[str]) -> None:
    decision = decide(SUSPENDED, "active", SuspensionPolicy(protected_accounts=protected))

    assert decision.action is None
    assert decision.blocked is not None
    assert decision.blocked.reason == "ProtectedAccount"
    assert "protectedAccounts" in decision.blocked.message


def test_a_protected_account_found_with_a_differently_cased_email_is_protected() -> None:
    decision = decide_account(
        spec(SUSPENDED),
        user("active", email="Ada@ACME.example"),
        SuspensionPolicy(protected_accounts=frozenset({EMAIL})),
        None,
        GENERATION,
    )

    assert decision.blocked is not None
    assert decision.blocked.reason == "ProtectedAccount"


def test_protection_wins_over_dry_run() -> None:
    policy = SuspensionPolicy(dry_run=True, protected_accounts=frozenset({ACCOUNT_ID}))

    blocked = decide(SUSPENDED, "active", policy).blocked

    assert blocked is not None
    assert blocked.reason == "ProtectedAccount"


def test_protection_does_not_stop_a_reactivation() -> None:
    policy = SuspensionPolicy(allow_reactivation=True, protected_accounts=frozenset({ACCOUNT_ID}))

    assert decide(ACTIVE, "inactive", policy).action is Action.REACTIVATE


# ----- dry run ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "status", "action", "verb"),
    [
        pytest.param(SUSPENDED, "active", Action.SUSPEND, "would suspend", id="dry-run-suspend"),
        pytest.param(
            ACTIVE, "inactive", Action.REACTIVATE, "would re-enable", id="dry-run-reactivate"
        ),
    ],
)
def test_dry_run_blocks_and_records_the_action(
    desired: DesiredState, status: str, action: Action, verb: str
) -> None:
    policy = SuspensionPolicy(dry_run=True, allow_reactivation=True)

    decision = decide(desired, status, policy)

    assert decision.action is None
    assert decision.blocked is not None
    assert decision.blocked.reason == "DryRun"
    assert decision.blocked.action is action
    assert f"{verb} {EMAIL}" in decision.blocked.message
    assert "dryRun: false" in decision.blocked.message


def test_dry_run_with_nothing_to_do_is_nothing() -> None:
    assert decide(SUSPENDED, "inactive", SuspensionPolicy(dry_run=True)) == Decision()


# ----- earlier failures ------------------------------------------------------------------------


def failed(reason: str, generation: int = GENERATION, action: str = "Suspend") -> dict[str, Any]:
    return {
        "action": action,
        "result": "Failed",
        "reason": reason,
        "message": f"disable of {EMAIL} failed: {reason}",
        "time": "2024-06-01T12:00:00Z",
        "observedGeneration": generation,
    }


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param("ManagedByIdentityProvider", id="managed-by-idp"),
        pytest.param("Forbidden", id="forbidden"),
        pytest.param("AccountNotFound", id="account-not-found"),
    ],
)
def test_a_permanent_failure_is_not_retried_for_the_same_generation(reason: str) -> None:
    decision = decide(SUSPENDED, "active", last_action=failed(reason))

    assert decision == Decision(blocked=Blocked(reason, f"disable of {EMAIL} failed: {reason}"))


def test_a_permanent_failure_is_retried_after_the_spec_changes() -> None:
    decision = decide(SUSPENDED, "active", last_action=failed("Forbidden", GENERATION - 1))

    assert decision == Decision(action=Action.SUSPEND)


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param("RateLimited", id="rate-limited"),
        pytest.param("AtlassianUnavailable", id="unavailable"),
        pytest.param("MalformedResponse", id="malformed-response"),
    ],
)
def test_a_transient_failure_is_retried(reason: str) -> None:
    assert decide(SUSPENDED, "active", last_action=failed(reason)) == Decision(
        action=Action.SUSPEND
    )


def test_a_failed_reactivation_does_not_block_a_suspension() -> None:
    last = failed("Forbidden", action="Reactivate")

    assert decide(SUSPENDED, "active", last_action=last) == Decision(action=Action.SUSPEND)


def test_a_succeeded_action_does_not_block_the_next_one() -> None:
    last = {**failed("Forbidden"), "result": "Succeeded", "reason": "Succeeded"}

    assert decide(SUSPENDED, "active", last_action=last) == Decision(action=Action.SUSPEND)


def test_a_permanent_failure_blocks_even_a_dry_run_rehearsal() -> None:
    decision = decide(
        SUSPENDED,
        "active",
        SuspensionPolicy(dry_run=True),
        last_action=failed("ManagedByIdentityProvider"),
    )

    assert decision.blocked is not None
    assert decision.blocked.reason == "ManagedByIdentityProvider"
