"""What the operator does about one account, and every reason it holds back."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from atlassian_operator.atlassian import User
from atlassian_operator.core.decisions import Action, Blocked, Decision, decide_account
from atlassian_operator.core.resources import AccountSpec, DesiredState, SuspensionPolicy

ACCOUNT_ID = "5570:ada"
EMAIL = "ada@acme.example"


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
    *,
    failed: Blocked | None = None,
    known_emails: Sequence[str] = (),
    email: str | None = EMAIL,
) -> Decision:
    return decide_account(
        spec(desired),
        user(status, email=email),
        policy or SuspensionPolicy(),
        known_emails=known_emails,
        failed=failed,
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
    assert decide_account(spec(SUSPENDED), None, SuspensionPolicy()) == Decision()


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
    decision = decide(
        SUSPENDED,
        "active",
        SuspensionPolicy(protected_accounts=frozenset({EMAIL})),
        email="Ada@ACME.example",
    )

    assert decision.blocked is not None
    assert decision.blocked.reason == "ProtectedAccount"


@pytest.mark.parametrize(
    ("atlassian_email", "known"),
    [
        pytest.param(None, ["CEO@acme.example"], id="hidden-email-known-from-before"),
        pytest.param(
            "ceo.new@acme.example", ["ceo@acme.example"], id="email-changed-old-one-known"
        ),
        pytest.param(None, ["someone@acme.example", "ceo@ACME.example"], id="any-known-email"),
    ],
)
def test_an_account_is_protected_by_any_email_it_is_known_by(
    atlassian_email: str | None, known: list[str]
) -> None:
    policy = SuspensionPolicy(protected_accounts=frozenset({"ceo@acme.example"}))

    decision = decide(SUSPENDED, "active", policy, known_emails=known, email=atlassian_email)

    assert decision.action is None
    assert decision.blocked is not None
    assert decision.blocked.reason == "ProtectedAccount"


def test_known_emails_that_are_not_protected_do_not_block() -> None:
    policy = SuspensionPolicy(protected_accounts=frozenset({"ceo@acme.example"}))

    decision = decide(
        SUSPENDED, "active", policy, known_emails=["ada.old@acme.example"], email=None
    )

    assert decision == Decision(action=Action.SUSPEND)


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


# ----- earlier permanent failures --------------------------------------------------------------
# The org's owner remembers a permanent failure for the account's generation and the org's
# configuration, and hands it back as `failed` while neither changed.


def failure(reason: str, action: Action = Action.SUSPEND) -> Blocked:
    return Blocked(reason, f"disable of {EMAIL} failed: {reason}", action)


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param("ManagedByIdentityProvider", id="managed-by-idp"),
        pytest.param("Forbidden", id="forbidden"),
        pytest.param("AccountNotFound", id="account-not-found"),
    ],
)
def test_a_permanent_failure_blocks_while_it_is_given(reason: str) -> None:
    failed = failure(reason)

    decision = decide(SUSPENDED, "active", failed=failed)

    assert decision == Decision(blocked=failed)
    assert decision.action is None


def test_without_a_failure_given_the_action_is_tried_again() -> None:
    # What happens once the account's spec, or the org's spec or key, changed: the owner
    # forgets the failure and passes none.
    assert decide(SUSPENDED, "active", failed=None) == Decision(action=Action.SUSPEND)


def test_a_failed_reactivation_does_not_block_a_suspension() -> None:
    failed = failure("Forbidden", Action.REACTIVATE)

    assert decide(SUSPENDED, "active", failed=failed) == Decision(action=Action.SUSPEND)


def test_a_failed_suspension_does_not_block_a_reactivation() -> None:
    policy = SuspensionPolicy(allow_reactivation=True)

    decision = decide(ACTIVE, "inactive", policy, failed=failure("Forbidden", Action.SUSPEND))

    assert decision == Decision(action=Action.REACTIVATE)


def test_a_failed_reactivation_blocks_the_next_reactivation() -> None:
    policy = SuspensionPolicy(allow_reactivation=True)
    failed = failure("ManagedByIdentityProvider", Action.REACTIVATE)

    assert decide(ACTIVE, "inactive", policy, failed=failed) == Decision(blocked=failed)


def test_a_failure_without_an_action_blocks_nothing() -> None:
    failed = Blocked("Forbidden", "no action recorded")

    assert decide(SUSPENDED, "active", failed=failed) == Decision(action=Action.SUSPEND)


def test_a_failure_given_when_nothing_is_needed_changes_nothing() -> None:
    assert decide(SUSPENDED, "inactive", failed=failure("Forbidden")) == Decision()


def test_a_permanent_failure_blocks_even_a_dry_run_rehearsal() -> None:
    failed = failure("ManagedByIdentityProvider")

    decision = decide(SUSPENDED, "active", SuspensionPolicy(dry_run=True), failed=failed)

    assert decision == Decision(blocked=failed)


def test_protection_wins_over_a_remembered_failure() -> None:
    policy = SuspensionPolicy(protected_accounts=frozenset({ACCOUNT_ID}))

    blocked = decide(SUSPENDED, "active", policy, failed=failure("Forbidden")).blocked

    assert blocked is not None
    assert blocked.reason == "ProtectedAccount"
