"""The inactivity policy's pure parts: the selector, the spec, and who is eligible as of when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atlassian_operator.atlassian import DirectoryUser, Product, User
from atlassian_operator.core.directory import as_user
from atlassian_operator.core.inactivity import (
    InactivityPolicy,
    LabelSelector,
    PolicyMode,
    SelectorError,
    assess,
    reset_time,
)
from atlassian_operator.core.resources import InvalidSpec, OrgSpec, SuspensionPolicy

AS_OF = datetime(2026, 12, 1, tzinfo=UTC)
POLICY = InactivityPolicy(90, PolicyMode.ENFORCE)


def person(
    status: str = "active",
    last_active: datetime | None = None,
    products: tuple[datetime, ...] = (),
) -> User:
    return User(
        account_id="a1",
        account_type="atlassian",
        account_status=status,
        name="A",
        picture="",
        last_active=last_active,
        product_access=[
            Product(key="confluence", name="Confluence", url="https://acme.atlassian.net/wiki",
                    last_active=t)
            for t in products
        ],
    )  # fmt: skip


def days(n: float) -> datetime:
    return AS_OF - timedelta(days=n)


def test_the_newest_of_account_and_product_activity_counts() -> None:
    found = assess(
        POLICY, person(last_active=days(200), products=(days(30),)), as_of=AS_OF,
        first_observed=None, reset_at=None, exempt=False,
    )  # fmt: skip
    assert (found.days, found.eligible) == (30, False)


@pytest.mark.parametrize(("inactive", "eligible"), [(89.9, False), (90, True), (400, True)])
def test_eligible_from_the_threshold_on(inactive: float, eligible: bool) -> None:
    found = assess(
        POLICY, person(last_active=days(inactive)), as_of=AS_OF, first_observed=None,
        reset_at=None, exempt=False,
    )  # fmt: skip
    assert found.eligible is eligible


def test_only_an_active_account_that_is_not_exempt_can_be_eligible() -> None:
    for user, exempt in (
        (person("inactive", days(300)), False),
        (person("active", days(300)), True),
    ):
        found = assess(POLICY, user, as_of=AS_OF, first_observed=None, reset_at=None, exempt=exempt)
        assert found.eligible is False and found.days == 300


def test_a_never_active_account_counts_from_its_first_observation() -> None:
    def at(observed: float) -> bool:
        return assess(
            POLICY, person(), as_of=AS_OF, first_observed=days(observed), reset_at=None,
            exempt=False,
        ).eligible  # fmt: skip

    assert (at(0), at(89), at(91)) == (False, False, True)
    never = assess(POLICY, person(), as_of=AS_OF, first_observed=None, reset_at=None, exempt=False)
    assert (never.days, never.eligible) == (None, False)


def v1_user(last_active: str | None, product_last_active: str | None = None) -> User:
    """A user as the v1 listing sends it, times as text: what the parser reads."""
    return User.model_validate(
        {
            "account_id": "a1", "account_type": "atlassian", "account_status": "active",
            "name": "A", "picture": "", "last_active": last_active,
            "product_access": [
                {"key": "jira-software", "name": "Jira", "last_active": product_last_active}
            ],
        }
    )  # fmt: skip


def v2_unmanaged_user(product_last_active: str) -> User:
    """An unmanaged user of the v2 search, as the snapshot sees it (in the v1 shape)."""
    return as_user(
        DirectoryUser.model_validate(
            {
                "accountId": "a1", "accountStatus": "active", "claimStatus": "unmanaged",
                "productAccess": [
                    {"key": "jira", "lastActiveTimestamp": "2026-01-01T10:00:00.123456789Z"},
                    {"key": "confluence", "lastActiveTimestamp": product_last_active},
                ],
            }
        )
    )  # fmt: skip


@pytest.mark.parametrize(
    "user",
    [
        pytest.param(v1_user("yesterday"), id="v1-account"),
        pytest.param(v1_user(None, "yesterday"), id="v1-product"),
        pytest.param(v1_user("2026-01-01T00:00:00Z", "yesterday"), id="v1-product-beside-old"),
        pytest.param(v2_unmanaged_user("yesterday"), id="v2-product"),
    ],
)
def test_an_unreadable_last_active_time_is_never_eligible(user: User) -> None:
    # Observed for 200 days: were "unreadable" read as "never active", it would be eligible.
    found = assess(POLICY, user, as_of=AS_OF, first_observed=days(200), reset_at=None, exempt=False)
    assert (found.days, found.eligible) == (None, False)
    assert found.description == "last activity unreadable ('yesterday')"


def test_a_re_enable_restarts_the_clock() -> None:
    found = assess(
        POLICY, person(last_active=days(300)), as_of=AS_OF, first_observed=None,
        reset_at=days(10), exempt=False,
    )  # fmt: skip
    assert (found.days, found.eligible) == (300, False)


def test_the_reset_is_recorded_once_when_a_policy_suspension_is_undone() -> None:
    suspended = {
        "accountStatus": "Suspended",
        "lastAction": {"action": "Suspend", "result": "Succeeded",
                       "requestedBy": "inactivity-policy", "time": "2026-11-01T00:00:00Z"},
    }  # fmt: skip
    active = person(last_active=days(300))
    assert reset_time(suspended, active, AS_OF) == AS_OF
    by_hand = {**suspended, "lastAction": {**suspended["lastAction"], "requestedBy": "kubectl"}}
    assert reset_time(by_hand, active, AS_OF) is None
    kept = {**suspended, "accountStatus": "Active", "inactivityResetAt": "2026-11-20T00:00:00Z"}
    assert reset_time(kept, active, AS_OF) == datetime(2026, 11, 20, tzinfo=UTC)


def test_label_selectors_match_like_kubernetes() -> None:
    selector = LabelSelector.from_dict(
        {
            "matchLabels": {"team": "ops"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "temp", "operator": "DoesNotExist"},
            ],
        }
    )
    assert selector.matches({"team": "ops", "tier": "a"})
    assert not selector.matches({"team": "ops", "tier": "c"})
    assert not selector.matches({"team": "ops", "tier": "a", "temp": "1"})
    assert not selector.matches({"tier": "a"})
    with pytest.raises(SelectorError, match="needs values"):
        LabelSelector.from_dict({"matchExpressions": [{"key": "x", "operator": "In"}]})


def test_the_org_spec_reads_the_policy_and_names_what_is_wrong() -> None:
    base = {"orgId": "o", "apiKeySecretRef": {"name": "k"}}
    assert OrgSpec.from_dict(base).inactivity is None
    spec = OrgSpec.from_dict({**base, "inactivity": {"suspendAfterDays": 30}})
    assert spec.inactivity == InactivityPolicy(30, PolicyMode.REPORT, None)
    with pytest.raises(InvalidSpec, match="mode 'Sometimes'"):
        OrgSpec.from_dict({**base, "inactivity": {"suspendAfterDays": 30, "mode": "Sometimes"}})
    with pytest.raises(InvalidSpec, match="exemptSelector"):
        OrgSpec.from_dict(
            {**base, "inactivity": {"suspendAfterDays": 30,
                                    "exemptSelector": {"matchExpressions": [{"key": "k"}]}}}
        )  # fmt: skip


def test_the_exempt_list_is_read_with_emails_in_any_case() -> None:
    policy = InactivityPolicy.from_dict(
        {"suspendAfterDays": 30, "exempt": ["5b10:ada", "Grace@Acme.Example"]}
    )
    assert policy is not None
    assert policy.exempt_accounts == frozenset({"5b10:ada", "grace@acme.example"})
    assert policy.lists("5b10:ada")
    assert policy.lists("other", [None, "GRACE@acme.example"])
    assert not policy.lists("5B10:ADA")  # account IDs are not emails: matched as given
    assert not policy.lists(None, ["ada@acme.example"])


@pytest.mark.parametrize(
    ("exempt", "message"),
    [
        pytest.param(
            [7], r"spec.inactivity.exempt\[0\] 7 is not an Atlassian account ID", id="int"
        ),
        pytest.param(["a", ""], r"spec.inactivity.exempt\[1\] '' is not", id="empty"),
        pytest.param(["a", {"email": "x"}], r"spec.inactivity.exempt\[1\] \{", id="object"),
        pytest.param("ada@acme.example", "spec.inactivity.exempt must be a list", id="string"),
    ],
)
def test_an_unusable_exempt_list_is_refused_naming_the_entry(exempt: object, message: str) -> None:
    base = {"orgId": "o", "apiKeySecretRef": {"name": "k"}}
    with pytest.raises(InvalidSpec, match=message):
        OrgSpec.from_dict({**base, "inactivity": {"suspendAfterDays": 30, "exempt": exempt}})


@pytest.mark.parametrize(
    ("account_id", "emails"),
    [
        ("5b10:ada", []),
        ("5B10:ADA", []),
        (None, ["ADA@acme.example"]),
        ("other", [None, "ada@ACME.example"]),
        ("other", ["ada@acme"]),
    ],
)
def test_the_exempt_list_names_whom_protected_accounts_would(
    account_id: str | None, emails: list[str | None]
) -> None:
    entries = ["5b10:ada", "Ada@Acme.Example"]
    policy = InactivityPolicy.from_dict({"suspendAfterDays": 30, "exempt": entries})
    protection = SuspensionPolicy.from_dict({"protectedAccounts": entries})
    assert policy is not None
    assert policy.lists(account_id, emails) == protection.protects(account_id, emails)


@pytest.mark.parametrize("warn", [0, 90, 120, 1.5, True, "30"])
def test_warn_after_days_must_be_a_whole_number_below_suspend_after_days(warn: object) -> None:
    with pytest.raises(ValueError, match=r"spec\.inactivity\.warnAfterDays .* less than"):
        InactivityPolicy.from_dict({"suspendAfterDays": 90, "warnAfterDays": warn})


def test_the_policys_share_of_the_window_defaults_to_half_and_at_least_one() -> None:
    policy = InactivityPolicy.from_dict({"suspendAfterDays": 90})
    assert policy is not None
    assert [policy.share(n) for n in (0, 1, 2, 3, 10)] == [0, 1, 1, 1, 5]
    given = InactivityPolicy.from_dict({"suspendAfterDays": 90, "maxPerSync": 4})
    assert given is not None and given.share(10) == 4 and given.share(2) == 2
    with pytest.raises(ValueError, match=r"spec\.inactivity\.maxPerSync"):
        InactivityPolicy.from_dict({"suspendAfterDays": 90, "maxPerSync": 0})
