"""One account's plan: explicit intent wins over observation, and nothing acts on a doubt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from atlassian_operator.atlassian import User
from atlassian_operator.core.decisions import Action, Blocked, Decision
from atlassian_operator.core.inactivity import InactivityPolicy
from atlassian_operator.core.plan import (
    AccountPlan,
    Rival,
    known_emails,
    observe,
    pinned_id,
    plan_account,
)
from atlassian_operator.core.resources import AccountSpec, DesiredState, SuspensionPolicy
from atlassian_operator.core.snapshot import Observation, OrgSnapshot

ACCOUNT_ID = "5570:jane"
EMAIL = "jane@acme.example"
TAKEN_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SUSPENDED, ACTIVE = DesiredState.SUSPENDED, DesiredState.ACTIVE


def user(status: str = "active", email: str | None = EMAIL) -> User:
    return User.model_validate(
        {
            "account_id": ACCOUNT_ID,
            "account_type": "atlassian",
            "account_status": status,
            "name": "Jane Doe",
            "picture": "https://avatar.example/jane.png",
            "email": email,
        }
    )


def spec(desired: DesiredState | None = None, **ids: str) -> AccountSpec:
    return AccountSpec("acme", desired_state=desired, **(ids or {"account_id": ACCOUNT_ID}))


def plan(
    desired: DesiredState | None = None,
    *,
    rivals: Sequence[Rival] = (),
    trusted: bool = True,
    failed: Blocked | None = None,
    policy: SuspensionPolicy | None = None,
    status: Mapping[str, Any] | None = None,
    observed: User | None = None,
    account_spec: AccountSpec | None = None,
) -> AccountPlan:
    found = observed if observed is not None else user()
    return plan_account(
        spec=account_spec or spec(desired),
        status=status or {},
        observation=Observation(found, found.account_id),
        policy=policy or SuspensionPolicy(),
        rivals=rivals,
        trusted=trusted,
        failed=failed,
    )


# ----- alone -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "status", "action"),
    [
        pytest.param(SUSPENDED, "active", Action.SUSPEND, id="suspend"),
        pytest.param(SUSPENDED, "inactive", None, id="already-suspended"),
        pytest.param(None, "active", None, id="observe-only"),
    ],
)
def test_an_account_alone_gets_what_its_decision_says(
    desired: DesiredState | None, status: str, action: Action | None
) -> None:
    result = plan(desired, observed=user(status))

    assert result.action is action
    assert result.decision.blocked is None
    assert result.defers_to is None


def test_the_plan_keeps_the_observation_it_was_given() -> None:
    observation = Observation(user(), ACCOUNT_ID)

    result = plan_account(
        spec=spec(SUSPENDED),
        status={},
        observation=observation,
        policy=SuspensionPolicy(),
        rivals=[],
        trusted=True,
        failed=None,
    )

    assert result.observation is observation


def test_an_account_whose_user_is_not_found_does_nothing() -> None:
    result = plan_account(
        spec=spec(SUSPENDED),
        status={},
        observation=Observation(None, ACCOUNT_ID, "no user"),
        policy=SuspensionPolicy(),
        rivals=[],
        trusted=True,
        failed=None,
    )

    assert result.decision == Decision()


# ----- rivals: other AtlassianAccounts about the same Atlassian user ---------------------------


@pytest.mark.parametrize(
    "rivals",
    [
        pytest.param([Rival("jane-discovered", states_desire=False)], id="one-observe-only"),
        pytest.param(
            [Rival("jane-a", states_desire=False), Rival("jane-b", states_desire=False)],
            id="several-observe-only",
        ),
    ],
)
def test_an_account_stating_a_desired_state_acts_over_observe_only_rivals(
    rivals: list[Rival],
) -> None:
    result = plan(SUSPENDED, rivals=rivals)

    # No v2 search facts here: the call goes after asking the user management API.
    assert result.decision == Decision(action=Action.SUSPEND, ask_first=True)
    assert result.defers_to is None


def test_an_observe_only_account_defers_to_the_rival_that_states_a_desired_state() -> None:
    rivals = [Rival("jane-discovered", states_desire=False), Rival("offboard-jane", True)]

    result = plan(None, rivals=rivals)

    assert result.defers_to == "offboard-jane"
    assert result.action is None
    assert result.decision == Decision()


def test_an_observe_only_account_among_observe_only_rivals_defers_to_nobody() -> None:
    result = plan(None, rivals=[Rival("jane-discovered", states_desire=False)])

    assert (result.defers_to, result.decision) == (None, Decision())


def test_an_observe_only_account_with_two_stating_rivals_defers_to_the_first_by_name() -> None:
    rivals = [Rival("offboard-jane-2", True), Rival("offboard-jane-1", True)]

    assert plan(None, rivals=rivals).defers_to == "offboard-jane-1"


@pytest.mark.parametrize(
    ("desired", "rival_names"),
    [
        pytest.param(SUSPENDED, ["keep-jane"], id="suspend-against-one"),
        pytest.param(ACTIVE, ["offboard-jane"], id="active-against-one"),
        pytest.param(SUSPENDED, ["zed-jane", "alt-jane"], id="against-two"),
    ],
)
def test_two_accounts_stating_a_desired_state_are_a_conflict_and_neither_acts(
    desired: DesiredState, rival_names: list[str]
) -> None:
    policy = SuspensionPolicy(allow_reactivation=True)
    rivals = [Rival(n, states_desire=True) for n in rival_names]
    observed = user("active" if desired is SUSPENDED else "inactive")

    result = plan(desired, rivals=rivals, policy=policy, observed=observed)

    assert result.action is None
    assert result.defers_to is None
    blocked = result.decision.blocked
    assert blocked is not None
    assert blocked.reason == "DuplicateAccount"
    assert blocked.action is None
    assert ", ".join(sorted(rival_names)) in blocked.message
    assert ACCOUNT_ID in blocked.message


def test_a_conflict_is_reported_even_when_nothing_needs_doing() -> None:
    result = plan(SUSPENDED, rivals=[Rival("other", True)], observed=user("inactive"))

    assert result.decision.blocked is not None
    assert result.decision.blocked.reason == "DuplicateAccount"


def test_a_conflict_wins_over_an_observe_only_rival() -> None:
    rivals = [Rival("jane-discovered", False), Rival("offboard-jane", True)]

    blocked = plan(SUSPENDED, rivals=rivals).decision.blocked

    assert blocked is not None
    assert blocked.reason == "DuplicateAccount"
    assert "offboard-jane" in blocked.message
    assert "jane-discovered" not in blocked.message


# ----- a listing that contradicted itself ------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "status", "policy", "action"),
    [
        pytest.param(SUSPENDED, "active", SuspensionPolicy(), Action.SUSPEND, id="suspend"),
        pytest.param(
            ACTIVE,
            "inactive",
            SuspensionPolicy(allow_reactivation=True),
            Action.REACTIVATE,
            id="reactivate",
        ),
    ],
)
def test_an_untrusted_listing_never_yields_an_action(
    desired: DesiredState, status: str, policy: SuspensionPolicy, action: Action
) -> None:
    result = plan(desired, trusted=False, policy=policy, observed=user(status))

    assert result.action is None
    blocked = result.decision.blocked
    assert blocked is not None
    assert blocked.reason == "ListingInconsistent"
    assert blocked.action is action
    assert "Synced" in blocked.message


def test_an_untrusted_listing_with_nothing_to_do_is_nothing() -> None:
    assert plan(SUSPENDED, trusted=False, observed=user("inactive")).decision == Decision()


def test_an_untrusted_listing_keeps_a_protection_as_the_reason() -> None:
    policy = SuspensionPolicy(protected_accounts=frozenset({ACCOUNT_ID}))

    blocked = plan(SUSPENDED, trusted=False, policy=policy).decision.blocked

    assert blocked is not None
    assert blocked.reason == "ProtectedAccount"


# ----- protection and failures pass through ----------------------------------------------------


def test_an_account_protected_by_an_email_known_only_from_status_is_protected() -> None:
    policy = SuspensionPolicy(protected_accounts=frozenset({"ceo@acme.example"}))

    result = plan(
        SUSPENDED,
        policy=policy,
        status={"accountId": ACCOUNT_ID, "email": "CEO@acme.example"},
        observed=user(email=None),  # Atlassian hides the email now
    )

    assert result.action is None
    assert result.decision.blocked is not None
    assert result.decision.blocked.reason == "ProtectedAccount"


def test_an_account_protected_by_the_email_in_its_spec_is_protected() -> None:
    policy = SuspensionPolicy(protected_accounts=frozenset({"ceo@acme.example"}))

    result = plan(
        policy=policy,
        account_spec=AccountSpec("acme", email="ceo@acme.example", desired_state=SUSPENDED),
        observed=user(email=None),
    )

    assert result.decision.blocked is not None
    assert result.decision.blocked.reason == "ProtectedAccount"


def test_a_remembered_failure_is_passed_to_the_decision() -> None:
    failed = Blocked("ManagedByIdentityProvider", "managed by SCIM", Action.SUSPEND)

    assert plan(SUSPENDED, failed=failed).decision == Decision(blocked=failed)


# ----- pinned_id and known_emails --------------------------------------------------------------


@pytest.mark.parametrize(
    ("account_spec", "status", "pinned"),
    [
        pytest.param(
            spec(account_id="5570:spec"), {"accountId": "5570:old"}, "5570:spec", id="spec-wins"
        ),
        pytest.param(
            spec(email=EMAIL),
            {"accountId": "5570:old", "pinnedFrom": {"email": EMAIL.lower()}},
            "5570:old",
            id="from-status",
        ),
        pytest.param(
            spec(email=EMAIL),
            {"accountId": "5570:old", "pinnedFrom": {"email": "typo@acme.example"}},
            None,
            id="pinned-from-another-email",
        ),
        pytest.param(
            spec(email=EMAIL),
            {"accountId": "5570:old", "pinnedFrom": {"accountId": "5570:old"}},
            None,
            id="pinned-from-an-account-id-since-removed",
        ),
        pytest.param(
            spec(email=EMAIL),
            {"accountId": "5570:old", "email": EMAIL.upper(), "atlassianStatus": "active"},
            "5570:old",
            id="older-status-resolved-by-this-email",
        ),
        pytest.param(
            spec(email=EMAIL),
            {"accountId": "5570:old", "email": EMAIL},
            None,
            id="older-problem-status-copies-the-specs-email",
        ),
        pytest.param(
            spec(email=EMAIL), {"accountId": "5570:old"}, None, id="older-status-no-witness"
        ),
        pytest.param(spec(email=EMAIL), {}, None, id="never-resolved"),
        pytest.param(spec(email=EMAIL), {"accountId": ""}, None, id="empty-status-id"),
    ],
)
def test_pinned_id(account_spec: AccountSpec, status: dict[str, Any], pinned: str | None) -> None:
    assert pinned_id(account_spec, status) == pinned


@pytest.mark.parametrize(
    ("account_spec", "status", "emails"),
    [
        pytest.param(spec(email=EMAIL), {}, [EMAIL], id="spec-only"),
        pytest.param(spec(), {"email": "jd@acme.example"}, ["jd@acme.example"], id="status-only"),
        pytest.param(
            spec(email=EMAIL),
            {"email": "jd@acme.example"},
            [EMAIL, "jd@acme.example"],
            id="both",
        ),
        pytest.param(spec(), {}, [], id="none"),
        pytest.param(spec(), {"email": ""}, [], id="empty-status-email"),
    ],
)
def test_known_emails(account_spec: AccountSpec, status: dict[str, Any], emails: list[str]) -> None:
    assert known_emails(account_spec, status) == emails


def test_observe_uses_the_pin_from_status() -> None:
    newcomer = user().model_copy(update={"account_id": "5570:eve"})
    renamed = user(email="jane.doe@acme.example")
    snapshot = OrgSnapshot("org-1", [newcomer, renamed], TAKEN_AT)

    pin = {"accountId": ACCOUNT_ID, "pinnedFrom": {"email": EMAIL.lower()}}
    pinned = observe(spec(email=EMAIL), pin, snapshot)
    unpinned = observe(spec(email=EMAIL), {}, snapshot)

    assert (pinned.user, pinned.account_id, pinned.reason) == (None, ACCOUNT_ID, "IdentityChanged")
    assert (unpinned.user, unpinned.account_id) == (newcomer, "5570:eve")


# ----- exemptions from the inactivity policy ---------------------------------------------------

DISCOVERED = {"atlassian.operators.dev/discovered": "true"}
KEEP = {"licence": "keep"}


def idle_plan(
    inactivity: Mapping[str, Any],
    *,
    labels: Mapping[str, str] | None = None,
    status: Mapping[str, Any] | None = None,
    observed: User | None = None,
    account_spec: AccountSpec | None = None,
) -> AccountPlan:
    """An observe-only account 200 days idle, under an org policy of 90 days in Enforce."""
    policy = InactivityPolicy.from_dict({"suspendAfterDays": 90, "mode": "Enforce", **inactivity})
    found = observed if observed is not None else user()
    idle = found.model_copy(update={"last_active": TAKEN_AT - timedelta(days=200)})
    return plan_account(
        spec=account_spec or spec(),
        status=status or {},
        observation=Observation(idle, idle.account_id),
        policy=SuspensionPolicy(),
        rivals=(),
        trusted=True,
        failed=None,
        inactivity_policy=policy,
        as_of=TAKEN_AT,
        labels=labels,
    )


def test_an_idle_account_nothing_exempts_is_suspended_by_the_policy() -> None:
    result = idle_plan({"exempt": ["someone.else@acme.example"]})

    assert result.inactivity is not None and result.inactivity.eligible
    assert (result.action, result.by_policy) == (Action.SUSPEND, True)


@pytest.mark.parametrize(
    ("listed", "status", "observed", "account_spec"),
    [
        pytest.param([ACCOUNT_ID], None, None, None, id="account-id"),
        pytest.param(["JANE@Acme.Example"], None, None, None, id="atlassian-email-any-case"),
        pytest.param(
            ["jane@acme.example"], {"accountId": ACCOUNT_ID, "email": EMAIL}, user(email=None),
            None, id="email-known-only-from-status",
        ),
        pytest.param(
            ["jane@acme.example"], None, user(email=None),
            AccountSpec("acme", email="Jane@acme.example"), id="email-in-spec",
        ),
    ],
)  # fmt: skip
def test_an_account_in_the_exempt_list_shows_its_inactivity_but_is_never_eligible(
    listed: list[str],
    status: Mapping[str, Any] | None,
    observed: User | None,
    account_spec: AccountSpec | None,
) -> None:
    result = idle_plan(
        {"exempt": listed}, status=status, observed=observed, account_spec=account_spec
    )

    assert result.inactivity is not None
    assert (result.inactivity.days, result.inactivity.eligible) == (200, False)
    assert (result.action, result.by_policy) == (None, False)


@pytest.mark.parametrize(
    ("labels", "listed", "warned"),
    [
        pytest.param({**DISCOVERED, **KEEP}, [], True, id="discovered-exempt-by-label"),
        pytest.param({**DISCOVERED, **KEEP}, [EMAIL], False, id="also-in-the-exempt-list"),
        pytest.param(KEEP, [], False, id="created-by-someone"),
        pytest.param(DISCOVERED, [], False, id="discovered-not-exempt"),
        pytest.param(DISCOVERED, [ACCOUNT_ID], False, id="discovered-exempt-by-the-list"),
    ],
)
def test_only_a_label_exemption_on_a_discovered_account_is_not_durable(
    labels: dict[str, str], listed: list[str], warned: bool
) -> None:
    result = idle_plan({"exempt": listed, "exemptSelector": {"matchLabels": KEEP}}, labels=labels)

    assert result.exemption_not_durable is warned
    exempt = KEEP.items() <= labels.items() or bool(listed)
    assert result.action is (None if exempt else Action.SUSPEND)
