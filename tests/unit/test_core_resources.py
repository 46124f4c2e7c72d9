"""Specs parse into typed views, with defaults from DESIGN.md and errors that say what to fix."""

from __future__ import annotations

from typing import Any

import pytest

from atlassian_operator.core.resources import (
    AccountResource,
    AccountSpec,
    DesiredState,
    InvalidSpec,
    OrgSpec,
    SuspensionPolicy,
    desired_state_manager,
    parse_duration,
)

MINIMAL_ORG: dict[str, Any] = {"orgId": "org-1", "apiKeySecretRef": {"name": "atlassian-key"}}

# ----- parse_duration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("30s", 30.0, id="seconds"),
        pytest.param("5m", 300.0, id="minutes"),
        pytest.param("1h", 3600.0, id="hours"),
        pytest.param("1h30m", 5400.0, id="hours-and-minutes"),
        pytest.param("1m30s", 90.0, id="minutes-and-seconds"),
        pytest.param("1.5h", 5400.0, id="fractional-hours"),
        pytest.param("250ms", 0.25, id="milliseconds-not-minutes"),
        pytest.param("1m500ms", 60.5, id="minutes-and-milliseconds"),
    ],
)
def test_parse_duration_reads_go_style_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("5", id="no-unit"),
        pytest.param("5 m", id="space-inside"),
        pytest.param("m5", id="unit-first"),
        pytest.param("5d", id="days-unsupported"),
        pytest.param("5m ", id="trailing-space"),
        pytest.param("five minutes", id="words"),
    ],
)
def test_parse_duration_rejects_what_is_not_a_duration_and_shows_how_to_write_one(
    text: str,
) -> None:
    with pytest.raises(InvalidSpec) as raised:
        parse_duration(text)

    message = str(raised.value)
    assert repr(text) in message
    assert "30s, 5m or 1h30m" in message


# ----- OrgSpec ---------------------------------------------------------------------------------


def test_org_spec_defaults_follow_the_design() -> None:
    spec = OrgSpec.from_dict(MINIMAL_ORG)

    assert spec == OrgSpec(
        org_id="org-1",
        secret_name="atlassian-key",
        secret_key="api-key",
        api_base_url="https://api.atlassian.com",
        sync_interval_seconds=300.0,
        discovery=False,
        suspension=SuspensionPolicy(
            dry_run=False,
            max_per_sync=10,
            protected_accounts=frozenset(),
            allow_reactivation=False,
        ),
    )


def test_org_spec_reads_every_field() -> None:
    spec = OrgSpec.from_dict(
        {
            "orgId": "org-2",
            "apiKeySecretRef": {"name": "key", "key": "token"},
            "apiBaseURL": "http://simulator:8080/",
            "syncInterval": "1m30s",
            "accountDiscovery": {"enabled": True},
            "suspension": {
                "dryRun": True,
                "maxPerSync": 3,
                "protectedAccounts": ["557058:abc", "Admin@Acme.Example"],
                "allowReactivation": True,
            },
        }
    )

    assert spec == OrgSpec(
        org_id="org-2",
        secret_name="key",
        secret_key="token",
        api_base_url="http://simulator:8080",
        sync_interval_seconds=90.0,
        discovery=True,
        suspension=SuspensionPolicy(
            dry_run=True,
            max_per_sync=3,
            protected_accounts=frozenset({"557058:abc", "admin@acme.example"}),
            allow_reactivation=True,
        ),
    )


def test_org_spec_keeps_a_max_per_sync_of_zero() -> None:
    spec = OrgSpec.from_dict({**MINIMAL_ORG, "suspension": {"maxPerSync": 0}})

    assert spec.suspension.max_per_sync == 0


@pytest.mark.parametrize(
    ("interval", "seconds"),
    [
        pytest.param("30s", 30.0, id="exactly-the-minimum"),
        pytest.param("0.5m", 30.0, id="minimum-in-minutes"),
        pytest.param("2h", 7200.0, id="long-interval"),
    ],
)
def test_org_spec_accepts_intervals_from_30s(interval: str, seconds: float) -> None:
    spec = OrgSpec.from_dict({**MINIMAL_ORG, "syncInterval": interval})

    assert spec.sync_interval_seconds == seconds


