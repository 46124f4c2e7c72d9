"""What `kubectl get atlassianaccount -o yaml` shows, and the minimal patch that writes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from atlassian_operator.atlassian import User
from atlassian_operator.core.conditions import (
    READY,
    RECONCILING,
    STALLED,
    SYNCED,
    find,
    with_progress,
)
from atlassian_operator.core.decisions import Action, Blocked, Decision, decide_account
from atlassian_operator.core.resources import AccountSpec, DesiredState, SuspensionPolicy
from atlassian_operator.core.snapshot import Observation
from atlassian_operator.core.status import (
    ActionResult,
    account_status,
    problem_status,
    status_patch,
)

ACCOUNT_ID = "5570:ada"
EMAIL = "ada@acme.example"
ORG = "acme"
T0 = "2024-06-01T12:00:00Z"
T1 = "2024-06-01T12:05:00Z"
T2 = "2024-06-01T12:10:00Z"
WIKI = "https://acme.atlassian.net/wiki"
JIRA = "https://acme.atlassian.net"


def user(
    status: str = "active",
    *,
    email: str | None = EMAIL,
    billable: bool | None = True,
    products: Sequence[tuple[str, str, str]] = (("confluence", "Confluence", WIKI),),
) -> User:
    return User.model_validate(
        {
            "account_id": ACCOUNT_ID,
            "account_type": "atlassian",
            "account_status": status,
            "name": "Ada Lovelace",
            "picture": "https://avatar.example/ada.png",
            "email": email,
            "access_billable": billable,
            "last_active": "2024-05-30T08:00:00Z",
            "product_access": [
                {"key": k, "name": n, "url": u, "last_active": "2024-05-29T07:00:00Z"}
                for k, n, u in products
            ],
        }
    )


def spec(desired: DesiredState | None = None) -> AccountSpec:
    return AccountSpec(ORG, email=EMAIL, desired_state=desired)


def seen(u: User) -> Observation:
    return Observation(u, u.account_id)


def render(
    observation: Observation,
    *,
    desired: DesiredState | None = None,
    decision: Decision = Decision(),  # noqa: B008 - frozen dataclass
    result: ActionResult | None = None,
    previous: Mapping[str, Any] | None = None,
    generation: int = 1,
    now: str = T0,
    defers_to: str | None = None,
) -> dict[str, Any]:
    return account_status(
        spec=spec(desired),
        generation=generation,
        observation=observation,
        decision=decision,
        result=result,
        previous=previous or {},
        org=ORG,
        now=now,
        defers_to=defers_to,
    )


def condition(status: Mapping[str, Any], type_: str) -> tuple[str, str, str]:
    found = find(status.get("conditions"), type_)
    assert found is not None, f"no {type_} condition in {status.get('conditions')}"
    return str(found["status"]), str(found["reason"]), str(found["message"])


# ----- an observed user ------------------------------------------------------------------------


def test_an_observed_user_shows_everything_kubectl_get_needs() -> None:
    status = render(seen(user()))

    assert status == {
        "accountId": ACCOUNT_ID,
        "pinnedFrom": {"email": EMAIL},
        "email": EMAIL,
        "displayName": "Ada Lovelace",
        "atlassianStatus": "active",
        "accountStatus": "Active",
        "lastActive": "2024-05-30T08:00:00Z",
        "billable": True,
        "productAccess": [
            {
                "product": "Confluence (acme)",
                "key": "confluence",
                "name": "Confluence",
                "site": "acme",
                "url": WIKI,
                "status": "Active",
                "lastActive": "2024-05-29T07:00:00Z",
            },
        ],
        "activeProducts": "Confluence (acme)",
        "firstObserved": T0,  # the inactivity policy's clock for a never-active account
        "observedGeneration": 1,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Observed",
                "message": "observe only; account is Active",
                "observedGeneration": 1,
                "lastTransitionTime": T0,
            },
            {
                "type": "Synced",
                "status": "True",
                "reason": "Synced",
                "message": "from a complete listing of org acme within two sync intervals",
                "observedGeneration": 1,
                "lastTransitionTime": T0,
            },
            {
                "type": "Reconciling",
                "status": "False",
                "reason": "Idle",
                "message": "nothing is in progress",
                "observedGeneration": 1,
                "lastTransitionTime": T0,
            },
            {
                "type": "Stalled",
                "status": "False",
                "reason": "NotStalled",
                "message": "nothing waits for a person",
                "observedGeneration": 1,
                "lastTransitionTime": T0,
            },
        ],
    }


@pytest.mark.parametrize(
    ("atlassian_status", "account_state"),
    [
        pytest.param("active", "Active", id="active-is-active"),
        pytest.param("inactive", "Suspended", id="inactive-is-suspended"),
        pytest.param("closed", "Deprovisioned", id="closed-is-deprovisioned"),
    ],
)
def test_account_status_maps_the_atlassian_status(
    atlassian_status: str, account_state: str
) -> None:
    status = render(seen(user(atlassian_status)))

    assert (status["atlassianStatus"], status["accountStatus"]) == (atlassian_status, account_state)
    assert condition(status, READY) == (
        "True",
        "Observed",
        f"observe only; account is {account_state}",
    )


def test_a_user_who_is_not_billable_says_so() -> None:
    assert render(seen(user(billable=False)))["billable"] is False


def test_a_hidden_email_is_left_out_rather_than_null() -> None:
    status = render(seen(user(email=None)))

    assert "email" not in status
    assert status["accountId"] == ACCOUNT_ID


def test_active_products_lists_only_active_products_in_order() -> None:
    both = user(products=[("jira-software", "Jira", JIRA), ("confluence", "Confluence", WIKI)])
    before = render(seen(both))

    after = render(seen(user(products=[("jira-software", "Jira", JIRA)])), previous=before)

    assert before["activeProducts"] == "Confluence (acme), Jira (acme)"
    assert after["activeProducts"] == "Jira (acme)"
    assert [(e["product"], e["status"]) for e in after["productAccess"]] == [
        ("Confluence (acme)", "Deprovisioned"),
        ("Jira (acme)", "Active"),
    ]


def test_a_user_without_products_has_no_active_products() -> None:
    status = render(seen(user(products=())))

    assert status["productAccess"] == []
    assert "activeProducts" not in status


def test_an_email_changed_upstream_shows_the_new_email() -> None:
    before = render(seen(user()))

    after = render(seen(user(email="ada.lovelace@acme.example")), previous=before)

    assert after["email"] == "ada.lovelace@acme.example"


@pytest.mark.parametrize(
    ("desired", "atlassian_status", "ready"),
    [
        pytest.param(
            DesiredState.SUSPENDED,
            "inactive",
            ("True", "InDesiredState", "account is Suspended"),
            id="suspended-as-desired",
        ),
        pytest.param(
            DesiredState.ACTIVE,
            "active",
            ("True", "InDesiredState", "account is Active"),
            id="active-as-desired",
        ),
        pytest.param(
            DesiredState.SUSPENDED,
            "closed",
            (
                "True",
                "Deprovisioned",
                "account is deprovisioned: it has no access and is not billed",
            ),
            id="closed-counts-as-suspended",
        ),
    ],
)
def test_ready_when_in_the_desired_state(
    desired: DesiredState, atlassian_status: str, ready: tuple[str, str, str]
) -> None:
    status = render(seen(user(atlassian_status)), desired=desired)

    assert condition(status, READY) == ready
    assert condition(status, SYNCED)[0] == "True"


# ----- deferring to another account ------------------------------------------------------------


def test_an_observe_only_account_defers_to_the_one_that_states_a_desired_state() -> None:
    status = render(seen(user()), defers_to="offboard-jane")

    ready_status, reason, message = condition(status, READY)
    assert (ready_status, reason) == ("True", "DefersToAccount")
    assert "offboard-jane" in message
    assert "account is Active" in message
    assert condition(status, SYNCED)[:2] == ("True", "Synced")
    assert status["accountStatus"] == "Active"


def test_an_account_that_states_a_desired_state_does_not_defer() -> None:
    status = render(seen(user("inactive")), desired=DesiredState.SUSPENDED, defers_to="other")

    assert condition(status, READY) == ("True", "InDesiredState", "account is Suspended")


def test_without_a_rival_an_observe_only_account_is_just_observed() -> None:
    assert condition(render(seen(user()), defers_to=None), READY)[:2] == ("True", "Observed")


def test_an_unreadable_last_active_time_is_left_out_and_said_in_ready() -> None:
    # Even without an inactivity policy: a review of idle accounts must not read "never".
    garbled = user().model_dump()
    garbled["product_access"][0]["last_active"] = "yesterday"
    status = render(seen(User.model_validate(garbled)))

    # The readable time stays; the unreadable one is left out (the field is a date-time).
    assert status["lastActive"] == "2024-05-30T08:00:00Z"
    assert "lastActive" not in status["productAccess"][0]
    assert condition(status, READY) == (
        "True",
        "LastActiveUnreadable",
        "observe only; account is Active; last activity unreadable ('yesterday'): the "
        "inactivity policy suspends nobody whose last activity it cannot read",
    )


# ----- an identity that changed ----------------------------------------------------------------

IDENTITY_PROBLEM = (
    f"email {EMAIL} now belongs to Atlassian account 5570:eve, but this AtlassianAccount "
    f"resolved to {ACCOUNT_ID} before; it acts on neither until you set spec.accountId"
)


def identity_changed(problem: str | None = IDENTITY_PROBLEM) -> Observation:
    return Observation(None, ACCOUNT_ID, problem, "IdentityChanged")


@pytest.mark.parametrize(
    "desired",
    [
        pytest.param(None, id="observe-only"),
        pytest.param(DesiredState.SUSPENDED, id="wants-suspended"),
        pytest.param(DesiredState.ACTIVE, id="wants-active"),
    ],
)
def test_an_identity_change_is_not_ready_and_keeps_what_was_observed(
    desired: DesiredState | None,
) -> None:
    before = render(
        seen(user(products=[("confluence", "Confluence", WIKI), ("jira-software", "Jira", JIRA)])),
        desired=desired,
    )

    after = render(identity_changed(), desired=desired, previous=before, now=T1)

    assert condition(after, READY) == ("False", "IdentityChanged", IDENTITY_PROBLEM)
    assert condition(after, SYNCED)[0] == "True"  # the listing is current: the email moved
    assert condition(after, STALLED) == ("True", "IdentityChanged", IDENTITY_PROBLEM)
    observed = {k: v for k, v in before.items() if k not in ("conditions", "observedGeneration")}
    assert {k: v for k, v in after.items() if k in observed} == observed
    assert after.keys() - {"conditions", "observedGeneration"} == observed.keys()
    assert after["atlassianStatus"] == "active"
    assert after["accountStatus"] == "Active"


def test_an_identity_change_without_a_problem_still_says_what_happened() -> None:
    status = render(identity_changed(problem=None), previous=render(seen(user())))

    ready_status, reason, message = condition(status, READY)
    assert (ready_status, reason) == ("False", "IdentityChanged")
    assert message


def test_an_identity_change_keeps_the_last_action() -> None:
    result = ActionResult(Action.SUSPEND, True, "Succeeded", "disabled", T1, "kubectl")
    before = render(seen(user("inactive")), desired=DesiredState.SUSPENDED, result=result)

    after = render(identity_changed(), desired=DesiredState.SUSPENDED, previous=before, now=T2)

    assert after["lastAction"] == before["lastAction"]


def test_an_identity_change_rerendered_is_unchanged() -> None:
    changed = render(identity_changed(), previous=render(seen(user())), now=T1)

    assert status_patch(changed, render(identity_changed(), previous=changed, now=T2)) == {}


# ----- a user who disappears -------------------------------------------------------------------


def vanished(
    previous: Mapping[str, Any], desired: DesiredState | None = None, now: str = T1
) -> dict[str, Any]:
    obs = Observation(None, ACCOUNT_ID, f"no user with email {EMAIL} in org org-1")
    return render(obs, desired=desired, previous=previous, now=now)


def test_a_user_missing_after_being_observed_is_deleted_and_deprovisioned() -> None:
    before = render(
        seen(user(products=[("confluence", "Confluence", WIKI), ("jira-software", "Jira", JIRA)]))
    )

    after = vanished(before)

    assert after["atlassianStatus"] == "deleted"
    assert after["accountStatus"] == "Deprovisioned"
    assert [(e["product"], e["status"], e["lastActive"]) for e in after["productAccess"]] == [
        ("Confluence (acme)", "Deprovisioned", "2024-05-29T07:00:00Z"),
        ("Jira (acme)", "Deprovisioned", "2024-05-29T07:00:00Z"),
    ]
    assert "activeProducts" not in after
    assert {
        k: after[k] for k in ("accountId", "email", "displayName", "lastActive", "billable")
    } == {k: before[k] for k in ("accountId", "email", "displayName", "lastActive", "billable")}


def test_a_deleted_user_is_still_synced_and_ready_when_observe_only() -> None:
    after = vanished(render(seen(user())))

    assert condition(after, SYNCED)[0] == "True"
    assert condition(after, READY)[:2] == ("True", "Observed")


def test_a_deleted_user_is_ready_when_it_should_be_suspended() -> None:
    before = render(seen(user("inactive")), desired=DesiredState.SUSPENDED)

    after = vanished(before, DesiredState.SUSPENDED)

    assert condition(after, READY)[:2] == ("True", "Deprovisioned")


def test_a_deleted_user_that_should_be_active_says_it_is_deprovisioned() -> None:
    before = render(seen(user()), desired=DesiredState.ACTIVE)

    after = vanished(before, DesiredState.ACTIVE)

    ready_status, reason, message = condition(after, READY)
    assert (ready_status, reason) == ("False", "AccountDeprovisioned")
    assert "not one this operator knows" not in message


def test_a_deleted_user_rerendered_is_unchanged() -> None:
    deleted = vanished(render(seen(user())))

    assert status_patch(deleted, vanished(deleted, now=T2)) == {}


def test_a_user_that_comes_back_is_active_again() -> None:
    deleted = vanished(render(seen(user())))

    back = render(seen(user()), previous=deleted, now=T2)

    assert (back["atlassianStatus"], back["accountStatus"]) == ("active", "Active")
    assert [e["status"] for e in back["productAccess"]] == ["Active"]


# ----- a user never observed -------------------------------------------------------------------


@pytest.mark.parametrize(
    "previous",
    [
        pytest.param({}, id="first-reconcile"),
        pytest.param({"accountId": ACCOUNT_ID}, id="id-known-but-never-seen-in-atlassian"),
        pytest.param(
            {"accountId": "5570:someone-else", "atlassianStatus": "active"},
            id="another-account-was-observed",
        ),
    ],
)
def test_a_user_never_observed_is_account_not_found(previous: dict[str, Any]) -> None:
    problem = f"no user with accountId {ACCOUNT_ID} in org org-1"

    status = render(Observation(None, ACCOUNT_ID, problem), previous=previous)

    assert condition(status, READY) == ("False", "AccountNotFound", problem)
    assert condition(status, SYNCED)[0] == "True"  # a current listing, without the user
    assert condition(status, STALLED) == ("True", "AccountNotFound", problem)
    assert "accountStatus" not in status
    assert "atlassianStatus" not in status
    assert status["accountId"] == ACCOUNT_ID


def test_an_unknown_email_has_no_account_id_and_a_message_anyway() -> None:
    status = render(Observation(None, None, None))

    assert "accountId" not in status
    assert status["email"] == EMAIL  # kubectl get shows whom the unresolved row is about
    assert condition(status, READY) == ("False", "AccountNotFound", "account not found in org acme")


@pytest.mark.parametrize("atlassian_status", ["inactive", "closed"])
def test_an_account_that_cannot_use_anything_lists_no_products(atlassian_status: str) -> None:
    status = render(seen(user(atlassian_status)))

    assert "activeProducts" not in status  # PRODUCTS: what the account can use now
    assert [e["status"] for e in status["productAccess"]] == ["Active"]  # still assigned


def test_a_problem_before_anything_was_observed_names_the_account_from_its_spec() -> None:
    status = problem_status(
        reason="OrgNotFound",
        message="no org",
        generation=1,
        previous={},
        now=T0,
        spec=AccountSpec(ORG, account_id="5570:x", email="x@acme.example"),
    )

    assert (status["accountId"], status["email"]) == ("5570:x", "x@acme.example")
    kept = problem_status(
        reason="OrgNotFound",
        message="no org",
        generation=1,
        previous={"email": "seen@acme.example"},
        now=T0,
        spec=AccountSpec(ORG, email="x@acme.example"),
    )
    assert kept["email"] == "seen@acme.example"  # what was observed wins


# ----- blocked and failed actions --------------------------------------------------------------


@pytest.mark.parametrize(
    "blocked",
    [
        pytest.param(Blocked("ProtectedAccount", "never suspended"), id="protected"),
        pytest.param(
            Blocked("ReactivationNotAllowed", "set allowReactivation"),
            id="reactivation-not-allowed",
        ),
        pytest.param(
            Blocked("SuspensionBudgetExceeded", "waits for the budget"), id="budget-exceeded"
        ),
        pytest.param(Blocked("DryRun", "dry run: would suspend", Action.SUSPEND), id="dry-run"),
    ],
)
def test_a_blocked_action_shows_its_reason_on_ready_and_stalled_or_reconciling(
    blocked: Blocked,
) -> None:
    """kstatus reads Stalled as Failed and Reconciling as InProgress: a Flux Kustomization fails
    at once on a refusal only a person can lift, and keeps waiting on the budget."""
    status = render(
        seen(user()), desired=DesiredState.SUSPENDED, decision=Decision(blocked=blocked)
    )

    assert condition(status, READY) == ("False", blocked.reason, blocked.message)
    assert condition(status, SYNCED)[0] == "True"  # the data is current; Ready says what waits
    waits_for_a_person = blocked.reason != "SuspensionBudgetExceeded"
    assert condition(status, STALLED) == (
        ("True", blocked.reason, blocked.message)
        if waits_for_a_person
        else ("False", "NotStalled", "nothing waits for a person")
    )
    assert condition(status, RECONCILING) == (
        ("False", "Idle", "nothing is in progress")
        if waits_for_a_person
        else ("True", blocked.reason, blocked.message)
    )
    assert status["accountStatus"] == "Active"


def test_synced_turns_false_when_the_orgs_listings_have_failed_for_two_intervals() -> None:
    """SYNCED has one meaning: the status comes from a recent complete listing. An outage turns
    it False (with why) while Ready keeps what the last listing showed."""
    fresh = render(seen(user()))
    stale = account_status(
        spec=spec(None),
        generation=1,
        observation=seen(user()),
        decision=Decision(),
        result=None,
        previous=fresh,
        org=ORG,
        now=T1,
        stale="the last complete listing of org acme was at T0, more than two sync intervals ago",
    )

    assert condition(stale, SYNCED) == (
        "False",
        "StaleListing",
        "the last complete listing of org acme was at T0, more than two sync intervals ago",
    )
    assert condition(stale, READY)[:2] == ("True", "Observed")
    assert condition(stale, STALLED)[0] == condition(stale, RECONCILING)[0] == "False"


def test_a_recorded_call_is_reconciling_until_it_is_settled() -> None:
    status = render(
        seen(user()),
        desired=DesiredState.SUSPENDED,
        decision=Decision(blocked=Blocked("SuspensionBudgetExceeded", "waits", Action.SUSPEND)),
    )
    pending = {"action": "Suspend", "accountId": ACCOUNT_ID, "time": T1}

    recorded = with_progress({**status, "pendingAction": pending}, status, T1)

    assert condition(recorded, RECONCILING) == (
        "True",
        "LifecycleCallInFlight",
        f"the suspend of {ACCOUNT_ID} was recorded at {T1} and is being sent; a complete "
        "listing confirms it",
    )
    assert condition(recorded, STALLED)[0] == "False"
    assert with_progress(recorded, recorded, T1) is recorded  # derived once, not copied again


def test_a_failed_action_is_recorded_and_makes_the_account_not_ready() -> None:
    result = ActionResult(
        Action.SUSPEND, False, "ManagedByIdentityProvider", "the account is managed by SCIM", T1
    )

    status = render(
        seen(user()),
        desired=DesiredState.SUSPENDED,
        decision=Decision(action=Action.SUSPEND),
        result=result,
        generation=3,
    )

    assert status["lastAction"] == {
        "action": "Suspend",
        "result": "Failed",
        "reason": "ManagedByIdentityProvider",
        "message": "the account is managed by SCIM",
        "time": T1,
        "observedGeneration": 3,
    }
    assert condition(status, READY) == (
        "False",
        "ManagedByIdentityProvider",
        "the account is managed by SCIM",
    )
    assert condition(status, STALLED) == (
        "True",
        "ManagedByIdentityProvider",
        "the account is managed by SCIM",
    )


def test_a_succeeded_action_is_recorded_and_the_account_is_ready() -> None:
    result = ActionResult(Action.SUSPEND, True, "Succeeded", f"disabled {EMAIL} in Atlassian", T1)

    status = render(
        seen(user("inactive")),
        desired=DesiredState.SUSPENDED,
        decision=Decision(action=Action.SUSPEND),
        result=result,
        now=T1,
    )

    assert status["lastAction"]["result"] == "Succeeded"
    assert status["lastAction"]["action"] == "Suspend"
    assert condition(status, READY) == ("True", "InDesiredState", "account is Suspended")


@pytest.mark.parametrize(
    ("requested_by", "expected"),
    [
        pytest.param(
            "argocd-controller", {"requestedBy": "argocd-controller"}, id="requester-known"
        ),
        pytest.param(None, {}, id="requester-unknown-is-left-out"),
        pytest.param("", {}, id="empty-requester-is-left-out"),
    ],
)
def test_last_action_names_who_requested_it(
    requested_by: str | None, expected: dict[str, str]
) -> None:
    result = ActionResult(
        Action.SUSPEND, True, "Succeeded", f"disabled {EMAIL} in Atlassian", T1, requested_by
    )

    status = render(
        seen(user("inactive")), desired=DesiredState.SUSPENDED, result=result, generation=2
    )

    assert status["lastAction"] == {
        "action": "Suspend",
        "result": "Succeeded",
        "reason": "Succeeded",
        "message": f"disabled {EMAIL} in Atlassian",
        "time": T1,
        "observedGeneration": 2,
        **expected,
    }


def test_the_requester_of_a_failed_action_is_recorded_too() -> None:
    result = ActionResult(Action.REACTIVATE, False, "Forbidden", "no right", T1, "kubectl-edit")

    status = render(
        seen(user("inactive")),
        desired=DesiredState.ACTIVE,
        decision=Decision(action=Action.REACTIVATE),
        result=result,
    )

    assert status["lastAction"]["requestedBy"] == "kubectl-edit"
    assert status["lastAction"]["result"] == "Failed"


def test_a_remembered_permanent_failure_keeps_the_status_quiet_until_it_is_forgotten() -> None:
    result = ActionResult(Action.SUSPEND, False, "ManagedByIdentityProvider", "SCIM", T1)
    failed_once = render(
        seen(user()),
        desired=DesiredState.SUSPENDED,
        decision=Decision(action=Action.SUSPEND),
        result=result,
        generation=3,
        now=T1,
    )
    # The org's owner remembers the failure and hands it back, as it does, while nothing changed.
    remembered = Blocked(result.reason, result.message, result.action)

    def decide(failed: Blocked | None) -> Decision:
        return decide_account(
            spec(DesiredState.SUSPENDED), user(), SuspensionPolicy(), failed=failed
        )

    again = render(
        seen(user()),
        desired=DesiredState.SUSPENDED,
        decision=decide(remembered),
        previous=failed_once,
        generation=3,
        now=T2,
    )

    assert decide(remembered) == Decision(blocked=remembered)
    assert condition(again, READY) == ("False", "ManagedByIdentityProvider", "SCIM")
    assert again["lastAction"] == failed_once["lastAction"]
    assert status_patch(failed_once, again) == {}
    assert decide(None) == Decision(action=Action.SUSPEND)


def test_the_last_action_is_kept_while_nothing_new_happens() -> None:
    result = ActionResult(Action.SUSPEND, True, "Succeeded", "disabled", T1)
    first = render(seen(user("inactive")), desired=DesiredState.SUSPENDED, result=result, now=T1)

    later = render(seen(user("inactive")), desired=DesiredState.SUSPENDED, previous=first, now=T2)

    assert later["lastAction"] == first["lastAction"]


# ----- dry run and quiet re-renders ------------------------------------------------------------


def dry_run(previous: Mapping[str, Any] | None, now: str, generation: int = 1) -> dict[str, Any]:
    decision = decide_account(spec(DesiredState.SUSPENDED), user(), SuspensionPolicy(dry_run=True))
    return render(
        seen(user()),
        desired=DesiredState.SUSPENDED,
        decision=decision,
        previous=previous,
        generation=generation,
        now=now,
    )


def test_a_dry_run_records_what_would_be_done() -> None:
    status = dry_run(None, T0)

    assert {k: v for k, v in status["lastAction"].items() if k != "message"} == {
        "action": "Suspend",
        "result": "DryRun",
        "reason": "DryRun",
        "time": T0,
        "observedGeneration": 1,
    }
    assert condition(status, READY)[:2] == ("False", "DryRun")


def test_a_dry_run_rerendered_with_the_same_data_is_byte_identical() -> None:
    first = dry_run(None, T0)

    again = dry_run(first, T1)

    assert again["lastAction"]["time"] == T0
    assert again == first
    assert status_patch({**first, "lastSyncTime": T0}, again) == {}


def test_a_dry_run_for_a_new_generation_is_recorded_anew() -> None:
    first = dry_run(None, T0)

    again = dry_run(first, T1, generation=2)

    assert again["lastAction"]["time"] == T1
    assert again["lastAction"]["observedGeneration"] == 2


def test_a_quiet_rerender_of_an_observed_user_writes_nothing() -> None:
    first = render(seen(user()))

    again = render(seen(user()), previous={**first, "lastSyncTime": T0}, now=T1)

    assert status_patch({**first, "lastSyncTime": T0}, again) == {}


def test_a_rerender_after_a_change_patches_only_what_changed() -> None:
    first = render(seen(user()))

    again = render(seen(user(billable=False)), previous=first, now=T1)

    assert status_patch(first, again) == {"billable": False}


# ----- status_patch ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "desired", "patch"),
    [
        pytest.param({"a": 1, "b": [1]}, {"a": 1, "b": [1]}, {}, id="equal-is-empty"),
        pytest.param({}, {}, {}, id="both-empty"),
        pytest.param({"a": 1, "b": 2}, {"a": 1, "b": 3}, {"b": 3}, id="only-changed-keys"),
        pytest.param({"a": 1}, {"a": 1, "c": 3}, {"c": 3}, id="added-key"),
        pytest.param({"a": 1, "email": "x"}, {"a": 1}, {"email": None}, id="removed-key-is-null"),
        pytest.param(
            {"a": 1, "lastSyncTime": T0}, {"a": 1}, {}, id="last-sync-time-is-never-removed"
        ),
        pytest.param(
            {"lastSyncTime": T0},
            {"lastSyncTime": T1},
            {"lastSyncTime": T1},
            id="last-sync-time-can-change",
        ),
        pytest.param(
            {"l": [{"x": 1}]}, {"l": [{"x": 2}]}, {"l": [{"x": 2}]}, id="lists-replaced-whole"
        ),
        pytest.param(
            {"billable": True},
            {"billable": False},
            {"billable": False},
            id="false-is-a-value-not-a-removal",
        ),
    ],
)
def test_status_patch(
    current: dict[str, Any], desired: dict[str, Any], patch: dict[str, Any]
) -> None:
    assert status_patch(current, desired) == patch


# ----- problem_status --------------------------------------------------------------------------


def test_problem_status_keeps_what_was_observed() -> None:
    before = render(seen(user()))

    status = problem_status(
        reason="OrgNotReady",
        message="the org has not listed yet",
        generation=2,
        previous=before,
        now=T1,
    )

    observed = {k: v for k, v in before.items() if k not in ("conditions", "observedGeneration")}
    assert {k: v for k, v in status.items() if k in observed} == observed
    assert status["observedGeneration"] == 2
    assert condition(status, READY) == ("False", "OrgNotReady", "the org has not listed yet")
    assert condition(status, SYNCED) == ("False", "OrgNotReady", "the org has not listed yet")
    ready = find(status["conditions"], READY)
    assert ready is not None
    assert ready["lastTransitionTime"] == T1


def test_problem_status_repeated_is_unchanged() -> None:
    first = problem_status(
        reason="InvalidSpec", message="fix it", generation=1, previous={}, now=T0
    )

    again = problem_status(
        reason="InvalidSpec", message="fix it", generation=1, previous=first, now=T1
    )

    assert status_patch(first, again) == {}