@pytest.mark.parametrize(
    "interval",
    [
        pytest.param("29s", id="one-second-short"),
        pytest.param("29999ms", id="just-short-in-ms"),
        pytest.param("0s", id="zero"),
    ],
)
def test_org_spec_rejects_intervals_below_30s_saying_why(interval: str) -> None:
    with pytest.raises(InvalidSpec) as raised:
        OrgSpec.from_dict({**MINIMAL_ORG, "syncInterval": interval})

    message = str(raised.value)
    assert repr(interval) in message
    assert "minimum 30s" in message


def test_org_spec_reports_an_unreadable_interval() -> None:
    with pytest.raises(InvalidSpec, match="30s, 5m or 1h30m"):
        OrgSpec.from_dict({**MINIMAL_ORG, "syncInterval": "five minutes"})


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        pytest.param({"apiKeySecretRef": {"name": "k"}}, "spec.orgId", id="no-org-id"),
        pytest.param(
            {"orgId": "", "apiKeySecretRef": {"name": "k"}}, "spec.orgId", id="empty-org-id"
        ),
        pytest.param({"orgId": "org-1"}, "spec.apiKeySecretRef.name", id="no-secret-ref"),
        pytest.param(
            {"orgId": "org-1", "apiKeySecretRef": {"key": "k"}},
            "spec.apiKeySecretRef.name",
            id="secret-ref-without-name",
        ),
    ],
)
def test_org_spec_names_the_missing_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSpec, match=field.replace(".", r"\.")):
        OrgSpec.from_dict(spec)


def test_protected_emails_are_lowercased_and_ids_kept_verbatim() -> None:
    spec = OrgSpec.from_dict(
        {**MINIMAL_ORG, "suspension": {"protectedAccounts": ["CEO@Acme.Example", "5570:AbC"]}}
    )

    assert spec.suspension.protected_accounts == frozenset({"ceo@acme.example", "5570:AbC"})


# ----- SuspensionPolicy.protects ---------------------------------------------------------------

PROTECTING = OrgSpec.from_dict(
    {**MINIMAL_ORG, "suspension": {"protectedAccounts": ["5570:boss", "CEO@Acme.Example"]}}
).suspension


@pytest.mark.parametrize(
    ("account_id", "emails", "protected"),
    [
        pytest.param("5570:boss", [], True, id="by-id"),
        pytest.param("5570:boss", ["someone@acme.example"], True, id="by-id-whatever-the-email"),
        pytest.param("5570:other", ["ceo@acme.example"], True, id="by-email"),
        pytest.param("5570:other", ["Ceo@ACME.example"], True, id="by-email-any-case"),
        pytest.param(None, ["CEO@Acme.Example"], True, id="by-email-without-id"),
        pytest.param(
            "5570:other",
            [None, "someone@acme.example", "ceo@acme.example"],
            True,
            id="by-any-of-several-emails",
        ),
        pytest.param(
            "5570:other", [None, "CEO@acme.example"], True, id="hidden-email-but-known-one"
        ),
        pytest.param("5570:BOSS", [], False, id="ids-are-case-sensitive"),
        pytest.param("5570:other", ["someone@acme.example"], False, id="not-listed"),
        pytest.param(
            "5570:other",
            ["someone@acme.example", "else@acme.example"],
            False,
            id="none-of-several-listed",
        ),
        pytest.param("5570:other", [None], False, id="hidden-email-not-listed"),
        pytest.param("5570:other", [""], False, id="empty-email-not-listed"),
        pytest.param(None, [], False, id="nothing-known"),
    ],
)
def test_protects_by_id_and_by_any_email_case_insensitively(
    account_id: str | None, emails: list[str | None], protected: bool
) -> None:
    assert PROTECTING.protects(account_id, emails) is protected


def test_protects_takes_any_iterable_of_emails_once() -> None:
    emails = (e for e in ["someone@acme.example", "CEO@acme.example"])

    assert PROTECTING.protects("5570:other", emails) is True


def test_protects_without_emails_looks_at_the_id_alone() -> None:
    assert PROTECTING.protects("5570:boss") is True
    assert PROTECTING.protects("5570:other") is False


def test_default_policy_protects_nobody() -> None:
    assert SuspensionPolicy().protects("5570:boss", ["ceo@acme.example"]) is False


# ----- AccountSpec -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"orgRef": {"name": "acme"}, "accountId": "5570:a"},
            AccountSpec("acme", account_id="5570:a"),
            id="by-account-id-observe-only",
        ),
        pytest.param(
            {
                "orgRef": {"name": "acme"},
                "email": "ada@acme.example",
                "desiredState": "Suspended",
                "suspensionMessage": "left the company",
            },
            AccountSpec(
                "acme",
                email="ada@acme.example",
                desired_state=DesiredState.SUSPENDED,
                suspension_message="left the company",
            ),
            id="by-email-suspended-with-message",
        ),
        pytest.param(
            {
                "orgRef": {"name": "acme"},
                "accountId": "5570:a",
                "email": "ada@acme.example",
                "desiredState": "Active",
            },
            AccountSpec(
                "acme",
                account_id="5570:a",
                email="ada@acme.example",
                desired_state=DesiredState.ACTIVE,
            ),
            id="both-ids-active",
        ),
        pytest.param(
            {"orgRef": {"name": "acme"}, "accountId": "5570:a", "suspensionMessage": ""},
            AccountSpec("acme", account_id="5570:a"),
            id="empty-message-is-none",
        ),
    ],
)
def test_account_spec_reads_the_spec(spec: dict[str, Any], expected: AccountSpec) -> None:
    assert AccountSpec.from_dict(spec) == expected


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        pytest.param({"accountId": "5570:a"}, "spec.orgRef.name is required", id="no-org-ref"),
        pytest.param(
            {"orgRef": {}, "accountId": "5570:a"},
            "spec.orgRef.name is required",
            id="org-ref-without-name",
        ),
        pytest.param({"orgRef": {"name": "acme"}}, "accountId or email", id="no-user-named"),
        pytest.param(
            {"orgRef": {"name": "acme"}, "accountId": "", "email": ""},
            "accountId or email",
            id="empty-user-names",
        ),
        pytest.param(
            {"orgRef": {"name": "acme"}, "accountId": "5570:a", "desiredState": "suspended"},
            "'suspended' is not one of Active, Suspended",
            id="desired-state-lowercase",
        ),
        pytest.param(
            {"orgRef": {"name": "acme"}, "accountId": "5570:a", "desiredState": "Deleted"},
            "'Deleted' is not one of Active, Suspended",
            id="desired-state-unknown",
        ),
    ],
)
def test_account_spec_errors_say_what_to_fix(spec: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidSpec) as raised:
        AccountSpec.from_dict(spec)

    assert says in str(raised.value)


def test_account_resource_keeps_an_invalid_spec_as_the_error() -> None:
    body = {
        "metadata": {
            "namespace": "it",
            "name": "ada",
            "uid": "u-1",
            "generation": 3,
            "resourceVersion": "42",
            "creationTimestamp": "2024-05-01T00:00:00Z",
        },
        "spec": {"accountId": "5570:a"},
        "status": {"accountStatus": "Active"},
    }

    account = AccountResource.from_body(body)

    assert isinstance(account.spec, InvalidSpec)
    assert account.org_name is None
    assert str(account.ref) == "AtlassianAccount it/ada"
    assert (account.generation, account.resource_version) == (3, "42")
    assert account.status == {"accountStatus": "Active"}


def test_account_resource_names_its_org() -> None:
    account = AccountResource.from_body(
        {
            "metadata": {"namespace": "it", "name": "ada"},
            "spec": {"orgRef": {"name": "acme"}, "email": "ada@acme.example"},
        }
    )

    assert account.org_name == "acme"
    assert account.generation == 0
    assert account.status == {}


# ----- desired_state_manager -------------------------------------------------------------------

T_OLD = "2024-06-01T10:00:00Z"
T_NEW = "2024-06-01T11:00:00Z"
T_NEWEST = "2024-06-01T12:00:00Z"


def managed(manager: str, time: str | None, *spec_fields: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": "atlassian.operators.dev/v1beta1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {f: {} for f in spec_fields}},
    }
    if time is not None:
        entry["time"] = time
    return entry


def status_manager(manager: str, time: str) -> dict[str, Any]:
    return {
        "manager": manager,
        "operation": "Update",
        "subresource": "status",
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:status": {"f:accountStatus": {}}},
    }


@pytest.mark.parametrize(
    ("entries", "manager"),
    [
        pytest.param([managed("kubectl", T_OLD, "f:desiredState")], "kubectl", id="one-owner"),
        pytest.param(
            [
                managed("kubectl-client-side-apply", T_NEWEST, "f:orgRef", "f:email"),
                managed("kubectl-edit", T_OLD, "f:desiredState"),
            ],
            "kubectl-edit",
            id="only-the-owner-of-desired-state-counts",
        ),
        pytest.param(
            [
                managed("flux", T_OLD, "f:desiredState"),
                managed("kubectl", T_NEWEST, "f:desiredState"),
                managed("argocd", T_NEW, "f:desiredState"),
            ],
            "kubectl",
            id="several-appliers-the-latest-wins",
        ),
        pytest.param(
            [
                managed("kubectl", T_NEWEST, "f:desiredState"),
                managed("flux", T_OLD, "f:desiredState"),
            ],
            "kubectl",
            id="latest-wins-whatever-the-order",
        ),
        pytest.param(
            [
                managed("flux", T_OLD, "f:desiredState"),
                status_manager("atlassian-operator", T_NEWEST),
            ],
            "flux",
            id="status-writers-do-not-count",
        ),
        pytest.param(
            [managed("kubectl", None, "f:desiredState")], "kubectl", id="owner-without-time"
        ),
        pytest.param(
            [managed("", T_NEWEST, "f:desiredState"), managed("flux", T_OLD, "f:desiredState")],
            "flux",
            id="nameless-manager-skipped",
        ),
        pytest.param(
            [managed("kubectl", T_OLD, "f:orgRef", "f:accountId")], None, id="nobody-set-it"
        ),
        pytest.param([{"manager": "kubectl", "time": T_OLD}], None, id="entry-without-fields"),
        pytest.param([], None, id="empty-managed-fields"),
    ],
)
def test_desired_state_manager_reads_managed_fields(
    entries: list[dict[str, Any]], manager: str | None
) -> None:
    assert desired_state_manager({"name": "ada", "managedFields": entries}) == manager


def test_desired_state_manager_without_managed_fields_is_none() -> None:
    assert desired_state_manager({"name": "ada"}) is None


def test_account_resource_has_no_requester_without_managed_fields() -> None:
    account = AccountResource.from_body(
        {
            "metadata": {"namespace": "it", "name": "ada"},
            "spec": {"orgRef": {"name": "acme"}, "email": "ada@acme.example"},
        }
    )

    assert account.desired_by is None


def test_account_resource_knows_who_set_the_desired_state() -> None:
    account = AccountResource.from_body(
        {
            "metadata": {
                "namespace": "it",
                "name": "ada",
                "managedFields": [
                    managed("kubectl-client-side-apply", T_OLD, "f:orgRef", "f:email"),
                    managed("argocd-controller", T_NEW, "f:desiredState"),
                    status_manager("atlassian-operator", T_NEWEST),
                ],
            },
            "spec": {
                "orgRef": {"name": "acme"},
                "email": "ada@acme.example",
                "desiredState": "Suspended",
            },
        }
    )

    assert account.desired_by == "argocd-controller"
    assert account.org_name == "acme"
